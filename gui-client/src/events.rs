//! What the network threads report, applied to the window's state.

use udprelay_link::Report;
use udprelay_shared::session::{Event, Purpose};
use udprelay_shared::text::printable_lines;
use udprelay_shared::{Command, ErrorReply, GroupId, Reply};

use crate::app::{App, EntryKind, Place, Stage, entry};
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
                let text =
                    format!("The server at {} is not answering (its port is closed).", self.server);
                self.log(link, EntryKind::Error, text);
            }
            Update::Report(Report::SendFailed(error)) => {
                self.log(link, EntryKind::Error, format!("Could not send: {error}."));
            }
            Update::Report(Report::Session(event)) => self.apply_event(link, event),
        }
    }

    fn apply_event(&mut self, link: LinkId, event: Event) {
        let Some(group) = self.group_mut(link) else { return };
        match event {
            Event::Connection(connection) => self.connection = connection,
            Event::Payload(bytes) => {
                // Invisible and control characters shown escaped, as the terminal client does.
                let text = printable_lines(&bytes);
                group.log.push(entry(EntryKind::Theirs, text));
                keep_scrollback(&mut group.log, &mut group.unread_from);
                let at = group.log.len() - 1;
                self.arrived(link, at);
            }
            Event::Reply { reply: Reply::Created(id), .. } => {
                group.id = Some(id);
                group.log.push(entry(EntryKind::Event, format!("Created group {id}.")));
            }
            Event::Reply { reply: Reply::Joined(id), .. } => {
                group.id = Some(id);
                if group.stage != Stage::Joined {
                    group.stage = Stage::Joined;
                    group.log.push(entry(EntryKind::Event, format!("Joined {id}.")));
                }
                if GroupId::parse_lenient(&self.join_text) == Ok(id) {
                    self.join_text.clear();
                }
                self.clear_notice(Place::Join);
            }
            Event::Reply { reply: Reply::Who { members, .. }, .. } => group.members = Some(members),
            Event::Reply { reply: Reply::Error(error), request, purpose } => {
                if group.stage == Stage::Joining {
                    let text = failure(request, &error);
                    return self.fail(link, text);
                }
                if !(purpose == Purpose::Heartbeat && error == ErrorReply::JoinFirst) {
                    group.log.push(entry(EntryKind::Error, capitalized(&error.describe())));
                }
            }
            Event::Reply { .. } => {}
            Event::PayloadRefused(error) => {
                group.log.push(entry(EntryKind::Error, format!("Not sent: {}.", error.describe())));
            }
            Event::NoReply { request, .. } => {
                if group.stage == Stage::Joining {
                    let server = self.server.clone();
                    return self.fail(link, format!("No reply from the server at {server}."));
                }
                let text = format!("No reply from the server to {request}.");
                group.log.push(entry(EntryKind::Error, text));
            }
            Event::Rejoined(id) => {
                group.log.push(entry(
                    EntryKind::Event,
                    format!("The server had forgotten us; rejoined {id}."),
                ));
            }
            Event::RejoinFailed { group: id, error } => {
                group.stage = Stage::Lost;
                let why = error.map_or("no reply from the server".to_string(), |e| e.describe());
                group.log.push(entry(
                    EntryKind::Error,
                    format!("Lost {id}: the server forgot us and rejoining failed ({why})."),
                ));
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

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// Lines a group keeps in memory: a day of a busy group, bounded.
pub const SCROLLBACK: usize = 10_000;

/// Drops the oldest tenth of a log that has grown past [`SCROLLBACK`] (in chunks, so a busy
/// group does not shift its log on every message); a "New messages" line that fell off moves to
/// the top.
pub(crate) fn keep_scrollback<T>(log: &mut Vec<T>, unread_from: &mut Option<usize>) {
    if log.len() <= SCROLLBACK {
        return;
    }
    let drop = log.len() - SCROLLBACK + SCROLLBACK / 10;
    log.drain(..drop);
    if let Some(at) = unread_from {
        *at = at.saturating_sub(drop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_stays_bounded_and_the_unread_line_stays_on_its_message() {
        let mut log: Vec<usize> = Vec::new();
        let mut unread_from = None;
        for n in 0..50_000 {
            log.push(n);
            if n == 45_000 {
                unread_from = Some(log.len() - 1);
            }
            keep_scrollback(&mut log, &mut unread_from);
            assert!(log.len() <= SCROLLBACK);
        }
        assert_eq!(log.last(), Some(&49_999), "the newest are kept");
        assert_eq!(unread_from.map(|at| log[at]), Some(45_000));
        // An unread line older than what is kept moves to the top.
        let mut early = Some(3);
        let mut full: Vec<usize> = (0..=SCROLLBACK).collect();
        keep_scrollback(&mut full, &mut early);
        assert_eq!(early, Some(0));
    }
}
