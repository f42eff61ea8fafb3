//! What the cluster shell hands the core (responses to its requests, the directory's changes,
//! heartbeats, payloads from other nodes) and the clock's work (heartbeats out, silent nodes
//! counted dead, retries).

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, error, info, warn};
use udprelay_shared::{ErrorReply, GroupId, Reply};

use super::super::logs::Line;
use super::super::members::MemberKey;
use super::super::{Outgoing, Recipients};
use super::replica::Heard;
use super::{ABANDONED_GRACE, Heartbeat, NodeId, Record, Request, Response, Verdict};
use crate::relay::Relay;

impl Relay {
    /// Runs what is due at `now`: this node's heartbeat, counting silent nodes dead, and
    /// directory work waiting after a failure.
    pub fn cluster_tick(&mut self, now: Instant) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        // Records this node read or wrote for its own work count senders too.
        for group in cluster.held.groups() {
            self.release_held(now, group);
        }
        let Some(cluster) = self.cluster.as_mut() else { return };
        let expired = cluster.held.expire(now);
        if expired > 0 {
            cluster.stats.refused_payloads += expired as u64;
            if self.logs.admit(now, Line::Cluster) {
                debug!(
                    expired,
                    "payloads from other nodes dropped: the directory did not count their senders within {:?}",
                    super::HOLD
                );
            }
        }
        let Some(cluster) = self.cluster.as_mut() else { return };
        if !cluster.connected {
            return;
        }
        let beat = cluster.next_heartbeat.is_none_or(|due| due <= now);
        if beat {
            cluster.next_heartbeat = Some(now + cluster.config.heartbeat);
            let heartbeat = Heartbeat {
                node: cluster.me().clone(),
                instance: cluster.instance,
                leaving: false,
            };
            cluster.requests.push_back(Request::Heartbeat(heartbeat));
        }
        // Two and a half heartbeats of silence: with the tick and the heartbeat's own trip, a
        // node that dies just after its heartbeat is still counted out within three.
        let silence = cluster.config.heartbeat.saturating_mul(5) / 2;
        let dead = cluster.replica.expire(now, silence);
        for node in &dead {
            cluster.stats.nodes_dead += 1;
            if self.logs.admit(now, Line::Cluster) {
                warn!(node = %node, "node dead: no heartbeat for {silence:?}; its members are counted out");
            }
        }
        // Newly dead nodes at once; what is left of earlier ones (a write that failed) at each
        // heartbeat, not at every tick: it reads every group of the directory.
        if beat || !dead.is_empty() {
            self.clear_dead_nodes(now);
        }
        if beat {
            self.expire_abandoned(now);
        }
        let due: Vec<GroupId> = self
            .cluster
            .as_ref()
            .map(|cluster| {
                let retries = cluster.pending.iter();
                retries.filter(|(_, p)| p.retry_at.is_some_and(|at| at <= now)).map(|(g, _)| *g)
            })
            .into_iter()
            .flatten()
            .collect();
        for group in due {
            if let Some(pending) = self.pending_mut(group) {
                pending.retry_at = None;
            }
            self.advance(now, group);
        }
    }

    /// The heartbeat that says this node is leaving (a clean stop), for the shell to publish.
    pub fn farewell(&self) -> Option<Heartbeat> {
        let cluster = self.cluster.as_ref()?;
        Some(Heartbeat { node: cluster.me().clone(), instance: cluster.instance, leaving: true })
    }

    /// Takes in what the cluster shell reports.
    pub fn cluster_receive(&mut self, now: Instant, response: Response) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        match response {
            Response::Connection { up } => {
                if cluster.connected == up {
                    return;
                }
                cluster.connected = up;
                if up {
                    info!("connected to the cluster");
                    cluster.replica.restart_clocks(now);
                    cluster.next_heartbeat = None;
                    // Whatever happened meanwhile, the directory gets this node's counts again.
                    let groups: Vec<GroupId> = self.tables.groups.keys().copied().collect();
                    for group in groups {
                        self.member_count_changed(now, group);
                    }
                    self.cluster_tick(now);
                } else {
                    warn!("cut off from the cluster: creates and joins get ERR BUSY TryAgain");
                    let groups: Vec<GroupId> = cluster.pending.keys().copied().collect();
                    for group in groups {
                        self.advance(now, group);
                    }
                }
            }
            Response::Heartbeat(heartbeat) if heartbeat.leaving => {
                let Heartbeat { node, instance, .. } = heartbeat;
                if node != *cluster.me() && cluster.replica.left(now, &node, instance) {
                    if self.logs.admit(now, Line::Cluster) {
                        info!(node = %node, "node left the cluster");
                    }
                    cluster.stats.nodes_dead += 1;
                    self.clear_dead_nodes(now);
                }
            }
            Response::Heartbeat(heartbeat) => {
                let gap = cluster.config.heartbeat;
                match cluster.replica.heard(now, &heartbeat.node, heartbeat.instance, gap) {
                    Heard::Known => {}
                    Heard::Arrived => {
                        if self.logs.admit(now, Line::Cluster) {
                            info!(node = %heartbeat.node, "node joined the cluster");
                        }
                    }
                    Heard::Impostor if !cluster.impostor_seen => {
                        cluster.impostor_seen = true;
                        error!(
                            node = %heartbeat.node,
                            "another relay runs under this node's name: give each node its own --node-name"
                        );
                    }
                    Heard::Impostor => {}
                    Heard::Ignored => {
                        cluster.stats.ignored_heartbeats += 1;
                        if !cluster.ignored_seen {
                            cluster.ignored_seen = true;
                            warn!(
                                node = %heartbeat.node,
                                "heartbeats not taken: a node restarting over and over, or more \
                                 than 256 node names (counted in udprelay_cluster_ignored_heartbeats_total; said once)"
                            );
                        }
                    }
                }
            }
            Response::Changed { group, current, revision } => {
                self.directory_changed(now, group, current, revision)
            }
            response => self.complete(now, response),
        }
    }

    /// A payload that node `from` sent for `group`: to every member here. Members are not
    /// touched by it (the sender is elsewhere).
    ///
    /// NATS input is hostile input: a payload goes nowhere unless UDP could have carried it (1
    /// to 4096 bytes, not starting with `!`), `from` has members in the group by this node's
    /// copy of the directory, and `from` is within its delivery budget
    /// ([`super::NODE_DELIVERY_RATE`]). One whose sender the copy does not count yet waits for
    /// it ([`super::held`]); its recipients come later from [`Relay::poll_delivery`]. What is
    /// refused is counted (`refused_payloads`).
    pub fn deliver(
        &mut self,
        now: Instant,
        from: &NodeId,
        group: GroupId,
        payload: &[u8],
    ) -> Recipients<'_> {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += payload.len() as u64;
        let members = self.tables.groups.get(&group).map_or(0, |g| g.members.len());
        let Some(cluster) = self.cluster.as_mut() else { return self.recipients(None, 0) };
        cluster.stats.received += 1;
        let refusal = match cluster.verdict(now, from, group, payload, members) {
            Verdict::Deliver => return self.recipients(Some(group), payload.len()),
            Verdict::Hold if cluster.held.hold(now, from, group, payload) => {
                cluster.stats.held_payloads += 1;
                return self.recipients(None, 0);
            }
            Verdict::Hold => "too many payloads already wait for the directory",
            Verdict::Refuse(why) => why,
        };
        cluster.stats.refused_payloads += 1;
        if self.logs.admit(now, Line::Cluster) {
            debug!(node = %from, %group, why = refusal, "payload from another node dropped");
        }
        self.recipients(None, 0)
    }

    /// The members of `group` here, for a payload of `len` bytes from another node (`None`:
    /// nobody).
    fn recipients(&mut self, group: Option<GroupId>, len: usize) -> Recipients<'_> {
        const NOBODY: MemberKey = MemberKey::MAX;
        let groups = &self.tables.groups;
        let keys = group.and_then(|group| groups.get(&group)).map_or(&[][..], |g| &g.members[..]);
        Recipients {
            keys: keys.iter(),
            members: &mut self.tables.members,
            sender: NOBODY,
            len: len as u64,
            budgets: self.config.limits.require_validation,
            stats: &mut self.stats,
        }
    }

    /// After a change of `group`'s record: the payloads that waited for it to count their
    /// senders go out (within each sender's budget), in the order they came.
    fn release_held(&mut self, now: Instant, group: GroupId) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        if cluster.held.is_empty() {
            return;
        }
        let entry = cluster.replica.get(&group);
        let released =
            cluster.held.release(group, |node| entry.is_some_and(|e| e.record.count(node) > 0));
        let members = self.tables.groups.get(&group).map_or(0, |g| g.members.len());
        for (from, payload) in released {
            let Some(cluster) = self.cluster.as_mut() else { return };
            if !cluster.within_budget(now, &from, members) {
                cluster.stats.refused_payloads += 1;
                continue;
            }
            let to: Vec<SocketAddr> = self.recipients(Some(group), payload.len()).collect();
            if let Some(cluster) = self.cluster.as_mut() {
                cluster.deliveries.push_back((payload, to));
            }
        }
    }

    /// A reply that had to wait for the cluster, sent unless it is an error over the
    /// receiver's `--error-rate`.
    pub(super) fn answer_later(&mut self, now: Instant, to: SocketAddr, reply: Reply) {
        if reply == Reply::Error(ErrorReply::Busy)
            && let Some(cluster) = self.cluster.as_mut()
        {
            cluster.stats.busy += 1;
        }
        if let Outgoing::Reply(reply) = self.reply(now, to, reply)
            && let Some(cluster) = self.cluster.as_mut()
        {
            cluster.replies.push_back((to, reply));
        }
    }

    /// When a node is dead, the janitor writes every group that still counts members there.
    pub(super) fn clear_dead_nodes(&mut self, now: Instant) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        // The janitor clears at once; if dead nodes' counts are still there two heartbeats on
        // (the janitor's name heartbeats but does not do its work), every node does.
        let overdue = now
            .checked_sub(cluster.config.heartbeat * 2)
            .is_some_and(|since| cluster.replica.dead_before(since));
        if cluster.replica.dead().next().is_none() || !(cluster.replica.is_janitor() || overdue) {
            return;
        }
        let dead: Vec<NodeId> = cluster.replica.dead().cloned().collect();
        let named: Vec<GroupId> = cluster
            .replica
            .groups()
            .filter(|(_, entry)| dead.iter().any(|node| entry.record.members.contains_key(node)))
            .map(|(group, _)| *group)
            .collect();
        for group in named {
            self.pending_or_new(group).dirty = true;
            self.advance(now, group);
        }
        if let Some(cluster) = self.cluster.as_mut() {
            cluster.replica.forget_cleared();
        }
    }

    /// A record that has counted no members for twice `--empty-ttl` and more is one that was
    /// written without a time to live (nodes write an empty group's record with one): the
    /// janitor writes it again with a short one, so that it expires. Groups this node holds
    /// are its own business.
    fn expire_abandoned(&mut self, now: Instant) {
        let grace = self.config.empty_ttl.saturating_mul(2) + ABANDONED_GRACE;
        let Some(cluster) = self.cluster.as_mut() else { return };
        let Some(since) = now.checked_sub(grace) else { return };
        if !cluster.replica.is_janitor() {
            return;
        }
        let abandoned = cluster.replica.empty_before(since);
        for (group, revision) in abandoned {
            let held = self.tables.groups.contains_key(&group);
            let Some(cluster) = self.cluster.as_mut() else { return };
            if held || cluster.pending.contains_key(&group) {
                continue;
            }
            let record = cluster.replica.get(&group).expect("listed above").record.clone();
            if self.logs.admit(now, Line::Cluster) {
                warn!(%group, "empty group's record has no time to live: made to expire");
            }
            self.expire_record(group, record, revision);
        }
    }

    /// The directory's copy changed: a group expired, or another node changed its record.
    pub(super) fn directory_changed(
        &mut self,
        now: Instant,
        group: GroupId,
        current: Option<Record>,
        revision: u64,
    ) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        let mine = current.as_ref().map(|record| record.count(cluster.me()));
        if !cluster.replica.apply(now, group, current, revision) {
            return;
        }
        self.release_held(now, group);
        let local = self.tables.groups.get(&group).map(|g| g.members.len());
        match (mine, local) {
            // Gone from the directory with nobody here: it expired.
            (None, Some(0)) => self.expired(now, group),
            // Gone with members here (it expired while this node was cut off), or this node's
            // count is not what it has (the node was counted dead meanwhile): set it right.
            (None, Some(_)) => self.member_count_changed(now, group),
            (Some(mine), Some(local)) if mine as usize != local => {
                self.member_count_changed(now, group)
            }
            _ => {}
        }
    }
}
