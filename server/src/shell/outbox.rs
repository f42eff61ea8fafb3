//! What handling a batch of datagrams asks to send, collected while the relay is locked and
//! sent after it is unlocked, so that no worker holds the others up during a system call.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use udprelay_shared::{GroupId, Incoming};

use super::cluster::Link;
use crate::relay::cluster::{Batch, NodeId};
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
    /// Payloads for other nodes of a cluster: the group, the payload's range of the receive
    /// buffer, and the range of `nodes` to send it to.
    forwards: Vec<(GroupId, Range<usize>, Range<usize>)>,
    nodes: Vec<NodeId>,
    /// The relay has requests or replies for the cluster thread.
    cluster_work: bool,
}

impl Outbox {
    pub fn clear(&mut self) {
        self.replies.clear();
        self.messages.clear();
        self.forwards.clear();
        self.nodes.clear();
        self.cluster_work = false;
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
            Outgoing::Relay { group, recipients, forward, .. } => {
                if !forward.is_empty() {
                    let start = self.nodes.len();
                    self.nodes.extend_from_slice(forward);
                    self.forwards.push((group, range.clone(), start..self.nodes.len()));
                }
                self.messages.extend(recipients.map(|to| (Body::Received(range.clone()), to)));
            }
        }
        self.cluster_work |= relay.cluster_work_waiting();
    }

    /// Hands the cluster thread what is for it: each other node's payloads as one batch, and
    /// a wake-up if the relay queued requests or replies. Nothing here waits.
    pub fn hand_over(&mut self, buffer: &[u8], link: Option<&Link>) {
        let Some(link) = link else { return };
        let mut batches: Vec<(NodeId, Batch)> = Vec::new();
        for (group, payload, nodes) in self.forwards.drain(..) {
            for node in &self.nodes[nodes] {
                let batch = match batches.iter_mut().find(|(to, _)| to == node) {
                    Some((_, batch)) => batch,
                    None => {
                        batches.push((node.clone(), Batch::new()));
                        &mut batches.last_mut().expect("just pushed").1
                    }
                };
                batch.push(group, &buffer[payload.clone()]);
            }
        }
        for (node, batch) in batches {
            link.forward(node, batch);
        }
        if std::mem::take(&mut self.cluster_work) {
            link.wake();
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
