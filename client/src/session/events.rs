//! What goes into and comes out of a [`Session`](super::Session): the purposes and requests it
//! keeps track of, its sockets' names, what it wants sent, and what it reports.

use udprelay_shared::{Command, ErrorReply, GroupId, Reply};

/// Why a request was sent; decides what its reply does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Asked for by the user.
    User,
    /// The user's `create --join`: the new group is joined as soon as its id arrives.
    CreateAndJoin,
    /// The automatic heartbeat (and the member-count refresh that may follow it).
    Heartbeat,
    /// The automatic rejoin after the server forgot our membership.
    Rejoin,
}

/// What a request was: a command, or a payload (which has no reply unless it fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A command, answered by a reply.
    Command(Command),
    /// A chat payload.
    Payload,
}

/// One of the session's sockets, numbered from 0 (the first member socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// What the session wants done with its sockets, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send a datagram to the server from `socket` (opening it, if it is new).
    Send {
        /// The socket it goes from.
        socket: SocketId,
        /// What to send.
        datagram: Vec<u8>,
    },
    /// Close `socket`: nothing more is sent from it or expected on it.
    Close(SocketId),
}

/// Whether the server answers, as far as the client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reachability {
    /// Nothing known yet.
    Unknown,
    /// The last request was answered.
    Reachable,
    /// A request went unanswered, or the network reported the server's port closed.
    Unreachable,
}

/// Something for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server answered a command (rejoins are reported as [`Event::Rejoined`] instead).
    Reply {
        /// The command answered.
        request: Command,
        /// The server's answer.
        reply: Reply,
        /// Why the command was sent.
        purpose: Purpose,
    },
    /// The server refused a payload the user sent.
    PayloadRefused(ErrorReply),
    /// A datagram that answers nothing outstanding: a peer's message.
    Payload(Vec<u8>),
    /// A command got no reply within [`REPLY_TIMEOUT`](udprelay_shared::limits::REPLY_TIMEOUT).
    NoReply {
        /// The command that went unanswered.
        request: Command,
        /// Why it was sent.
        purpose: Purpose,
    },
    /// The server had forgotten our membership, and we joined the group again.
    Rejoined(GroupId),
    /// ... and joining again failed: with the server's error, or `None` for no reply.
    RejoinFailed {
        /// The group that could not be joined again.
        group: GroupId,
        /// The server's refusal, or `None` for no reply.
        error: Option<ErrorReply>,
    },
    /// [`Session::reachability`](super::Session::reachability) changed.
    Reachability(Reachability),
    /// A cluster's relay answered `ERR BUSY TryAgain` to a create or join: it is sent again
    /// every second, for a while, and this says so once.
    Retrying(Command),
}

/// Why a payload was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The session is in no group, so the server would refuse it.
    NotJoined,
    /// Over [`MAX_DATAGRAM`](udprelay_shared::limits::MAX_DATAGRAM) bytes (the size given).
    TooLong(usize),
    /// Empty (the relay ignores an empty datagram), or starting with `!` (a command).
    NotAPayload,
}
