//! `!CREATE` on a node of a cluster: a create-if-absent of a fresh id in the directory, with
//! the group's time to live (it is empty); an id another node holds means another draw. The
//! creator's limits are counted here, its creates under way included.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{info, warn};
use udprelay_shared::{ErrorReply, GroupId, Reply};

use super::super::logs::Line;
use super::writer::{Kind, Step};
use super::{Expect, Record, Request};
use crate::relay::Relay;

/// Most ids a create tries before it gives up (each was taken, which with 34⁸ ids means the
/// directory is being filled on purpose).
const CREATE_ATTEMPTS: u32 = 8;

impl Relay {
    /// `!CREATE` on a node of a cluster: the id is the directory's once its create-if-absent
    /// succeeds. The local limits were checked by the caller.
    pub(crate) fn cluster_create(
        &mut self,
        from: SocketAddr,
        cap: Option<u32>,
    ) -> Result<Option<Reply>, ErrorReply> {
        let cluster = self.cluster.as_ref().expect("clustered");
        if !cluster.connected {
            return Err(ErrorReply::Busy);
        }
        self.start_create(from, cap, 1);
        Ok(None)
    }

    fn start_create(&mut self, from: SocketAddr, cap: Option<u32>, attempt: u32) {
        let id = loop {
            let candidate = (self.new_id)();
            let cluster = self.cluster.as_ref().expect("clustered");
            if cluster.replica.get(&candidate).is_none()
                && !cluster.pending.contains_key(&candidate)
                && !self.tables.groups.contains_key(&candidate)
            {
                break candidate;
            }
        };
        let empty_ttl = self.config.empty_ttl;
        let cluster = self.cluster.as_mut().expect("clustered");
        let record =
            Record { node: cluster.me().clone(), creator: from, cap, members: Default::default() };
        *cluster.creating.entry(from).or_default() += 1;
        let op = cluster.op(id);
        cluster.stats.directory_writes += 1;
        cluster.requests.push_back(Request::Write {
            op,
            group: id,
            record: record.clone(),
            expect: Expect::Absent,
            ttl: Some(empty_ttl),
        });
        let kind = Kind::Create { creator: from, attempt };
        let step = Step::Writing { op, admitted: Vec::new(), written: record, kind, routed: false };
        self.pending_or_new(id).step = step;
    }

    /// A create from `creator` is over, one way or the other.
    pub(super) fn stop_creating(&mut self, creator: SocketAddr) {
        let cluster = self.cluster.as_mut().expect("clustered");
        if let Some(count) = cluster.creating.get_mut(&creator) {
            *count -= 1;
            if *count == 0 {
                cluster.creating.remove(&creator);
            }
        }
    }

    pub(super) fn retry_create(
        &mut self,
        now: Instant,
        creator: SocketAddr,
        cap: Option<u32>,
        attempt: u32,
    ) {
        if attempt >= CREATE_ATTEMPTS {
            warn!(addr = %creator, "create: every id tried was taken");
            return self.answer_later(now, creator, Reply::Error(ErrorReply::Busy));
        }
        self.start_create(creator, cap, attempt + 1);
    }

    /// The directory holds the new group: it is this node's, and its creator's.
    pub(super) fn created(
        &mut self,
        now: Instant,
        group: GroupId,
        creator: SocketAddr,
        cap: Option<u32>,
    ) {
        self.stop_creating(creator);
        // Two creates from one IP may have raced past the per-IP limit: the later one is
        // refused now, and its record expires unjoined.
        if let Err(error) = self.creator_limits(creator) {
            return self.answer_later(now, creator, Reply::Error(error));
        }
        self.tables.add_group(now, group, Some(creator), cap);
        self.stats.creates += 1;
        if self.logs.admit(now, Line::Create) {
            let cap_text = cap.map_or("none".to_string(), |cap| cap.to_string());
            info!(group = %group, addr = %creator, size = 0, cap = %cap_text, "create");
        }
        self.answer_later(now, creator, Reply::Created(group));
    }
}
