//! The relay's tables and the few operations that change them together, so that the indexes
//! never disagree: a member's record names its group and its slot in that group's list, a
//! group knows whether (and since when) it is empty, a creator's count is its live groups.
//! Both kinds of expiry read time-ordered structures, so a sweep costs what it removes.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udprelay_shared::GroupId;

use super::members::{MemberKey, Members};

#[derive(Debug)]
pub(super) struct Group {
    pub creator: SocketAddr,
    /// The most members it may have (`None`: unlimited).
    pub cap: Option<u32>,
    /// Members in no particular order; relaying walks this list.
    pub members: Vec<MemberKey>,
    /// When the last member left (or the group was created); `None` while it has members.
    pub empty_since: Option<Instant>,
}

impl Group {
    pub fn is_full(&self) -> bool {
        self.cap.is_some_and(|cap| self.members.len() >= cap as usize)
    }
}

#[derive(Default)]
pub(super) struct Tables {
    pub groups: HashMap<GroupId, Group>,
    pub members: Members,
    /// Live groups per creator address (absent: none).
    pub created: HashMap<SocketAddr, u32>,
    /// The empty groups, oldest first: `(empty_since, id)`.
    pub empty: BTreeSet<(Instant, GroupId)>,
}

impl Tables {
    pub fn created_by(&self, creator: SocketAddr) -> u32 {
        self.created.get(&creator).copied().unwrap_or(0)
    }

    pub fn add_group(&mut self, now: Instant, id: GroupId, creator: SocketAddr, cap: Option<u32>) {
        let group = Group { creator, cap, members: Vec::new(), empty_since: Some(now) };
        self.groups.insert(id, group);
        self.empty.insert((now, id));
        *self.created.entry(creator).or_default() += 1;
    }

    fn uncount(&mut self, creator: SocketAddr) {
        if let Some(count) = self.created.get_mut(&creator) {
            *count -= 1;
            if *count == 0 {
                self.created.remove(&creator);
            }
        }
    }

    /// Deletes groups that have been empty for longer than `ttl`, oldest first and at most
    /// `limit`; returns each with its creator.
    pub fn remove_groups_empty_longer_than(
        &mut self,
        now: Instant,
        ttl: Duration,
        limit: usize,
    ) -> Vec<(GroupId, SocketAddr)> {
        let mut expired = Vec::new();
        while expired.len() < limit
            && let Some(&(since, id)) = self.empty.first()
            && now.saturating_duration_since(since) > ttl
        {
            self.empty.pop_first();
            let group = self.groups.remove(&id).expect("listed empty groups exist");
            debug_assert!(group.members.is_empty());
            self.uncount(group.creator);
            expired.push((id, group.creator));
        }
        expired
    }

    /// Puts an address that is in no group into group `id`; returns the group's new size.
    pub fn add_member(&mut self, now: Instant, addr: SocketAddr, id: GroupId) -> usize {
        let group = self.groups.get_mut(&id).expect("joined groups exist");
        if let Some(since) = group.empty_since.take() {
            self.empty.remove(&(since, id));
        }
        let slot = u32::try_from(group.members.len()).expect("fewer than 4 billion members");
        let key = self.members.insert(now, addr, id, slot);
        group.members.push(key);
        group.members.len()
    }

    /// Takes an address out of its group; returns the group and its new size.
    pub fn remove_member(&mut self, now: Instant, addr: SocketAddr) -> Option<(GroupId, usize)> {
        let key = self.members.key_of(addr)?;
        Some(self.remove_member_by_key(now, key))
    }

    pub fn remove_member_by_key(&mut self, now: Instant, key: MemberKey) -> (GroupId, usize) {
        let member = self.members.remove(key);
        let group = self.groups.get_mut(&member.group).expect("a member's group exists");
        group.members.swap_remove(member.slot as usize);
        if let Some(&moved) = group.members.get(member.slot as usize) {
            self.members.set_slot(moved, member.slot);
        }
        if group.members.is_empty() {
            group.empty_since = Some(now);
            self.empty.insert((now, member.group));
        }
        (member.group, group.members.len())
    }
}
