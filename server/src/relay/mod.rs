//! The relay as a deterministic state machine: datagrams and the time go in, datagrams to send
//! come out. No sockets and no clock here, so every rule is tested by calling [`Relay::handle`]
//! and [`Relay::sweep`] with a chosen `now`.

mod members;
mod state;
mod stats;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::info;
use udprelay_shared::limits::{
    DEFAULT_EMPTY_TTL, DEFAULT_GROUP_CAP, DEFAULT_HEARTBEAT, DEFAULT_MAX_GROUPS_PER_CLIENT,
    MISSED_HEARTBEATS,
};
use udprelay_shared::{Command, ErrorReply, GroupId, Incoming, Reply};

use members::{MemberKey, Members};
use state::Tables;
pub use stats::Stats;

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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            heartbeat: DEFAULT_HEARTBEAT,
            empty_ttl: DEFAULT_EMPTY_TTL,
            cap: Some(DEFAULT_GROUP_CAP),
            max_groups_per_client: DEFAULT_MAX_GROUPS_PER_CLIENT,
        }
    }
}

/// What to send after handling one datagram.
#[derive(Debug)]
pub enum Outgoing<'a> {
    /// Nothing (an empty datagram).
    Nothing,
    /// One reply, to the sender.
    Reply(Reply),
    /// The payload, verbatim, to each recipient.
    Relay { payload: &'a [u8], recipients: Recipients<'a> },
}

/// The members of a group other than the sender.
#[derive(Debug, Clone)]
pub struct Recipients<'a> {
    keys: std::slice::Iter<'a, MemberKey>,
    members: &'a Members,
    sender: MemberKey,
}

impl Iterator for Recipients<'_> {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        let key = self.keys.by_ref().copied().find(|&key| key != self.sender)?;
        Some(self.members.get(key).addr)
    }
}

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Members removed for silence.
    pub removed: usize,
    /// Empty groups deleted.
    pub expired: usize,
}

/// All of the relay's state.
pub struct Relay {
    config: Config,
    tables: Tables,
    new_id: Box<dyn FnMut() -> GroupId + Send>,
    stats: Stats,
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
        Relay {
            config,
            tables: Tables::default(),
            new_id: Box::new(new_id),
            stats: Stats::default(),
        }
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

    /// Handles one received datagram at time `now`.
    pub fn handle<'a>(
        &'a mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'a [u8],
    ) -> Outgoing<'a> {
        self.stats.datagrams_in += 1;
        let reply = match Incoming::parse(datagram) {
            Incoming::Empty => return Outgoing::Nothing,
            Incoming::Payload(payload) => return self.relay(now, from, payload),
            Incoming::Invalid(error) => {
                if error == ErrorReply::TooLarge {
                    self.stats.oversize += 1;
                }
                Reply::Error(error)
            }
            Incoming::Command(command) => self.apply(now, from, command),
        };
        self.stats.datagrams_out += 1;
        Outgoing::Reply(reply)
    }

    fn apply(&mut self, now: Instant, from: SocketAddr, command: Command) -> Reply {
        let result = match command {
            Command::Create { cap } => self.create(now, from, cap),
            Command::Join(id) => self.join(now, from, id),
            Command::Leave(id) => self.leave(now, from, id),
            Command::Ping(_) => self.ping(now, from),
            Command::Who => self.who(from),
        };
        result.unwrap_or_else(Reply::Error)
    }

    /// `!CREATE [<n>]` → `OK CREATED <id>`, or `ERR CLIENT_LIMIT <used>/<max>`.
    fn create(
        &mut self,
        now: Instant,
        from: SocketAddr,
        cap: Option<u32>,
    ) -> Result<Reply, ErrorReply> {
        let used = self.tables.created_by(from);
        let max = self.config.max_groups_per_client;
        if used >= max {
            return Err(ErrorReply::ClientLimit { used, max });
        }
        let id = loop {
            let candidate = (self.new_id)();
            if !self.tables.groups.contains_key(&candidate) {
                break candidate;
            }
        };
        let cap = match (cap, self.config.cap) {
            (Some(asked), Some(global)) => Some(asked.min(global)),
            (asked, global) => asked.or(global),
        };
        self.tables.add_group(now, id, from, cap);
        self.stats.creates += 1;
        let cap_text = cap.map_or("none".to_string(), |cap| cap.to_string());
        info!(group = %id, addr = %from, size = 0, cap = %cap_text, "create");
        Ok(Reply::Created(id))
    }

    /// `!JOIN <id>` → `OK JOINED <id>`, or `ERR BAD_ARG NoSuchGroup`, `ERR GROUP_FULL <id>`.
    fn join(&mut self, now: Instant, from: SocketAddr, id: GroupId) -> Result<Reply, ErrorReply> {
        let group = self.tables.groups.get(&id).ok_or(ErrorReply::NoSuchGroup)?;
        if let Some(key) = self.tables.members.key_of(from)
            && self.tables.members.get(key).group == id
        {
            self.tables.members.touch(key, now);
            return Ok(Reply::Joined(id));
        }
        if group.is_full() {
            return Err(ErrorReply::GroupFull(id));
        }
        if let Some((old, size)) = self.tables.remove_member(now, from) {
            info!(group = %old, addr = %from, size, "leave (joined another group)");
        }
        let size = self.tables.add_member(now, from, id);
        self.stats.joins += 1;
        info!(group = %id, addr = %from, size, "join");
        Ok(Reply::Joined(id))
    }

    /// `!LEAVE <id>` → `OK LEFT <id>`, or `ERR NOT_IN_GROUP NotInThatGroup`.
    fn leave(&mut self, now: Instant, from: SocketAddr, id: GroupId) -> Result<Reply, ErrorReply> {
        let members = &self.tables.members;
        if members.key_of(from).is_none_or(|key| members.get(key).group != id) {
            return Err(ErrorReply::NotInThatGroup);
        }
        let (_, size) = self.tables.remove_member(now, from).expect("checked above");
        self.stats.leaves += 1;
        info!(group = %id, addr = %from, size, "leave");
        Ok(Reply::Left(id))
    }

    /// `!PING` → `PONG <seconds>`, or `ERR NOT_IN_GROUP JoinFirstUseJOIN`.
    fn ping(&mut self, now: Instant, from: SocketAddr) -> Result<Reply, ErrorReply> {
        let key = self.tables.members.key_of(from).ok_or(ErrorReply::JoinFirst)?;
        self.tables.members.touch(key, now);
        Ok(Reply::Pong { interval: self.config.heartbeat, token: None })
    }

    /// `!WHO` → `OK WHO <id> <count>`, or `ERR NOT_IN_GROUP JoinFirstUseJOIN`. Not activity.
    fn who(&self, from: SocketAddr) -> Result<Reply, ErrorReply> {
        let key = self.tables.members.key_of(from).ok_or(ErrorReply::JoinFirst)?;
        let member = self.tables.members.get(key);
        let members = self.tables.groups[&member.group].members.len();
        Ok(Reply::Who { group: member.group, members })
    }

    /// A payload goes to every other member of the sender's group, and counts as activity.
    fn relay<'a>(&'a mut self, now: Instant, from: SocketAddr, payload: &'a [u8]) -> Outgoing<'a> {
        let Some(key) = self.tables.members.key_of(from) else {
            self.stats.datagrams_out += 1;
            return Outgoing::Reply(Reply::Error(ErrorReply::JoinFirst));
        };
        self.tables.members.touch(key, now);
        let members = &self.tables.members;
        let group = &self.tables.groups[&members.get(key).group].members;
        self.stats.datagrams_out += group.len() as u64 - 1;
        Outgoing::Relay {
            payload,
            recipients: Recipients { keys: group.iter(), members, sender: key },
        }
    }

    /// Removes a member that could not be sent to (the shell saw the send fail).
    pub fn remove_unreachable(&mut self, now: Instant, addr: SocketAddr) {
        if let Some((group, size)) = self.tables.remove_member(now, addr) {
            self.stats.removals += 1;
            info!(%group, %addr, size, "removed (unreachable)");
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
            info!(%group, %addr, size, "removed (inactive)");
            swept.removed += 1;
        }

        let ttl = self.config.empty_ttl;
        let expired = self.tables.remove_groups_empty_longer_than(now, ttl, limit - swept.removed);
        for (group, creator) in &expired {
            info!(%group, addr = %creator, size = 0, "expired");
        }
        swept.expired = expired.len();
        let done = swept.removed + swept.expired < limit;
        (self.count(swept), done)
    }

    fn count(&mut self, swept: Swept) -> Swept {
        self.stats.removals += swept.removed as u64;
        self.stats.expiries += swept.expired as u64;
        swept
    }
}
