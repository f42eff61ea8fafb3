//! A client for [udprelay](https://example.invalid/udprelay) group chat: join groups on a
//! udprelay server (or a cluster of them), send messages, and read what the others send. Both
//! of udprelay's own apps, the terminal client and the desktop window, are built on it.
//!
//! # Quick start
//!
//! An echo bot: it joins a group and answers every message.
//!
//! ```no_run
//! use udprelay_client::{Client, Config, Event};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), udprelay_client::Error> {
//!     let config = Config::new("127.0.0.1:5000").name("echo".parse()?);
//!     let (client, mut events) = config.connect().await?;
//!     client.join("ABCD1234".parse()?).await?;
//!     while let Some(event) = events.recv().await {
//!         if let Event::Message(message) = event {
//!             client.send(message.group, &format!("echo: {}", message.text)).await?;
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! `examples/` has three that run: `echo_bot`, `logger` (a group's messages as JSON lines)
//! and `send` (one message, from a script).
//!
//! # The model
//!
//! - A [`Client`] talks to one server, or to the first of several that answers (the nodes of
//!   a cluster: when one stops answering, the client moves to the next and joins its groups
//!   again there, [`Event::Moved`]).
//! - It can be in any number of groups at once. Each group has its own socket, since the
//!   relay gives an address one group; the client keeps each membership alive by itself
//!   (heartbeat pings, address validation, joining again when the server forgot it).
//! - Commands are methods that return the server's answer, or a typed [`Error`]: the
//!   server's refusal ([`Error::Refused`], e.g. a full group), no reply, a closed port.
//! - Everything else comes on one stream of [`Event`]s, each saying which group it is about:
//!   peers' messages ([`Message`]), member counts, rejoins, moves.
//! - Messages are `NAME: text` ([`message`]); a name follows one rule ([`Name`]).
//! - Not async? [`blocking::Client`] has the same methods, waiting for each answer.
//!
//! The wire protocol is `docs/protocol.md` in the repository; [`session`] is the client's
//! side of it as a state machine without I/O, for those who want to drive their own sockets.
//!
//! # Hostile input
//!
//! Any member of a group can send the client anything, from the server's own address. The
//! session takes a datagram for the server's reply only when it arrived on the socket the
//! command went out on and answers it; membership changes go out on a socket that is in no
//! group. A message's text is exactly what the peer sent: escape it with
//! [`text::printable`] before printing it to a terminal.

#![deny(missing_docs)]

pub mod argv;
pub mod blocking;
mod client;
pub mod e2e;
mod error;
mod event;
pub mod files;
mod membership;
pub mod mention;
pub mod message;
mod servers;
pub mod session;
pub mod text;

pub use client::{Client, Config, DEFAULT_PORT, EVENT_CAPACITY, Events};
pub use error::Error;
pub use event::{Event, Status};
pub use message::{InvalidName, Message, Name};
pub use servers::{Server, resolve, with_port};
pub use session::{Health, Reachability};
pub use udprelay_shared::{Command, ErrorReply, GroupId, Reply};
