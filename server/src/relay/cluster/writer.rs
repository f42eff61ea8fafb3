//! This node's writes to the directory, one group at a time: at most one request per group
//! under way, and everything that arrives meanwhile (joins, leaves, members gone silent) goes
//! into the next write, so a busy group costs one write per round trip rather than one per
//! join. A join is answered only once the directory holds it, and other nodes have been told
//! when this node is new to the group (so that the first payloads reach the new member).
//!
//! The count this node writes is always what it has (its members, plus the joins it admits
//! in that write), never a difference: a write that was lost or undone is set right by the
//! next one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{info, warn};
use udprelay_shared::{ErrorReply, GroupId, Reply};

use super::super::logs::Line;
use super::{Expect, OpId, Record, Request, Response};
use crate::relay::Relay;

/// The first wait after a failed request; doubled after each failure in a row, up to
/// [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MOST_BACKOFF: Duration = Duration::from_secs(5);

/// Compare-and-set conflicts in a row on one group that are retried at once (nodes racing on
/// one record is ordinary: the bench's joins from three nodes at once see three in a row);
/// after that the retries back off, from [`CONFLICT_BACKOFF`] doubling up to
/// [`MOST_CONFLICT_BACKOFF`], each plus as much again of jitter at most.
pub(super) const FREE_CONFLICTS: u32 = 3;
const CONFLICT_BACKOFF: Duration = Duration::from_millis(1);
const MOST_CONFLICT_BACKOFF: Duration = Duration::from_millis(250);

/// Conflicts in a row from which the group's waiting joins are told `ERR BUSY TryAgain`
/// rather than kept waiting for a directory that will not settle (someone writes the record
/// over and over); the work goes on being tried, at most twice a second or so.
pub const MAX_CONFLICTS: u32 = 8;

/// A `!JOIN` waiting for the directory.
#[derive(Debug, Clone, Copy)]
pub(super) struct Joiner {
    pub addr: SocketAddr,
    /// The join's size, counted toward what the address sent once it is a member.
    pub received: u64,
}

/// What is under way for one group.
#[derive(Debug)]
pub(super) enum Step {
    Idle,
    Reading(OpId),
    Writing { op: OpId, admitted: Vec<Joiner>, written: Record, kind: Kind, routed: bool },
    Announcing { op: OpId, admitted: Vec<Joiner> },
}

impl Step {
    fn op(&self) -> Option<OpId> {
        match self {
            Step::Idle => None,
            Step::Reading(op) | Step::Writing { op, .. } | Step::Announcing { op, .. } => Some(*op),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// A compare-and-set of this node's count.
    Update,
    /// `!CREATE` from `creator`, its `attempt`th id.
    Create { creator: SocketAddr, attempt: u32 },
    /// The group vanished from the directory while this node still had members in it.
    Recreate,
    /// An empty record with no time to live, written again with one (see
    /// `Relay::expire_abandoned`).
    Expire,
}

/// One group's directory work.
#[derive(Debug)]
pub(super) struct Pending {
    pub waiting: VecDeque<Joiner>,
    pub step: Step,
    /// This node's count may differ from what the directory holds.
    pub dirty: bool,
    /// The copy of the record was just read or written, so it may refuse a join (`GROUP_FULL`,
    /// `NoSuchGroup`); a copy from the change feed may lag, and is read again first.
    fresh: bool,
    failures: u32,
    /// Compare-and-set conflicts in a row.
    conflicts: u32,
    pub retry_at: Option<Instant>,
}

impl Default for Pending {
    fn default() -> Pending {
        Pending {
            waiting: VecDeque::new(),
            step: Step::Idle,
            dirty: false,
            fresh: false,
            failures: 0,
            conflicts: 0,
            retry_at: None,
        }
    }
}

impl Relay {
    pub(super) fn pending_mut(&mut self, group: GroupId) -> Option<&mut Pending> {
        self.cluster.as_mut()?.pending.get_mut(&group)
    }

    pub(super) fn pending_or_new(&mut self, group: GroupId) -> &mut Pending {
        let cluster = self.cluster.as_mut().expect("only clustered relays have pending work");
        cluster.pending.entry(group).or_default()
    }

    pub(super) fn local_count(&self, group: GroupId) -> usize {
        self.tables.groups.get(&group).map_or(0, |g| g.members.len())
    }

    /// This node's membership of `group` changed (a join, leave, move or removal): the
    /// directory is told, and a group created elsewhere is forgotten here once nobody here is in
    /// it (the directory keeps it).
    pub(crate) fn member_count_changed(&mut self, now: Instant, group: GroupId) {
        if self.cluster.is_none() {
            return;
        }
        if self
            .tables
            .groups
            .get(&group)
            .is_some_and(|g| g.members.is_empty() && g.creator.is_none())
        {
            self.tables.remove_group(group);
        }
        self.pending_or_new(group).dirty = true;
        self.advance(now, group);
    }

    /// A group this node held is gone from the directory (expired): gone here too.
    pub(super) fn expired(&mut self, now: Instant, group: GroupId) {
        if let Some(creator) = self.tables.remove_group(group) {
            self.stats.expiries += 1;
            if self.logs.admit(now, Line::Expired) {
                let addr = creator.map_or("elsewhere".to_string(), |addr| addr.to_string());
                info!(%group, addr = %addr, size = 0, "expired");
            }
        }
    }

    /// Starts the group's next request if nothing is under way and there is work.
    pub(super) fn advance(&mut self, now: Instant, group: GroupId) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        let connected = cluster.connected;
        let joining = &cluster.joining;
        let Some(pending) = cluster.pending.get_mut(&group) else { return };
        // Joins that a later join from the same address replaced are dropped unanswered.
        pending.waiting.retain(|joiner| joining.get(&joiner.addr).map(|j| j.0) == Some(group));
        if !connected && matches!(pending.step, Step::Idle) {
            // Cut off: nobody waits for a directory that cannot be reached.
            let busy: Vec<Joiner> = pending.waiting.drain(..).collect();
            for joiner in busy {
                self.refuse(now, joiner, ErrorReply::Busy);
            }
            return;
        }
        if !matches!(pending.step, Step::Idle) || pending.retry_at.is_some() {
            return;
        }
        if pending.waiting.is_empty() && !pending.dirty {
            cluster.pending.remove(&group);
            return;
        }
        match cluster.replica.get(&group) {
            None if !pending.fresh => self.read(group),
            None => self.absent(now, group),
            Some(_) => self.compose(now, group),
        }
    }

    fn read(&mut self, group: GroupId) {
        let cluster = self.cluster.as_mut().expect("clustered");
        let op = cluster.op(group);
        cluster.stats.directory_reads += 1;
        cluster.requests.push_back(Request::Read { op, group });
        self.pending_or_new(group).step = Step::Reading(op);
    }

    /// The directory has just said there is no such group.
    fn absent(&mut self, now: Instant, group: GroupId) {
        let pending = self.pending_or_new(group);
        pending.fresh = false;
        pending.dirty = false;
        let refused: Vec<Joiner> = pending.waiting.drain(..).collect();
        for joiner in refused {
            self.refuse(now, joiner, ErrorReply::NoSuchGroup);
        }
        let local = self.local_count(group);
        if local == 0 {
            self.expired(now, group);
            return self.advance(now, group);
        }
        // Members here, and no record: it expired while this node was cut off. Put it back
        // as this node knows it.
        let cluster = self.cluster.as_mut().expect("clustered");
        let held = &self.tables.groups[&group];
        let mut record = Record {
            node: cluster.me().clone(),
            creator: held.creator.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
            cap: held.cap,
            members: Default::default(),
        };
        record.set_count(&cluster.config.node, count(local));
        warn!(%group, members = local, "group missing from the directory: written again");
        let op = cluster.op(group);
        cluster.stats.directory_writes += 1;
        let expect = Expect::Absent;
        cluster.requests.push_back(Request::Write {
            op,
            group,
            record: record.clone(),
            expect,
            ttl: None,
        });
        let step = Step::Writing {
            op,
            admitted: Vec::new(),
            written: record,
            kind: Kind::Recreate,
            routed: false,
        };
        self.pending_or_new(group).step = step;
    }

    /// Writes this node's count, admitting the waiting joins that fit under the cap.
    fn compose(&mut self, now: Instant, group: GroupId) {
        let local = self.local_count(group);
        let cluster = self.cluster.as_mut().expect("clustered");
        let me = cluster.me().clone();
        let entry = cluster.replica.get(&group).expect("composed from a known record");
        let (revision, routed) = (entry.revision, entry.record.count(&me) > 0);
        let mut record = entry.record.clone();
        for dead in cluster.replica.dead() {
            record.members.remove(dead);
        }
        let others = record.others(&me);
        let pending = cluster.pending.get_mut(&group).expect("advance checked");
        let room = record.cap.map(|cap| u64::from(cap).saturating_sub(others));
        // Refusing needs a record known to be current: a copy from the feed may lag behind a
        // leave on another node.
        let short = room.is_some_and(|room| local as u64 + pending.waiting.len() as u64 > room);
        if short && !pending.fresh {
            return self.read(group);
        }
        pending.fresh = false;
        pending.dirty = false;
        let mut evict = room.map_or(0, |room| (local as u64).saturating_sub(room) as usize);
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        let mut room_left = room.map(|room| room.saturating_sub(local as u64));
        let waiting: Vec<Joiner> = pending.waiting.drain(..).collect();
        for joiner in waiting {
            if room_left == Some(0) {
                refused.push((joiner, ErrorReply::GroupFull(group)));
                continue;
            }
            match self.member_limits(joiner.addr, admitted.len()) {
                Ok(()) => {
                    room_left = room_left.map(|left| left - 1);
                    admitted.push(joiner);
                }
                Err(error) => refused.push((joiner, error)),
            }
        }
        for (joiner, error) in refused {
            self.refuse(now, joiner, error);
        }
        // The cluster filled the group while this node's members were not counted (it was cut
        // off, or counted dead): those over the cap must go (the last of its list).
        while evict > 0 {
            let key = *self.tables.groups[&group].members.last().expect("more members than room");
            let addr = self.tables.members.get(key).addr;
            self.tables.remove_member_by_key(now, key);
            warn!(%group, %addr, "removed: the cluster filled the group while this node was cut off");
            let cluster = self.cluster.as_mut().expect("clustered");
            cluster.stats.evicted += 1;
            evict -= 1;
        }
        let local = self.local_count(group);
        if local == 0 && self.tables.groups.get(&group).is_some_and(|g| g.creator.is_none()) {
            self.tables.remove_group(group);
        }
        let cluster = self.cluster.as_mut().expect("clustered");
        record.set_count(&me, count(local + admitted.len()));
        let unchanged = cluster.replica.get(&group).is_some_and(|entry| entry.record == record);
        if unchanged && admitted.is_empty() {
            return self.advance(now, group);
        }
        let ttl = (record.total() == 0).then_some(self.config.empty_ttl);
        self.write(group, record, revision, ttl, admitted, Kind::Update, routed);
    }

    /// Asks the shell to write `record` over `revision`, and waits for the answer.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        group: GroupId,
        record: Record,
        revision: u64,
        ttl: Option<Duration>,
        admitted: Vec<Joiner>,
        kind: Kind,
        routed: bool,
    ) {
        let cluster = self.cluster.as_mut().expect("clustered");
        let op = cluster.op(group);
        cluster.stats.directory_writes += 1;
        let expect = Expect::Revision(revision);
        let written = record.clone();
        cluster.requests.push_back(Request::Write { op, group, record, expect, ttl });
        self.pending_or_new(group).step = Step::Writing { op, admitted, written, kind, routed };
    }

    /// What the shell reports about a request.
    pub(super) fn complete(&mut self, now: Instant, response: Response) {
        let op = match &response {
            Response::Written { op, .. }
            | Response::Conflict { op, .. }
            | Response::Read { op, .. }
            | Response::Failed { op }
            | Response::Announced { op } => *op,
            _ => return,
        };
        let Some(cluster) = self.cluster.as_mut() else { return };
        let Some(group) = cluster.ops.remove(&op) else { return };
        let Some(pending) = cluster.pending.get_mut(&group) else { return };
        if pending.step.op() != Some(op) {
            return; // not what this group waits for (never sent by the shell)
        }
        let step = std::mem::replace(&mut pending.step, Step::Idle);
        match (step, response) {
            (Step::Reading(_), Response::Read { current, revision, .. }) => {
                cluster.replica.apply(now, group, current, revision);
                pending.fresh = true;
                pending.failures = 0;
            }
            (
                Step::Writing { admitted, written, kind, routed, .. },
                Response::Written { revision, .. },
            ) => {
                cluster.replica.apply(now, group, Some(written.clone()), revision);
                pending.failures = 0;
                pending.conflicts = 0;
                self.written(now, group, admitted, written, kind, routed);
            }
            (
                Step::Writing { kind: Kind::Expire, .. },
                Response::Conflict { current, revision, .. },
            ) => {
                // Written meanwhile: whoever wrote it looks after it.
                cluster.stats.directory_conflicts += 1;
                cluster.replica.apply(now, group, current, revision);
            }
            (
                Step::Writing { admitted, written, kind, .. },
                Response::Conflict { current, revision, .. },
            ) => {
                cluster.stats.directory_conflicts += 1;
                cluster.replica.apply(now, group, current, revision);
                pending.fresh = true;
                pending.dirty = true;
                pending.conflicts += 1;
                for joiner in admitted.into_iter().rev() {
                    pending.waiting.push_front(joiner);
                }
                if let Kind::Create { creator, attempt } = kind {
                    // The id was taken (by a create on another node): another id.
                    cluster.pending.remove(&group);
                    self.stop_creating(creator);
                    self.retry_create(now, creator, written.cap, attempt);
                } else if pending.conflicts > FREE_CONFLICTS {
                    let conflicts = pending.conflicts;
                    let doublings = (conflicts - FREE_CONFLICTS - 1).min(16);
                    let wait = CONFLICT_BACKOFF.saturating_mul(1 << doublings);
                    let wait = wait.min(MOST_CONFLICT_BACKOFF);
                    pending.retry_at = Some(now + wait + jitter(group, conflicts, wait));
                    if conflicts >= MAX_CONFLICTS && !pending.waiting.is_empty() {
                        cluster.stats.unsettled += 1;
                        let busy: Vec<Joiner> = pending.waiting.drain(..).collect();
                        if self.logs.admit(now, Line::Cluster) {
                            warn!(%group, conflicts, "the directory will not settle on this group: joins told to try again");
                        }
                        for joiner in busy {
                            self.refuse(now, joiner, ErrorReply::Busy);
                        }
                    }
                }
            }
            (Step::Announcing { admitted, .. }, Response::Announced { .. }) => {
                self.finalize(now, group, admitted);
            }
            (step, _) => {
                // Failed (or an answer that does not fit, which the shell never sends): nobody
                // waits on the directory any longer than this.
                cluster.stats.directory_failures += 1;
                pending.failures += 1;
                let backoff = FIRST_BACKOFF.saturating_mul(1 << pending.failures.min(5)) / 2;
                pending.retry_at = Some(now + backoff.min(MOST_BACKOFF));
                pending.dirty = true;
                let mut busy: Vec<Joiner> = pending.waiting.drain(..).collect();
                match step {
                    Step::Writing { admitted, kind: Kind::Create { creator, .. }, .. } => {
                        cluster.pending.remove(&group);
                        busy.extend(admitted);
                        self.stop_creating(creator);
                        self.answer_later(now, creator, Reply::Error(ErrorReply::Busy));
                    }
                    Step::Writing { admitted, .. } | Step::Announcing { admitted, .. } => {
                        busy.extend(admitted)
                    }
                    Step::Reading(_) | Step::Idle => {}
                }
                for joiner in busy {
                    self.refuse(now, joiner, ErrorReply::Busy);
                }
            }
        }
        self.advance(now, group);
    }

    fn written(
        &mut self,
        now: Instant,
        group: GroupId,
        admitted: Vec<Joiner>,
        written: Record,
        kind: Kind,
        routed: bool,
    ) {
        if let Kind::Create { creator, .. } = kind {
            return self.created(now, group, creator, written.cap);
        }
        if let Kind::Expire = kind {
            return;
        }
        if admitted.is_empty() {
            return;
        }
        let cluster = self.cluster.as_mut().expect("clustered");
        let to = cluster.replica.routes(&group).to_vec();
        if routed || to.is_empty() {
            return self.finalize(now, group, admitted);
        }
        let op = cluster.op(group);
        cluster.stats.announcements += 1;
        cluster.requests.push_back(Request::Announce { op, group, to });
        self.pending_or_new(group).step = Step::Announcing { op, admitted };
    }
}

impl Relay {
    /// Writes an abandoned empty record again, unchanged, with a short time to live.
    pub(super) fn expire_record(&mut self, group: GroupId, record: Record, revision: u64) {
        let ttl = Some(Duration::from_secs(1));
        self.write(group, record, revision, ttl, Vec::new(), Kind::Expire, true);
    }
}

/// A wait of 0 to `most` that differs between groups, tries and processes, so that nodes
/// racing on one record do not retry in step (the core draws no random numbers of its own).
fn jitter(group: GroupId, attempt: u32, most: Duration) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    thread_local! { static KEY: RandomState = RandomState::new(); }
    let hash = KEY.with(|key| key.hash_one((group, attempt)));
    let micros = u64::try_from(most.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(hash % micros.saturating_add(1))
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
