//! Payloads from another node that arrive before this node's copy of the directory counts the
//! sender's members in the group. A member who joins on another node hears `OK JOINED` once the
//! nodes with members took its node's announcement, or after 500 ms without them (a loaded
//! host, `shell::cluster::node`), and may speak at once: its first payloads can then come
//! before the change feed brings the record that counts it. They wait here, bounded in time
//! ([`HOLD`]) and bytes ([`MAX_HELD_BYTES`]), and go out in the order they came as soon as the
//! record counts their sender; what waits longer is dropped and counted refused. A node that
//! never has members (a forger) only ever fills this and waits out the hold.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use udprelay_shared::GroupId;

use super::NodeId;

/// The longest a payload waits for the directory to count its sender's members: the 500 ms an
/// announcement may take, and the change feed's lag on a loaded host.
pub const HOLD: Duration = Duration::from_secs(2);

/// Most payload bytes waiting at once (about 256 full datagrams); past it, more are refused.
pub const MAX_HELD_BYTES: usize = 1 << 20;

/// Payloads waiting, oldest first.
#[derive(Debug, Default)]
pub struct Held {
    waiting: VecDeque<Waiting>,
    bytes: usize,
}

#[derive(Debug)]
struct Waiting {
    since: Instant,
    from: NodeId,
    group: GroupId,
    payload: Box<[u8]>,
}

impl Held {
    /// Keeps `payload` until its sender counts or [`HOLD`] has passed; `false` when there is no
    /// room for it.
    pub fn hold(&mut self, now: Instant, from: &NodeId, group: GroupId, payload: &[u8]) -> bool {
        if self.bytes + payload.len() > MAX_HELD_BYTES {
            return false;
        }
        self.bytes += payload.len();
        let payload = payload.into();
        self.waiting.push_back(Waiting { since: now, from: from.clone(), group, payload });
        true
    }

    /// Takes, in the order they came, the payloads for `group` whose sender now `counts`.
    pub fn release(
        &mut self,
        group: GroupId,
        counts: impl Fn(&NodeId) -> bool,
    ) -> Vec<(NodeId, Box<[u8]>)> {
        if !self.waiting.iter().any(|w| w.group == group) {
            return Vec::new();
        }
        let mut released = Vec::new();
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for waiting in self.waiting.drain(..) {
            if waiting.group == group && counts(&waiting.from) {
                self.bytes -= waiting.payload.len();
                released.push((waiting.from, waiting.payload));
            } else {
                kept.push_back(waiting);
            }
        }
        self.waiting = kept;
        released
    }

    /// Drops what has waited [`HOLD`] by `now`; how many payloads that was.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut expired = 0;
        while let Some(oldest) = self.waiting.front() {
            if now.saturating_duration_since(oldest.since) < HOLD {
                break;
            }
            self.bytes -= oldest.payload.len();
            self.waiting.pop_front();
            expired += 1;
        }
        expired
    }

    /// The groups payloads wait for, each once.
    pub fn groups(&self) -> Vec<GroupId> {
        let mut groups: Vec<GroupId> = self.waiting.iter().map(|w| w.group).collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: u8) -> GroupId {
        format!("ABCDEFG{}", char::from(b'A' + n)).parse().unwrap()
    }

    #[test]
    fn payloads_go_out_in_order_once_their_sender_counts_and_expire_after_the_hold() {
        let (now, n0, n1): (Instant, NodeId, NodeId) =
            (Instant::now(), "n0".parse().unwrap(), "n1".parse().unwrap());
        let mut held = Held::default();
        assert!(held.hold(now, &n0, group(1), b"one"));
        assert!(held.hold(now, &n1, group(1), b"other node"));
        assert!(held.hold(now, &n0, group(2), b"other group"));
        assert!(held.hold(now, &n0, group(1), b"two"));
        let released = held.release(group(1), |node| *node == n0);
        let payloads: Vec<&[u8]> = released.iter().map(|(_, p)| &p[..]).collect();
        assert_eq!(payloads, [&b"one"[..], b"two"]);
        assert!(held.release(group(1), |node| *node == n0).is_empty(), "each goes out once");
        assert_eq!(held.expire(now + HOLD - Duration::from_millis(1)), 0);
        assert_eq!(held.expire(now + HOLD), 2);
        assert!(held.is_empty());
        assert_eq!(held.bytes, 0);
    }

    #[test]
    fn what_waits_is_bounded_in_bytes() {
        let (now, n0): (Instant, NodeId) = (Instant::now(), "n0".parse().unwrap());
        let mut held = Held::default();
        let full = vec![b'x'; 4096];
        let fits = MAX_HELD_BYTES / full.len();
        assert_eq!((0..fits + 10).filter(|_| held.hold(now, &n0, group(1), &full)).count(), fits);
        assert!(!held.hold(now, &n0, group(1), b"x"), "nothing more fits");
        // Room comes back as payloads go out.
        held.release(group(1), |_| true);
        assert!(held.hold(now, &n0, group(1), &full));
    }
}
