//! The cluster thread's loop: one NATS connection, and everything on it. It connects (and
//! reconnects), sets up the directory and watches it, takes other nodes' payloads,
//! announcements and heartbeats, carries out the core's requests and sends the replies that
//! waited for them, and ticks the core's clock.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{Store, Watch};
use async_nats::{Client, Event, Subscriber};
use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, error, info, warn};
use udprelay_shared::Reply;

use super::transmit::Transmitter;
use super::{Counters, Options, directory, publisher};
use crate::relay::Relay;
use crate::relay::cluster::{
    Announcement, Batch, Frames, Heartbeat, NodeId, Request, Response, Subject,
};
use crate::shell::lock;

/// How often the core's clock work runs (heartbeats, dead nodes, retries).
const TICK: Duration = Duration::from_millis(100);

/// How long a node waits for the others to take an announcement before it answers its new
/// member anyway (a node that does not answer in time learns from the directory's feed).
const ANNOUNCE_TIMEOUT: Duration = Duration::from_millis(500);

/// The cluster thread's state.
pub(super) struct Node {
    pub(super) options: Options,
    pub(super) node: NodeId,
    pub(super) relay: Arc<Mutex<Relay>>,
    pub(super) transmitter: Transmitter,
    pub(super) counters: Arc<Counters>,
    pub(super) store: Option<Store>,
    pub(super) watch: Option<Watch>,
    /// The watch is still giving the directory as it stood when it started; the node counts
    /// as connected once it has it all (or after [`CATCH_UP`]).
    pub(super) catching_up: Option<Instant>,
    /// What the core was last told of the connection.
    pub(super) up: bool,
    /// Announcements taken and not yet answered (at most [`MAX_ANNOUNCEMENTS`]), and those
    /// being read from the directory (at most [`MAX_ANNOUNCEMENT_READS`]).
    pub(super) announcements: Arc<tokio::sync::Semaphore>,
    pub(super) announcement_reads: Arc<tokio::sync::Semaphore>,
}

/// Most announcements waiting at once: the other nodes' joins in flight, with room to spare
/// (a node's joins waiting for the directory are bounded at 10 000, most of them sharing
/// writes); only a flood passes it.
pub(super) const MAX_ANNOUNCEMENTS: usize = 4096;

/// Most announcements read from the directory at once; the others wait their turn.
pub(super) const MAX_ANNOUNCEMENT_READS: usize = 64;

/// Longest a node waits for its copy of the directory before it counts as connected anyway.
const CATCH_UP: Duration = Duration::from_secs(5);

/// What the loop's requests go out on, and where their answers come back.
struct Wires {
    client: Client,
    jetstream: async_nats::jetstream::Context,
    responses: mpsc::UnboundedSender<Response>,
    /// Wakes the loop to carry out what the core queued from off the loop.
    wake: Arc<Notify>,
}

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
    fn subject(&self, kind: Subject, to: &NodeId) -> String {
        kind.to(&self.options.name, to, &self.node)
    }

    fn wildcard(&self, kind: Subject) -> String {
        kind.wildcard(&self.options.name, &self.node)
    }

    pub(super) async fn run(
        mut self,
        queued: mpsc::Receiver<(NodeId, Batch)>,
        wake: Arc<Notify>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let connecting = match super::sign_in::options(&self.options.security) {
            Ok(connecting) => connecting,
            Err(error) => return error!(%error, "cannot use the --cluster credentials"),
        };
        let connecting = connecting
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
            self.node.clone(),
            queued,
            Arc::clone(&self.counters),
        ));
        let subscribe = |subject: String| {
            let client = client.clone();
            async move { client.subscribe(subject).await }
        };
        let subscriptions = async {
            Ok::<_, async_nats::SubscribeError>((
                subscribe(self.wildcard(Subject::Payloads)).await?,
                subscribe(self.wildcard(Subject::Announcement)).await?,
                subscribe(self.wildcard(Subject::Heartbeat)).await?,
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
        let wires = Wires {
            client: client.clone(),
            jetstream: jetstream.clone(),
            responses: responses_tx,
            wake: Arc::clone(&wake),
        };
        let (watches_tx, mut watches) = mpsc::unbounded_channel::<Result<Watching, String>>();
        let mut ticks = tokio::time::interval(TICK);
        // A watch of the directory is wanted (at start, and afresh after each reconnection, to
        // catch up on what was missed), and whether one is being set up.
        let (mut watch_wanted, mut watch_pending, mut warned) = (true, false, false);
        let mut told_refusal = false;
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(event) = events.recv() => match event {
                    Event::Connected => {
                        info!("connected to NATS");
                        told_refusal = false;
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
                    // Refused credentials, a certificate not trusted, a subject the node may
                    // not use: the operator's to fix, so it is said once until connected.
                    Event::ServerError(_) | Event::ClientError(_) if !told_refusal => {
                        told_refusal = true;
                        warn!(error = %event, "NATS refused this node, or could not be reached (check its --cluster-* credentials and certificates, and the server's permissions)");
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
                            self.tell(response, &wires).await;
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
                Some(message) = payloads.next() => self.delivered(&message),
                Some(message) = announcements.next() => self.announced(message, &wires),
                Some(message) = heartbeats.next() => {
                    // The subject names the sender (and NATS's permissions can make it true).
                    let sender = Subject::sender(&message.subject);
                    match Heartbeat::decode(&message.payload) {
                        Some(heartbeat) if sender.as_ref() == Some(&heartbeat.node) => {
                            self.tell(Response::Heartbeat(heartbeat), &wires).await;
                        }
                        _ => self.damaged("a heartbeat"),
                    }
                }
                Some(response) = responses.recv() => {
                    self.tell(response, &wires).await;
                }
                _ = wake.notified() => self.drain(&wires).await,
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
                    self.drain(&wires).await;
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
    async fn tell(&mut self, response: Response, wires: &Wires) {
        lock(&self.relay).cluster_receive(Instant::now(), response);
        self.drain(wires).await;
    }

    /// Sends the replies and the held-back payloads the core has ready, and carries out its
    /// requests.
    async fn drain(&mut self, wires: &Wires) {
        let (requests, replies, deliveries) = {
            let mut relay = lock(&self.relay);
            let requests: Vec<Request> = std::iter::from_fn(|| relay.poll_request()).collect();
            let replies: Vec<(SocketAddr, Reply)> =
                std::iter::from_fn(|| relay.poll_reply()).collect();
            let deliveries: Vec<_> = std::iter::from_fn(|| relay.poll_delivery()).collect();
            (requests, replies, deliveries)
        };
        if !deliveries.is_empty() {
            let messages: Vec<(&[u8], SocketAddr)> = deliveries
                .iter()
                .flat_map(|(payload, to)| to.iter().map(|to| (&payload[..], *to)))
                .collect();
            self.transmitter.send(&messages);
        }
        if !replies.is_empty() {
            let bytes: Vec<(Vec<u8>, SocketAddr)> =
                replies.iter().map(|(to, reply)| (reply.to_bytes(), *to)).collect();
            let messages: Vec<(&[u8], SocketAddr)> =
                bytes.iter().map(|(bytes, to)| (&bytes[..], *to)).collect();
            self.transmitter.send(&messages);
        }
        for request in requests {
            self.carry_out(request, wires).await;
        }
    }

    async fn carry_out(&mut self, request: Request, wires: &Wires) {
        let Wires { client, jetstream, responses, .. } = wires;
        let responses = responses.clone();
        match request {
            Request::Heartbeat(heartbeat) => {
                let subject = self.subject(Subject::Heartbeat, &self.node);
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
            Request::Announce { op, group, to } => {
                let body: bytes::Bytes = Announcement::encode(group).into();
                let asks: Vec<_> = to
                    .iter()
                    .map(|node| {
                        let (client, subject, body) = (
                            client.clone(),
                            self.subject(Subject::Announcement, node),
                            body.clone(),
                        );
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

    /// Payloads another node sent for members here (the core decides what goes anywhere).
    fn delivered(&mut self, message: &async_nats::Message) {
        self.counters.received_messages.fetch_add(1, Ordering::Relaxed);
        let Some(from) = Subject::sender(&message.subject) else {
            return self.damaged("payloads");
        };
        let mut frames = Frames::new(&message.payload);
        let mut out: Vec<(&[u8], SocketAddr)> = Vec::new();
        let mut count = 0;
        {
            let now = Instant::now();
            let mut relay = lock(&self.relay);
            for (group, payload) in frames.by_ref() {
                count += 1;
                out.extend(relay.deliver(now, &from, group, payload).map(|to| (payload, to)));
            }
        }
        self.counters.received_payloads.fetch_add(count, Ordering::Relaxed);
        if frames.damaged() {
            self.damaged("payloads");
        }
        self.transmitter.send(&out);
    }

    /// A message from another node that did not read (counted; logged at debug level only,
    /// since anyone who can publish can send them).
    fn damaged(&self, what: &str) {
        self.counters.damaged_messages.fetch_add(1, Ordering::Relaxed);
        debug!(what, "a message from another node did not read whole");
    }

    /// Another node asks this one to read a group's record before it answers a join: answered
    /// at once when the change feed already told this node of the sender's members, else read
    /// from the directory off the loop, given to the core, and then answered. At most
    /// [`MAX_ANNOUNCEMENT_READS`] are read at once and [`MAX_ANNOUNCEMENTS`] wait; more are
    /// left unanswered (their senders wait 500 ms and answer their joins anyway, as for a
    /// node that is slow).
    fn announced(&mut self, message: async_nats::Message, wires: &Wires) {
        let (Some(from), Some(group)) =
            (Subject::sender(&message.subject), Announcement::decode(&message.payload))
        else {
            return self.damaged("an announcement");
        };
        if lock(&self.relay).knows_members(group, &from) {
            if let Some(reply) = message.reply {
                let client = wires.client.clone();
                tokio::spawn(async move { client.publish(reply, bytes::Bytes::new()).await });
            }
            return;
        }
        let Some(store) = self.store.clone() else { return };
        let Ok(waiting) = Arc::clone(&self.announcements).try_acquire_owned() else {
            return self.damaged("an announcement (too many at once)");
        };
        let reads = Arc::clone(&self.announcement_reads);
        let (client, relay, wake) =
            (wires.client.clone(), Arc::clone(&self.relay), Arc::clone(&wires.wake));
        tokio::spawn(async move {
            let Ok(reading) = reads.acquire_owned().await else { return };
            let read = directory::read_current(&store, group).await;
            drop(reading);
            if let Some((current, revision)) = read {
                let changed = Response::Changed { group, current, revision };
                lock(&relay).cluster_receive(Instant::now(), changed);
                wake.notify_one(); // what the core asks as a result goes out from the loop
            }
            if let Some(reply) = message.reply {
                let _ = client.publish(reply, bytes::Bytes::new()).await;
            }
            drop(waiting);
        });
    }

    /// Tells the other nodes this one is leaving, so they need not wait for its silence.
    async fn farewell(&self, client: &Client) {
        let farewell = lock(&self.relay).farewell().filter(|_| self.options.farewell);
        if let Some(farewell) = farewell {
            let subject = self.subject(Subject::Heartbeat, &self.node);
            let _ = client.publish(subject, farewell.encode().into()).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    }
}
