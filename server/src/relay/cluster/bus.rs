//! Tests only: relays joined into a cluster over an in-memory bus, with a directory that keeps
//! JetStream KV's rules (one revision sequence for the bucket, create-if-absent,
//! compare-and-set on the key's last revision, a per-key time to live that a write without one
//! cancels, a change feed to every node), and the clock injected as everywhere in the core.
//!
//! A datagram sent to a node is handled at once; what it asks of the cluster waits in the
//! node's queue until [`Bus::settle`], so that two nodes' requests can be made to race.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udprelay_shared::GroupId;

use super::{ClusterConfig, Expect, NodeId, Record, Request, Response};
use crate::relay::{Config, Outgoing, Relay};

pub const HEARTBEAT: Duration = Duration::from_secs(2);

pub struct Node {
    pub relay: Relay,
    pub name: NodeId,
    /// Running (a killed node does nothing at all).
    pub running: bool,
    /// Connected to the bus (a node cut off keeps running on its own).
    pub connected: bool,
}

struct Stored {
    record: Record,
    revision: u64,
    expires: Option<Instant>,
}

pub struct Bus {
    pub now: Instant,
    pub nodes: Vec<Node>,
    directory: HashMap<GroupId, Stored>,
    /// Each key's last revision (deletions included), as JetStream's per-subject sequence.
    last: HashMap<GroupId, u64>,
    sequence: u64,
    /// Directory writes and reads fail (a KV leader election) while `false`.
    pub directory_up: bool,
    /// Every datagram the nodes sent: (node, to, bytes), in order.
    pub sent: Vec<(usize, SocketAddr, Vec<u8>)>,
    /// Responses in flight to each node, in order.
    inboxes: Vec<VecDeque<Response>>,
    /// The directory's change feed held back from a node (`Some`), as a slow watch would.
    held: Vec<Option<VecDeque<Response>>>,
    /// Nodes that take no announcement in time (a loaded host): their senders answer anyway.
    pub slow: Vec<bool>,
    /// A hostile writer rewrites this group's record before every node's write (a
    /// compare-and-set that never succeeds); its writes are counted in `forged_writes`.
    pub rewritten: Option<GroupId>,
    pub forged_writes: u64,
}

pub fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000 + n))
}

impl Bus {
    /// `count` connected nodes named n0, n1, …, each drawing ids from its own `ids`.
    pub fn new(config: Config, count: usize) -> Bus {
        Bus::with_ids(config, count, |_| None)
    }

    /// As [`Bus::new`], with node `i`'s ids from `ids(i)` when that gives a list.
    pub fn with_ids(
        config: Config,
        count: usize,
        ids: impl Fn(usize) -> Option<Vec<&'static str>>,
    ) -> Bus {
        let now = Instant::now();
        let nodes = (0..count)
            .map(|i| {
                let name: NodeId = format!("n{i}").parse().unwrap();
                let mut relay = match ids(i) {
                    Some(list) => {
                        let mut list = list.into_iter().cycle();
                        Relay::with_id_source(config.clone(), move || {
                            list.next().unwrap().parse().unwrap()
                        })
                    }
                    None => Relay::new(config.clone()),
                };
                let cluster = ClusterConfig { node: name.clone(), heartbeat: HEARTBEAT };
                relay.join_cluster(cluster, i as u64 + 1);
                Node { relay, name, running: true, connected: false }
            })
            .collect();
        let mut bus = Bus {
            now,
            nodes,
            directory: HashMap::new(),
            last: HashMap::new(),
            sequence: 0,
            directory_up: true,
            sent: Vec::new(),
            inboxes: vec![VecDeque::new(); count],
            held: vec![None; count],
            slow: vec![false; count],
            rewritten: None,
            forged_writes: 0,
        };
        for i in 0..count {
            bus.connect(i, true);
        }
        bus.settle();
        bus
    }

    /// Connects node `i` to the bus, or cuts it off. Connected again, it is given every key's
    /// last change, as the shell's watch catches up on what it missed.
    pub fn connect(&mut self, i: usize, up: bool) {
        self.nodes[i].connected = up;
        let now = self.now;
        self.nodes[i].relay.cluster_receive(now, Response::Connection { up });
        if up {
            let missed: Vec<Response> = self
                .last
                .iter()
                .map(|(&group, &revision)| {
                    let current = self.directory.get(&group).map(|stored| stored.record.clone());
                    Response::Changed { group, current, revision }
                })
                .collect();
            self.inboxes[i].extend(missed);
        }
    }

    /// Starts node `i` afresh under its name (a new process: it knows nothing and nobody), and
    /// connects it.
    pub fn restart(&mut self, i: usize, config: Config) {
        let name = self.nodes[i].name.clone();
        let mut relay = Relay::new(config);
        relay.join_cluster(
            ClusterConfig { node: name.clone(), heartbeat: HEARTBEAT },
            100 + i as u64,
        );
        self.nodes[i] = Node { relay, name, running: true, connected: false };
        self.inboxes[i].clear();
        self.connect(i, true);
        self.settle();
    }

    /// Stops node `i` dead (SIGKILL): it neither handles, answers nor sends anything again.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].running = false;
        self.nodes[i].connected = false;
        self.inboxes[i].clear();
    }

    /// One datagram to node `i` from `from`; what it answers at once is in [`Bus::sent`], and
    /// so are the payloads it relays here and forwards to other nodes (delivered at once).
    pub fn send(&mut self, i: usize, from: SocketAddr, datagram: &[u8]) {
        if !self.nodes[i].running {
            return;
        }
        let now = self.now;
        let mut forwards = Vec::new();
        match self.nodes[i].relay.handle(now, from, datagram) {
            Outgoing::Nothing => {}
            Outgoing::Reply(reply) => self.sent.push((i, from, reply.to_bytes())),
            Outgoing::Relay { group, payload, recipients, forward } => {
                let to: Vec<SocketAddr> = recipients.collect();
                self.sent.extend(to.into_iter().map(|to| (i, to, payload.to_vec())));
                forwards.extend(forward.iter().map(|node| (node.clone(), group, payload.to_vec())));
            }
        }
        for (node, group, payload) in forwards {
            self.forward(i, &node, group, &payload);
        }
        self.collect_replies(i);
    }

    /// A payload from node `from` for `node`: delivered there unless either is cut off.
    fn forward(&mut self, from: usize, node: &NodeId, group: GroupId, payload: &[u8]) {
        if !self.nodes[from].connected {
            return;
        }
        let Some(j) = self.index(node) else { return };
        if !self.nodes[j].connected {
            return;
        }
        let (now, sender) = (self.now, self.nodes[from].name.clone());
        let to: Vec<SocketAddr> =
            self.nodes[j].relay.deliver(now, &sender, group, payload).collect();
        self.sent.extend(to.into_iter().map(|to| (j, to, payload.to_vec())));
    }

    fn index(&self, node: &NodeId) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == *node)
    }

    /// What node `i` sends later: replies that waited for the directory, and payloads that
    /// waited for it to count their senders.
    fn collect_replies(&mut self, i: usize) {
        while let Some((to, reply)) = self.nodes[i].relay.poll_reply() {
            self.sent.push((i, to, reply.to_bytes()));
        }
        while let Some((payload, to)) = self.nodes[i].relay.poll_delivery() {
            self.sent.extend(to.into_iter().map(|to| (i, to, payload.to_vec())));
        }
    }

    /// Carries out every request and delivers every response until nothing is left, node by
    /// node in order of `order` (each node's own requests and responses stay in order).
    pub fn settle_in(&mut self, order: &[usize]) {
        for _ in 0..10_000 {
            let mut busy = false;
            for &i in order {
                if !self.nodes[i].running {
                    continue;
                }
                while let Some(request) = self.nodes[i].relay.poll_request() {
                    busy = true;
                    self.carry_out(i, request);
                }
                while let Some(response) = self.inboxes[i].pop_front() {
                    busy = true;
                    let now = self.now;
                    self.nodes[i].relay.cluster_receive(now, response);
                }
                self.collect_replies(i);
            }
            if !busy {
                return;
            }
        }
        panic!("the cluster did not settle");
    }

    pub fn settle(&mut self) {
        let order: Vec<usize> = (0..self.nodes.len()).collect();
        self.settle_in(&order);
    }

    fn carry_out(&mut self, i: usize, request: Request) {
        let reachable = self.nodes[i].connected;
        match request {
            Request::Heartbeat(heartbeat) => {
                if reachable {
                    self.send_to_others(i, Response::Heartbeat(heartbeat));
                }
            }
            Request::Announce { op, group, to } => {
                for node in to {
                    if let Some(j) = self
                        .index(&node)
                        .filter(|&j| reachable && self.nodes[j].connected && !self.slow[j])
                    {
                        // The shell reads the record from the directory, as the receiver does.
                        let (current, revision) = self.current(group);
                        let changed = Response::Changed { group, current, revision };
                        let now = self.now;
                        self.nodes[j].relay.cluster_receive(now, changed);
                        self.collect_replies(j);
                    }
                }
                self.inboxes[i].push_back(Response::Announced { op });
            }
            Request::Read { op, group } => {
                let response = if reachable && self.directory_up {
                    let (current, revision) = self.current(group);
                    Response::Read { op, current, revision }
                } else {
                    Response::Failed { op }
                };
                self.inboxes[i].push_back(response);
            }
            Request::Write { op, group, record, expect, ttl } => {
                let response = if reachable && self.directory_up {
                    self.write(op, group, record, expect, ttl)
                } else {
                    Response::Failed { op }
                };
                self.inboxes[i].push_back(response);
            }
        }
    }

    fn current(&self, group: GroupId) -> (Option<Record>, u64) {
        let record = self.directory.get(&group).map(|stored| stored.record.clone());
        (record, self.last.get(&group).copied().unwrap_or(0))
    }

    fn write(
        &mut self,
        op: u64,
        group: GroupId,
        record: Record,
        expect: Expect,
        ttl: Option<Duration>,
    ) -> Response {
        if self.rewritten == Some(group)
            && let Some(stored) = self.directory.get(&group)
        {
            self.forged_writes += 1;
            let record = stored.record.clone();
            self.forge(group, Some(record), None);
        }
        let held = self.directory.get(&group).map(|stored| stored.revision);
        let fits = match expect {
            Expect::Absent => held.is_none(),
            Expect::Revision(revision) => held == Some(revision),
        };
        if !fits {
            let (current, revision) = self.current(group);
            return Response::Conflict { op, current, revision };
        }
        self.sequence += 1;
        let revision = self.sequence;
        // Whole seconds, rounded up, as the shell sends them to NATS.
        let expires =
            ttl.map(|ttl| self.now + Duration::from_secs(ttl.as_secs_f64().ceil() as u64));
        self.directory.insert(group, Stored { record: record.clone(), revision, expires });
        self.last.insert(group, revision);
        self.feed(Response::Changed { group, current: Some(record), revision });
        Response::Written { op, revision }
    }

    /// Someone other than a node writes `group`'s key (a NATS client with a node's
    /// permissions): `Some` record, or `None` for a value that is no record (a forged one the
    /// shell cannot decode: it reads as no group); with `ttl`, or without.
    pub fn forge(&mut self, group: GroupId, record: Option<Record>, ttl: Option<Duration>) {
        self.sequence += 1;
        let revision = self.sequence;
        let expires = ttl.map(|ttl| self.now + ttl);
        match &record {
            Some(record) => {
                let stored = Stored { record: record.clone(), revision, expires };
                self.directory.insert(group, stored);
            }
            None => {
                self.directory.remove(&group);
            }
        }
        self.last.insert(group, revision);
        self.feed(Response::Changed { group, current: record, revision });
    }

    /// A payload from a NATS client posing as node `from`, straight to node `j`'s core; the
    /// addresses it was sent to.
    pub fn deliver_as(
        &mut self,
        j: usize,
        from: &str,
        group: GroupId,
        payload: &[u8],
    ) -> Vec<SocketAddr> {
        let (now, from) = (self.now, from.parse().expect("a node name"));
        let to: Vec<SocketAddr> = self.nodes[j].relay.deliver(now, &from, group, payload).collect();
        self.sent.extend(to.iter().map(|&to| (j, to, payload.to_vec())));
        to
    }

    /// The directory's change feed, to every connected node.
    fn feed(&mut self, response: Response) {
        for j in 0..self.nodes.len() {
            if !self.nodes[j].connected {
                continue;
            }
            match &mut self.held[j] {
                Some(held) => held.push_back(response.clone()),
                None => self.inboxes[j].push_back(response.clone()),
            }
        }
    }

    /// Holds the change feed back from node `i` until [`Bus::resume_feed`].
    pub fn pause_feed(&mut self, i: usize) {
        self.held[i].get_or_insert_with(VecDeque::new);
    }

    pub fn resume_feed(&mut self, i: usize) {
        if let Some(held) = self.held[i].take() {
            self.inboxes[i].extend(held);
        }
    }

    fn send_to_others(&mut self, i: usize, response: Response) {
        for j in (0..self.nodes.len()).filter(|&j| j != i) {
            if self.nodes[j].connected {
                self.inboxes[j].push_back(response.clone());
            }
        }
    }

    /// Moves the clock on: keys whose time ran out expire (the feed says so), and every running
    /// node ticks (heartbeats, counting silent nodes dead) and settles.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        let due: Vec<GroupId> = self
            .directory
            .iter()
            .filter(|(_, stored)| stored.expires.is_some_and(|at| at < now))
            .map(|(group, _)| *group)
            .collect();
        for group in due {
            self.directory.remove(&group);
            self.sequence += 1;
            self.last.insert(group, self.sequence);
            let revision = self.sequence;
            self.feed(Response::Changed { group, current: None, revision });
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].running {
                self.nodes[i].relay.cluster_tick(now);
            }
        }
        self.settle();
    }

    /// Advances in steps of `step` for `total` (heartbeats flow at every step).
    pub fn run_for(&mut self, total: Duration, step: Duration) {
        let mut left = total;
        while !left.is_zero() {
            let by = step.min(left);
            self.advance(by);
            left -= by;
        }
    }

    /// Sweeps every running node at the current time.
    pub fn sweep(&mut self) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            if self.nodes[i].running {
                self.nodes[i].relay.sweep(now);
            }
        }
        self.settle();
    }

    /// The record the directory holds for `group`.
    pub fn record(&self, group: GroupId) -> Option<&Record> {
        self.directory.get(&group).map(|stored| &stored.record)
    }

    /// Whether `group` is set to expire in the directory.
    pub fn expiring(&self, group: GroupId) -> bool {
        self.directory.get(&group).is_some_and(|stored| stored.expires.is_some())
    }

    /// Takes what was sent to `to` so far, as text.
    pub fn take(&mut self, to: SocketAddr) -> Vec<String> {
        let (mine, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.sent).into_iter().partition(|(_, addr, _)| *addr == to);
        self.sent = rest;
        mine.into_iter().map(|(_, _, bytes)| String::from_utf8_lossy(&bytes).into_owned()).collect()
    }

    /// Sends a command to node `i`, settles, and returns the one reply it got.
    pub fn ask(&mut self, i: usize, from: SocketAddr, command: &str) -> String {
        self.take(from);
        self.send(i, from, command.as_bytes());
        self.settle();
        let replies = self.take(from);
        assert_eq!(replies.len(), 1, "{command} to n{i} from {from}: {replies:?}");
        replies.into_iter().next().unwrap()
    }

    pub fn create(&mut self, i: usize, from: SocketAddr) -> GroupId {
        let reply = self.ask(i, from, "!CREATE");
        reply.strip_prefix("OK CREATED ").unwrap_or_else(|| panic!("{reply}")).parse().unwrap()
    }

    pub fn join(&mut self, i: usize, from: SocketAddr, group: GroupId) {
        let reply = self.ask(i, from, &format!("!JOIN {group}"));
        assert_eq!(reply, format!("OK JOINED {group}"));
    }

    pub fn who(&mut self, i: usize, from: SocketAddr) -> usize {
        let reply = self.ask(i, from, "!WHO");
        reply.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{reply}"))
    }
}
