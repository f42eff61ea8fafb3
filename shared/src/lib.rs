//! The udprelay wire protocol: what the server and the clients both need. Everything a client
//! does besides (its session, sockets, message format) is in `udprelay-client`.
//!
//! Everything here is pure: bytes in, typed values out, and back. No sockets, no clock.
//! The contract it implements is `docs/protocol.md`.

pub mod command;
pub mod group_id;
pub mod limits;
pub mod reply;
pub mod token;

pub use command::{Command, Incoming, PingArg};
pub use group_id::{GroupId, InvalidGroupId};
pub use reply::{ErrorCode, ErrorReply, Reply, ServerFull};
pub use token::Token;
