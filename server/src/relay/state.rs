//! The relay's tables and the few operations that change them together, so that the indexes
//! never disagree: a member's record names its group and its slot in that group's list, a
//! group knows whether (and since when) it is empty, a creator's count is its live groups.
//! Both kinds of expiry read time-ordered structures, so a sweep costs what it removes.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udprelay_shared::GroupId;

use super::limits::IpKey;
use super::members::{MemberKey, Members, SHRINK_ABOVE};

#[derive(Debug)]
pub(super) struct Group {
    /// The address that created it, when it was created on this node (only those count
    /// toward a creator's limits here).
    pub creator: Option<SocketAddr>,
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
    /// Live groups per creator IP, and members per IP (absent: none). Both are bounded by the
    /// live groups and members, so by the server-wide limits.
    pub groups_per_ip: HashMap<IpKey, u32>,
    pub members_per_ip: HashMap<IpKey, u32>,
    /// Members per IP that have not validated their address (absent: none).
    pub unvalidated_per_ip: HashMap<IpKey, u32>,
    /// Live members whose address is validated.
    pub validated: usize,
}

fn count_up(counts: &mut HashMap<IpKey, u32>, key: IpKey) {
    *counts.entry(key).or_default() += 1;
}

fn count_down(counts: &mut HashMap<IpKey, u32>, key: IpKey) {
    if let Some(count) = counts.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(&key);
        }
    }
}

impl Tables {
    pub fn created_by(&self, creator: SocketAddr) -> u32 {
        self.created.get(&creator).copied().unwrap_or(0)
    }

    pub fn created_from_ip(&self, ip: IpKey) -> u32 {
        self.groups_per_ip.get(&ip).copied().unwrap_or(0)
    }

    pub fn members_at_ip(&self, ip: IpKey) -> u32 {
        self.members_per_ip.get(&ip).copied().unwrap_or(0)
    }

    pub fn unvalidated_at_ip(&self, ip: IpKey) -> u32 {
        self.unvalidated_per_ip.get(&ip).copied().unwrap_or(0)
    }

    /// A member echoed a token: its address is validated (for as long as it is a member).
    pub fn validate(&mut self, key: MemberKey) {
        let member = self.members.get_mut(key);
        if !member.validated {
            member.validated = true;
            self.validated += 1;
            count_down(&mut self.unvalidated_per_ip, IpKey::of(member.addr));
        }
    }

    pub fn add_group(
        &mut self,
        now: Instant,
        id: GroupId,
        creator: Option<SocketAddr>,
        cap: Option<u32>,
    ) {
        let group = Group { creator, cap, members: Vec::new(), empty_since: Some(now) };
        self.groups.insert(id, group);
        self.empty.insert((now, id));
        if let Some(creator) = creator {
            *self.created.entry(creator).or_default() += 1;
            count_up(&mut self.groups_per_ip, IpKey::of(creator));
        }
    }

    fn uncount(&mut self, creator: Option<SocketAddr>) {
        let Some(creator) = creator else { return };
        if let Some(count) = self.created.get_mut(&creator) {
            *count -= 1;
            if *count == 0 {
                self.created.remove(&creator);
            }
        }
        count_down(&mut self.groups_per_ip, IpKey::of(creator));
    }

    /// Deletes a group with no members; returns its creator (`None` inside: created on
    /// another node), or `None` if there was no such group.
    pub fn remove_group(&mut self, id: GroupId) -> Option<Option<SocketAddr>> {
        let group = self.groups.get(&id)?;
        debug_assert!(group.members.is_empty());
        if !group.members.is_empty() {
            return None;
        }
        let group = self.groups.remove(&id).expect("found above");
        if let Some(since) = group.empty_since {
            self.empty.remove(&(since, id));
        }
        self.uncount(group.creator);
        Some(group.creator)
    }

    /// Deletes groups that have been empty for longer than `ttl`, oldest first and at most
    /// `limit`; returns each with its creator.
    pub fn remove_groups_empty_longer_than(
        &mut self,
        now: Instant,
        ttl: Duration,
        limit: usize,
    ) -> Vec<(GroupId, Option<SocketAddr>)> {
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
        count_up(&mut self.members_per_ip, IpKey::of(addr));
        count_up(&mut self.unvalidated_per_ip, IpKey::of(addr));
        group.members.len()
    }

    /// Moves a member to group `id`, keeping its record (validation, rate, budget); returns the
    /// group it left with that group's new size, and the new group's size.
    pub fn move_member(
        &mut self,
        now: Instant,
        key: MemberKey,
        id: GroupId,
    ) -> ((GroupId, usize), usize) {
        let left = self.unlist(now, key);
        let group = self.groups.get_mut(&id).expect("joined groups exist");
        if let Some(since) = group.empty_since.take() {
            self.empty.remove(&(since, id));
        }
        let slot = u32::try_from(group.members.len()).expect("fewer than 4 billion members");
        group.members.push(key);
        let size = group.members.len();
        let member = self.members.get_mut(key);
        (member.group, member.slot) = (id, slot);
        self.members.touch(key, now);
        (left, size)
    }

    /// Takes an address out of its group; returns the group and its new size.
    pub fn remove_member(&mut self, now: Instant, addr: SocketAddr) -> Option<(GroupId, usize)> {
        let key = self.members.key_of(addr)?;
        Some(self.remove_member_by_key(now, key))
    }

    pub fn remove_member_by_key(&mut self, now: Instant, key: MemberKey) -> (GroupId, usize) {
        let left = self.unlist(now, key);
        let member = self.members.remove(key);
        count_down(&mut self.members_per_ip, IpKey::of(member.addr));
        if member.validated {
            self.validated -= 1;
        } else {
            count_down(&mut self.unvalidated_per_ip, IpKey::of(member.addr));
        }
        left
    }

    /// Takes a member out of its group's list (its record stays); returns the group and its
    /// new size.
    fn unlist(&mut self, now: Instant, key: MemberKey) -> (GroupId, usize) {
        let member = self.members.get(key);
        let (id, slot) = (member.group, member.slot as usize);
        let group = self.groups.get_mut(&id).expect("a member's group exists");
        group.members.swap_remove(slot);
        if let Some(&moved) = group.members.get(slot) {
            self.members.set_slot(moved, slot as u32);
        }
        if group.members.is_empty() {
            group.empty_since = Some(now);
            self.empty.insert((now, id));
        }
        (id, group.members.len())
    }
}

impl Tables {
    /// Gives memory back after a wave of expiries: a table at under a quarter of its capacity
    /// is shrunk to fit (the sweep calls this when it has caught up). Returns whether any was.
    pub fn shrink(&mut self) -> bool {
        fn sparse(len: usize, capacity: usize) -> bool {
            capacity > SHRINK_ABOVE && len < capacity / 4
        }
        let mut shrunk = false;
        if sparse(self.groups.len(), self.groups.capacity()) {
            self.groups.shrink_to_fit();
            shrunk = true;
        }
        if sparse(self.created.len(), self.created.capacity()) {
            self.created.shrink_to_fit();
            shrunk = true;
        }
        if sparse(self.groups_per_ip.len(), self.groups_per_ip.capacity()) {
            self.groups_per_ip.shrink_to_fit();
            shrunk = true;
        }
        if sparse(self.members_per_ip.len(), self.members_per_ip.capacity()) {
            self.members_per_ip.shrink_to_fit();
            shrunk = true;
        }
        if sparse(self.unvalidated_per_ip.len(), self.unvalidated_per_ip.capacity()) {
            self.unvalidated_per_ip.shrink_to_fit();
            shrunk = true;
        }
        let Some(moves) = self.members.shrink() else { return shrunk };
        for (from, to) in moves {
            let member = self.members.get(to);
            let group = self.groups.get_mut(&member.group).expect("a member's group exists");
            debug_assert_eq!(group.members[member.slot as usize], from);
            group.members[member.slot as usize] = to;
        }
        true
    }
}
