//! The lines the user sees for what the session reports. Pure, so every text is tested here.

use udprelay_shared::session::{Event, Purpose};
use udprelay_shared::{Command, ErrorReply, Reply};

pub const NOT_JOINED: &str = "[cli] not joined; use 'join <group_id>' or 'create --join'";

/// The lines to print for one session event (often none: heartbeat chatter is not shown).
pub fn event_lines(event: &Event) -> Vec<String> {
    match event {
        Event::Reply { purpose: Purpose::Heartbeat, reply, .. } => match reply {
            // The rejoin that follows speaks for a forgotten membership.
            Reply::Error(error) if *error != ErrorReply::JoinFirst => vec![server_error(error)],
            _ => Vec::new(),
        },
        Event::Reply { reply, .. } => reply_lines(reply),
        Event::PayloadRefused(error) => vec![server_error(error)],
        Event::Payload(bytes) => vec![format!("[payload] {}", printable(bytes))],
        Event::NoReply { request: Command::Create { .. }, .. } => {
            vec!["[cli] create timed out".into()]
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
    }
}

fn reply_lines(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Created(id) => {
            vec![format!("[server] {reply}"), format!("[cli] created group id: {id}")]
        }
        Reply::Who { group, members } => vec![format!("[server] group={group} peers={members}")],
        Reply::Error(error) => vec![server_error(error)],
        _ => vec![format!("[server] {reply}")],
    }
}

fn server_error(error: &ErrorReply) -> String {
    format!("[server] error: {} - {}", error.code(), error.message())
}

/// A payload as safe text for a terminal: invalid UTF-8 replaced, and control characters
/// (newlines and escape sequences included) and bidirectional overrides shown escaped, so a
/// peer can neither move the cursor nor forge a line that looks like the client's own.
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            shown.extend(c.escape_debug());
        } else if matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use udprelay_shared::GroupId;

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
        assert_eq!(user_reply(Command::Ping, "PONG 60.0"), ["[server] PONG 60.0"]);
        assert_eq!(
            user_reply(Command::Who, "OK WHO ABCD1234 2"),
            ["[server] group=ABCD1234 peers=2"]
        );
        assert_eq!(
            user_reply(Command::Join(id()), "ERR GROUP_FULL ABCD1234"),
            ["[server] error: GROUP_FULL - ABCD1234"]
        );
        assert_eq!(
            user_reply(Command::Join(id()), "ERR BAD_ARG NoSuchGroup"),
            ["[server] error: BAD_ARG - NoSuchGroup"]
        );
    }

    #[test]
    fn heartbeat_chatter_is_quiet() {
        let pong = Reply::parse(b"PONG 60.0").unwrap();
        let event =
            Event::Reply { request: Command::Ping, reply: pong, purpose: Purpose::Heartbeat };
        assert!(event_lines(&event).is_empty());
        let forgotten = Event::Reply {
            request: Command::Ping,
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
    fn payloads_cannot_drive_the_terminal() {
        assert_eq!(
            event_lines(&Event::Payload(b"hello from A".to_vec())),
            ["[payload] hello from A"]
        );
        assert_eq!(printable(b"\x1b[2J\x1b[Hgotcha"), "\\u{1b}[2J\\u{1b}[Hgotcha");
        assert_eq!(printable(b"one\n[server] OK LEFT X"), "one\\n[server] OK LEFT X");
        assert_eq!(printable(b"tab\there\r\x07"), "tab\\there\\r\\u{7}");
        assert_eq!(printable(b"bad \xff utf8"), "bad \u{fffd} utf8");
        assert_eq!(printable("abc\u{202e}cba".as_bytes()), "abc\\u{202e}cba");
        assert_eq!(printable("héllo, 世界 🙂".as_bytes()), "héllo, 世界 🙂");
    }
}
