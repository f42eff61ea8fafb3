//! The member table: every joined address, found by address in O(1), and kept in order of
//! last activity so that a sweep reads only the members that went silent, never everyone.
//!
//! Records live in a slab and are named by a small [`MemberKey`]; groups list keys, not
//! addresses, and the address index stores keys only (hashed through the record), so a member
//! costs one record plus a few bytes (see docs/performance.md for the figures).

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::time::Instant;

use hashbrown::HashTable;
use slab::Slab;
use udprelay_shared::GroupId;

/// Names one member record while it lives; reused after the member is removed.
pub(super) type MemberKey = u32;

/// Tables this small are not worth shrinking (tiny in tests, so that the property tests
/// shrink, and check, all the time).
pub(super) const SHRINK_ABOVE: usize = if cfg!(test) { 2 } else { 64 };

/// "No member" in the activity links (a `u32` keeps the record small where `Option` would not).
const NONE: MemberKey = MemberKey::MAX;

#[derive(Debug)]
pub(super) struct Member {
    pub addr: SocketAddr,
    pub group: GroupId,
    /// Index in the group's member list, so that leaving is O(1).
    pub slot: u32,
    pub last_active: Instant,
    /// `--payload-rate`: the member's token bucket (GCRA arrival time, ns since the epoch).
    pub payload_tat: u64,
    /// Bytes received from this address while a member, and payload bytes relayed to it: an
    /// unvalidated member gets at most 3 × the first (`--require-validation`).
    pub received: u64,
    pub relayed: u64,
    /// The address echoed a token the server sent it.
    pub validated: bool,
    /// Neighbours in the activity list: the member active just before and just after this one.
    older: MemberKey,
    newer: MemberKey,
}

pub(super) struct Members {
    records: Slab<Member>,
    /// Keys of `records`, hashed by their address. SipHash with a random key, as in std's
    /// maps: the addresses come from the network.
    by_addr: HashTable<MemberKey>,
    hasher: RandomState,
    oldest: MemberKey,
    newest: MemberKey,
}

impl Default for Members {
    fn default() -> Members {
        Members {
            records: Slab::new(),
            by_addr: HashTable::new(),
            hasher: RandomState::new(),
            oldest: NONE,
            newest: NONE,
        }
    }
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Members").field("len", &self.len()).finish_non_exhaustive()
    }
}

impl Members {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.records.capacity()
    }

    pub fn key_of(&self, addr: SocketAddr) -> Option<MemberKey> {
        let records = &self.records;
        self.by_addr
            .find(self.hasher.hash_one(addr), |&key| records[key as usize].addr == addr)
            .copied()
    }

    /// Every member, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        self.records.iter().map(|(_, member)| member)
    }

    pub fn get(&self, key: MemberKey) -> &Member {
        &self.records[key as usize]
    }

    pub fn get_mut(&mut self, key: MemberKey) -> &mut Member {
        &mut self.records[key as usize]
    }

    pub fn set_slot(&mut self, key: MemberKey, slot: u32) {
        self.records[key as usize].slot = slot;
    }

    /// Adds a record for an address that has none; it is the most recently active.
    pub fn insert(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        group: GroupId,
        slot: u32,
    ) -> MemberKey {
        debug_assert!(self.key_of(addr).is_none());
        let entry = self.records.vacant_entry();
        let key = MemberKey::try_from(entry.key()).expect("fewer than 4 billion members");
        entry.insert(Member {
            addr,
            group,
            slot,
            last_active: now,
            payload_tat: 0,
            received: 0,
            relayed: 0,
            validated: false,
            older: NONE,
            newer: NONE,
        });
        let (records, hasher) = (&self.records, &self.hasher);
        self.by_addr.insert_unique(hasher.hash_one(addr), key, |&key| {
            hasher.hash_one(records[key as usize].addr)
        });
        self.push_newest(key);
        key
    }

    pub fn remove(&mut self, key: MemberKey) -> Member {
        self.unlink(key);
        let addr = self.records[key as usize].addr;
        let found = self.by_addr.find_entry(self.hasher.hash_one(addr), |&other| other == key);
        found.expect("every record is indexed").remove();
        self.records.remove(key as usize)
    }

    /// Notes activity: the member becomes the most recently active.
    pub fn touch(&mut self, key: MemberKey, now: Instant) {
        self.records[key as usize].last_active = now;
        if self.newest != key {
            self.unlink(key);
            self.push_newest(key);
        }
    }

    /// Gives memory back when under a quarter of the capacity is in use: the index is shrunk,
    /// and the records are moved down to the lowest keys so that the slab can shrink too (its
    /// keys are renamed in the activity list and the index; the caller's group lists are not
    /// touched, so this is only called through [`super::state::Tables::shrink`], which fixes
    /// them). `None` when nothing was worth shrinking; otherwise the keys that moved.
    pub fn shrink(&mut self) -> Option<Vec<(MemberKey, MemberKey)>> {
        let (len, capacity) = (self.records.len(), self.records.capacity());
        if capacity <= SHRINK_ABOVE || len >= capacity / 4 {
            return None;
        }
        let mut moves = Vec::new();
        self.records.compact(|_, from, to| {
            moves.push((from as MemberKey, to as MemberKey));
            true
        });
        let renamed: std::collections::HashMap<MemberKey, MemberKey> =
            moves.iter().copied().collect();
        let rename = |key: MemberKey| renamed.get(&key).copied().unwrap_or(key);
        for (_, record) in self.records.iter_mut() {
            record.older = if record.older == NONE { NONE } else { rename(record.older) };
            record.newer = if record.newer == NONE { NONE } else { rename(record.newer) };
        }
        if self.oldest != NONE {
            self.oldest = rename(self.oldest);
        }
        if self.newest != NONE {
            self.newest = rename(self.newest);
        }
        let (records, hasher) = (&self.records, &self.hasher);
        self.by_addr = HashTable::with_capacity(len);
        for (key, record) in records.iter() {
            let key = key as MemberKey;
            self.by_addr.insert_unique(hasher.hash_one(record.addr), key, |&key| {
                hasher.hash_one(records[key as usize].addr)
            });
        }
        Some(moves)
    }

    /// The member silent for longest.
    pub fn oldest(&self) -> Option<MemberKey> {
        (self.oldest != NONE).then_some(self.oldest)
    }

    /// Every member, least recently active first (for checks in tests).
    #[cfg(test)]
    pub fn by_activity(&self) -> impl Iterator<Item = (MemberKey, &Member)> {
        std::iter::successors(self.oldest(), |&key| {
            let newer = self.records[key as usize].newer;
            (newer != NONE).then_some(newer)
        })
        .map(|key| (key, self.get(key)))
    }

    fn push_newest(&mut self, key: MemberKey) {
        let record = &mut self.records[key as usize];
        record.older = self.newest;
        record.newer = NONE;
        match self.newest {
            NONE => self.oldest = key,
            newest => self.records[newest as usize].newer = key,
        }
        self.newest = key;
    }

    fn unlink(&mut self, key: MemberKey) {
        let Member { older, newer, .. } = self.records[key as usize];
        match older {
            NONE => self.oldest = newer,
            older => self.records[older as usize].newer = newer,
        }
        match newer {
            NONE => self.newest = older,
            newer => self.records[newer as usize].older = older,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/performance.md counts on this size for the memory per member (72 bytes before the
    /// abuse limits added the rate, budget and validation fields).
    #[test]
    fn a_member_record_stays_small() {
        assert!(std::mem::size_of::<Member>() <= 104, "{}", std::mem::size_of::<Member>());
    }
}
