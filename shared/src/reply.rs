//! Datagrams the server answers with, formatted to the exact texts of docs/protocol.md ("Errors") and parsed
//! back for the clients.

use std::fmt;
use std::time::Duration;

use crate::group_id::GroupId;
use crate::token::Token;

/// A server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK CREATED <id>`
    Created(GroupId),
    /// `OK JOINED <id>`
    Joined(GroupId),
    /// `OK LEFT <id>`
    Left(GroupId),
    /// `PONG <seconds> [<token>]`: the suggested heartbeat interval, and (extension) an
    /// address-validation token when the `!PING` had an argument.
    Pong { interval: Duration, token: Option<Token> },
    /// `OK WHO <id> <count>`
    Who { group: GroupId, members: usize },
    /// `ERR <CODE> <Message>`
    Error(ErrorReply),
}

/// The `<CODE>` of an error reply: what a program switches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadCmd,
    BadArg,
    NotInGroup,
    GroupFull,
    ClientLimit,
    TooLarge,
    /// Extension: a server-wide limit.
    ServerFull,
    /// Extension: the per-IP member limit.
    IpLimit,
    /// Extension: a clustered server cannot decide now (its directory is out of reach).
    Busy,
}

/// Which server-wide limit an `ERR SERVER_FULL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFull {
    /// `ERR SERVER_FULL TooManyGroups`: `--max-groups` live groups.
    Groups,
    /// `ERR SERVER_FULL TooManyMembers`: `--max-members` live members.
    Members,
}

/// An error reply, with the exact texts of docs/protocol.md, "Errors". Nothing else parses as an error: a
/// datagram with another code or message is not a reply from this protocol's servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorReply {
    /// `ERR BAD_CMD UnknownCommand`
    UnknownCommand,
    /// `ERR BAD_ARG Usage:!JOIN <GROUPID>`
    JoinUsage,
    /// `ERR BAD_ARG Usage:!LEAVE <GROUPID>`
    LeaveUsage,
    /// `ERR BAD_ARG NoSuchGroup`
    NoSuchGroup,
    /// `ERR GROUP_FULL <id>`
    GroupFull(GroupId),
    /// `ERR NOT_IN_GROUP NotInThatGroup`: a `!LEAVE` of a group the sender is not in.
    NotInThatGroup,
    /// `ERR NOT_IN_GROUP JoinFirstUseJOIN`: a ping, who or payload while in no group.
    JoinFirst,
    /// `ERR CLIENT_LIMIT <used>/<max>`: per address, or (extension) per IP.
    ClientLimit { used: u32, max: u32 },
    /// `ERR TOO_LARGE PayloadTooLarge`
    TooLarge,
    /// `ERR SERVER_FULL TooManyGroups` / `TooManyMembers` (extension)
    ServerFull(ServerFull),
    /// `ERR IP_LIMIT <used>/<max>`: the sender's IP has the most members allowed (extension).
    IpLimit { used: u32, max: u32 },
    /// `ERR BUSY TryAgain`: a relay of a cluster cannot reach the cluster's directory, which a
    /// create, a join or a group's cap needs; the same command a second later may work
    /// (extension).
    Busy,
}

impl ErrorCode {
    /// The code as it stands on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::BadCmd => "BAD_CMD",
            ErrorCode::BadArg => "BAD_ARG",
            ErrorCode::NotInGroup => "NOT_IN_GROUP",
            ErrorCode::GroupFull => "GROUP_FULL",
            ErrorCode::ClientLimit => "CLIENT_LIMIT",
            ErrorCode::TooLarge => "TOO_LARGE",
            ErrorCode::ServerFull => "SERVER_FULL",
            ErrorCode::IpLimit => "IP_LIMIT",
            ErrorCode::Busy => "BUSY",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorReply {
    /// The `<CODE>` part.
    pub fn code(&self) -> ErrorCode {
        match self {
            ErrorReply::UnknownCommand => ErrorCode::BadCmd,
            ErrorReply::JoinUsage | ErrorReply::LeaveUsage | ErrorReply::NoSuchGroup => {
                ErrorCode::BadArg
            }
            ErrorReply::GroupFull(_) => ErrorCode::GroupFull,
            ErrorReply::NotInThatGroup | ErrorReply::JoinFirst => ErrorCode::NotInGroup,
            ErrorReply::ClientLimit { .. } => ErrorCode::ClientLimit,
            ErrorReply::TooLarge => ErrorCode::TooLarge,
            ErrorReply::ServerFull(_) => ErrorCode::ServerFull,
            ErrorReply::IpLimit { .. } => ErrorCode::IpLimit,
            ErrorReply::Busy => ErrorCode::Busy,
        }
    }

    /// The `<Message>` part.
    pub fn message(&self) -> String {
        match self {
            ErrorReply::UnknownCommand => "UnknownCommand".into(),
            ErrorReply::JoinUsage => "Usage:!JOIN <GROUPID>".into(),
            ErrorReply::LeaveUsage => "Usage:!LEAVE <GROUPID>".into(),
            ErrorReply::NoSuchGroup => "NoSuchGroup".into(),
            ErrorReply::GroupFull(id) => id.to_string(),
            ErrorReply::NotInThatGroup => "NotInThatGroup".into(),
            ErrorReply::JoinFirst => "JoinFirstUseJOIN".into(),
            ErrorReply::ClientLimit { used, max } | ErrorReply::IpLimit { used, max } => {
                format!("{used}/{max}")
            }
            ErrorReply::TooLarge => "PayloadTooLarge".into(),
            ErrorReply::ServerFull(ServerFull::Groups) => "TooManyGroups".into(),
            ErrorReply::ServerFull(ServerFull::Members) => "TooManyMembers".into(),
            ErrorReply::Busy => "TryAgain".into(),
        }
    }

    /// The error in plain words, for people.
    pub fn describe(&self) -> String {
        match self {
            ErrorReply::UnknownCommand => "the server did not understand the command".into(),
            ErrorReply::JoinUsage | ErrorReply::LeaveUsage => "a group id is needed".into(),
            ErrorReply::NoSuchGroup => "no group has that id (it may have expired)".into(),
            ErrorReply::GroupFull(id) => format!("group {id} is full"),
            ErrorReply::NotInThatGroup => "you are not in that group".into(),
            ErrorReply::JoinFirst => "you are not in a group; join one first".into(),
            ErrorReply::ClientLimit { used, max } => {
                format!(
                    "the server lets one address create at most {max} groups, and you have {used}"
                )
            }
            ErrorReply::TooLarge => "the message is too large (max 4096 bytes)".into(),
            ErrorReply::ServerFull(ServerFull::Groups) => {
                "the server holds as many groups as it allows".into()
            }
            ErrorReply::ServerFull(ServerFull::Members) => {
                "the server holds as many members as it allows".into()
            }
            ErrorReply::IpLimit { used, max } => {
                format!(
                    "the server lets one IP address be in groups at most {max} times, and yours is {used}"
                )
            }
            ErrorReply::Busy => {
                "the server cannot reach the rest of its cluster just now; try again in a moment"
                    .into()
            }
        }
    }

    /// An error datagram's code and message, only if they are one of the exact texts.
    fn from_wire(code: &str, message: &str) -> Option<ErrorReply> {
        let counts = || {
            let (used, max) = message.split_once('/')?;
            Some((parse_count(used)?, parse_count(max)?))
        };
        match (code, message) {
            ("BAD_CMD", "UnknownCommand") => Some(ErrorReply::UnknownCommand),
            ("BAD_ARG", "Usage:!JOIN <GROUPID>") => Some(ErrorReply::JoinUsage),
            ("BAD_ARG", "Usage:!LEAVE <GROUPID>") => Some(ErrorReply::LeaveUsage),
            ("BAD_ARG", "NoSuchGroup") => Some(ErrorReply::NoSuchGroup),
            ("GROUP_FULL", id) => id.parse().ok().map(ErrorReply::GroupFull),
            ("NOT_IN_GROUP", "NotInThatGroup") => Some(ErrorReply::NotInThatGroup),
            ("NOT_IN_GROUP", "JoinFirstUseJOIN") => Some(ErrorReply::JoinFirst),
            ("CLIENT_LIMIT", _) => {
                counts().map(|(used, max)| ErrorReply::ClientLimit { used, max })
            }
            ("TOO_LARGE", "PayloadTooLarge") => Some(ErrorReply::TooLarge),
            ("SERVER_FULL", "TooManyGroups") => Some(ErrorReply::ServerFull(ServerFull::Groups)),
            ("SERVER_FULL", "TooManyMembers") => Some(ErrorReply::ServerFull(ServerFull::Members)),
            ("IP_LIMIT", _) => counts().map(|(used, max)| ErrorReply::IpLimit { used, max }),
            ("BUSY", "TryAgain") => Some(ErrorReply::Busy),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERR {} {}", self.code(), self.message())
    }
}

impl Reply {
    /// The datagram the server sends.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Reads a datagram as a reply, if it is exactly one of the texts a server sends. Whether
    /// it *is* one is for the client session to decide: a peer's payload can have any shape.
    pub fn parse(datagram: &[u8]) -> Option<Reply> {
        let text = std::str::from_utf8(datagram).ok()?;
        let mut words = text.splitn(3, ' ');
        let reply = match (words.next()?, words.next(), words.next()) {
            ("OK", Some("CREATED"), Some(id)) => Reply::Created(id.parse().ok()?),
            ("OK", Some("JOINED"), Some(id)) => Reply::Joined(id.parse().ok()?),
            ("OK", Some("LEFT"), Some(id)) => Reply::Left(id.parse().ok()?),
            ("OK", Some("WHO"), Some(rest)) => {
                let (id, count) = rest.split_once(' ')?;
                Reply::Who { group: id.parse().ok()?, members: parse_count(count)? }
            }
            ("PONG", Some(seconds), token) => Reply::Pong {
                interval: parse_seconds(seconds)?,
                token: token.map(str::parse).transpose().ok()?,
            },
            ("ERR", Some(code), Some(message)) => {
                Reply::Error(ErrorReply::from_wire(code, message)?)
            }
            _ => return None,
        };
        Some(reply)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Created(id) => write!(f, "OK CREATED {id}"),
            Reply::Joined(id) => write!(f, "OK JOINED {id}"),
            Reply::Left(id) => write!(f, "OK LEFT {id}"),
            Reply::Pong { interval, token: None } => {
                write!(f, "PONG {}", format_seconds(*interval))
            }
            Reply::Pong { interval, token: Some(token) } => {
                write!(f, "PONG {} {token}", format_seconds(*interval))
            }
            Reply::Who { group, members } => write!(f, "OK WHO {group} {members}"),
            Reply::Error(error) => error.fmt(f),
        }
    }
}

impl From<ErrorReply> for Reply {
    fn from(error: ErrorReply) -> Reply {
        Reply::Error(error)
    }
}

/// A count as servers print it: decimal digits only (no sign, no spaces), as `str::parse`
/// alone would let `+3` through.
fn parse_count<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Seconds as `PONG` prints them: rounded to 3 decimals, shortest form, always with a decimal
/// point (`60.0`, `2.5`, `0.125`, `12.346`), as Python's `str(round(x, 3))` does.
pub fn format_seconds(interval: Duration) -> String {
    // `{:.3}` rounds the exact binary value, as Python's `round` does; `{:?}` of the result
    // is the shortest text that reads back to it, with `.0` on whole numbers, like Python's
    // `repr`. (Both differ from Python only beyond 1e16 s, far past any sane interval.)
    let rounded: f64 =
        format!("{:.3}", interval.as_secs_f64()).parse().expect("a formatted float parses");
    format!("{rounded:?}")
}

/// Reads the seconds of a `PONG`: any non-negative decimal number.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None; // no signs, exponents, `inf` or `NaN`
    }
    Duration::try_from_secs_f64(text.parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> GroupId {
        text.parse().unwrap()
    }

    #[test]
    fn exact_error_texts() {
        let cases = [
            (ErrorReply::UnknownCommand, "ERR BAD_CMD UnknownCommand"),
            (ErrorReply::JoinUsage, "ERR BAD_ARG Usage:!JOIN <GROUPID>"),
            (ErrorReply::LeaveUsage, "ERR BAD_ARG Usage:!LEAVE <GROUPID>"),
            (ErrorReply::NoSuchGroup, "ERR BAD_ARG NoSuchGroup"),
            (ErrorReply::GroupFull(id("ABCD1234")), "ERR GROUP_FULL ABCD1234"),
            (ErrorReply::NotInThatGroup, "ERR NOT_IN_GROUP NotInThatGroup"),
            (ErrorReply::JoinFirst, "ERR NOT_IN_GROUP JoinFirstUseJOIN"),
            (ErrorReply::ClientLimit { used: 3, max: 3 }, "ERR CLIENT_LIMIT 3/3"),
            (ErrorReply::TooLarge, "ERR TOO_LARGE PayloadTooLarge"),
            (ErrorReply::ServerFull(ServerFull::Groups), "ERR SERVER_FULL TooManyGroups"),
            (ErrorReply::ServerFull(ServerFull::Members), "ERR SERVER_FULL TooManyMembers"),
            (ErrorReply::IpLimit { used: 16, max: 16 }, "ERR IP_LIMIT 16/16"),
            (ErrorReply::Busy, "ERR BUSY TryAgain"),
        ];
        for (error, text) in cases {
            let reply = Reply::Error(error);
            assert_eq!(reply.to_bytes(), text.as_bytes());
            assert_eq!(Reply::parse(text.as_bytes()), Some(reply));
        }
    }

    #[test]
    fn exact_success_texts() {
        let cases = [
            (Reply::Created(id("ABCD1234")), "OK CREATED ABCD1234"),
            (Reply::Joined(id("ABCD1234")), "OK JOINED ABCD1234"),
            (Reply::Left(id("ABCD1234")), "OK LEFT ABCD1234"),
            (Reply::Who { group: id("ABCD1234"), members: 2 }, "OK WHO ABCD1234 2"),
            (Reply::Pong { interval: Duration::from_secs(60), token: None }, "PONG 60.0"),
            (Reply::Pong { interval: Duration::from_millis(2500), token: None }, "PONG 2.5"),
            (
                Reply::Pong {
                    interval: Duration::from_secs(60),
                    token: Some("t0K-_n".parse().unwrap()),
                },
                "PONG 60.0 t0K-_n",
            ),
        ];
        for (reply, text) in cases {
            assert_eq!(reply.to_string(), text);
            assert_eq!(Reply::parse(text.as_bytes()), Some(reply));
        }
    }

    #[test]
    fn seconds_print_like_python() {
        let cases = [
            (60.0, "60.0"),
            (2.5, "2.5"),
            (0.125, "0.125"),
            (12.3456, "12.346"),
            (0.5, "0.5"),
            (0.0625, "0.062"), // half-even on the exact value, as Python's round
            (0.0004, "0.0"),
            (1e9, "1000000000.0"),
        ];
        for (seconds, text) in cases {
            assert_eq!(format_seconds(Duration::from_secs_f64(seconds)), text, "{seconds}");
        }
    }

    #[test]
    fn seconds_read_back() {
        assert_eq!(parse_seconds("60.0"), Some(Duration::from_secs(60)));
        assert_eq!(parse_seconds("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_seconds("0.125"), Some(Duration::from_millis(125)));
        assert_eq!(parse_seconds(".5"), Some(Duration::from_millis(500)));
        for bad in ["", "-1", "1e3", "inf", "NaN", "1.2.3", " 1"] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn errors_in_plain_words() {
        assert_eq!(ErrorReply::GroupFull(id("ABCD1234")).describe(), "group ABCD1234 is full");
        assert_eq!(
            ErrorReply::ClientLimit { used: 3, max: 3 }.describe(),
            "the server lets one address create at most 3 groups, and you have 3"
        );
        assert_eq!(
            ErrorReply::IpLimit { used: 16, max: 16 }.describe(),
            "the server lets one IP address be in groups at most 16 times, and yours is 16"
        );
    }

    #[test]
    fn only_exact_error_texts_are_errors() {
        // New codes, other messages and odd counts are not replies: a peer's text, as far as
        // a client can tell.
        for text in [
            "ERR SERVER_BUSY Try later please",
            "ERR BAD_ARG Whatever",
            "ERR X \u{1b}]0;title\u{7}",
            "ERR BAD_CMD",
            "ERR CLIENT_LIMIT 3/3 now",
            "ERR CLIENT_LIMIT +3/3",
            "ERR IP_LIMIT 1/",
            "ERR GROUP_FULL abcd1234",
            "ERR SERVER_FULL",
            "ERR BUSY",
            "ERR BUSY try again",
        ] {
            assert_eq!(Reply::parse(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn what_is_not_reply_shaped() {
        for text in [
            &b"hello"[..],
            b"OK",
            b"OK CREATED",
            b"OK CREATED abcd1234",
            b"OK JOINED ABCD1234 extra",
            b"OK WHO ABCD1234 many",
            b"OK WHO ABCD1234 +2",
            b"PONG",
            b"PONG soon",
            b"PONG 1 2 3",
            b"PONG 1 a+b",
            b"PONG 1 ",
            b"ERR",
            b"ERR lower case",
            b"OK JOINED \xff",
        ] {
            assert_eq!(Reply::parse(text), None, "{:?}", String::from_utf8_lossy(text));
        }
    }
}
