//! This node's copy of the directory, kept current by the directory's change feed and by the
//! other nodes' announcements, and which nodes are alive. From these it knows, without asking
//! anyone, where a group's payloads go (its *routes*: the other live nodes with members in it)
//! and how many members the group has (`!WHO`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use udprelay_shared::GroupId;

use super::record::{NodeId, Record};

/// A group's record as last seen, at its revision in the directory.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub record: Record,
    pub revision: u64,
    /// The other live nodes with members in the group.
    pub routes: Vec<NodeId>,
}

/// What is known of another node.
#[derive(Debug, Clone, Copy)]
struct Seen {
    last: Instant,
    instance: u64,
    dead: bool,
}

/// What a heartbeat told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Heard {
    /// Nothing new.
    Known,
    /// A node not heard before, or back after being counted dead.
    Arrived,
    /// Another process with this node's own name.
    Impostor,
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
                    if *node != self.me && !self.nodes.contains_key(node) {
                        self.nodes
                            .insert(node.clone(), Seen { last: now, instance: 0, dead: false });
                    }
                }
                let routes = self.routes_of(&record);
                self.groups.insert(group, Entry { record, revision, routes });
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
        *node == self.me || self.nodes.get(node).is_some_and(|seen| !seen.dead)
    }

    /// Nodes counted dead that the directory still gives members to.
    pub fn dead(&self) -> impl Iterator<Item = &NodeId> {
        self.nodes.iter().filter(|(_, seen)| seen.dead).map(|(node, _)| node)
    }

    /// The node that removes dead nodes' members from the directory: the live node with the
    /// smallest name (each node works it out alike; two at once would only repeat a write).
    pub fn is_janitor(&self) -> bool {
        let live = self.nodes.iter().filter(|(_, seen)| !seen.dead).map(|(node, _)| node);
        live.min().is_none_or(|smallest| self.me < *smallest)
    }

    /// A heartbeat from `node` at `now`.
    pub fn heard(&mut self, now: Instant, node: &NodeId, instance: u64) -> Heard {
        if *node == self.me {
            return if instance == self.instance { Heard::Known } else { Heard::Impostor };
        }
        let seen = Seen { last: now, instance, dead: false };
        match self.nodes.insert(node.clone(), seen) {
            Some(before) if !before.dead && before.instance == instance => Heard::Known,
            _ => {
                self.reroute(node);
                Heard::Arrived
            }
        }
    }

    /// `node` said it is leaving: it is dead at once.
    pub fn left(&mut self, node: &NodeId) {
        if let Some(seen) = self.nodes.get_mut(node)
            && !seen.dead
        {
            seen.dead = true;
            self.reroute(node);
        }
    }

    /// Counts dead the nodes not heard for `silence`; returns them.
    pub fn expire(&mut self, now: Instant, silence: Duration) -> Vec<NodeId> {
        let due: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, seen)| !seen.dead && now.saturating_duration_since(seen.last) > silence)
            .map(|(node, _)| node.clone())
            .collect();
        for node in &due {
            self.left(node);
        }
        due
    }

    /// Forgets dead nodes that no record names any more.
    pub fn forget_cleared(&mut self) {
        let groups = &self.groups;
        self.nodes.retain(|node, seen| {
            !seen.dead || groups.values().any(|entry| entry.record.members.contains_key(node))
        });
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
