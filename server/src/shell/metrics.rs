//! `--metrics ADDR`: Prometheus text at `/metrics` and a health check at `/healthz`, on a
//! thread of their own. The serving loop copies the relay's numbers to a [`Board`] once a
//! second (a moment under the lock); a scrape reads the board, never the relay. Labels are a
//! fixed set (drop reasons, reply kinds): nothing per group or per address, which would grow
//! without bound.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::cluster::Counters;
use crate::relay::cluster::ClusterStats;
use crate::relay::{Relay, ReplyKind, Stats};

/// How stale the board may be before `/healthz` says the server is not serving.
const HEALTHY_WITHIN: Duration = Duration::from_secs(5);

/// The numbers a scrape shows.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub stats: Stats,
    pub groups: usize,
    pub members: usize,
    pub validated: usize,
    pub serving: bool,
    pub updated: Option<Instant>,
    pub snapshot_writes: u64,
    pub snapshot_failures: u64,
    pub snapshot_seconds: f64,
    pub snapshot_last_seconds: f64,
    /// With `--cluster`: what the cluster thread counts, and the core's part.
    pub cluster: Option<ClusterReading>,
}

/// A clustered node's numbers.
#[derive(Debug, Clone)]
pub struct ClusterReading {
    pub counters: Arc<Counters>,
    pub stats: ClusterStats,
    /// Groups in the directory, as this node knows it.
    pub groups: usize,
}

/// Where the serving loop leaves the numbers for the metrics thread.
#[derive(Debug, Default)]
pub struct Board(Mutex<Reading>);

impl Board {
    /// Copies the relay's numbers (called with the relay locked).
    pub fn update(&self, relay: &Relay) {
        let mut reading = self.0.lock().unwrap_or_else(|e| e.into_inner());
        reading.stats = relay.stats();
        reading.groups = relay.live_groups();
        reading.members = relay.live_members();
        reading.validated = relay.validated_members();
        reading.updated = Some(Instant::now());
        if let Some(cluster) = &mut reading.cluster {
            cluster.stats = relay.cluster_stats();
            cluster.groups = relay.cluster_groups().unwrap_or(0);
        }
    }

    /// The node is clustered: its cluster thread counts here.
    pub fn set_cluster(&self, counters: Arc<Counters>) {
        let cluster = ClusterReading { counters, stats: ClusterStats::default(), groups: 0 };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).cluster = Some(cluster);
    }

    pub fn set_serving(&self, serving: bool) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).serving = serving;
    }

    /// Notes a state-file write: how long it took, or that it failed.
    pub fn snapshot_written(&self, took: Result<Duration, ()>) {
        let mut reading = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match took {
            Ok(took) => {
                reading.snapshot_writes += 1;
                reading.snapshot_seconds += took.as_secs_f64();
                reading.snapshot_last_seconds = took.as_secs_f64();
            }
            Err(()) => reading.snapshot_failures += 1,
        }
    }

    pub fn read(&self) -> Reading {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The HTTP endpoint; stops when dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    pub addr: SocketAddr,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Serves `board` at `addr`.
pub fn start(addr: SocketAddr, board: Arc<Board>) -> io::Result<MetricsServer> {
    let server = tiny_http::Server::http(addr).map_err(io::Error::other)?;
    let addr = server.server_addr().to_ip().unwrap_or(addr);
    let server = Arc::new(server);
    let serving = Arc::clone(&server);
    thread::Builder::new().name("metrics".into()).spawn(move || {
        for request in serving.incoming_requests() {
            let (status, body, kind) = match request.url() {
                "/metrics" => {
                    (200, render(&board.read()), "text/plain; version=0.0.4; charset=utf-8")
                }
                "/healthz" => {
                    let reading = board.read();
                    let fresh = reading.updated.is_some_and(|at| at.elapsed() < HEALTHY_WITHIN);
                    let connected = reading
                        .cluster
                        .as_ref()
                        .is_none_or(|cluster| cluster.counters.connected.load(Ordering::Relaxed));
                    match (reading.serving && fresh, connected) {
                        (true, true) => (200, "ok\n".to_string(), "text/plain"),
                        // It still relays among its own members, but new clients belong on a
                        // node that can create and join.
                        (true, false) => (
                            503,
                            "serving, but not connected to the cluster (NATS)\n".to_string(),
                            "text/plain",
                        ),
                        (false, _) => (503, "not serving\n".to_string(), "text/plain"),
                    }
                }
                _ => (404, "not found: try /metrics or /healthz\n".to_string(), "text/plain"),
            };
            let header =
                tiny_http::Header::from_bytes("Content-Type", kind).expect("a valid header");
            let response =
                tiny_http::Response::from_string(body).with_status_code(status).with_header(header);
            let _ = request.respond(response);
        }
    })?;
    Ok(MetricsServer { server, addr })
}

type Labels = Vec<(String, String)>;

fn labelled(registry: &mut Registry, name: &str, help: &str, label: &str, values: &[(&str, u64)]) {
    let family = Family::<Labels, Counter>::default();
    for (value, count) in values {
        family.get_or_create(&vec![(label.to_string(), value.to_string())]).inc_by(*count);
    }
    registry.register(name, help, family);
}

/// The reading as Prometheus text.
pub fn render(reading: &Reading) -> String {
    let s = &reading.stats;
    let mut registry = Registry::with_prefix("udprelay");
    let counters: [(&str, &str, u64); 11] = [
        ("datagrams_received", "Datagrams received", s.datagrams_in),
        ("datagrams_sent", "Datagrams the relay sent (replies and deliveries)", s.datagrams_out),
        ("bytes_received", "Bytes received", s.bytes_in),
        ("bytes_sent", "Bytes sent", s.bytes_out),
        ("deliveries", "Payloads relayed, once per recipient", s.deliveries),
        ("creates", "Groups created", s.creates),
        ("joins", "Joins (new members and moves)", s.joins),
        ("leaves", "Leaves", s.leaves),
        ("expiries", "Empty groups deleted after their time to live", s.expiries),
        ("validations", "Addresses that echoed a validation token", s.validations),
        ("snapshot_writes", "State-file writes", reading.snapshot_writes),
    ];
    for (name, help, value) in counters {
        registry.register(name, help, ConstCounter::new(value));
    }
    registry.register(
        "snapshot_failures",
        "State-file writes that failed",
        ConstCounter::new(reading.snapshot_failures),
    );
    registry.register(
        "snapshot_write_seconds",
        "Time spent writing the state file",
        ConstCounter::new(reading.snapshot_seconds),
    );
    let replies: Vec<(&str, u64)> =
        ReplyKind::ALL.iter().map(|kind| (kind.name(), s.replies[*kind as usize])).collect();
    labelled(&mut registry, "replies", "Replies sent, by kind", "kind", &replies);
    labelled(
        &mut registry,
        "dropped",
        "Datagrams or deliveries dropped, by reason",
        "reason",
        &[
            ("command_rate", s.dropped_command_rate),
            ("error_rate", s.dropped_error_rate),
            ("payload_rate", s.dropped_payload_rate),
            ("budget", s.dropped_budget),
            ("loop", s.dropped_loop),
            ("own_address", s.dropped_own_address),
            ("oversize", s.oversize),
        ],
    );
    labelled(
        &mut registry,
        "refused",
        "Creates and joins refused by a limit",
        "limit",
        &[("server_full", s.refused_server_full), ("ip_limit", s.refused_ip_limit)],
    );
    labelled(
        &mut registry,
        "removals",
        "Members removed, by cause",
        "cause",
        &[("inactive", s.removals), ("unreachable", s.unreachable)],
    );
    let gauges: [(&str, &str, usize); 3] = [
        ("groups", "Live groups", reading.groups),
        ("members", "Live members", reading.members),
        ("validated_members", "Live members whose address is validated", reading.validated),
    ];
    for (name, help, value) in gauges {
        registry.register(name, help, ConstGauge::new(value as i64));
    }
    registry.register(
        "snapshot_last_write_seconds",
        "How long the last state-file write took",
        ConstGauge::new(reading.snapshot_last_seconds),
    );
    if let Some(cluster) = &reading.cluster {
        register_cluster(&mut registry, cluster);
    }
    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

/// The `udprelay_cluster_*` metrics of a clustered node.
fn register_cluster(registry: &mut Registry, cluster: &ClusterReading) {
    let c = &cluster.counters;
    let s = &cluster.stats;
    let registry = registry.sub_registry_with_prefix("cluster");
    let connected = i64::from(c.connected.load(Ordering::Relaxed));
    registry.register(
        "connected",
        "1 while the node has NATS and the directory",
        ConstGauge::new(connected),
    );
    registry.register(
        "groups",
        "Groups in the cluster's directory",
        ConstGauge::new(cluster.groups as i64),
    );
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let counters: [(&str, &str, u64); 18] = [
        (
            "published_messages",
            "NATS messages of payloads published to other nodes",
            load(&c.published_messages),
        ),
        (
            "published_payloads",
            "Payloads published to other nodes (once per node)",
            load(&c.published_payloads),
        ),
        (
            "received_messages",
            "NATS messages of payloads received from other nodes",
            load(&c.received_messages),
        ),
        ("received_payloads", "Payloads received from other nodes", load(&c.received_payloads)),
        (
            "dropped_payloads",
            "Payloads for other nodes dropped: the queue was full, or NATS refused them",
            load(&c.dropped_payloads),
        ),
        (
            "damaged_messages",
            "Messages from other nodes that did not read whole",
            load(&c.damaged_messages),
        ),
        ("forwarded", "Payloads handed on for other nodes, once per node", s.forwarded),
        ("directory_writes", "Writes to the directory", s.directory_writes),
        ("directory_reads", "Reads of the directory", s.directory_reads),
        (
            "directory_conflicts",
            "Directory writes that found the record changed, and were made again",
            s.directory_conflicts,
        ),
        ("directory_failures", "Directory requests that failed or timed out", s.directory_failures),
        (
            "announcements",
            "Announcements to other nodes before a join was answered",
            s.announcements,
        ),
        ("busy", "ERR BUSY TryAgain answered", s.busy),
        ("nodes_dead", "Other nodes counted dead (silent, or left)", s.nodes_dead),
        (
            "refused_payloads",
            "Payloads from other nodes dropped: empty, too long, a command, from a node the directory did not count in the group within 2 s, or over its budget",
            s.refused_payloads,
        ),
        (
            "held_payloads",
            "Payloads from other nodes that waited for the directory to count their sender's members (a member who joined there and spoke at once)",
            s.held_payloads,
        ),
        (
            "ignored_heartbeats",
            "Heartbeats and goodbyes ignored: an impostor's, or past the table of nodes",
            s.ignored_heartbeats,
        ),
        (
            "unsettled",
            "Joins told ERR BUSY TryAgain because the directory would not settle (a record rewritten over and over)",
            s.unsettled,
        ),
    ];
    for (name, help, value) in counters {
        registry.register(name, help, ConstCounter::new(value));
    }
    registry.register(
        "evicted",
        "Members removed because the cluster filled their group while this node was cut off",
        ConstCounter::new(s.evicted),
    );
    registry.register(
        "directory_write_seconds",
        "How long directory writes took",
        c.write_seconds.clone(),
    );
}
