//! The relay as a deterministic state machine: datagrams and the time go in, datagrams to send
//! come out. No sockets and no clock here, so every rule is tested by calling [`Relay::handle`]
//! and [`Relay::sweep`] with a chosen `now`.

pub mod cluster;
mod commands;
pub mod limits;
mod logs;
mod members;
pub mod snapshot;
mod state;
mod stats;
mod tokens;

#[cfg(test)]
mod abuse_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::info;
use udprelay_shared::limits::{
    DEFAULT_EMPTY_TTL, DEFAULT_GROUP_CAP, DEFAULT_HEARTBEAT, DEFAULT_MAX_GROUPS_PER_CLIENT,
    MISSED_HEARTBEATS,
};
use udprelay_shared::{ErrorReply, GroupId, Incoming, Reply};

use limits::{AMPLIFICATION, IpKey, Limits, RateTable};
use logs::{Line, LogLimiter};
use members::{MemberKey, Members};
use state::Tables;
pub use stats::{ReplyKind, Stats};
use tokens::Tokens;

/// The relay's rules, fixed at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Suggested heartbeat interval, sent in `PONG`; 3 × this without activity removes a member.
    pub heartbeat: Duration,
    /// How long a group may stay empty before it is deleted.
    pub empty_ttl: Duration,
    /// Largest group size (`None`: no limit).
    pub cap: Option<u32>,
    /// Live groups one address may have created.
    pub max_groups_per_client: u32,
    /// The abuse limits.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            heartbeat: DEFAULT_HEARTBEAT,
            empty_ttl: DEFAULT_EMPTY_TTL,
            cap: Some(DEFAULT_GROUP_CAP),
            max_groups_per_client: DEFAULT_MAX_GROUPS_PER_CLIENT,
            limits: Limits::default(),
        }
    }
}

/// What to send after handling one datagram.
#[derive(Debug)]
pub enum Outgoing<'a> {
    /// Nothing: an empty datagram, or one dropped by a limit.
    Nothing,
    /// One reply, to the sender.
    Reply(Reply),
    /// The payload, verbatim, to each recipient here, and to each other node of the cluster
    /// with members in the group (`forward`, empty when not clustered).
    Relay {
        group: GroupId,
        payload: &'a [u8],
        recipients: Recipients<'a>,
        forward: &'a [cluster::NodeId],
    },
}

/// The members of a group other than the sender; with `--require-validation`, only those whose
/// budget allows this payload (each yielded delivery is counted against it).
#[derive(Debug)]
pub struct Recipients<'a> {
    keys: std::slice::Iter<'a, MemberKey>,
    members: &'a mut Members,
    sender: MemberKey,
    /// The payload's size.
    len: u64,
    /// Budgets are enforced (`--require-validation`).
    budgets: bool,
    stats: &'a mut Stats,
}

impl Iterator for Recipients<'_> {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        loop {
            let key = self.keys.by_ref().copied().find(|&key| key != self.sender)?;
            let member = self.members.get_mut(key);
            let len = self.len;
            if self.budgets && !member.validated {
                if member.relayed + len > AMPLIFICATION * member.received {
                    self.stats.dropped_budget += 1;
                    continue;
                }
                member.relayed += len;
            }
            self.stats.datagrams_out += 1;
            self.stats.deliveries += 1;
            self.stats.bytes_out += len;
            return Some(member.addr);
        }
    }
}

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Members removed for silence.
    pub removed: usize,
    /// Empty groups deleted.
    pub expired: usize,
    /// A table was shrunk (its memory is free to give back).
    pub shrunk: bool,
}

/// All of the relay's state.
pub struct Relay {
    config: Config,
    tables: Tables,
    new_id: Box<dyn FnMut() -> GroupId + Send>,
    stats: Stats,
    /// The time of the first datagram: rates and token windows count from here.
    epoch: Option<Instant>,
    command_rates: Option<RateTable>,
    error_rates: Option<RateTable>,
    tokens: Tokens,
    logs: LogLimiter,
    /// The server's own addresses: nothing from them is answered (a forged source there would
    /// have the relay talk to itself).
    own: Vec<SocketAddr>,
    /// This relay's part in a cluster (`None`: a relay on its own).
    cluster: Option<cluster::Cluster>,
}

impl Relay {
    /// A relay drawing group ids from the thread's cryptographically secure generator.
    pub fn new(config: Config) -> Relay {
        Relay::with_id_source(config, || GroupId::random(&mut rand::rng()))
    }

    /// A relay taking candidate ids from `new_id` (tests use this to force collisions).
    pub fn with_id_source(
        config: Config,
        new_id: impl FnMut() -> GroupId + Send + 'static,
    ) -> Relay {
        let table = |rate: Option<limits::Rate>| rate.map(RateTable::new);
        Relay {
            command_rates: table(config.limits.command_rate),
            error_rates: table(config.limits.error_rate),
            config,
            tables: Tables::default(),
            new_id: Box::new(new_id),
            stats: Stats::default(),
            epoch: None,
            tokens: Tokens::new(),
            logs: LogLimiter::default(),
            own: Vec::new(),
            cluster: None,
        }
    }

    /// Takes new rules while running (SIGHUP). Rate buckets are kept when their rate did not
    /// change; state above a lowered limit stays, and only stops growing.
    pub fn reconfigure(&mut self, config: Config) {
        if config.limits.command_rate != self.config.limits.command_rate {
            self.command_rates = config.limits.command_rate.map(RateTable::new);
        }
        if config.limits.error_rate != self.config.limits.error_rate {
            self.error_rates = config.limits.error_rate.map(RateTable::new);
        }
        self.config = config;
    }

    /// The addresses the relay itself sends from (the shell knows them once it has bound).
    pub fn set_own_addresses(&mut self, own: Vec<SocketAddr>) {
        self.own = own;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn live_groups(&self) -> usize {
        self.tables.groups.len()
    }

    pub fn live_members(&self) -> usize {
        self.tables.members.len()
    }

    /// Live members whose address is validated.
    pub fn validated_members(&self) -> usize {
        self.tables.validated
    }

    /// Handles one received datagram at time `now`.
    pub fn handle<'a>(
        &'a mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'a [u8],
    ) -> Outgoing<'a> {
        self.handle_parsed(now, from, datagram, Incoming::parse(datagram))
    }

    /// Handles a datagram already classified by [`Incoming::parse`] (the shell parses before
    /// it takes the relay's lock, so that hostile input costs nothing under it).
    pub fn handle_parsed<'a>(
        &'a mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'a [u8],
        incoming: Incoming<'a>,
    ) -> Outgoing<'a> {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        self.epoch.get_or_insert(now);
        if self.own.contains(&from) {
            self.stats.dropped_own_address += 1;
            return Outgoing::Nothing;
        }
        let member = self.tables.members.key_of(from);
        if member.is_none() && is_reply_shaped(datagram) {
            // Another server's reply (or a forged one): answering would start a loop.
            self.stats.dropped_loop += 1;
            return Outgoing::Nothing;
        }
        if let Some(key) = member {
            self.tables.members.get_mut(key).received += datagram.len() as u64;
        }
        let is_command = datagram.first() == Some(&b'!');
        if is_command && !self.allow(now, from, Limit::Command) {
            self.stats.dropped_command_rate += 1;
            return Outgoing::Nothing;
        }
        let reply = match incoming {
            Incoming::Empty => return Outgoing::Nothing,
            Incoming::Payload(payload) => return self.relay(now, from, member, payload),
            Incoming::Invalid(error) => {
                if error == ErrorReply::TooLarge {
                    self.stats.oversize += 1;
                }
                Reply::Error(error)
            }
            Incoming::Command(command) => {
                match self.apply(now, from, command, datagram.len() as u64) {
                    Some(reply) => reply,
                    None => return Outgoing::Nothing, // the cluster answers later
                }
            }
        };
        self.reply(now, from, reply)
    }

    /// Sends a reply, unless it is an error over the sender's `--error-rate`.
    fn reply<'a>(&mut self, now: Instant, to: SocketAddr, reply: Reply) -> Outgoing<'a> {
        if matches!(reply, Reply::Error(_)) && !self.allow(now, to, Limit::Error) {
            self.stats.dropped_error_rate += 1;
            return Outgoing::Nothing;
        }
        self.stats.datagrams_out += 1;
        self.stats.replies[ReplyKind::of(&reply) as usize] += 1;
        self.stats.bytes_out += reply.to_string().len() as u64;
        Outgoing::Reply(reply)
    }

    fn allow(&mut self, now: Instant, addr: SocketAddr, limit: Limit) -> bool {
        let table = match limit {
            Limit::Command => &mut self.command_rates,
            Limit::Error => &mut self.error_rates,
        };
        table.as_mut().is_none_or(|table| table.allow(IpKey::of(addr), now))
    }

    /// A payload goes to every other member of the sender's group, and counts as activity.
    /// A member over `--payload-rate` is cut here, before any fan-out work.
    fn relay<'a>(
        &'a mut self,
        now: Instant,
        from: SocketAddr,
        member: Option<MemberKey>,
        payload: &'a [u8],
    ) -> Outgoing<'a> {
        let Some(key) = member else {
            return self.reply(now, from, Reply::Error(ErrorReply::JoinFirst));
        };
        if let Some(rate) = self.config.limits.payload_rate {
            let epoch = self.epoch.unwrap_or(now);
            if !rate.allow(&mut self.tables.members.get_mut(key).payload_tat, epoch, now) {
                self.stats.dropped_payload_rate += 1;
                return Outgoing::Nothing;
            }
        }
        self.tables.members.touch(key, now);
        let group = self.tables.members.get(key).group;
        let forward = match &mut self.cluster {
            Some(cluster) => cluster.forward(&group),
            None => &[],
        };
        Outgoing::Relay {
            group,
            payload,
            forward,
            recipients: Recipients {
                keys: self.tables.groups[&group].members.iter(),
                members: &mut self.tables.members,
                sender: key,
                len: payload.len() as u64,
                budgets: self.config.limits.require_validation,
                stats: &mut self.stats,
            },
        }
    }

    /// Removes a member that could not be sent to: the shell calls this for a send that failed
    /// twice, and for an ICMP error the kernel reported.
    pub fn remove_unreachable(&mut self, now: Instant, addr: SocketAddr) {
        if let Some((group, size)) = self.tables.remove_member(now, addr) {
            self.stats.unreachable += 1;
            if self.logs.admit(now, Line::Removed) {
                info!(%group, %addr, size, "removed (unreachable)");
            }
            self.member_count_changed(now, group);
        }
    }

    /// Removes members silent for more than 3 × heartbeat, then deletes groups empty for more
    /// than the time to live (the original server's strict `<` on both deadlines). Both are
    /// read oldest first and the reading stops at the first that is not due, so a sweep costs
    /// what it removes, not the number of members.
    pub fn sweep(&mut self, now: Instant) -> Swept {
        self.sweep_step(now, usize::MAX).0
    }

    /// A sweep in steps: removes at most `limit` members and groups; `true` when nothing more
    /// is due. The shell unlocks the relay between steps, so that even everyone expiring at
    /// once does not hold up relaying for long.
    pub fn sweep_step(&mut self, now: Instant, limit: usize) -> (Swept, bool) {
        let silence = self.config.heartbeat.saturating_mul(MISSED_HEARTBEATS);
        let mut swept = Swept::default();
        while let Some(key) = self.tables.members.oldest() {
            let member = self.tables.members.get(key);
            if now.saturating_duration_since(member.last_active) <= silence {
                break;
            }
            if swept.removed == limit {
                return (self.count(swept), false);
            }
            let addr = member.addr;
            let (group, size) = self.tables.remove_member_by_key(now, key);
            if self.logs.admit(now, Line::Removed) {
                info!(%group, %addr, size, "removed (inactive)");
            }
            self.member_count_changed(now, group);
            swept.removed += 1;
        }

        // In a cluster, empty groups expire in the directory (its time to live), wherever they
        // were created; the node hears of it there.
        let ttl = self.config.empty_ttl;
        let expired = match self.cluster {
            Some(_) => Vec::new(),
            None => self.tables.remove_groups_empty_longer_than(now, ttl, limit - swept.removed),
        };
        for (group, creator) in &expired {
            if self.logs.admit(now, Line::Expired) {
                let addr = creator.map_or("elsewhere".to_string(), |addr| addr.to_string());
                info!(%group, addr = %addr, size = 0, "expired");
            }
        }
        swept.expired = expired.len();
        let done = swept.removed + swept.expired < limit;
        if done {
            self.logs.flush(now);
            swept.shrunk = self.tables.shrink() | self.shrink_cluster();
        }
        (self.count(swept), done)
    }

    fn count(&mut self, swept: Swept) -> Swept {
        self.stats.removals += swept.removed as u64;
        self.stats.expiries += swept.expired as u64;
        swept
    }
}

/// The per-IP rates kept in tables.
#[derive(Clone, Copy)]
enum Limit {
    Command,
    Error,
}

/// Whether a datagram looks like a server's reply (docs/protocol.md, "No reply loops").
fn is_reply_shaped(datagram: &[u8]) -> bool {
    datagram.starts_with(b"OK ") || datagram.starts_with(b"ERR ") || datagram.starts_with(b"PONG")
}
