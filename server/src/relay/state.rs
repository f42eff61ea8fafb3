//! The relay's tables and the few operations that change them together, so that the indexes
//! never disagree: a member's record names its group and its slot in that group's list, a
//! group knows whether (and since when) it is empty, a creator's count is its live groups.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udprelay_shared::GroupId;

#[derive(Debug)]
pub(super) struct Group {
    pub creator: SocketAddr,
    /// The most members it may have (`None`: unlimited).
    pub cap: Option<u32>,
    /// Members in no particular order; relaying walks this list.
    pub members: Vec<SocketAddr>,
    /// When the last member left (or the group was created); `None` while it has members.
    pub empty_since: Option<Instant>,
}

impl Group {
    pub fn is_full(&self) -> bool {
        self.cap.is_some_and(|cap| self.members.len() >= cap as usize)
    }
}

#[derive(Debug)]
pub(super) struct Member {
    pub group: GroupId,
    /// Index in the group's `members`, so that leaving is O(1).
    pub slot: usize,
    pub last_active: Instant,
}

#[derive(Default)]
pub(super) struct Tables {
    pub groups: HashMap<GroupId, Group>,
    pub members: HashMap<SocketAddr, Member>,
    /// Live groups per creator address (absent: none).
    pub created: HashMap<SocketAddr, u32>,
}

impl Tables {
    pub fn created_by(&self, creator: SocketAddr) -> u32 {
        self.created.get(&creator).copied().unwrap_or(0)
    }

    pub fn add_group(&mut self, now: Instant, id: GroupId, creator: SocketAddr, cap: Option<u32>) {
        let group = Group { creator, cap, members: Vec::new(), empty_since: Some(now) };
        self.groups.insert(id, group);
        *self.created.entry(creator).or_default() += 1;
    }

    /// Deletes an empty group, freeing its creator's slot.
    pub fn remove_group(&mut self, id: GroupId) {
        let group = self.groups.remove(&id).expect("only live groups are removed");
        debug_assert!(group.members.is_empty());
        self.uncount(group.creator);
    }

    fn uncount(&mut self, creator: SocketAddr) {
        if let Some(count) = self.created.get_mut(&creator) {
            *count -= 1;
            if *count == 0 {
                self.created.remove(&creator);
            }
        }
    }

    /// Deletes every group that has been empty for longer than `ttl`; returns each with its
    /// creator.
    pub fn remove_groups_empty_longer_than(
        &mut self,
        now: Instant,
        ttl: Duration,
    ) -> Vec<(GroupId, SocketAddr)> {
        let expired: Vec<(GroupId, SocketAddr)> = self
            .groups
            .iter()
            .filter(|(_, group)| {
                group.empty_since.is_some_and(|since| now.saturating_duration_since(since) > ttl)
            })
            .map(|(id, group)| (*id, group.creator))
            .collect();
        for (id, _) in &expired {
            self.remove_group(*id);
        }
        expired
    }

    /// Puts an address that is in no group into group `id`; returns the group's new size.
    pub fn add_member(&mut self, now: Instant, addr: SocketAddr, id: GroupId) -> usize {
        debug_assert!(!self.members.contains_key(&addr));
        let group = self.groups.get_mut(&id).expect("joined groups exist");
        let slot = group.members.len();
        group.members.push(addr);
        group.empty_since = None;
        self.members.insert(addr, Member { group: id, slot, last_active: now });
        group.members.len()
    }

    /// Takes an address out of its group; returns the group and its new size.
    pub fn remove_member(&mut self, now: Instant, addr: SocketAddr) -> Option<(GroupId, usize)> {
        let member = self.members.remove(&addr)?;
        let group = self.groups.get_mut(&member.group).expect("a member's group exists");
        group.members.swap_remove(member.slot);
        if let Some(moved) = group.members.get(member.slot) {
            self.members.get_mut(moved).expect("listed members have records").slot = member.slot;
        }
        if group.members.is_empty() {
            group.empty_since = Some(now);
        }
        Some((member.group, group.members.len()))
    }
}
