//! What the network threads report, applied to the window's state.

use udprelay_link::Report;
use udprelay_shared::session::{Event, Purpose};
use udprelay_shared::text::printable_lines;
use udprelay_shared::{Command, ErrorReply, GroupId, Reply};

use crate::app::{App, EntryKind, Place, Stage};
use crate::net::{LinkId, Update};
use udprelay_shared::session::Connection as Reachability;

impl App {
    pub(crate) fn apply(&mut self, link: LinkId, update: Update) {
        match update {
            Update::State(state) => {
                if let Some(group) = self.group_mut(link) {
                    group.state = Some(state);
                }
            }
            Update::OpenFailed(error) => self.fail(link, format!("Cannot open a socket: {error}.")),
            Update::Report(Report::Unreachable) => {
                self.connection = Reachability::Unreachable;
                let server = self.group_mut(link).map(|g| g.server.clone()).unwrap_or_default();
                let text = format!("The server at {server} is not answering (its port is closed).");
                self.record(link, EntryKind::Error, text);
            }
            Update::Report(Report::SendFailed(error)) => {
                self.record(link, EntryKind::Error, format!("Could not send: {error}."));
            }
            Update::Report(Report::Moved { from, to, group: id }) => {
                let text = match id {
                    Some(id) => {
                        format!("{from} is not answering; moved to {to} and rejoined {id}.")
                    }
                    None => format!("{from} is not answering; moved to {to}."),
                };
                self.record(link, EntryKind::Event, text);
            }
            Update::Report(Report::Session(event)) => self.apply_event(link, event),
        }
    }

    fn apply_event(&mut self, link: LinkId, event: Event) {
        let Some(group) = self.group_mut(link) else { return };
        let stage = group.stage;
        match event {
            Event::Connection(connection) => self.connection = connection,
            Event::Payload(bytes) => {
                // Invisible and control characters shown escaped, as the terminal client does.
                let text = printable_lines(&bytes);
                if let Some(at) = self.record(link, EntryKind::Theirs, text) {
                    self.arrived(link, at);
                }
            }
            Event::Reply { reply: Reply::Created(id), .. } => {
                group.id = Some(id);
                self.record(link, EntryKind::Event, format!("Created group {id}."));
            }
            Event::Reply { reply: Reply::Joined(id), .. } => {
                group.id = Some(id);
                if stage != Stage::Joined {
                    group.stage = Stage::Joined;
                    self.remember(link);
                    self.record(link, EntryKind::Event, format!("Joined {id}."));
                }
                if GroupId::parse_lenient(&self.join_text) == Ok(id) {
                    self.join_text.clear();
                }
                self.clear_notice(Place::Join);
            }
            Event::Reply { reply: Reply::Who { members, .. }, .. } => group.members = Some(members),
            Event::Reply { reply: Reply::Error(error), request, purpose } => {
                if stage == Stage::Joining {
                    return self.fail(link, failure(request, &error));
                }
                if !(purpose == Purpose::Heartbeat && error == ErrorReply::JoinFirst) {
                    self.record(link, EntryKind::Error, capitalized(&error.describe()));
                }
            }
            Event::Reply { .. } => {}
            Event::PayloadRefused(error) => {
                self.record(link, EntryKind::Error, format!("Not sent: {}.", error.describe()));
            }
            Event::NoReply { request, .. } => {
                if stage == Stage::Joining {
                    let server = group.server.clone();
                    return self.fail(link, format!("No reply from the server at {server}."));
                }
                let text = format!("No reply from the server to {request}.");
                self.record(link, EntryKind::Error, text);
            }
            Event::Retrying(_) => {
                let text = "The server cannot reach the rest of its cluster just now; trying again every second.";
                self.record(link, EntryKind::Event, text.to_string());
            }
            Event::Rejoined(id) => {
                let text = format!("The server had forgotten us; rejoined {id}.");
                self.record(link, EntryKind::Event, text);
            }
            Event::RejoinFailed { group: id, error } => {
                group.stage = Stage::Lost;
                let why = error.map_or("no reply from the server".to_string(), |e| e.describe());
                let text = format!("Lost {id}: the server forgot us and rejoining failed ({why}).");
                self.record(link, EntryKind::Error, text);
            }
        }
    }
}

/// A failed create or join, in words.
fn failure(request: Command, error: &ErrorReply) -> String {
    match (request, error) {
        (Command::Join(id), ErrorReply::NoSuchGroup) => {
            format!("No group has the id {id} (it may have expired).")
        }
        (_, ErrorReply::GroupFull(_) | ErrorReply::ClientLimit { .. }) => {
            format!("{}.", capitalized(&error.describe()))
        }
        (Command::Join(id), _) => format!("Could not join {id}: {}.", error.describe()),
        (_, _) => format!("Could not create a group: {}.", error.describe()),
    }
}

pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
