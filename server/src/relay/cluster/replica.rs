//! This node's copy of the directory, kept current by the directory's change feed and by the
//! other nodes' announcements, and which nodes are alive. From these it knows, without asking
//! anyone, where a group's payloads go (its *routes*: the other live nodes with members in it)
//! and how many members the group has (`!WHO`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use udprelay_shared::GroupId;

use super::record::{NodeId, Record};

/// Most other nodes known at once: heartbeats from more names than this are not taken (a
/// NATS client with a node's permissions could otherwise grow the table without bound).
pub const MAX_NODES: usize = 256;

/// A group's record as last seen, at its revision in the directory.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub record: Record,
    pub revision: u64,
    /// The other live nodes with members in the group.
    pub routes: Vec<NodeId>,
    /// Since when the record has counted no members (`None`: it counts some).
    pub empty_since: Option<Instant>,
}

/// What is known of another node.
#[derive(Debug, Clone, Copy)]
struct Seen {
    last: Instant,
    instance: u64,
    /// When it was counted dead (`None`: alive).
    died: Option<Instant>,
    /// When its instance last changed (a restart), so that a flood of changes is not a flood of
    /// rescans.
    restarted: Option<Instant>,
}

/// What a heartbeat told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Heard {
    /// Nothing new.
    Known,
    /// A node not heard before, or back after being counted dead, or restarted.
    Arrived,
    /// Another process with this node's own name.
    Impostor,
    /// Not taken: a new name while [`MAX_NODES`] are known, or a second restart within the
    /// time given.
    Ignored,
}

#[derive(Debug)]
pub(super) struct Replica {
    me: NodeId,
    instance: u64,
    groups: HashMap<GroupId, Entry>,
    nodes: HashMap<NodeId, Seen>,
}

impl Replica {
    pub fn new(me: NodeId, instance: u64) -> Replica {
        Replica { me, instance, groups: HashMap::new(), nodes: HashMap::new() }
    }

    pub fn get(&self, group: &GroupId) -> Option<&Entry> {
        self.groups.get(group)
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Other nodes known (alive, or dead and still named in a record).
    #[cfg(test)]
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn groups(&self) -> impl Iterator<Item = (&GroupId, &Entry)> {
        self.groups.iter()
    }

    /// The other live nodes to send `group`'s payloads to (none for a group not known).
    pub fn routes(&self, group: &GroupId) -> &[NodeId] {
        self.groups.get(group).map_or(&[], |entry| &entry.routes)
    }

    /// Takes a record (or its absence) at `revision`, unless what is held is newer. Returns
    /// whether it was taken. A node the record names that this node has not heard of yet
    /// counts as alive from `now`: it has three heartbeats to be heard (a node just started
    /// knows nobody yet, and must not count everyone else's members out).
    pub fn apply(
        &mut self,
        now: Instant,
        group: GroupId,
        current: Option<Record>,
        revision: u64,
    ) -> bool {
        if self.groups.get(&group).is_some_and(|held| held.revision > revision) {
            return false;
        }
        match current {
            Some(record) => {
                for node in record.members.keys() {
                    let room = self.nodes.len() < MAX_NODES;
                    if *node != self.me && room && !self.nodes.contains_key(node) {
                        let seen = Seen { last: now, instance: 0, died: None, restarted: None };
                        self.nodes.insert(node.clone(), seen);
                    }
                }
                let routes = self.routes_of(&record);
                let empty_since = (record.total() == 0).then(|| {
                    let held = self.groups.get(&group).and_then(|entry| entry.empty_since);
                    held.unwrap_or(now)
                });
                self.groups.insert(group, Entry { record, revision, routes, empty_since });
            }
            None => {
                self.groups.remove(&group);
            }
        }
        true
    }

    /// A group's members on live nodes, this one's counted as `local`.
    pub fn members(&self, group: &GroupId, local: usize) -> usize {
        let others = self.groups.get(group).map_or(0, |entry| {
            entry
                .record
                .members
                .iter()
                .filter(|(node, _)| **node != self.me && self.is_alive(node))
                .map(|(_, &count)| count as usize)
                .sum()
        });
        local + others
    }

    pub fn is_alive(&self, node: &NodeId) -> bool {
        *node == self.me || self.nodes.get(node).is_some_and(|seen| seen.died.is_none())
    }

    /// Nodes counted dead that the directory still gives members to.
    pub fn dead(&self) -> impl Iterator<Item = &NodeId> {
        self.nodes.iter().filter(|(_, seen)| seen.died.is_some()).map(|(node, _)| node)
    }

    /// Whether a node has been counted dead since before `since` (and the directory may still
    /// give it members): then every node clears it, not only the janitor, in case the janitor's
    /// name belongs to a node that heartbeats but does not do its work.
    pub fn dead_before(&self, since: Instant) -> bool {
        self.nodes.values().any(|seen| seen.died.is_some_and(|died| died < since))
    }

    /// The node that removes dead nodes' members from the directory: the live node with the
    /// smallest name (each node works it out alike; two at once would only repeat a write).
    pub fn is_janitor(&self) -> bool {
        let live = self.nodes.iter().filter(|(_, seen)| seen.died.is_none()).map(|(n, _)| n);
        live.min().is_none_or(|smallest| self.me < *smallest)
    }

    /// A heartbeat from `node` at `now`. A change of `instance` (a restart) is taken at most
    /// once per `restart_gap`: each is a rescan of the groups the node is in.
    pub fn heard(
        &mut self,
        now: Instant,
        node: &NodeId,
        instance: u64,
        restart_gap: Duration,
    ) -> Heard {
        if *node == self.me {
            return if instance == self.instance { Heard::Known } else { Heard::Impostor };
        }
        let fresh = Seen { last: now, instance, died: None, restarted: None };
        let full = self.nodes.len() >= MAX_NODES;
        let heard = match self.nodes.get_mut(node) {
            None if full => return Heard::Ignored,
            None => {
                self.nodes.insert(node.clone(), fresh);
                Heard::Arrived
            }
            Some(seen) if seen.instance == instance || seen.instance == 0 => {
                // Back from the dead, or heard for the first time (known only from a record).
                let back = seen.died.is_some() || seen.instance == 0;
                *seen = Seen { restarted: seen.restarted, ..fresh };
                if back { Heard::Arrived } else { Heard::Known }
            }
            Some(seen) => {
                let recent = seen.restarted.is_some_and(|at| now < at + restart_gap);
                if recent {
                    return Heard::Ignored;
                }
                *seen = Seen { restarted: Some(now), ..fresh };
                Heard::Arrived
            }
        };
        if heard == Heard::Arrived {
            self.reroute(node);
        }
        heard
    }

    /// `node` said it is leaving, as the process it is known as (`instance`): it is dead at
    /// once. A farewell naming another instance, or a node not known, changes nothing.
    pub fn left(&mut self, now: Instant, node: &NodeId, instance: u64) -> bool {
        match self.nodes.get(node) {
            Some(seen) if seen.instance == instance && seen.died.is_none() => {
                self.count_dead(now, node);
                true
            }
            _ => false,
        }
    }

    fn count_dead(&mut self, now: Instant, node: &NodeId) {
        if let Some(seen) = self.nodes.get_mut(node)
            && seen.died.is_none()
        {
            seen.died = Some(now);
            self.reroute(node);
        }
    }

    /// Counts dead the nodes not heard for `silence`; returns them.
    pub fn expire(&mut self, now: Instant, silence: Duration) -> Vec<NodeId> {
        let due: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, seen)| {
                seen.died.is_none() && now.saturating_duration_since(seen.last) > silence
            })
            .map(|(node, _)| node.clone())
            .collect();
        for node in &due {
            self.count_dead(now, node);
        }
        due
    }

    /// Forgets dead nodes that no record names any more.
    pub fn forget_cleared(&mut self) {
        let groups = &self.groups;
        self.nodes.retain(|node, seen| {
            seen.died.is_none()
                || groups.values().any(|entry| entry.record.members.contains_key(node))
        });
    }

    /// Groups whose record has counted no members since before `since`, and their revisions:
    /// a record left empty without a time to live (which no node writes) is expired anyway.
    pub fn empty_before(&self, since: Instant) -> Vec<(GroupId, u64)> {
        self.groups
            .iter()
            .filter(|(_, entry)| entry.empty_since.is_some_and(|at| at < since))
            .map(|(group, entry)| (*group, entry.revision))
            .collect()
    }

    /// Shrinks the copy of the directory when under a quarter of its room is used.
    pub fn shrink(&mut self) -> bool {
        let sparse = self.groups.capacity() > 64 && self.groups.len() < self.groups.capacity() / 4;
        if sparse {
            self.groups.shrink_to_fit();
        }
        sparse
    }

    /// Gives every node a fresh silence window from `now` (after this node was cut off from
    /// NATS, their silence meant nothing).
    pub fn restart_clocks(&mut self, now: Instant) {
        for seen in self.nodes.values_mut() {
            seen.last = now;
        }
    }

    fn routes_of(&self, record: &Record) -> Vec<NodeId> {
        record
            .members
            .iter()
            .filter(|(node, count)| **count > 0 && **node != self.me && self.is_alive(node))
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// `node` came or went: the routes of the groups it has members in change.
    fn reroute(&mut self, node: &NodeId) {
        let ids: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, entry)| entry.record.members.contains_key(node))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let routes = self.routes_of(&self.groups[&id].record);
            self.groups.get_mut(&id).expect("listed above").routes = routes;
        }
    }
}
