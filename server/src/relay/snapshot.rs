//! The relay's state as it is saved across a restart, and how it is read back.
//!
//! What is kept: every group (id, creator, cap, how long it has been empty) and every member
//! (address, group, how long it has been silent, whether it validated, its byte budget). The
//! creators' counts and the per-IP counts follow from those. What is not: the rate buckets (a
//! restart refills them) and the token key (validated members stay validated; a new join asks
//! for a new token).
//!
//! Times are saved as ages, against the wall clock of the save, because `Instant`s mean nothing
//! in another process. On restore, the time the server was down does not count against anyone,
//! up to one heartbeat interval: a restart within a heartbeat goes unnoticed.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use udprelay_shared::GroupId;
use udprelay_shared::limits::MISSED_HEARTBEATS;

use super::Relay;

/// Everything about the relay that survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Wall-clock time of the save, in nanoseconds since the Unix epoch.
    pub saved_at_unix_ns: u64,
    pub groups: Vec<SavedGroup>,
    pub members: Vec<SavedMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedGroup {
    pub id: [u8; 8],
    /// `None`: created on another node of the cluster (version 2; version 1 always had one).
    pub creator: Option<SocketAddr>,
    pub cap: Option<u32>,
    /// How long it had been empty at the save (`None`: it had members).
    pub empty_for_ns: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMember {
    pub addr: SocketAddr,
    pub group: [u8; 8],
    /// How long it had been silent at the save.
    pub silent_for_ns: u64,
    pub validated: bool,
    pub received: u64,
    pub relayed: u64,
}

/// What a restore brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    pub groups: usize,
    pub members: usize,
    /// How long the server was down, by the wall clock.
    pub downtime: Duration,
    /// The state was older than 3 × heartbeat + empty-ttl: its members would have expired
    /// anyway, so only the groups came back (each as if it had just emptied).
    pub groups_only: bool,
}

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// The relay already has state.
    NotEmpty,
    /// A group id in the file is not an id.
    BadId,
    /// A member names a group the file does not have, or an address twice.
    Inconsistent,
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RestoreError::NotEmpty => "the relay already has state",
            RestoreError::BadId => "a group id in the state is not an id",
            RestoreError::Inconsistent => "a member names a missing group, or an address twice",
        })
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn unix_ns(wall: SystemTime) -> u64 {
    nanos(wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
}

impl Relay {
    /// The relay's state at `now` (wall clock `wall`), to be saved. Cheap enough to take under
    /// the relay's lock: two flat lists, no encoding.
    pub fn snapshot(&self, now: Instant, wall: SystemTime) -> Snapshot {
        let tables = &self.tables;
        let groups = tables
            .groups
            .iter()
            .map(|(id, group)| SavedGroup {
                id: id.as_str().as_bytes().try_into().expect("ids are 8 bytes"),
                creator: group.creator,
                cap: group.cap,
                empty_for_ns: group
                    .empty_since
                    .map(|since| nanos(now.saturating_duration_since(since))),
            })
            .collect();
        let members = tables
            .members
            .iter()
            .map(|member| SavedMember {
                addr: member.addr,
                group: member.group.as_str().as_bytes().try_into().expect("ids are 8 bytes"),
                silent_for_ns: nanos(now.saturating_duration_since(member.last_active)),
                validated: member.validated,
                received: member.received,
                relayed: member.relayed,
            })
            .collect();
        Snapshot { saved_at_unix_ns: unix_ns(wall), groups, members }
    }

    /// Brings back a saved state into this (empty) relay at `now` (wall clock `wall`).
    pub fn restore(
        &mut self,
        now: Instant,
        wall: SystemTime,
        snapshot: &Snapshot,
    ) -> Result<Restored, RestoreError> {
        if self.live_groups() > 0 || self.live_members() > 0 {
            return Err(RestoreError::NotEmpty);
        }
        let downtime =
            Duration::from_nanos(unix_ns(wall).saturating_sub(snapshot.saved_at_unix_ns));
        let heartbeat = self.config.heartbeat;
        let stale =
            heartbeat.saturating_mul(MISSED_HEARTBEATS).saturating_add(self.config.empty_ttl);
        let groups_only = downtime > stale;
        // Time down counts against nobody, up to one heartbeat interval.
        let counted = downtime.saturating_sub(heartbeat);
        let back = |age_ns: u64| {
            let age = Duration::from_nanos(age_ns).saturating_add(counted);
            now.checked_sub(age).unwrap_or(now)
        };

        let mut ids = Vec::with_capacity(snapshot.groups.len());
        for group in &snapshot.groups {
            let id = parse_id(&group.id)?;
            let empty_since = match (groups_only, group.empty_for_ns) {
                (true, _) | (false, None) => now,
                (false, Some(age)) => back(age),
            };
            self.tables.add_group(empty_since, id, group.creator, group.cap);
            ids.push(id);
        }
        let mut members = 0;
        if !groups_only {
            // Oldest first, so that the activity list comes out in order.
            let mut saved: Vec<&SavedMember> = snapshot.members.iter().collect();
            saved.sort_by_key(|member| std::cmp::Reverse(member.silent_for_ns));
            for member in saved {
                let group = parse_id(&member.group)?;
                if !self.tables.groups.contains_key(&group)
                    || self.tables.members.key_of(member.addr).is_some()
                {
                    return Err(RestoreError::Inconsistent);
                }
                let last_active = back(member.silent_for_ns);
                self.tables.add_member(last_active, member.addr, group);
                let key = self.tables.members.key_of(member.addr).expect("just added");
                let record = self.tables.members.get_mut(key);
                (record.received, record.relayed) = (member.received, member.relayed);
                if member.validated {
                    self.tables.validate(key);
                }
                members += 1;
            }
        }
        Ok(Restored { groups: ids.len(), members, downtime, groups_only })
    }
}

fn parse_id(bytes: &[u8; 8]) -> Result<GroupId, RestoreError> {
    std::str::from_utf8(bytes).ok().and_then(|text| text.parse().ok()).ok_or(RestoreError::BadId)
}

/// What a state file starts with, so that another file given by mistake is recognised.
const MAGIC: &[u8] = b"udprelay-state\n";

/// The format's version: a file of another version is not read (and is moved aside), but
/// for version 1, which this version only extends.
pub const VERSION: u16 = 2;

/// Version 1, before a cluster node could hold groups created elsewhere: every group had its
/// creator. Read, never written.
mod v1 {
    use std::net::SocketAddr;

    use serde::Deserialize;

    use super::SavedMember;

    #[derive(Deserialize)]
    pub struct Snapshot {
        pub saved_at_unix_ns: u64,
        pub groups: Vec<SavedGroup>,
        pub members: Vec<SavedMember>,
    }

    #[derive(Deserialize)]
    pub struct SavedGroup {
        pub id: [u8; 8],
        pub creator: SocketAddr,
        pub cap: Option<u32>,
        pub empty_for_ns: Option<u64>,
    }

    impl From<Snapshot> for super::Snapshot {
        fn from(old: Snapshot) -> super::Snapshot {
            let groups = old
                .groups
                .into_iter()
                .map(|g| super::SavedGroup {
                    id: g.id,
                    creator: Some(g.creator),
                    cap: g.cap,
                    empty_for_ns: g.empty_for_ns,
                })
                .collect();
            super::Snapshot { saved_at_unix_ns: old.saved_at_unix_ns, groups, members: old.members }
        }
    }
}

/// Why bytes are not a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a udprelay state file at all.
    NotAState,
    /// A state of another version.
    Version(u16),
    /// The right kind and version, but cut short or damaged.
    Damaged(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NotAState => f.write_str("not a udprelay state file"),
            DecodeError::Version(version) => {
                write!(f, "a state file of version {version}; this server reads version {VERSION}")
            }
            DecodeError::Damaged(why) => write!(f, "damaged or cut short ({why})"),
        }
    }
}

impl Snapshot {
    /// The bytes of a state file.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        postcard::to_extend(self, bytes).expect("a snapshot always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(DecodeError::NotAState)?;
        let (version, body) = rest.split_first_chunk::<2>().ok_or(DecodeError::NotAState)?;
        let version = u16::from_le_bytes(*version);
        let damaged = |error: postcard::Error| DecodeError::Damaged(error.to_string());
        let (snapshot, left) = match version {
            1 => postcard::take_from_bytes::<v1::Snapshot>(body)
                .map(|(old, left)| (Snapshot::from(old), left))
                .map_err(damaged)?,
            VERSION => postcard::take_from_bytes::<Snapshot>(body).map_err(damaged)?,
            other => return Err(DecodeError::Version(other)),
        };
        if !left.is_empty() {
            return Err(DecodeError::Damaged(format!("{} bytes after the end", left.len())));
        }
        Ok(snapshot)
    }
}
