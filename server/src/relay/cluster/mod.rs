//! The relay as one node of a cluster: one more input and output of the core, as
//! quinn-proto's endpoint trades events with its connections. No NATS here: the shell
//! (`shell::cluster`) carries out the [`Request`]s this core queues and feeds back what came of
//! them as [`Response`]s, and tests do the same over an in-memory bus.
//!
//! What the cluster shares is a *directory*: one [`Record`] per group (creator, cap, members
//! per node) in a key-value store with compare-and-set. A create is a create-if-absent, so no
//! two nodes hand out one id; a join is a compare-and-set of the group's record that raises
//! this node's count only while the total stays within the cap, so racing joins on two nodes
//! cannot pass it; an empty group is written with a time to live, so it expires wherever it was
//! created. Each node keeps a copy of the directory ([`replica`]) from its change feed: from it,
//! a member's payload goes straight to the other nodes with members in the group, and `!WHO`
//! is answered without asking. docs/cluster.md tells the whole design.

mod creates;
mod frames;
mod held;
mod inputs;
mod joins;
mod record;
mod replica;
mod writer;

#[cfg(test)]
mod bus;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udprelay_shared::limits::MAX_DATAGRAM;
use udprelay_shared::{GroupId, Reply};

pub use frames::{Announcement, Batch, FRAME_OVERHEAD, Frames, Heartbeat, MAX_FRAMES, Subject};
pub use held::{HOLD, MAX_HELD_BYTES};
pub use record::{InvalidNodeId, MAX_RECORD_BYTES, MAX_RECORD_NODES, NodeId, Record};
pub use replica::MAX_NODES;

use super::Relay;
use super::limits::Rate;
use held::Held;
use replica::Replica;
use writer::Pending;

/// Default time between a node's heartbeats; a node silent for 2.5 × this is counted dead, so
/// that it is counted out within 3 × this of its death.
pub const DEFAULT_NODE_HEARTBEAT: Duration = Duration::from_secs(2);

/// Most joins waiting for the directory at once on one node; more get `ERR BUSY TryAgain`.
pub const MAX_WAITING_JOINS: usize = 10_000;

/// Deliveries (one payload to one member) a second that one other node's payloads may make
/// here, with bursts of twice that: about what this node's own UDP output can be, so that a
/// NATS client with a node's permissions makes no more sends than a full UDP link would.
pub const NODE_DELIVERY_RATE: u32 = 1_000_000;

/// Added to twice `--empty-ttl` before an empty record with no time to live is expired anyway.
pub const ABANDONED_GRACE: Duration = Duration::from_secs(10);

/// How this node takes part.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// This node's name.
    pub node: NodeId,
    /// Time between heartbeats.
    pub heartbeat: Duration,
}

/// Names one request, so that its response finds what waits on it.
pub type OpId = u64;

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No group under the key (a create).
    Absent,
    /// The record at this revision, unchanged since (a compare-and-set).
    Revision(u64),
}

/// What the core asks the cluster shell to do. Every request with an [`OpId`] gets exactly one
/// response naming it (a failure or time-out included).
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Write a group's record if the key holds what `expect` says. With `ttl`, the record
    /// expires that long after this write unless written again (without a `ttl`, it does not).
    Write { op: OpId, group: GroupId, record: Record, expect: Expect, ttl: Option<Duration> },
    /// Read a group's record.
    Read { op: OpId, group: GroupId },
    /// Ask these nodes to read the group's record just written (and wait, within a bound, for
    /// each to have read it): then they send this node the group's payloads before its new
    /// member hears `OK JOINED`. They read it from the directory, so that no node takes a
    /// record, or a revision, from another's word.
    Announce { op: OpId, group: GroupId, to: Vec<NodeId> },
    /// Publish this node's heartbeat.
    Heartbeat(Heartbeat),
}

/// What the cluster shell tells the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A [`Request::Write`] was made; the record now stands at `revision`.
    Written { op: OpId, revision: u64 },
    /// A [`Request::Write`] found something else: the group's current record (`None`: no
    /// group) at `revision` (its key's last revision, 0 if it never had one).
    Conflict { op: OpId, current: Option<Record>, revision: u64 },
    /// The answer to a [`Request::Read`], in the same terms.
    Read { op: OpId, current: Option<Record>, revision: u64 },
    /// The request could not be carried out (the directory is out of reach, or did not answer
    /// in time). A write may or may not have been made.
    Failed { op: OpId },
    /// A [`Request::Announce`] is over (each node answered, or the time allowed ran out).
    Announced { op: OpId },
    /// The directory changed (its change feed), or a record read from it because another node
    /// announced a change.
    Changed { group: GroupId, current: Option<Record>, revision: u64 },
    /// Another node's heartbeat (the shell has checked that its subject names `node`).
    Heartbeat(Heartbeat),
    /// The shell's connection to the cluster came up or went down.
    Connection { up: bool },
}

/// What becomes of a payload from another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Deliver,
    /// The sender has no members in the group by this node's copy of the directory (yet).
    Hold,
    Refuse(&'static str),
}

/// What the cluster part of the core has done since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClusterStats {
    pub directory_writes: u64,
    pub directory_reads: u64,
    pub directory_conflicts: u64,
    pub directory_failures: u64,
    pub announcements: u64,
    /// Payloads handed on for other nodes, counted once per node.
    pub forwarded: u64,
    /// Payloads from other nodes (their deliveries count in the relay's `deliveries`).
    pub received: u64,
    /// `ERR BUSY TryAgain` answered.
    pub busy: u64,
    /// Nodes counted dead (silent, or said they were leaving).
    pub nodes_dead: u64,
    /// Local members removed because the cluster had filled their group while this node was
    /// cut off (see [`Relay::cluster_receive`]).
    pub evicted: u64,
    /// Payloads from other nodes dropped: not a payload UDP could carry, from a node that had
    /// no members in the group within [`HOLD`], or over the node's budget ([`Relay::deliver`]).
    pub refused_payloads: u64,
    /// Payloads from other nodes that waited for the directory to count their sender's
    /// members ([`held`]).
    pub held_payloads: u64,
    /// Heartbeats not taken (a node's restarts too close together, or too many node names).
    pub ignored_heartbeats: u64,
    /// Directory writes given up after too many compare-and-set conflicts in a row.
    pub unsettled: u64,
}

impl fmt::Display for ClusterStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "directory_writes={} directory_reads={} directory_conflicts={} directory_failures={} \
             announcements={} forwarded={} received={} busy={} \
             nodes_dead={} evicted={} refused_payloads={} held_payloads={} ignored_heartbeats={} \
             unsettled={}",
            self.directory_writes,
            self.directory_reads,
            self.directory_conflicts,
            self.directory_failures,
            self.announcements,
            self.forwarded,
            self.received,
            self.busy,
            self.nodes_dead,
            self.evicted,
            self.refused_payloads,
            self.held_payloads,
            self.ignored_heartbeats,
            self.unsettled,
        )
    }
}

/// The cluster's part of the relay's state.
pub(super) struct Cluster {
    config: ClusterConfig,
    replica: Replica,
    instance: u64,
    /// Groups with directory work waiting or under way.
    pending: HashMap<GroupId, Pending>,
    /// Which group each waiting joiner asked for (a later join from the address replaces it),
    /// and how many times more it asked (each is answered, as one relay would).
    joining: HashMap<SocketAddr, (GroupId, u32)>,
    /// Creates under way, per address (they count toward its limit).
    creating: HashMap<SocketAddr, u32>,
    /// Which group each request under way is about.
    ops: HashMap<OpId, GroupId>,
    next_op: OpId,
    requests: VecDeque<Request>,
    replies: VecDeque<(SocketAddr, Reply)>,
    connected: bool,
    next_heartbeat: Option<Instant>,
    impostor_seen: bool,
    /// Whether the log has said that heartbeats were ignored.
    ignored_seen: bool,
    /// Each other node's delivery budget (a GCRA arrival time, [`NODE_DELIVERY_RATE`]); only
    /// nodes with members in some group here get one, so it is as bounded as the directory.
    budgets: HashMap<NodeId, u64>,
    budget_rate: Rate,
    epoch: Option<Instant>,
    /// Payloads that wait for the directory to count their sender ([`held`]).
    held: Held,
    /// Payloads that waited and may now go out, with their recipients here.
    deliveries: VecDeque<(Box<[u8]>, Vec<SocketAddr>)>,
    stats: ClusterStats,
}

impl Cluster {
    pub fn new(config: ClusterConfig, instance: u64) -> Cluster {
        Cluster {
            replica: Replica::new(config.node.clone(), instance),
            config,
            instance,
            pending: HashMap::new(),
            joining: HashMap::new(),
            creating: HashMap::new(),
            ops: HashMap::new(),
            next_op: 1,
            requests: VecDeque::new(),
            replies: VecDeque::new(),
            connected: false,
            next_heartbeat: None,
            impostor_seen: false,
            ignored_seen: false,
            budgets: HashMap::new(),
            budget_rate: Rate::per_second(NODE_DELIVERY_RATE).expect("a rate above 0"),
            epoch: None,
            held: Held::default(),
            deliveries: VecDeque::new(),
            stats: ClusterStats::default(),
        }
    }

    fn me(&self) -> &NodeId {
        &self.config.node
    }

    fn op(&mut self, group: GroupId) -> OpId {
        let op = self.next_op;
        self.next_op += 1;
        self.ops.insert(op, group);
        op
    }

    fn waiting_joins(&self) -> usize {
        self.joining.len()
    }

    /// What becomes of a payload from node `from` for `group`, going to `members` here. See
    /// [`Relay::deliver`].
    fn verdict(
        &mut self,
        now: Instant,
        from: &NodeId,
        group: GroupId,
        payload: &[u8],
        members: usize,
    ) -> Verdict {
        if payload.is_empty() || payload.len() > MAX_DATAGRAM {
            return Verdict::Refuse("not 1 to 4096 bytes");
        }
        if payload[0] == b'!' {
            return Verdict::Refuse("starts with '!', which UDP never relays");
        }
        if *from == *self.me() {
            return Verdict::Refuse("sent under this node's own name");
        }
        if members == 0 {
            return Verdict::Refuse("the group has no members here");
        }
        if self.replica.get(&group).is_none_or(|e| e.record.count(from) == 0) {
            return Verdict::Hold;
        }
        if !self.within_budget(now, from, members) {
            return Verdict::Refuse("over the node's delivery budget");
        }
        Verdict::Deliver
    }

    /// Whether node `from` may make `members` deliveries here at `now` (they are counted).
    fn within_budget(&mut self, now: Instant, from: &NodeId, members: usize) -> bool {
        let epoch = *self.epoch.get_or_insert(now);
        if self.budgets.len() >= replica::MAX_NODES && !self.budgets.contains_key(from) {
            self.budgets.clear(); // names long gone; each starts again with a full budget
        }
        let tat = self.budgets.entry(from.clone()).or_insert(0);
        let cost = u32::try_from(members.max(1)).unwrap_or(u32::MAX);
        self.budget_rate.allow_many(tat, epoch, now, cost)
    }

    /// The other live nodes to send one of `group`'s payloads to (counted as forwarded).
    pub fn forward(&mut self, group: &GroupId) -> &[NodeId] {
        let routes = self.replica.routes(group);
        self.stats.forwarded += routes.len() as u64;
        routes
    }
}

impl Relay {
    /// A relay that is one node of a cluster. It answers nothing that needs the directory
    /// until the shell says it is connected ([`Response::Connection`]).
    pub fn clustered(config: super::Config, cluster: ClusterConfig) -> Relay {
        let mut relay = Relay::new(config);
        relay.cluster = Some(Cluster::new(cluster, rand::random()));
        relay
    }

    /// Makes this relay a node of a cluster, with `instance` as its start's number (tests
    /// choose it; [`Relay::clustered`] draws it).
    pub fn join_cluster(&mut self, cluster: ClusterConfig, instance: u64) {
        self.cluster = Some(Cluster::new(cluster, instance));
    }

    pub fn is_clustered(&self) -> bool {
        self.cluster.is_some()
    }

    /// This node's name, when clustered.
    pub fn node(&self) -> Option<&NodeId> {
        self.cluster.as_ref().map(Cluster::me)
    }

    pub fn cluster_stats(&self) -> ClusterStats {
        self.cluster.as_ref().map(|cluster| cluster.stats).unwrap_or_default()
    }

    /// Whether this node's copy of the directory already has members of `group` on `node`:
    /// then an announcement from `node` needs no read of the directory (the change feed was
    /// there first), and nothing in the announcement is taken on trust.
    pub fn knows_members(&self, group: GroupId, node: &NodeId) -> bool {
        let cluster = self.cluster.as_ref();
        cluster.and_then(|c| c.replica.get(&group)).is_some_and(|e| e.record.count(node) > 0)
    }

    /// Groups in the cluster's directory, as this node knows it (`None` when not clustered).
    pub fn cluster_groups(&self) -> Option<usize> {
        self.cluster.as_ref().map(|cluster| cluster.replica.len())
    }

    /// Creates from `addr` still waiting for the directory (they count toward its limit).
    pub(super) fn creates_under_way(&self, addr: SocketAddr) -> u32 {
        self.cluster.as_ref().and_then(|c| c.creating.get(&addr).copied()).unwrap_or(0)
    }

    /// Whether requests, replies or deliveries wait for the cluster shell.
    pub fn cluster_work_waiting(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| {
            !c.requests.is_empty() || !c.replies.is_empty() || !c.deliveries.is_empty()
        })
    }

    /// The next thing for the cluster shell to do.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.cluster.as_mut()?.requests.pop_front()
    }

    /// The next reply that had to wait for the cluster (`OK CREATED`, `OK JOINED`, errors).
    pub fn poll_reply(&mut self) -> Option<(SocketAddr, Reply)> {
        self.cluster.as_mut()?.replies.pop_front()
    }

    /// The next payload from another node that waited for the directory, with its recipients.
    pub fn poll_delivery(&mut self) -> Option<(Box<[u8]>, Vec<SocketAddr>)> {
        self.cluster.as_mut()?.deliveries.pop_front()
    }

    /// Gives back the memory of the cluster's tables after a wave of expiries (the sweep's
    /// shrinking); whether any was shrunk.
    pub(super) fn shrink_cluster(&mut self) -> bool {
        let Some(cluster) = self.cluster.as_mut() else { return false };
        let shrunk = cluster.replica.shrink();
        let sparse = cluster.pending.capacity() > 64
            && cluster.pending.len() < cluster.pending.capacity() / 4;
        if sparse {
            cluster.pending.shrink_to_fit();
        }
        shrunk || sparse
    }

    /// Members of `group` on this node.
    #[cfg(test)]
    pub(super) fn local_members(&self, group: GroupId) -> usize {
        self.tables.groups.get(&group).map_or(0, |g| g.members.len())
    }

    /// Members of `group` here and on the other live nodes (`!WHO`).
    pub(super) fn cluster_members(&self, group: GroupId, local: usize) -> usize {
        match &self.cluster {
            Some(cluster) => cluster.replica.members(&group, local),
            None => local,
        }
    }
}
