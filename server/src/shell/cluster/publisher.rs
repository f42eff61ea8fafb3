//! The one task that publishes payloads for other nodes: one NATS connection orders what it
//! publishes, and one task on it keeps each node's payloads in the order they came. Workers
//! hand it batches through a bounded queue and never wait: a full queue drops the batch, and
//! the drop is counted. The task puts everything waiting for one node into one message.
//!
//! A NATS message costs its servers and clients far more than its bytes (tens of µs each way
//! on a 2-core machine: docs/performance.md, "Cluster"), so under load the task gathers
//! payloads for a moment before it publishes: above [`GATHER_ABOVE`] payloads a second it
//! waits [`GATHER`] after the first, and sends the lot. Below that rate each payload goes at
//! once, so a quiet group pays no wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::Counters;
use crate::relay::cluster::{Batch, NodeId, Subject};

/// Batches waiting at most, between the workers and the publishing task.
pub const QUEUE: usize = 4096;

/// A message for one node is closed at about this size (NATS takes 1 MiB by default), or at
/// [`MAX_FRAMES`](crate::relay::cluster::MAX_FRAMES) payloads.
const MESSAGE_BYTES: usize = 256 * 1024;

/// Batches taken off the queue at once.
const TAKE: usize = 256;

/// Payloads a second (for all other nodes) above which the task gathers before publishing.
pub const GATHER_ABOVE: u64 = 8000;

/// How long it gathers (tokio's timer counts in milliseconds).
pub const GATHER: Duration = Duration::from_millis(1);

/// How long the rate is measured over.
const RATE_WINDOW: Duration = Duration::from_millis(100);

/// Publishes what the workers queue, until every sender is gone.
pub async fn run(
    client: async_nats::Client,
    prefix: String,
    me: NodeId,
    mut queue: mpsc::Receiver<(NodeId, Batch)>,
    counters: Arc<Counters>,
) {
    let mut taken = Vec::with_capacity(TAKE);
    let mut subjects: HashMap<NodeId, String> = HashMap::new();
    let mut out: Vec<(NodeId, Batch)> = Vec::new();
    // Payloads taken in the current window, and in the last whole one.
    let (mut window, mut in_window, mut last_window) = (Instant::now(), 0u64, 0u64);
    while queue.recv_many(&mut taken, TAKE).await > 0 {
        if last_window * (Duration::from_secs(1).as_millis() / RATE_WINDOW.as_millis()) as u64
            > GATHER_ABOVE
        {
            tokio::time::sleep(GATHER).await;
            while let Ok(more) = queue.try_recv() {
                taken.push(more);
            }
        }
        if window.elapsed() >= RATE_WINDOW {
            (window, last_window, in_window) = (Instant::now(), in_window, 0);
        }
        in_window += taken.iter().map(|(_, batch)| batch.payloads() as u64).sum::<u64>();
        for (node, batch) in taken.drain(..) {
            let open = out
                .iter_mut()
                .find(|(to, open)| *to == node && open.has_room_for(&batch, MESSAGE_BYTES));
            match open {
                Some((_, open)) => open.append(&batch),
                None => out.push((node, batch)),
            }
        }
        for (node, batch) in out.drain(..) {
            let subject = subjects
                .entry(node.clone())
                .or_insert_with(|| Subject::Payloads.to(&prefix, &node, &me))
                .clone();
            let payloads = batch.payloads() as u64;
            match client.publish(subject, batch.into_bytes().into()).await {
                Ok(()) => {
                    counters.published_messages.fetch_add(1, Ordering::Relaxed);
                    counters.published_payloads.fetch_add(payloads, Ordering::Relaxed);
                }
                Err(_) => {
                    counters.dropped_payloads.fetch_add(payloads, Ordering::Relaxed);
                }
            }
        }
    }
}
