//! What handling a batch of datagrams asks to send, collected while the relay is locked and
//! sent after it is unlocked, so that no worker holds the others up during a system call.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use udprelay_shared::Incoming;

use crate::relay::{Outgoing, Relay};

/// The bytes of one datagram to send.
#[derive(Debug, Clone)]
pub enum Body {
    /// A received datagram, relayed verbatim: its range of the receive buffer.
    Received(Range<usize>),
    /// A reply, at this range of [`Outbox::replies`].
    Reply(Range<usize>),
}

#[derive(Debug, Default)]
pub struct Outbox {
    pub replies: Vec<u8>,
    pub messages: Vec<(Body, SocketAddr)>,
}

impl Outbox {
    pub fn clear(&mut self) {
        self.replies.clear();
        self.messages.clear();
    }

    /// Hands the datagram at `range` of the receive buffer (already parsed as `incoming`) to
    /// the relay and notes what to send.
    pub fn handle(
        &mut self,
        relay: &mut Relay,
        now: Instant,
        from: SocketAddr,
        buffer: &[u8],
        range: Range<usize>,
        incoming: Incoming<'_>,
    ) {
        match relay.handle_parsed(now, from, &buffer[range.clone()], incoming) {
            Outgoing::Nothing => {}
            Outgoing::Reply(reply) => {
                let start = self.replies.len();
                self.replies.extend_from_slice(&reply.to_bytes());
                self.messages.push((Body::Reply(start..self.replies.len()), from));
            }
            Outgoing::Relay { recipients, .. } => {
                self.messages.extend(recipients.map(|to| (Body::Received(range.clone()), to)));
            }
        }
    }

    /// The bytes of `body`, given the receive buffer.
    pub fn bytes<'a>(&'a self, body: &Body, buffer: &'a [u8]) -> &'a [u8] {
        match body {
            Body::Received(range) => &buffer[range.clone()],
            Body::Reply(range) => &self.replies[range.clone()],
        }
    }
}
