//! The lines the user sees for what the session reports. Pure, so every text is tested here.
//! Everything that came from the network goes through [`printable`] first.

use udprelay_shared::session::{Event, Purpose};
use udprelay_shared::text::printable;
use udprelay_shared::{Command, ErrorReply, GroupId, Reply, ServerFull};

pub const NOT_JOINED: &str = "[cli] not joined; use 'join <group_id>' or 'create --join'";

/// The lines to print for one session event (often none: heartbeat chatter is not shown).
pub fn event_lines(event: &Event) -> Vec<String> {
    match event {
        Event::Reply { purpose: Purpose::Heartbeat, reply, .. } => match reply {
            // The rejoin that follows speaks for a forgotten membership.
            Reply::Error(error) if *error != ErrorReply::JoinFirst => server_error(error),
            _ => Vec::new(),
        },
        Event::Reply { reply, .. } => reply_lines(reply),
        Event::PayloadRefused(error) => server_error(error),
        Event::Payload(bytes) => vec![format!("[payload] {}", printable(bytes))],
        Event::NoReply { request: Command::Create { .. }, .. } => {
            vec!["[cli] create timed out".into()]
        }
        Event::NoReply { request: Command::Ping(_), .. } => {
            vec!["[cli] no reply from server for !PING".into()]
        }
        Event::NoReply { request, .. } => vec![format!("[cli] no reply from server for {request}")],
        Event::Rejoined(group) => {
            vec![format!("[cli] rejoined {group} after the server forgot us")]
        }
        Event::RejoinFailed { group, error } => {
            let why = error.as_ref().map_or("no reply from server".into(), ErrorReply::describe);
            vec![format!("[cli] could not rejoin {group}: {why}")]
        }
        Event::Connection(_) => Vec::new(),
        Event::Retrying(request) => vec![format!(
            "[cli] the server cannot reach the rest of its cluster just now; sending {request} again every second"
        )],
    }
}

/// The one line for a move to another server.
pub fn moved_line(from: &str, to: &str, group: Option<GroupId>) -> String {
    match group {
        Some(group) => format!("[cli] {from} is not answering; moved to {to} and rejoined {group}"),
        None => format!("[cli] {from} is not answering; moved to {to}"),
    }
}

/// Whether an event means a command the user gave failed (for pipe mode's exit code).
pub fn is_failure(event: &Event) -> bool {
    match event {
        Event::Reply { reply: Reply::Error(_), purpose, .. } => {
            matches!(purpose, Purpose::User | Purpose::CreateAndJoin)
        }
        Event::NoReply { purpose, .. } => matches!(purpose, Purpose::User | Purpose::CreateAndJoin),
        Event::PayloadRefused(_) | Event::RejoinFailed { .. } => true,
        _ => false,
    }
}

fn reply_lines(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Created(id) => {
            vec![server_line(reply), format!("[cli] created group id: {id}")]
        }
        Reply::Who { group, members } => vec![format!("[server] group={group} peers={members}")],
        Reply::Error(error) => server_error(error),
        _ => vec![server_line(reply)],
    }
}

fn server_line(reply: &Reply) -> String {
    format!("[server] {}", printable(reply.to_string().as_bytes()))
}

/// The original's line for a server error (scripts read it), then what it means and what to do.
fn server_error(error: &ErrorReply) -> Vec<String> {
    let text = format!("{} - {}", error.code(), error.message());
    let mut lines = vec![format!("[server] error: {}", printable(text.as_bytes()))];
    lines.extend(advice(error).map(|advice| format!("[cli] {advice}")));
    lines
}

fn advice(error: &ErrorReply) -> Option<String> {
    Some(match error {
        ErrorReply::ClientLimit { used, .. } => format!(
            "you already have {used} live groups on this server, the most it allows; an empty group is deleted a while after it empties (300 s by default), which frees a slot"
        ),
        ErrorReply::NoSuchGroup => "no group has that id: check it with whoever gave it to you (a group is deleted a while after its last member leaves), or make one with 'create --join'".into(),
        ErrorReply::GroupFull(id) => format!(
            "group {id} has as many members as it allows; try again when someone leaves, or make your own with 'create --join'"
        ),
        ErrorReply::JoinFirst => {
            "you are not in a group; use 'join <group_id>' or 'create --join'".into()
        }
        ErrorReply::NotInThatGroup => "you are not in that group; 'status' shows yours".into(),
        ErrorReply::ServerFull(ServerFull::Groups) => {
            "the server holds as many groups as it allows; try again later".into()
        }
        ErrorReply::ServerFull(ServerFull::Members) => {
            "the server holds as many members as it allows; try again later".into()
        }
        ErrorReply::IpLimit { used, .. } => format!(
            "your IP address is already in groups {used} times, the most this server allows (everyone behind one router shares an address); leave a group, or ask the server's operator to raise --max-members-per-ip"
        ),
        ErrorReply::Busy => "the server cannot reach the rest of its cluster just now; try again in a moment".into(),
        ErrorReply::UnknownCommand
        | ErrorReply::JoinUsage
        | ErrorReply::LeaveUsage
        | ErrorReply::TooLarge => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> GroupId {
        "ABCD1234".parse().unwrap()
    }

    fn user_reply(request: Command, text: &str) -> Vec<String> {
        let reply = Reply::parse(text.as_bytes()).unwrap();
        event_lines(&Event::Reply { request, reply, purpose: Purpose::User })
    }

    #[test]
    fn server_replies() {
        assert_eq!(
            user_reply(Command::Create { cap: None }, "OK CREATED ABCD1234"),
            ["[server] OK CREATED ABCD1234", "[cli] created group id: ABCD1234"]
        );
        assert_eq!(
            user_reply(Command::Join(id()), "OK JOINED ABCD1234"),
            ["[server] OK JOINED ABCD1234"]
        );
        assert_eq!(
            user_reply(Command::Leave(id()), "OK LEFT ABCD1234"),
            ["[server] OK LEFT ABCD1234"]
        );
        assert_eq!(user_reply(Command::Ping(None), "PONG 60.0"), ["[server] PONG 60.0"]);
        assert_eq!(
            user_reply(Command::Who, "OK WHO ABCD1234 2"),
            ["[server] group=ABCD1234 peers=2"]
        );
        assert_eq!(
            user_reply(Command::Join(id()), "ERR GROUP_FULL ABCD1234")[0],
            "[server] error: GROUP_FULL - ABCD1234"
        );
        assert_eq!(
            user_reply(Command::Join(id()), "ERR BAD_ARG NoSuchGroup")[0],
            "[server] error: BAD_ARG - NoSuchGroup"
        );
    }

    #[test]
    fn heartbeat_chatter_is_quiet() {
        let pong = Reply::parse(b"PONG 60.0").unwrap();
        let event =
            Event::Reply { request: Command::Ping(None), reply: pong, purpose: Purpose::Heartbeat };
        assert!(event_lines(&event).is_empty());
        let forgotten = Event::Reply {
            request: Command::Ping(None),
            reply: Reply::Error(ErrorReply::JoinFirst),
            purpose: Purpose::Heartbeat,
        };
        assert!(event_lines(&forgotten).is_empty());
    }

    #[test]
    fn client_lines() {
        let no_reply = |request| event_lines(&Event::NoReply { request, purpose: Purpose::User });
        assert_eq!(no_reply(Command::Who), ["[cli] no reply from server for !WHO"]);
        assert_eq!(
            no_reply(Command::Join(id())),
            ["[cli] no reply from server for !JOIN ABCD1234"]
        );
        assert_eq!(no_reply(Command::Create { cap: None }), ["[cli] create timed out"]);
        assert_eq!(
            event_lines(&Event::Rejoined(id())),
            ["[cli] rejoined ABCD1234 after the server forgot us"]
        );
        assert_eq!(
            event_lines(&Event::RejoinFailed { group: id(), error: Some(ErrorReply::NoSuchGroup) }),
            ["[cli] could not rejoin ABCD1234: no group has that id (it may have expired)"]
        );
        assert_eq!(
            event_lines(&Event::RejoinFailed { group: id(), error: None }),
            ["[cli] could not rejoin ABCD1234: no reply from server"]
        );
    }

    #[test]
    fn server_errors_in_words_after_the_original_line() {
        let create = |text| user_reply(Command::Create { cap: None }, text);
        let join = |text| user_reply(Command::Join(id()), text);
        assert_eq!(
            create("ERR CLIENT_LIMIT 3/3"),
            [
                "[server] error: CLIENT_LIMIT - 3/3",
                "[cli] you already have 3 live groups on this server, the most it allows; an empty group is deleted a while after it empties (300 s by default), which frees a slot",
            ]
        );
        assert_eq!(
            join("ERR BAD_ARG NoSuchGroup")[1],
            "[cli] no group has that id: check it with whoever gave it to you (a group is deleted a while after its last member leaves), or make one with 'create --join'"
        );
        assert!(
            join("ERR GROUP_FULL ABCD1234")[1]
                .starts_with("[cli] group ABCD1234 has as many members as it allows")
        );
        assert_eq!(
            join("ERR SERVER_FULL TooManyMembers")[0],
            "[server] error: SERVER_FULL - TooManyMembers"
        );
        assert!(
            join("ERR SERVER_FULL TooManyMembers")[1]
                .starts_with("[cli] the server holds as many members")
        );
        assert_eq!(join("ERR IP_LIMIT 16/16")[0], "[server] error: IP_LIMIT - 16/16");
        assert!(join("ERR IP_LIMIT 16/16")[1].contains("--max-members-per-ip"));
        assert_eq!(
            event_lines(&Event::PayloadRefused(ErrorReply::JoinFirst)),
            [
                "[server] error: NOT_IN_GROUP - JoinFirstUseJOIN",
                "[cli] you are not in a group; use 'join <group_id>' or 'create --join'",
            ]
        );
    }

    #[test]
    fn failures_are_counted_for_scripts() {
        let failed = |text: &str, purpose| {
            let reply = Reply::parse(text.as_bytes()).unwrap();
            is_failure(&Event::Reply { request: Command::Who, reply, purpose })
        };
        assert!(failed("ERR NOT_IN_GROUP JoinFirstUseJOIN", Purpose::User));
        assert!(!failed("ERR NOT_IN_GROUP JoinFirstUseJOIN", Purpose::Heartbeat));
        assert!(!failed("OK WHO ABCD1234 2", Purpose::User));
        assert!(is_failure(&Event::NoReply { request: Command::Who, purpose: Purpose::User }));
        assert!(!is_failure(&Event::NoReply {
            request: Command::Ping(None),
            purpose: Purpose::Heartbeat
        }));
        assert!(!is_failure(&Event::Payload(b"ERR X y".to_vec())));
    }

    #[test]
    fn payloads_cannot_drive_the_terminal() {
        assert_eq!(
            event_lines(&Event::Payload(b"hello from A".to_vec())),
            ["[payload] hello from A"]
        );
        assert_eq!(
            event_lines(&Event::Payload(b"ERR X \x1b]0;owned\x07\x1b[2J".to_vec())),
            ["[payload] ERR X \\u{1b}]0;owned\\u{7}\\u{1b}[2J"]
        );
        assert_eq!(
            event_lines(&Event::Payload("a\u{200b}b\u{202e}c".as_bytes().to_vec())),
            ["[payload] a\\u{200b}b\\u{202e}c"]
        );
    }
}
