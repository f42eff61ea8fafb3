//! The udprelay wire protocol, shared by the server and both clients.
//!
//! Everything here is pure: bytes in, typed values out, and back. No sockets, no clock.
//! The contract it implements is the project's PROTOCOL.md (user-facing copy in
//! `docs/protocol.md`).

pub mod command;
pub mod group_id;
pub mod limits;
pub mod reply;
pub mod session;
pub mod text;
pub mod token;

pub use command::{Command, Incoming, PingArg};
pub use group_id::{GroupId, InvalidGroupId};
pub use reply::{ErrorCode, ErrorReply, Reply, ServerFull};
pub use session::{Connection, Event, Health, PayloadError, Purpose, Session, SocketId, Transmit};
pub use token::Token;
