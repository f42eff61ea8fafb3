//! What can go wrong, as one type a program can match on.

use udprelay_shared::{Command, ErrorReply, GroupId, InvalidGroupId};

use crate::message::InvalidName;

/// Why something the client was asked to do did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The list of servers does not name a server that could be found.
    #[error("{0}")]
    Servers(String),
    /// The server answered with an error (`ERR ...`): a full group, an unknown id, a limit.
    #[error("the server refused: {}", .0.describe())]
    Refused(ErrorReply),
    /// The server did not answer the command in time (2 s, and each server of a list tried).
    #[error("no reply from the server at {server} to {command}")]
    NoReply {
        /// What went unanswered.
        command: Command,
        /// The server it was last sent to.
        server: String,
    },
    /// The network said the server cannot be reached (its port is closed, its host is
    /// unreachable), and no reply came.
    #[error(
        "the server at {server} cannot be reached (nothing listens on its port, or its host is unreachable)"
    )]
    Unreachable {
        /// What went unanswered.
        command: Command,
        /// The server it was last sent to.
        server: String,
    },
    /// The client is not in that group (it never joined, left, or lost it).
    #[error("not in group {0}")]
    NotJoined(GroupId),
    /// The client is already in that group.
    #[error("already in group {0}")]
    AlreadyJoined(GroupId),
    /// A message with no text.
    #[error("a message needs some text")]
    EmptyMessage,
    /// A message without a name that starts with `!`: the relay would take it for a command.
    #[error("a message cannot start with '!' (that is how commands start)")]
    LooksLikeCommand,
    /// A message longer than one datagram may be, counting the name before it.
    #[error("message too long ({len} bytes, max {max})")]
    TooLong {
        /// Its length in bytes, with the name.
        len: usize,
        /// The most a datagram may carry.
        max: usize,
    },
    /// A name that breaks the rule for names.
    #[error("invalid name: {0}")]
    InvalidName(#[from] InvalidName),
    /// Text that is not a group id (`"ABCD1234".parse()?` in a program).
    #[error("not a group id: {0}")]
    InvalidGroupId(#[from] InvalidGroupId),
    /// A command that has a method of its own (`!JOIN`: [`crate::Client::join`]).
    #[error("{0} is not sent this way: {1}")]
    Usage(Command, &'static str),
    /// A socket could not be opened or used.
    #[error("socket error: {0}")]
    Io(String),
    /// The client was closed, or its runtime stopped.
    #[error("the client is closed")]
    Closed,
}

impl Error {
    /// The server's error reply, when that is what this is.
    pub fn reply(&self) -> Option<&ErrorReply> {
        match self {
            Error::Refused(reply) => Some(reply),
            _ => None,
        }
    }
}
