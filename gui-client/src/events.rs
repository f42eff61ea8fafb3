//! What each row's client reports, applied to the window's state.

use udprelay_client::text::{messages, printable, printable_lines};
use udprelay_client::{Error, ErrorReply, Event, GroupId, Reachability};

use crate::app::{App, Entry, EntryKind, Place, Stage};
use crate::net::{LinkId, Update};

impl App {
    pub(crate) fn apply(&mut self, link: LinkId, update: Update) {
        match update {
            Update::Answer(Ok(id)) => self.joined(link, id),
            Update::Answer(Err(error)) => {
                let Some(group) = self.group_mut(link) else { return };
                let text = failure(group.id, &group.server, &error);
                self.fail(link, text);
            }
            Update::Event(event) => self.apply_event(link, event),
        }
    }

    fn joined(&mut self, link: LinkId, id: GroupId) {
        let selected = self.selected == Some(link);
        let Some(group) = self.group_mut(link) else { return };
        let created = group.id.is_none();
        group.id = Some(id);
        group.stage = Stage::Joined;
        group.handle.joined(id);
        group.handle.watch_members(selected);
        if created {
            self.record(link, EntryKind::Event, format!("Created group {id}."));
        }
        self.remember(link);
        self.record(link, EntryKind::Event, format!("Joined {id}."));
        if GroupId::parse_lenient(&self.join_text) == Ok(id) {
            self.join_text.clear();
        }
        self.clear_notice(Place::Join);
    }

    fn apply_event(&mut self, link: LinkId, event: Event) {
        let Some(group) = self.group_mut(link) else { return };
        match event {
            Event::Reachability { reachability, .. } => {
                let typed = group.server.trim().to_string();
                self.reachability.insert(typed, reachability);
            }
            Event::Status { status, .. } => group.state = Some(status),
            Event::Members { count, .. } => group.members = Some(count),
            Event::Message(message) => {
                // Invisible and control characters shown escaped, as the terminal client does.
                let mention = self.mentions().matches(&message.text);
                let text = printable_lines(message.text.as_bytes());
                let entry = Entry {
                    mark: message.mark().into_owned(),
                    mention,
                    ..Entry::now(EntryKind::Theirs, text)
                };
                let sender = message.from.as_deref().map(|name| printable(name.as_bytes()));
                if let Some(at) = self.record_entry(link, entry.sent_by(sender)) {
                    self.arrived(link, at, mention);
                }
            }
            Event::Undecryptable { count, .. } => {
                let text = format!(
                    "{} in this group could not be decrypted (sent with another key, by an older udprelay, or damaged): whoever sent them needs the invite link and this version.",
                    messages(count)
                );
                self.record(link, EntryKind::Event, text);
            }
            Event::Missed { from, count, .. } => {
                let from = printable_lines(from.as_bytes());
                self.record(
                    link,
                    EntryKind::Event,
                    format!("{} from {from} did not arrive.", messages(count)),
                );
            }
            Event::Unreachable { server, .. } => {
                let typed = group.server.trim().to_string();
                self.reachability.insert(typed, Reachability::Unreachable);
                let text = format!("The server at {server} is not answering (its port is closed).");
                self.record(link, EntryKind::Error, text);
            }
            Event::SendFailed { reason, .. } => {
                self.record(link, EntryKind::Error, format!("Could not send: {reason}."));
            }
            Event::Moved { from, to, group: id } => {
                let text = match id {
                    Some(id) => {
                        format!("{from} is not answering; moved to {to} and rejoined {id}.")
                    }
                    None => format!("{from} is not answering; moved to {to}."),
                };
                self.record(link, EntryKind::Event, text);
            }
            Event::Refused { error, .. } => {
                self.record(link, EntryKind::Error, format!("Not sent: {}.", error.describe()));
            }
            Event::Silent { .. } => {
                let text = "No reply from the server to !PING.".to_string();
                self.record(link, EntryKind::Error, text);
            }
            Event::Retrying { .. } => {
                let text = "The server cannot reach the rest of its cluster just now; trying again every second.";
                self.record(link, EntryKind::Event, text.to_string());
            }
            Event::Rejoined { group: id } => {
                let text = format!("The server had forgotten us; rejoined {id}.");
                self.record(link, EntryKind::Event, text);
            }
            Event::Lost { group: id, error } => {
                group.stage = Stage::Lost;
                let why = error.map_or("no reply from the server".to_string(), |e| e.describe());
                let text = format!("Lost {id}: the server forgot us and rejoining failed ({why}).");
                self.record(link, EntryKind::Error, text);
            }
            _ => {}
        }
    }
}

/// A failed create (`id` `None`) or join of `id`, in words.
fn failure(id: Option<GroupId>, server: &str, error: &Error) -> String {
    match (id, error) {
        (Some(id), Error::Refused(ErrorReply::NoSuchGroup)) => {
            format!("No group has the id {id} (it may have expired).")
        }
        (
            _,
            Error::Refused(error @ (ErrorReply::GroupFull(_) | ErrorReply::ClientLimit { .. })),
        ) => {
            format!("{}.", capitalized(&error.describe()))
        }
        (Some(id), Error::Refused(error)) => format!("Could not join {id}: {}.", error.describe()),
        (None, Error::Refused(error)) => format!("Could not create a group: {}.", error.describe()),
        (_, Error::NoReply { .. } | Error::Unreachable { .. }) => {
            format!("No reply from the server at {server}.")
        }
        (_, error) => format!("{}.", capitalized(&error.to_string())),
    }
}

pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
