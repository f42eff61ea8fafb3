//! The lines the user sees for what the client reports and what its commands return. Pure,
//! so every text is tested here. Everything that came from the network goes through
//! [`printable`] first.

use udprelay_client::text::{messages, printable};
use udprelay_client::{Command, Error, ErrorReply, Event, GroupId, Message, Reply};
use udprelay_shared::ServerFull;

pub const NOT_JOINED: &str = "[cli] not joined; use 'join <group_id>' or 'create --join'";

/// One line to print: a peer's message in its parts, or any other line as it is printed. Its
/// text ([`Line::text`]) is what scripts read; `crate::style` colours it, part by part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `[payload] SENDER: TEXT MARK`, each part escaped; without a sender, `[payload] TEXT
    /// MARK` (in a plain group, the payload exactly as it came).
    Payload { sender: Option<String>, text: String, mark: String },
    /// Any other line (`[server] …`, `[cli] …`, the greeting), as printed.
    Said(String),
}

impl Line {
    /// The line as printed without colour.
    pub fn text(&self) -> String {
        match self {
            Line::Payload { sender: Some(sender), text, mark } => {
                format!("[payload] {sender}: {text}{mark}")
            }
            Line::Payload { sender: None, text, mark } => format!("[payload] {text}{mark}"),
            Line::Said(line) => line.clone(),
        }
    }
}

impl From<String> for Line {
    fn from(line: String) -> Line {
        Line::Said(line)
    }
}

impl PartialEq<&str> for Line {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}

/// The lines to print for one event (often none: heartbeat chatter is not shown).
pub fn event_lines(event: &Event) -> Vec<Line> {
    let said = |lines: Vec<String>| lines.into_iter().map(Line::from).collect();
    match event {
        Event::Message(message) => vec![message_line(message)],
        Event::Undecryptable { count, .. } => said(vec![format!(
            "[cli] {} in this group could not be decrypted (sent with another key, by an older udprelay, or damaged); whoever sent them needs the invite link ('invite' shows it) and this version",
            messages(*count)
        )]),
        Event::Missed { from, count, .. } => said(vec![format!(
            "[cli] {} from {} did not arrive",
            messages(*count),
            printable(from.as_bytes())
        )]),
        Event::Refused { error, .. } => said(server_error(error)),
        Event::Silent { .. } => said(vec!["[cli] no reply from server for !PING".into()]),
        Event::Unreachable { server, .. } => {
            said(vec![format!("[cli] server unreachable at {server}")])
        }
        Event::Rejoined { group } => {
            said(vec![format!("[cli] rejoined {group} after the server forgot us")])
        }
        Event::Lost { group, error } => {
            let why = error.as_ref().map_or("no reply from server".into(), ErrorReply::describe);
            said(vec![format!("[cli] could not rejoin {group}: {why}")])
        }
        Event::Moved { group, from, to } => said(vec![moved_line(from, to, *group)]),
        Event::Retrying { command, .. } => said(vec![format!(
            "[cli] the server cannot reach the rest of its cluster just now; sending {command} again every second"
        )]),
        Event::SendFailed { reason, .. } => said(vec![format!("[cli] could not send: {reason}")]),
        Event::Lagged { missed } => said(vec![format!(
            "[cli] {} not shown: this client was not keeping up",
            messages(*missed)
        )]),
        _ => Vec::new(),
    }
}

/// A peer's message: exactly as it came in a plain group (scripts read it); in a private
/// group as `NAME: text` from inside the envelope, with its mark. Its parts are the message's
/// own (escaping goes character by character, so the parts make the whole line).
fn message_line(message: &Message) -> Line {
    Line::Payload {
        sender: message.from.as_deref().map(|name| printable(name.as_bytes())),
        text: printable(message.text.as_bytes()),
        mark: message.mark().into_owned(),
    }
}

/// The one line for a move to another server.
pub fn moved_line(from: &str, to: &str, group: Option<GroupId>) -> String {
    match group {
        Some(group) => format!("[cli] {from} is not answering; moved to {to} and rejoined {group}"),
        None => format!("[cli] {from} is not answering; moved to {to}"),
    }
}

/// Whether an event means something the user did failed (for pipe mode's exit code).
pub fn is_failure(event: &Event) -> bool {
    matches!(event, Event::Refused { .. } | Event::Lost { .. } | Event::SendFailed { .. })
}

/// The lines for the server's answer to a command the user typed.
pub fn answer_lines(answer: &Result<Reply, Error>, command: Command) -> Vec<String> {
    match answer {
        Ok(reply) => reply_lines(reply),
        Err(error) => error_lines(command, error),
    }
}

/// The lines for a command that failed without a reply to show.
pub fn error_lines(command: Command, error: &Error) -> Vec<String> {
    match (error, command) {
        (Error::Refused(error), _) => server_error(error),
        (Error::NoReply { .. } | Error::Unreachable { .. }, Command::Create { .. }) => {
            vec!["[cli] create timed out".into()]
        }
        (Error::NoReply { .. } | Error::Unreachable { .. }, _) => {
            vec![format!("[cli] no reply from server for {command}")]
        }
        (Error::NotJoined(_), _) => vec![NOT_JOINED.into()],
        (Error::TooLong { len, max }, _) => {
            vec![format!("[cli] message too long ({len} bytes, max {max})")]
        }
        (error, _) => vec![format!("[cli] {error}")],
    }
}

/// The lines for `create --join`'s new group, as the server said them.
pub fn created_lines(id: GroupId) -> Vec<String> {
    reply_lines(&Reply::Created(id))
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
    use udprelay_client::e2e::Doubt;
    use udprelay_client::message::Encryption;

    fn id() -> GroupId {
        "ABCD1234".parse().unwrap()
    }

    fn answer(command: Command, text: &str) -> Vec<String> {
        answer_lines(&Ok(Reply::parse(text.as_bytes()).unwrap()), command)
    }

    fn payload(bytes: &[u8]) -> Vec<Line> {
        event_lines(&Event::Message(Message::parse(id(), bytes.to_vec())))
    }

    #[test]
    fn server_replies() {
        assert_eq!(
            answer(Command::Create { cap: None }, "OK CREATED ABCD1234"),
            ["[server] OK CREATED ABCD1234", "[cli] created group id: ABCD1234"]
        );
        assert_eq!(
            created_lines(id()),
            answer(Command::Create { cap: None }, "OK CREATED ABCD1234")
        );
        assert_eq!(
            answer(Command::Join(id()), "OK JOINED ABCD1234"),
            ["[server] OK JOINED ABCD1234"]
        );
        assert_eq!(answer(Command::Leave(id()), "OK LEFT ABCD1234"), ["[server] OK LEFT ABCD1234"]);
        assert_eq!(answer(Command::Ping(None), "PONG 60.0"), ["[server] PONG 60.0"]);
        assert_eq!(answer(Command::Who, "OK WHO ABCD1234 2"), ["[server] group=ABCD1234 peers=2"]);
        assert_eq!(
            answer(Command::Join(id()), "ERR GROUP_FULL ABCD1234")[0],
            "[server] error: GROUP_FULL - ABCD1234"
        );
        assert_eq!(
            answer(Command::Join(id()), "ERR BAD_ARG NoSuchGroup")[0],
            "[server] error: BAD_ARG - NoSuchGroup"
        );
    }

    #[test]
    fn heartbeat_chatter_is_quiet() {
        assert!(event_lines(&Event::Members { group: id(), count: 2 }).is_empty());
        let reachability = udprelay_client::Reachability::Reachable;
        assert!(event_lines(&Event::Reachability { group: Some(id()), reachability }).is_empty());
    }

    #[test]
    fn client_lines() {
        let server = "127.0.0.1:5000".to_string();
        let no_reply =
            |command| error_lines(command, &Error::NoReply { command, server: server.clone() });
        assert_eq!(no_reply(Command::Who), ["[cli] no reply from server for !WHO"]);
        assert_eq!(
            no_reply(Command::Join(id())),
            ["[cli] no reply from server for !JOIN ABCD1234"]
        );
        assert_eq!(no_reply(Command::Create { cap: None }), ["[cli] create timed out"]);
        assert_eq!(
            event_lines(&Event::Silent { group: id() }),
            ["[cli] no reply from server for !PING"]
        );
        assert_eq!(
            event_lines(&Event::Rejoined { group: id() }),
            ["[cli] rejoined ABCD1234 after the server forgot us"]
        );
        assert_eq!(
            event_lines(&Event::Lost { group: id(), error: Some(ErrorReply::NoSuchGroup) }),
            ["[cli] could not rejoin ABCD1234: no group has that id (it may have expired)"]
        );
        assert_eq!(
            event_lines(&Event::Lost { group: id(), error: None }),
            ["[cli] could not rejoin ABCD1234: no reply from server"]
        );
        assert_eq!(
            event_lines(&Event::Unreachable { group: None, server }),
            ["[cli] server unreachable at 127.0.0.1:5000"]
        );
        assert_eq!(
            error_lines(Command::Who, &Error::TooLong { len: 5000, max: 4096 }),
            ["[cli] message too long (5000 bytes, max 4096)"]
        );
    }

    #[test]
    fn server_errors_in_words_after_the_original_line() {
        let create = |text| answer(Command::Create { cap: None }, text);
        let join = |text| answer(Command::Join(id()), text);
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
            event_lines(&Event::Refused { group: id(), error: ErrorReply::JoinFirst }),
            [
                "[server] error: NOT_IN_GROUP - JoinFirstUseJOIN",
                "[cli] you are not in a group; use 'join <group_id>' or 'create --join'",
            ]
        );
    }

    #[test]
    fn failures_are_counted_for_scripts() {
        assert!(is_failure(&Event::Refused { group: id(), error: ErrorReply::JoinFirst }));
        assert!(is_failure(&Event::Lost { group: id(), error: None }));
        assert!(!is_failure(&Event::Silent { group: id() }));
        assert!(!is_failure(&Event::Message(Message::parse(id(), b"ERR X y".to_vec()))));
    }

    #[test]
    fn a_payloads_parts_make_exactly_the_line_it_came_as() {
        // The line scripts read is the payload, escaped, whatever its parts are.
        let payloads: [&[u8]; 7] = [
            b"ben: hi: there",
            b"no name here",
            b"\xff\xfe: broken bytes",
            b"a\x1b[2Jb: c\x07d",
            "\u{1f468}\u{200d}: \u{200d}\u{1f469}".as_bytes(),
            b": starts with it",
            b"name:no space",
        ];
        for bytes in payloads {
            let message = Message::parse(id(), bytes.to_vec());
            let whole = format!("[payload] {}{}", printable(&message.as_read()), message.mark());
            assert_eq!(event_lines(&Event::Message(message)), [whole.as_str()], "{bytes:?}");
        }
    }

    #[test]
    fn payloads_cannot_drive_the_terminal() {
        assert_eq!(payload(b"hello from A"), ["[payload] hello from A"]);
        assert_eq!(
            payload(b"ERR X \x1b]0;owned\x07\x1b[2J"),
            ["[payload] ERR X \\u{1b}]0;owned\\u{7}\\u{1b}[2J"]
        );
        assert_eq!(payload("a\u{200b}b\u{202e}c".as_bytes()), ["[payload] a\\u{200b}b\\u{202e}c"]);
    }

    #[test]
    fn private_groups_read_as_chat_with_their_marks() {
        let sealed = |doubt| {
            let mut message = Message::parse(id(), b"~E2 AAAA".to_vec());
            (message.from, message.text) = (Some("ana".into()), "hello\x1b[2J".into());
            let signer = "A6JT-ZXU7-25FQ-XSDZ-4245".into();
            message.encryption = Encryption::Signed { signer, doubt };
            event_lines(&Event::Message(message))
        };
        assert_eq!(sealed(None), ["[payload] ana: hello\\u{1b}[2J"]);
        assert_eq!(sealed(Some(Doubt::NewKey)), ["[payload] ana: hello\\u{1b}[2J (new key)"]);
        let alike = Some(Doubt::LooksLike("an\u{202e}a".into()));
        assert_eq!(sealed(alike), ["[payload] ana: hello\\u{1b}[2J (looks like an\\u{202e}a)"]);
        let bad = sealed(Some(Doubt::BadName));
        assert_eq!(bad, ["[payload] ana: hello\\u{1b}[2J (not a valid name)"]);
        let mut clear = Message::parse(id(), b"eve: hi".to_vec());
        clear.encryption = Encryption::NotEncrypted;
        assert_eq!(event_lines(&Event::Message(clear)), ["[payload] eve: hi (not encrypted)"]);
        let lines = event_lines(&Event::Undecryptable { group: id(), count: 3 });
        assert!(
            lines[0].text().starts_with("[cli] 3 messages in this group could not be decrypted")
        );
        let missed = Event::Missed { group: id(), from: "ana".into(), count: 2 };
        assert_eq!(event_lines(&missed), ["[cli] 2 messages from ana did not arrive"]);
    }
}
