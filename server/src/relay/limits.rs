//! The abuse limits of docs/protocol.md ("Abuse limits (server)"): who a limit counts ([`IpKey`]),
//! how fast is too fast ([`Rate`], [`RateTable`]), and the numbers ([`Limits`]).
//!
//! The rate table is a fixed-size array of token buckets (GCRA: one "theoretical arrival time"
//! per key) rather than a keyed limiter from a crate such as governor: governor's keyed store
//! grows with every key until pruned, and an attacker with 2^64 IPv6 sources decides how many
//! keys there are. Here the memory is fixed at start, the clock is the relay's injected `now`,
//! and a check is a hash, a compare and an add.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Who a per-IP limit counts: an IPv4 address, or an IPv6 /64 (one IPv6 host has a whole /64
/// to send from). IPv4-mapped IPv6 addresses count as the IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpKey {
    V4(u32),
    V6(u64),
}

impl IpKey {
    pub fn of(addr: SocketAddr) -> IpKey {
        match addr.ip() {
            IpAddr::V4(ip) => IpKey::V4(ip.to_bits()),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(ip) => IpKey::V4(ip.to_bits()),
                None => IpKey::V6((ip.to_bits() >> 64) as u64),
            },
        }
    }
}

/// So many events a second on average, with bursts of twice that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Time between events at the steady rate.
    interval: Duration,
    /// How far ahead of the steady rate a burst may run: (burst − 1) intervals.
    tolerance: Duration,
}

impl Rate {
    /// `per_second` events a second, bursts of `2 × per_second`. `None` for 0: no limit.
    pub fn per_second(per_second: u32) -> Option<Rate> {
        if per_second == 0 {
            return None;
        }
        let interval = Duration::from_secs(1) / per_second;
        let burst = per_second.saturating_mul(2);
        Some(Rate { interval, tolerance: interval * (burst - 1) })
    }

    /// The generic cell rate algorithm on one theoretical arrival time `tat` (nanoseconds
    /// since `epoch`): whether an event at `now` conforms, moving `tat` on if it does.
    pub fn allow(&self, tat: &mut u64, epoch: Instant, now: Instant) -> bool {
        let now = nanos(now.saturating_duration_since(epoch));
        let arrival = (*tat).max(now);
        if arrival - now > nanos(self.tolerance) {
            return false;
        }
        *tat = arrival + nanos(self.interval);
        true
    }

    /// As [`Rate::allow`] for `cost` events at once: the first must conform, and the rest are
    /// charged to the arrival time, so that what follows waits for them.
    pub fn allow_many(&self, tat: &mut u64, epoch: Instant, now: Instant, cost: u32) -> bool {
        let now = nanos(now.saturating_duration_since(epoch));
        let arrival = (*tat).max(now);
        if arrival - now > nanos(self.tolerance) {
            return false;
        }
        *tat = arrival.saturating_add(nanos(self.interval).saturating_mul(u64::from(cost)));
        true
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Slots in a [`RateTable`]: 65 536 × 24 bytes, 1.5 MiB, whatever the number of senders.
pub const RATE_SLOTS: usize = 1 << 16;

/// Token buckets for per-IP rates, in a fixed number of slots. A key takes the slot its hash
/// names; a different key in that slot is evicted, and the newcomer starts with a full burst.
/// The hash has a random key drawn at start, so nobody can aim at another sender's slot.
pub struct RateTable {
    rate: Rate,
    /// The first `now` the table was given: the base of its arithmetic (the core reads no clock).
    epoch: Option<Instant>,
    slots: Vec<Option<(IpKey, u64)>>,
    hasher: RandomState,
}

impl RateTable {
    pub fn new(rate: Rate) -> RateTable {
        RateTable::with_slots(rate, RATE_SLOTS)
    }

    pub fn with_slots(rate: Rate, slots: usize) -> RateTable {
        RateTable { rate, epoch: None, slots: vec![None; slots.max(1)], hasher: RandomState::new() }
    }

    /// Whether one more event from `key` at `now` is within the rate (and counts it if so).
    pub fn allow(&mut self, key: IpKey, now: Instant) -> bool {
        let index = (self.hasher.hash_one(key) % self.slots.len() as u64) as usize;
        let slot = &mut self.slots[index];
        let tat = match slot {
            Some((owner, tat)) if *owner == key => tat,
            _ => &mut slot.insert((key, 0)).1,
        };
        let epoch = *self.epoch.get_or_insert(now);
        self.rate.allow(tat, epoch, now)
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }
}

/// The limits, each `None` when turned off (the flag's `0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Live groups on the server.
    pub max_groups: Option<u32>,
    /// Live members on the server.
    pub max_members: Option<u32>,
    /// Live groups created from one IP.
    pub max_groups_per_ip: Option<u32>,
    /// Live members at one IP that have not validated their address (and 16 × this in all).
    pub max_members_per_ip: Option<u32>,
    /// Commands from one IP.
    pub command_rate: Option<Rate>,
    /// Error replies to one IP.
    pub error_rate: Option<Rate>,
    /// Payloads from one member.
    pub payload_rate: Option<Rate>,
    /// Relay to an unvalidated member at most 3 × what it sent.
    pub require_validation: bool,
}

/// The defaults of docs/protocol.md, "Abuse limits (server)".
pub const DEFAULT_MAX_GROUPS: u32 = 100_000;
pub const DEFAULT_MAX_MEMBERS: u32 = 1_000_000;
pub const DEFAULT_MAX_GROUPS_PER_IP: u32 = 32;
pub const DEFAULT_MAX_MEMBERS_PER_IP: u32 = 16;
pub const DEFAULT_COMMAND_RATE: u32 = 20;
pub const DEFAULT_ERROR_RATE: u32 = 10;
pub const DEFAULT_PAYLOAD_RATE: u32 = 2000;

/// Members at one IP may number this many times `--max-members-per-ip` in all, when the ones
/// past that limit have validated their address (docs/security.md, "Members at one IP").
pub const VALIDATED_PER_IP_FACTOR: u32 = 16;

/// An unvalidated member receives at most this many times the bytes it sent (RFC 9000 §8).
pub const AMPLIFICATION: u64 = 3;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_groups: Some(DEFAULT_MAX_GROUPS),
            max_members: Some(DEFAULT_MAX_MEMBERS),
            max_groups_per_ip: Some(DEFAULT_MAX_GROUPS_PER_IP),
            max_members_per_ip: Some(DEFAULT_MAX_MEMBERS_PER_IP),
            command_rate: Rate::per_second(DEFAULT_COMMAND_RATE),
            error_rate: Rate::per_second(DEFAULT_ERROR_RATE),
            payload_rate: Rate::per_second(DEFAULT_PAYLOAD_RATE),
            require_validation: false,
        }
    }
}

impl Limits {
    /// No limit at all: the original server's behaviour.
    pub fn none() -> Limits {
        Limits {
            max_groups: None,
            max_members: None,
            max_groups_per_ip: None,
            max_members_per_ip: None,
            command_rate: None,
            error_rate: None,
            payload_rate: None,
            require_validation: false,
        }
    }
}

/// A count limit: `Some(max)` when `used` has reached it.
pub fn reached(used: u32, limit: Option<u32>) -> Option<u32> {
    limit.filter(|&max| used >= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: Instant, seconds: f64) -> Instant {
        epoch + Duration::from_secs_f64(seconds)
    }

    #[test]
    fn ip_keys() {
        let v4 = |text: &str| IpKey::of(text.parse().unwrap());
        assert_eq!(v4("1.2.3.4:5"), v4("1.2.3.4:6"));
        assert_ne!(v4("1.2.3.4:5"), v4("1.2.3.5:5"));
        assert_eq!(v4("[::ffff:1.2.3.4]:5"), v4("1.2.3.4:9"));
        assert_eq!(v4("[2001:db8:1:2::1]:5"), v4("[2001:db8:1:2:ffff::9]:7"), "one /64");
        assert_ne!(v4("[2001:db8:1:2::1]:5"), v4("[2001:db8:1:3::1]:5"));
    }

    #[test]
    fn a_burst_of_twice_the_rate_then_the_rate() {
        let epoch = Instant::now();
        let rate = Rate::per_second(20).unwrap();
        let mut tat = 0;
        let allowed = (0..100).filter(|_| rate.allow(&mut tat, epoch, epoch)).count();
        assert_eq!(allowed, 40, "at one instant: the burst");
        // After the burst, one every 50 ms.
        assert!(!rate.allow(&mut tat, epoch, at(epoch, 0.049)));
        assert!(rate.allow(&mut tat, epoch, at(epoch, 0.05)));
        assert!(!rate.allow(&mut tat, epoch, at(epoch, 0.05)));
        // Idle for two seconds refills the whole burst, and no more.
        let later = at(epoch, 2.1);
        let allowed = (0..100).filter(|_| rate.allow(&mut tat, epoch, later)).count();
        assert_eq!(allowed, 40);
        assert_eq!(Rate::per_second(0), None);
    }

    #[test]
    fn each_ip_has_its_own_bucket_and_the_table_stays_its_size() {
        let epoch = Instant::now();
        let mut table = RateTable::with_slots(Rate::per_second(1).unwrap(), 1024);
        let a = IpKey::V4(1);
        assert!(table.allow(a, epoch) && table.allow(a, epoch));
        assert!(!table.allow(a, epoch), "a's burst of 2 is spent");
        assert!(table.allow(IpKey::V4(2), epoch), "b is counted apart");
        for n in 0..100_000u64 {
            table.allow(IpKey::V6(n), epoch);
        }
        assert_eq!(table.slots.len(), 1024, "no growth, however many senders");
    }
}
