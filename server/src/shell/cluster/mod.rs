//! `--cluster`: the relay's way to the other nodes, over NATS (async-nats). One thread of its
//! own runs one connection and everything on it: the directory's requests and change feed
//! (JetStream KV, [`directory`]), the payloads for other nodes ([`publisher`]) and from them,
//! the announcements and the heartbeats. It trades [`Request`]s and [`Response`]s with the
//! core under the relay's lock, as the workers do datagrams; the workers only ever hand it
//! work through a bounded queue and a wake-up, so no datagram waits on NATS.
//! docs/cluster.md has the design; subjects are in `relay::cluster::frames`.

mod directory;
mod node;
mod publisher;
mod sign_in;
mod transmit;

use std::io;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::error;

use super::lock;
use crate::args::NatsSecurity;
use crate::relay::Relay;
use crate::relay::cluster::{Batch, NodeId};
use node::Node;
use transmit::Transmitter;

pub use directory::bucket_name;

/// How the node reaches the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Every NATS server's URL, without credentials (the client moves to another when one is
    /// lost).
    pub urls: Vec<String>,
    /// Who the node signs in as, and TLS.
    pub security: NatsSecurity,
    /// The cluster's name: the first token of every subject, and the bucket's name.
    pub name: String,
    /// Copies JetStream keeps of the directory.
    pub replicas: usize,
    /// Say goodbye on a clean stop, so that the others count this node's members out at once.
    /// Not with a state file: the node comes back with its members, and the others had better
    /// keep sending it their payloads meanwhile.
    pub farewell: bool,
}

/// What the cluster thread did, for the metrics.
#[derive(Debug)]
pub struct Counters {
    /// The node has its NATS connection and the directory.
    pub connected: AtomicBool,
    pub published_messages: AtomicU64,
    pub published_payloads: AtomicU64,
    /// Payloads for other nodes not sent: the queue was full, or publishing failed.
    pub dropped_payloads: AtomicU64,
    pub received_messages: AtomicU64,
    pub received_payloads: AtomicU64,
    /// Messages from other nodes that did not read whole.
    pub damaged_messages: AtomicU64,
    /// How long directory writes took.
    pub write_seconds: Histogram,
}

impl Default for Counters {
    fn default() -> Counters {
        let buckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0];
        Counters {
            connected: AtomicBool::new(false),
            published_messages: AtomicU64::new(0),
            published_payloads: AtomicU64::new(0),
            dropped_payloads: AtomicU64::new(0),
            received_messages: AtomicU64::new(0),
            received_payloads: AtomicU64::new(0),
            damaged_messages: AtomicU64::new(0),
            write_seconds: Histogram::new(buckets),
        }
    }
}

/// What a worker needs to hand the cluster work.
#[derive(Clone)]
pub struct Link {
    queue: mpsc::Sender<(NodeId, Batch)>,
    wake: Arc<Notify>,
    counters: Arc<Counters>,
}

impl Link {
    /// Queues payloads for `node`; drops (and counts) them if the queue is full.
    pub fn forward(&self, node: NodeId, batch: Batch) {
        let payloads = batch.payloads() as u64;
        if self.queue.try_send((node, batch)).is_err() {
            self.counters.dropped_payloads.fetch_add(payloads, Ordering::Relaxed);
        }
    }

    /// Tells the cluster thread the relay has requests or replies for it.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The running cluster thread; [`Running::stop`] ends it.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Running {
    /// Says goodbye to the other nodes and ends the thread.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            error!("the cluster thread panicked");
        }
    }
}

/// Starts the cluster thread for `relay`, sending on `socket` (a copy of a worker's).
pub fn start(
    options: Options,
    relay: Arc<Mutex<Relay>>,
    socket: UdpSocket,
    counters: Arc<Counters>,
) -> io::Result<(Link, Running)> {
    let node = lock(&relay).node().cloned().expect("a clustered relay");
    let (queue, queued) = mpsc::channel(publisher::QUEUE);
    let wake = Arc::new(Notify::new());
    let link = Link { queue, wake: Arc::clone(&wake), counters: Arc::clone(&counters) };
    let (stop, stopped) = oneshot::channel();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let thread = thread::Builder::new().name("cluster".into()).spawn(move || {
        let node_loop = Node {
            options,
            node,
            relay,
            transmitter: Transmitter::new(socket),
            counters,
            store: None,
            watch: None,
            catching_up: None,
            up: false,
            announcements: Arc::new(tokio::sync::Semaphore::new(node::MAX_ANNOUNCEMENTS)),
            announcement_reads: Arc::new(tokio::sync::Semaphore::new(node::MAX_ANNOUNCEMENT_READS)),
        };
        runtime.block_on(node_loop.run(queued, wake, stopped));
    })?;
    Ok((link, Running { stop: Some(stop), thread: Some(thread) }))
}
