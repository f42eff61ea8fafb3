//! `--cluster`: the relay's way to the other nodes, over NATS (async-nats). One thread of its
//! own runs one connection and everything on it: the directory's requests and change feed
//! (JetStream KV, [`directory`]), the payloads for other nodes ([`publisher`]) and from them,
//! the announcements and the heartbeats. It trades [`Request`]s and [`Response`]s with the
//! core under the relay's lock, as the workers do datagrams; the workers only ever hand it
//! work through a bounded queue and a wake-up, so no datagram waits on NATS.
//! docs/cluster.md has the design; subjects are in `relay::cluster::frames`.

mod directory;
mod publisher;
mod transmit;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{Store, Watch};
use async_nats::{Client, ConnectOptions, Event, Subscriber};
use futures_util::StreamExt;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, error, info, warn};
use udprelay_shared::Reply;

use super::lock;
use crate::relay::Relay;
use crate::relay::cluster::{Announcement, Batch, Frames, Heartbeat, NodeId, Request, Response};
use transmit::Transmitter;

pub use directory::bucket_name;

/// How the node reaches the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Every NATS server's URL (the client moves to another when one is lost).
    pub urls: Vec<String>,
    /// The cluster's name: the first token of every subject, and the bucket's name.
    pub name: String,
    /// Copies JetStream keeps of the directory.
    pub replicas: usize,
    /// Say goodbye on a clean stop, so that the others count this node's members out at once.
    /// Not with a state file: the node comes back with its members, and the others had better
    /// keep sending it their payloads meanwhile.
    pub farewell: bool,
}

/// How long a node waits for the others to take an announcement before it answers its new
/// member anyway (a node that does not answer in time learns from the directory's feed).
const ANNOUNCE_TIMEOUT: Duration = Duration::from_millis(500);

/// How often the core's clock work runs (heartbeats, dead nodes, retries).
const TICK: Duration = Duration::from_millis(100);

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
        };
        runtime.block_on(node_loop.run(queued, wake, stopped));
    })?;
    Ok((link, Running { stop: Some(stop), thread: Some(thread) }))
}

/// The cluster thread's state.
struct Node {
    options: Options,
    node: NodeId,
    relay: Arc<Mutex<Relay>>,
    transmitter: Transmitter,
    counters: Arc<Counters>,
    store: Option<Store>,
    watch: Option<Watch>,
    /// The watch is still giving the directory as it stood when it started; the node counts
    /// as connected once it has it all (or after [`CATCH_UP`]).
    catching_up: Option<Instant>,
    /// What the core was last told of the connection.
    up: bool,
}

/// Longest a node waits for its copy of the directory before it counts as connected anyway.
const CATCH_UP: Duration = Duration::from_secs(5);

/// A watch of the directory, set up off the loop (each step can wait for JetStream).
struct Watching {
    store: Store,
    watch: Watch,
    /// Keys (and markers of deleted keys) the watch gives first.
    values: u64,
}

/// Finds (or makes) the bucket, unless known, and watches it from its current state.
async fn watch(
    jetstream: &async_nats::jetstream::Context,
    store: Option<Store>,
    options: &Options,
) -> Result<Watching, String> {
    let store = match store {
        Some(store) => store,
        None => directory::open_bucket(jetstream, &options.name, options.replicas).await?,
    };
    let values = store.status().await.map_err(|error| error.to_string())?.values();
    let watch = store.watch_with_history(">").await.map_err(|error| error.to_string())?;
    Ok(Watching { store, watch, values })
}

/// The next entry of a watch, or never when there is none.
async fn next_change(
    watch: &mut Option<Watch>,
) -> Option<Result<async_nats::jetstream::kv::Entry, ()>> {
    match watch {
        Some(watch) => Some(watch.next().await?.map_err(|_| ())),
        None => std::future::pending().await,
    }
}

impl Node {
    fn subject(&self, kind: &str, node: &NodeId) -> String {
        format!("{}.{kind}.{node}", self.options.name)
    }

    async fn run(
        mut self,
        queued: mpsc::Receiver<(NodeId, Batch)>,
        wake: Arc<Notify>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let connecting = ConnectOptions::new()
            .name(format!("udprelay {}", self.node))
            .no_echo()
            // The --cluster order is a preference: each relay lists its nearest server first.
            .retain_servers_order()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .event_callback(move |event| {
                let events_tx = events_tx.clone();
                async move {
                    let _ = events_tx.send(event);
                }
            });
        let client = match connecting.connect(self.options.urls.clone()).await {
            Ok(client) => client,
            Err(error) => return error!(%error, "cannot use the --cluster URLs"),
        };
        let mut jetstream = async_nats::jetstream::new(client.clone());
        jetstream.set_timeout(directory::OP_TIMEOUT);
        tokio::spawn(publisher::run(
            client.clone(),
            self.options.name.clone(),
            queued,
            Arc::clone(&self.counters),
        ));
        let subscribe = |subject: String| {
            let client = client.clone();
            async move { client.subscribe(subject).await }
        };
        let subscriptions = async {
            Ok::<_, async_nats::SubscribeError>((
                subscribe(self.subject("node", &self.node)).await?,
                subscribe(self.subject("ctl", &self.node)).await?,
                subscribe(format!("{}.alive", self.options.name)).await?,
            ))
        };
        let (mut payloads, mut announcements, mut heartbeats): (
            Subscriber,
            Subscriber,
            Subscriber,
        ) = match subscriptions.await {
            Ok(subscriptions) => subscriptions,
            Err(error) => return error!(%error, "cannot subscribe to the cluster's subjects"),
        };
        let (responses_tx, mut responses) = mpsc::unbounded_channel::<Response>();
        let (watches_tx, mut watches) = mpsc::unbounded_channel::<Result<Watching, String>>();
        let mut ticks = tokio::time::interval(TICK);
        // A watch of the directory is wanted (at start, and afresh after each reconnection, to
        // catch up on what was missed), and whether one is being set up.
        let (mut watch_wanted, mut watch_pending, mut warned) = (true, false, false);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(event) = events.recv() => match event {
                    Event::Connected => {
                        info!("connected to NATS");
                        watch_wanted = true;
                        if self.store.is_some() {
                            // Back after a disconnection: serve at once (writes check what they
                            // change), and catch up on the directory meanwhile.
                            self.set_up(true);
                        }
                    }
                    Event::Disconnected => {
                        warn!("lost the connection to NATS; trying the others");
                        self.set_up(false);
                    }
                    other => debug!(event = %other, "NATS"),
                },
                Some(watching) = watches.recv() => {
                    watch_pending = false;
                    match watching {
                        Ok(Watching { store, watch, values }) => {
                            watch_wanted = false;
                            warned = false;
                            self.store = Some(store);
                            self.watch = Some(watch);
                            if !self.up && values == 0 {
                                self.set_up(true);
                            } else if !self.up {
                                self.catching_up = Some(Instant::now());
                            }
                        }
                        Err(why) if !warned => {
                            warned = true;
                            warn!(why, "the directory is not ready; trying again");
                        }
                        Err(why) => debug!(why, "the directory is not ready; trying again"),
                    }
                }
                change = next_change(&mut self.watch) => match change {
                    Some(Ok(entry)) => {
                        if let Some(response) = directory::change(&entry) {
                            self.tell(response, &client, &jetstream, &responses_tx).await;
                        }
                        if entry.delta == 0 && self.catching_up.take().is_some() {
                            self.set_up(true);
                        }
                    }
                    _ => {
                        debug!("the directory's feed ended; watching again");
                        self.watch = None;
                        watch_wanted = true;
                    }
                },
                Some(message) = payloads.next() => self.delivered(&message.payload),
                Some(message) = announcements.next() => {
                    if let Some((group, revision, record)) = Announcement::decode(&message.payload) {
                        let changed = Response::Changed { group, current: Some(record), revision };
                        self.tell(changed, &client, &jetstream, &responses_tx).await;
                    }
                    if let Some(reply) = message.reply {
                        let _ = client.publish(reply, bytes::Bytes::new()).await;
                    }
                }
                Some(message) = heartbeats.next() => {
                    if let Some(heartbeat) = Heartbeat::decode(&message.payload) {
                        let heard = Response::Heartbeat(heartbeat);
                        self.tell(heard, &client, &jetstream, &responses_tx).await;
                    }
                }
                Some(response) = responses.recv() => {
                    self.tell(response, &client, &jetstream, &responses_tx).await;
                }
                _ = wake.notified() => self.drain(&client, &jetstream, &responses_tx).await,
                _ = ticks.tick() => {
                    let connected =
                        client.connection_state() == async_nats::connection::State::Connected;
                    if watch_wanted && !watch_pending && connected {
                        watch_pending = true;
                        let (jetstream, store, options) =
                            (jetstream.clone(), self.store.clone(), self.options.clone());
                        let watches_tx = watches_tx.clone();
                        tokio::spawn(async move {
                            let _ = watches_tx.send(watch(&jetstream, store, &options).await);
                        });
                    }
                    if self.catching_up.is_some_and(|since| since.elapsed() > CATCH_UP) {
                        warn!("the directory's feed is slow to catch up; serving anyway");
                        self.catching_up = None;
                        self.set_up(true);
                    }
                    lock(&self.relay).cluster_tick(Instant::now());
                    self.drain(&client, &jetstream, &responses_tx).await;
                }
            }
        }
        self.farewell(&client).await;
    }

    fn set_up(&mut self, up: bool) {
        self.counters.connected.store(up, Ordering::Relaxed);
        if self.up != up {
            self.up = up;
            lock(&self.relay).cluster_receive(Instant::now(), Response::Connection { up });
        }
    }

    /// Gives the core a response, then does what it asks.
    async fn tell(
        &mut self,
        response: Response,
        client: &Client,
        jetstream: &async_nats::jetstream::Context,
        responses: &mpsc::UnboundedSender<Response>,
    ) {
        lock(&self.relay).cluster_receive(Instant::now(), response);
        self.drain(client, jetstream, responses).await;
    }

    /// Sends the replies the core has ready and carries out its requests.
    async fn drain(
        &mut self,
        client: &Client,
        jetstream: &async_nats::jetstream::Context,
        responses: &mpsc::UnboundedSender<Response>,
    ) {
        let (requests, replies): (Vec<Request>, Vec<(SocketAddr, Reply)>) = {
            let mut relay = lock(&self.relay);
            (
                std::iter::from_fn(|| relay.poll_request()).collect(),
                std::iter::from_fn(|| relay.poll_reply()).collect(),
            )
        };
        if !replies.is_empty() {
            let bytes: Vec<(Vec<u8>, SocketAddr)> =
                replies.iter().map(|(to, reply)| (reply.to_bytes(), *to)).collect();
            let messages: Vec<(&[u8], SocketAddr)> =
                bytes.iter().map(|(bytes, to)| (&bytes[..], *to)).collect();
            self.transmitter.send(&messages);
        }
        for request in requests {
            self.carry_out(request, client, jetstream, responses).await;
        }
    }

    async fn carry_out(
        &mut self,
        request: Request,
        client: &Client,
        jetstream: &async_nats::jetstream::Context,
        responses: &mpsc::UnboundedSender<Response>,
    ) {
        let responses = responses.clone();
        match request {
            Request::Heartbeat(heartbeat) => {
                let subject = format!("{}.alive", self.options.name);
                let _ = client.publish(subject, heartbeat.encode().into()).await;
            }
            Request::Write { op, group, record, expect, ttl } => {
                let Some(store) = self.store.clone() else {
                    return drop(responses.send(Response::Failed { op }));
                };
                let (jetstream, counters) = (jetstream.clone(), Arc::clone(&self.counters));
                tokio::spawn(async move {
                    let timed = directory::Timed::start();
                    let response =
                        directory::write(&jetstream, &store, op, group, record, expect, ttl).await;
                    counters.write_seconds.observe(timed.seconds());
                    let _ = responses.send(response);
                });
            }
            Request::Read { op, group } => {
                let Some(store) = self.store.clone() else {
                    return drop(responses.send(Response::Failed { op }));
                };
                tokio::spawn(async move {
                    let _ = responses.send(directory::read(&store, op, group).await);
                });
            }
            Request::Announce { op, group, record, revision, to } => {
                let body: bytes::Bytes =
                    Announcement { group: group.to_string(), revision, record }.encode().into();
                let asks: Vec<_> = to
                    .iter()
                    .map(|node| {
                        let (client, subject, body) =
                            (client.clone(), self.subject("ctl", node), body.clone());
                        async move {
                            let _ = tokio::time::timeout(
                                ANNOUNCE_TIMEOUT,
                                client.request(subject, body),
                            )
                            .await;
                        }
                    })
                    .collect();
                tokio::spawn(async move {
                    futures_util::future::join_all(asks).await;
                    let _ = responses.send(Response::Announced { op });
                });
            }
        }
    }

    /// Payloads another node sent for members here.
    fn delivered(&mut self, message: &[u8]) {
        self.counters.received_messages.fetch_add(1, Ordering::Relaxed);
        let mut frames = Frames::new(message);
        let mut out: Vec<(&[u8], SocketAddr)> = Vec::new();
        let mut count = 0;
        {
            let mut relay = lock(&self.relay);
            for (group, payload) in frames.by_ref() {
                count += 1;
                out.extend(relay.deliver(group, payload).map(|to| (payload, to)));
            }
        }
        self.counters.received_payloads.fetch_add(count, Ordering::Relaxed);
        if frames.damaged() {
            self.counters.damaged_messages.fetch_add(1, Ordering::Relaxed);
            debug!("a message from another node did not read whole");
        }
        self.transmitter.send(&out);
    }

    /// Tells the other nodes this one is leaving, so they need not wait for its silence.
    async fn farewell(&self, client: &Client) {
        let farewell = lock(&self.relay).farewell().filter(|_| self.options.farewell);
        if let Some(farewell) = farewell {
            let subject = format!("{}.alive", self.options.name);
            let _ = client.publish(subject, farewell.encode().into()).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    }
}
