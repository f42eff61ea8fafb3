//! Datagrams a client sends, and how the server reads them.
//!
//! A datagram whose first byte is `!` is a command; anything else is a payload, relayed as is.
//! Parsing needs no server state: an argument that is not a well-formed id can name no live
//! group, so its answer (`NoSuchGroup`, `NotInThatGroup`) is known here already.

use std::fmt;

use crate::group_id::{self, GroupId};
use crate::limits::{MAX_DATAGRAM, MAX_TOKEN_LEN};
use crate::reply::ErrorReply;
use crate::token::Token;

/// A well-formed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `!CREATE` → `OK CREATED <id>`: a new empty group, created by the sender (who does not
    /// join it). Extension: `!CREATE <n>`, n a positive integer, caps that group at
    /// `min(n, global cap)` members; any other argument is ignored.
    Create { cap: Option<u32> },
    /// `!JOIN <id>` → `OK JOINED <id>`: the sender joins, leaving the group it was in.
    Join(GroupId),
    /// `!LEAVE <id>` → `OK LEFT <id>`: the sender leaves its group, which must be `<id>`.
    Leave(GroupId),
    /// `!PING [<arg>]` → `PONG <seconds> [<token>]`: heartbeat; the reply suggests the
    /// interval. Extension: with an argument, the reply carries an address-validation token.
    Ping(Option<PingArg>),
    /// `!WHO` → `OK WHO <id> <count>`: the sender's group and its size.
    Who,
}

/// The argument of a `!PING` (docs/protocol.md, "Address validation (extension)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingArg {
    /// `!PING +`, or any argument that is not a token: asks for a token.
    Request,
    /// `!PING <token>`: echoes a token the server sent (and asks for the next).
    Token(Token),
}

/// What a received datagram is, before any server state is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// Empty: ignored, no reply.
    Empty,
    /// A command that parsed.
    Command(Command),
    /// A datagram answered with an error whatever the state: too large, or a malformed command.
    Invalid(ErrorReply),
    /// Anything not starting with `!`: opaque bytes for the sender's group.
    Payload(&'a [u8]),
}

impl<'a> Incoming<'a> {
    /// Classifies one datagram by the rules of docs/protocol.md, "Commands".
    pub fn parse(datagram: &'a [u8]) -> Incoming<'a> {
        if datagram.len() > MAX_DATAGRAM {
            Incoming::Invalid(ErrorReply::TooLarge)
        } else if datagram.is_empty() {
            Incoming::Empty
        } else if datagram[0] == b'!' {
            match Command::parse(datagram) {
                Ok(command) => Incoming::Command(command),
                Err(error) => Incoming::Invalid(error),
            }
        } else {
            Incoming::Payload(datagram)
        }
    }
}

impl Command {
    /// Parses a datagram that starts with `!` (size already checked by [`Incoming::parse`]).
    pub fn parse(datagram: &[u8]) -> Result<Command, ErrorReply> {
        let body = datagram.strip_prefix(b"!").ok_or(ErrorReply::UnknownCommand)?;
        // Extension: one trailing newline is dropped, so `nc -u` can be typed into.
        let body = body.strip_suffix(b"\r\n").or_else(|| body.strip_suffix(b"\n")).unwrap_or(body);
        let (token, argument) = match body.iter().position(|&b| b == b' ') {
            Some(space) => (&body[..space], &body[space + 1..]),
            None => (body, &b""[..]),
        };
        if token.len() > MAX_TOKEN_LEN {
            return Err(ErrorReply::UnknownCommand);
        }
        match token {
            b"CREATE" => Ok(Command::Create { cap: parse_cap(argument) }),
            b"JOIN" => match group_argument(argument) {
                Argument::Missing => Err(ErrorReply::JoinUsage),
                Argument::NotAnId => Err(ErrorReply::NoSuchGroup),
                Argument::Id(id) => Ok(Command::Join(id)),
            },
            b"LEAVE" => match group_argument(argument) {
                Argument::Missing => Err(ErrorReply::LeaveUsage),
                Argument::NotAnId => Err(ErrorReply::NotInThatGroup),
                Argument::Id(id) => Ok(Command::Leave(id)),
            },
            b"PING" => Ok(Command::Ping(ping_argument(argument))),
            b"WHO" => Ok(Command::Who),
            _ => Err(ErrorReply::UnknownCommand),
        }
    }

    /// The datagram a client sends for this command.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Create { cap: None } => f.write_str("!CREATE"),
            Command::Create { cap: Some(n) } => write!(f, "!CREATE {n}"),
            Command::Join(id) => write!(f, "!JOIN {id}"),
            Command::Leave(id) => write!(f, "!LEAVE {id}"),
            Command::Ping(None) => f.write_str("!PING"),
            Command::Ping(Some(PingArg::Request)) => f.write_str("!PING +"),
            Command::Ping(Some(PingArg::Token(token))) => write!(f, "!PING {token}"),
            Command::Who => f.write_str("!WHO"),
        }
    }
}

enum Argument {
    Missing,
    NotAnId,
    Id(GroupId),
}

/// Longest id argument worth decoding, after ASCII white space is trimmed: an id is 8
/// characters, and upper-casing a few kilobytes of ligatures costs real time for a datagram
/// anyone can send.
pub const MAX_ID_ARGUMENT: usize = 64;

/// A group-id argument: UTF-8 with invalid bytes dropped, then trimmed and upper-cased.
fn group_argument(argument: &[u8]) -> Argument {
    let argument = argument.trim_ascii();
    if argument.len() > MAX_ID_ARGUMENT {
        return Argument::NotAnId; // no decoding, no upper-casing
    }
    let text: String = argument.utf8_chunks().map(|chunk| chunk.valid()).collect();
    let text = group_id::normalize(&text);
    if text.is_empty() {
        Argument::Missing
    } else {
        text.parse().map_or(Argument::NotAnId, Argument::Id)
    }
}

/// A `!PING` argument: none (the original's plain ping), a token, or anything else, which asks
/// for one.
fn ping_argument(argument: &[u8]) -> Option<PingArg> {
    let argument = argument.trim_ascii();
    if argument.is_empty() {
        return None;
    }
    let token = std::str::from_utf8(argument).ok().and_then(|text| text.parse().ok());
    Some(token.map_or(PingArg::Request, PingArg::Token))
}

/// The `!CREATE <n>` extension: a positive integer, saturating (it is capped anyway).
fn parse_cap(argument: &[u8]) -> Option<u32> {
    let digits = argument.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n =
        digits.iter().fold(0u32, |n, &d| n.saturating_mul(10).saturating_add(u32::from(d - b'0')));
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> GroupId {
        text.parse().unwrap()
    }

    fn parse(datagram: &[u8]) -> Incoming<'_> {
        Incoming::parse(datagram)
    }

    #[test]
    fn each_command_parses() {
        use Incoming::Command as C;
        assert_eq!(parse(b"!CREATE"), C(Command::Create { cap: None }));
        assert_eq!(parse(b"!JOIN ABCD1234"), C(Command::Join(id("ABCD1234"))));
        assert_eq!(parse(b"!LEAVE ABCD1234"), C(Command::Leave(id("ABCD1234"))));
        assert_eq!(parse(b"!PING"), C(Command::Ping(None)));
        assert_eq!(parse(b"!WHO"), C(Command::Who));
    }

    #[test]
    fn ids_are_trimmed_and_upper_cased() {
        let expected = Incoming::Command(Command::Join(id("ABCD1234")));
        assert_eq!(parse(b"!JOIN abcd1234"), expected);
        assert_eq!(parse(b"!JOIN   aBcD1234 \t "), expected);
        // Invalid UTF-8 is dropped, not replaced.
        assert_eq!(parse(b"!JOIN ab\xffcd1234"), expected);
    }

    #[test]
    fn extra_arguments_are_ignored() {
        assert_eq!(parse(b"!CREATE x"), Incoming::Command(Command::Create { cap: None }));
        assert_eq!(parse(b"!CREATE x y"), Incoming::Command(Command::Create { cap: None }));
        assert_eq!(parse(b"!WHO 1 2 3"), Incoming::Command(Command::Who));
    }

    #[test]
    fn ping_arguments_ask_for_or_echo_a_token() {
        let ping = |datagram: &[u8]| match parse(datagram) {
            Incoming::Command(Command::Ping(arg)) => arg,
            other => panic!("not a ping: {other:?}"),
        };
        assert_eq!(ping(b"!PING"), None);
        assert_eq!(ping(b"!PING "), None);
        assert_eq!(ping(b"!PING +"), Some(PingArg::Request));
        assert_eq!(ping(b"!PING now please"), Some(PingArg::Request));
        assert_eq!(ping(b"!PING \xff"), Some(PingArg::Request));
        assert_eq!(ping(b"!PING abc-_9"), Some(PingArg::Token("abc-_9".parse().unwrap())));
        assert_eq!(ping(b"!PING abc\n"), Some(PingArg::Token("abc".parse().unwrap())));
        assert_eq!(Command::Ping(Some(PingArg::Request)).to_string(), "!PING +");
    }

    #[test]
    fn create_cap_extension() {
        let cap = |datagram: &[u8]| match parse(datagram) {
            Incoming::Command(Command::Create { cap }) => cap,
            other => panic!("not a create: {other:?}"),
        };
        assert_eq!(cap(b"!CREATE 5"), Some(5));
        assert_eq!(cap(b"!CREATE  12 "), Some(12));
        assert_eq!(cap(b"!CREATE 0"), None);
        assert_eq!(cap(b"!CREATE -3"), None);
        assert_eq!(cap(b"!CREATE 5x"), None);
        assert_eq!(cap(b"!CREATE 99999999999999999999"), Some(u32::MAX));
    }

    #[test]
    fn one_trailing_newline_is_dropped() {
        assert_eq!(parse(b"!PING\n"), Incoming::Command(Command::Ping(None)));
        assert_eq!(parse(b"!PING\r\n"), Incoming::Command(Command::Ping(None)));
        assert_eq!(parse(b"!JOIN abcd1234\n"), Incoming::Command(Command::Join(id("ABCD1234"))));
        // Only one: a second newline is part of the token.
        assert_eq!(parse(b"!PING\n\n"), Incoming::Invalid(ErrorReply::UnknownCommand));
        // A payload keeps its newline.
        assert_eq!(parse(b"hi\n"), Incoming::Payload(b"hi\n"));
    }

    #[test]
    fn malformed_commands_are_unknown() {
        for datagram in [
            &b"!"[..],
            b"! PING",
            b"!ping",
            b"!Ping",
            b"!CREATEX",
            b"!CREATES",
            b"!JOINED ABCD1234",
            b"!FOO",
            b"!JOIN\tABCD1234",
            b"!\xff\xfe",
            b"!\n",
        ] {
            assert_eq!(
                parse(datagram),
                Incoming::Invalid(ErrorReply::UnknownCommand),
                "{:?}",
                String::from_utf8_lossy(datagram)
            );
        }
    }

    #[test]
    fn missing_or_impossible_ids() {
        use ErrorReply::*;
        assert_eq!(parse(b"!JOIN"), Incoming::Invalid(JoinUsage));
        assert_eq!(parse(b"!JOIN "), Incoming::Invalid(JoinUsage));
        assert_eq!(parse(b"!JOIN  \t "), Incoming::Invalid(JoinUsage));
        assert_eq!(parse(b"!JOIN \xff"), Incoming::Invalid(JoinUsage));
        assert_eq!(parse(b"!LEAVE"), Incoming::Invalid(LeaveUsage));
        assert_eq!(parse(b"!LEAVE   "), Incoming::Invalid(LeaveUsage));
        assert_eq!(parse(b"!JOIN nope"), Incoming::Invalid(NoSuchGroup));
        assert_eq!(parse(b"!JOIN ABCD12340"), Incoming::Invalid(NoSuchGroup));
        assert_eq!(parse(b"!LEAVE nope"), Incoming::Invalid(NotInThatGroup));
        let long = format!("!JOIN {}", "\u{fb03}".repeat(1363));
        assert_eq!(parse(long.as_bytes()), Incoming::Invalid(NoSuchGroup));
        let padded = format!("!JOIN {}abcd1234{}", " ".repeat(2000), "\t".repeat(2000));
        assert_eq!(parse(padded.as_bytes()), Incoming::Command(Command::Join(id("ABCD1234"))));
    }

    #[test]
    fn size_limits() {
        assert_eq!(parse(b""), Incoming::Empty);
        let largest = vec![b'x'; MAX_DATAGRAM];
        assert_eq!(parse(&largest), Incoming::Payload(&largest[..]));
        let oversize = vec![b'x'; MAX_DATAGRAM + 1];
        assert_eq!(parse(&oversize), Incoming::Invalid(ErrorReply::TooLarge));
        let mut oversize_command = b"!PING ".to_vec();
        oversize_command.resize(MAX_DATAGRAM + 1, b' ');
        assert_eq!(parse(&oversize_command), Incoming::Invalid(ErrorReply::TooLarge));
    }

    #[test]
    fn commands_format_as_the_server_reads_them() {
        let all = [
            Command::Create { cap: None },
            Command::Create { cap: Some(7) },
            Command::Join(id("ABCD1234")),
            Command::Leave(id("ZZZZ9999")),
            Command::Ping(None),
            Command::Ping(Some(PingArg::Request)),
            Command::Ping(Some(PingArg::Token("aB3_-x".parse().unwrap()))),
            Command::Who,
        ];
        for command in all {
            assert_eq!(Incoming::parse(&command.to_bytes()), Incoming::Command(command));
        }
        assert_eq!(Command::Join(id("ABCD1234")).to_bytes(), b"!JOIN ABCD1234");
        assert_eq!(Command::Create { cap: Some(7) }.to_string(), "!CREATE 7");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(datagram in proptest::collection::vec(proptest::num::u8::ANY, 0..5000)) {
            let _ = Incoming::parse(&datagram);
        }

        #[test]
        fn command_like_bytes_parse_without_panicking(tail in "[A-Z !\\r\\n\\t a-z0-9\\x00-\\x1f\u{80}-\u{10ffff}]{0,40}") {
            let datagram = format!("!{tail}");
            let _ = Incoming::parse(datagram.as_bytes());
        }
    }
}
