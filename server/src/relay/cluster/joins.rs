//! `!JOIN` on a node of a cluster: the join waits for the group's next directory write, which
//! admits it if the cap leaves room (see `writer`); then it becomes a member here and hears
//! `OK JOINED`. A later join from the same address replaces it; a repeat is answered with it.

use std::net::SocketAddr;
use std::time::Instant;

use udprelay_shared::{ErrorReply, GroupId, Reply};

use super::MAX_WAITING_JOINS;
use super::writer::Joiner;
use crate::relay::Relay;

impl Relay {
    /// `!JOIN` of a group this address is not in, on a node of a cluster: admitted when the
    /// directory has counted it. Cut off from the directory, only a group held here without a
    /// cap can be joined (nothing else can be decided alone).
    pub(crate) fn cluster_join(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: GroupId,
        received: u64,
    ) -> Result<Option<Reply>, ErrorReply> {
        let cluster = self.cluster.as_mut().expect("clustered");
        if !cluster.connected {
            let held = self.tables.groups.get(&id).is_some_and(|g| !g.members.is_empty());
            if held && self.tables.groups[&id].cap.is_none() {
                self.member_limits(from, 0)?;
                let reply = self.admit(now, from, id, received);
                self.member_count_changed(now, id);
                return Ok(Some(reply));
            }
            return Err(ErrorReply::Busy);
        }
        if let Some((waiting_for, repeats)) = cluster.joining.get_mut(&from)
            && *waiting_for == id
        {
            *repeats += 1; // a repeat: answered with the first
            return Ok(None);
        }
        if cluster.waiting_joins() >= MAX_WAITING_JOINS && !cluster.joining.contains_key(&from) {
            return Err(ErrorReply::Busy);
        }
        if cluster.pending.get(&id).is_some_and(|pending| pending.retry_at.is_some()) {
            // The directory just failed this group: the client is told now, not kept waiting
            // for the next try.
            return Err(ErrorReply::Busy);
        }
        cluster.joining.insert(from, (id, 0));
        self.pending_or_new(id).waiting.push_back(Joiner { addr: from, received });
        self.advance(now, id);
        Ok(None)
    }

    pub(super) fn refuse(&mut self, now: Instant, joiner: Joiner, error: ErrorReply) {
        let repeats = self.stop_joining(joiner.addr);
        for _ in 0..=repeats {
            self.answer_later(now, joiner.addr, Reply::Error(error.clone()));
        }
    }

    /// `addr` waits no more; how many times it repeated its join.
    fn stop_joining(&mut self, addr: SocketAddr) -> u32 {
        let cluster = self.cluster.as_mut().expect("clustered");
        cluster.joining.remove(&addr).map_or(0, |(_, repeats)| repeats)
    }

    /// The joins the directory counted become members here, and hear `OK JOINED`.
    pub(super) fn finalize(&mut self, now: Instant, group: GroupId, admitted: Vec<Joiner>) {
        for joiner in admitted {
            let cluster = self.cluster.as_mut().expect("clustered");
            if cluster.joining.get(&joiner.addr).map(|j| j.0) != Some(group) {
                continue; // replaced by a later join; the count is set right below
            }
            let repeats = self.stop_joining(joiner.addr);
            let cluster = self.cluster.as_mut().expect("clustered");
            let cap = cluster.replica.get(&group).and_then(|entry| entry.record.cap);
            if !self.tables.groups.contains_key(&group) {
                self.tables.add_group(now, group, None, cap);
            }
            let reply = match self.member_limits(joiner.addr, 0) {
                Ok(()) => self.admit(now, joiner.addr, group, joiner.received),
                Err(error) => Reply::Error(error),
            };
            for _ in 0..=repeats {
                self.answer_later(now, joiner.addr, reply.clone());
            }
        }
        self.member_count_changed(now, group);
    }
}
