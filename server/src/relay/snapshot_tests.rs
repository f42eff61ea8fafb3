//! Saving and restoring the relay's state, under an injected clock (and wall clock).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;
use udprelay_shared::GroupId;

use super::limits::Limits;
use super::snapshot::{DecodeError, Snapshot, VERSION};
use super::{Config, Outgoing, Relay};

fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 4000 + n))
}

fn config() -> Config {
    Config {
        heartbeat: Duration::from_secs(60),
        empty_ttl: Duration::from_secs(300),
        limits: Limits::none(),
        ..Config::default()
    }
}

/// A relay and its clocks: `now` for the relay, `wall` for the state file's dates.
struct Server {
    relay: Relay,
    now: Instant,
    wall: SystemTime,
}

impl Server {
    fn new(config: Config) -> Server {
        Server { relay: Relay::new(config), now: Instant::now(), wall: SystemTime::now() }
    }

    fn ask(&mut self, from: u16, command: &str) -> String {
        match self.relay.handle(self.now, addr(from), command.as_bytes()) {
            Outgoing::Reply(reply) => reply.to_string(),
            other => panic!("{command}: {other:?}"),
        }
    }

    fn delivered(&mut self, from: u16, payload: &[u8]) -> Vec<SocketAddr> {
        match self.relay.handle(self.now, addr(from), payload) {
            Outgoing::Relay { recipients, .. } => recipients.collect(),
            _ => Vec::new(),
        }
    }

    fn create(&mut self, from: u16) -> GroupId {
        self.ask(from, "!CREATE")["OK CREATED ".len()..].parse().unwrap()
    }

    fn advance(&mut self, seconds: u64) {
        self.now += Duration::from_secs(seconds);
        self.wall += Duration::from_secs(seconds);
    }

    /// Saves (through the file format), "restarts" after `down` seconds, restores.
    fn restart(&mut self, down: u64) -> super::snapshot::Restored {
        let bytes = self.relay.snapshot(self.now, self.wall).encode();
        let config = self.relay.config().clone();
        self.advance(down);
        self.relay = Relay::new(config);
        let snapshot = Snapshot::decode(&bytes).unwrap();
        self.relay.restore(self.now, self.wall, &snapshot).unwrap()
    }
}

#[test]
fn groups_members_and_creator_counts_come_back() {
    let mut s = Server::new(config());
    let (g, h) = (s.create(1), s.create(1));
    s.create(1);
    for n in 2..=4 {
        s.ask(n, &format!("!JOIN {g}"));
    }
    s.ask(5, &format!("!JOIN {h}"));
    let restored = s.restart(5);
    assert_eq!((restored.groups, restored.members, restored.groups_only), (3, 4, false));
    assert_eq!(s.ask(2, "!WHO"), format!("OK WHO {g} 3"));
    assert_eq!(s.ask(5, "!WHO"), format!("OK WHO {h} 1"));
    assert_eq!(s.ask(1, "!CREATE"), "ERR CLIENT_LIMIT 3/3", "the creator's count came back");
    let mut got = s.delivered(2, b"hi");
    got.sort();
    assert_eq!(got, [addr(3), addr(4)]);
}

#[test]
fn downtime_counts_against_nobody_up_to_one_heartbeat() {
    let mut s = Server::new(config());
    let g = s.create(1);
    s.ask(2, &format!("!JOIN {g}"));
    s.advance(100); // silent 100 s of the 180 s allowed
    s.restart(50); // down 50 s: less than a heartbeat, not counted
    s.advance(80);
    s.relay.sweep(s.now);
    assert_eq!(s.ask(2, "!WHO"), format!("OK WHO {g} 1"), "silent 180 s by the relay's count");
    s.advance(1);
    s.relay.sweep(s.now);
    assert_eq!(s.ask(2, "!WHO"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");

    // Down longer than a heartbeat: what is past the heartbeat counts.
    let mut s = Server::new(config());
    let g = s.create(1);
    s.ask(2, &format!("!JOIN {g}"));
    s.advance(100);
    s.restart(90); // 30 s of it count: silent 130 s
    s.advance(50);
    s.relay.sweep(s.now);
    assert_eq!(s.ask(2, "!WHO"), format!("OK WHO {g} 1"));
    s.advance(1);
    s.relay.sweep(s.now);
    assert_eq!(s.ask(2, "!WHO"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
}

#[test]
fn an_old_state_brings_back_groups_only() {
    let mut s = Server::new(config());
    let g = s.create(1);
    s.ask(2, &format!("!JOIN {g}"));
    let restored = s.restart(3 * 60 + 300 + 1);
    assert!(restored.groups_only);
    assert_eq!((restored.groups, restored.members), (1, 0));
    // The group lives a whole empty-ttl from now, so its people can join it again.
    s.advance(299);
    s.relay.sweep(s.now);
    assert_eq!(s.ask(2, &format!("!JOIN {g}")), format!("OK JOINED {g}"));
}

#[test]
fn validation_and_budgets_come_back() {
    let limits = Limits { require_validation: true, ..Limits::none() };
    let mut s = Server::new(Config { limits, ..config() });
    let g = s.create(1);
    s.ask(1, &format!("!JOIN {g}"));
    s.ask(2, &format!("!JOIN {g}"));
    s.ask(3, &format!("!JOIN {g}"));
    let pong = s.ask(2, "!PING +");
    let token = pong.rsplit(' ').next().unwrap().to_string();
    s.ask(2, &format!("!PING {token}"));
    s.restart(1);
    let big = [b'x'; 1000];
    let got = s.delivered(1, &big);
    assert!(got.contains(&addr(2)), "the validated member still receives");
    assert!(!got.contains(&addr(3)), "the unvalidated one is still held to its budget");
}

#[test]
fn a_member_costs_few_bytes_in_the_file() {
    let mut s = Server::new(config());
    let mut groups = Vec::new();
    for n in 0..200 {
        groups.push(s.create(10_000 + n));
    }
    for n in 0..1000u16 {
        s.ask(n, &format!("!JOIN {}", groups[n as usize % 200]));
    }
    let bytes = s.relay.snapshot(s.now, s.wall).encode();
    let per_member = bytes.len() as f64 / 1000.0;
    // 1000 members and 200 groups: IPv4 addresses, varint times.
    assert!(per_member < 40.0, "{per_member} bytes per member ({} in all)", bytes.len());
}

#[test]
fn bad_files_are_told_apart() {
    let mut s = Server::new(config());
    let g = s.create(1);
    s.ask(2, &format!("!JOIN {g}"));
    let good = s.relay.snapshot(s.now, s.wall).encode();
    assert!(Snapshot::decode(&good).is_ok());
    for cut in [good.len() - 1, good.len() / 2, 20, 3, 0] {
        assert!(Snapshot::decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(Snapshot::decode(b"hello, world"), Err(DecodeError::NotAState));
    let mut other = good.clone();
    other[15..17].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert_eq!(Snapshot::decode(&other), Err(DecodeError::Version(VERSION + 1)));
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(Snapshot::decode(&longer), Err(DecodeError::Damaged(_))));
    // A file that decodes but names a group that is not there is refused whole.
    let mut snapshot = Snapshot::decode(&good).unwrap();
    snapshot.groups.clear();
    assert!(Relay::new(config()).restore(s.now, s.wall, &snapshot).is_err());
}

// ---- A restored relay behaves as the original ----

#[derive(Debug, Clone)]
enum Step {
    Create(u16),
    Join(u16, usize),
    Leave(u16, usize),
    Ping(u16),
    Validate(u16),
    Who(u16),
    Payload(u16),
    Advance(u16),
    Sweep,
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0u16..8;
    prop_oneof![
        who.clone().prop_map(Step::Create),
        (who.clone(), any::<usize>()).prop_map(|(s, k)| Step::Join(s, k)),
        (who.clone(), any::<usize>()).prop_map(|(s, k)| Step::Leave(s, k)),
        who.clone().prop_map(Step::Ping),
        who.clone().prop_map(Step::Validate),
        who.clone().prop_map(Step::Who),
        who.prop_map(Step::Payload),
        (0u16..200).prop_map(Step::Advance),
        Just(Step::Sweep),
    ]
}

/// Runs `step` on one relay; returns what it sent, with the ids it created named by their
/// index in `known` (two relays draw different ids) and tokens left out (each relay has its
/// own key).
fn apply(s: &mut Server, known: &mut Vec<GroupId>, step: &Step) -> String {
    let pick = |known: &[GroupId], k: usize| {
        known.get(k % known.len().max(1)).map_or("ABCD1234".into(), |g| g.to_string())
    };
    let datagram = match step {
        Step::Create(_) => "!CREATE".to_string(),
        Step::Join(_, k) => format!("!JOIN {}", pick(known, *k)),
        Step::Leave(_, k) => format!("!LEAVE {}", pick(known, *k)),
        Step::Ping(_) => "!PING".into(),
        Step::Who(_) => "!WHO".into(),
        Step::Payload(_) => "x".repeat(200), // over an unvalidated budget at once
        Step::Advance(seconds) => {
            s.advance(u64::from(*seconds));
            return String::new();
        }
        Step::Sweep => {
            let swept = s.relay.sweep(s.now);
            // How much a restored relay's tables shrink depends on their history; what the
            // sweep removed must not.
            return format!("{:?}", (swept.removed, swept.expired));
        }
        Step::Validate(from) => {
            // Ask for a token and echo it: each relay's own token, as each client would.
            let Outgoing::Reply(reply) = s.relay.handle(s.now, addr(*from), b"!PING +") else {
                return "nothing".into();
            };
            let text = reply.to_string();
            let Some(token) = text.strip_prefix("PONG ").and_then(|rest| rest.split(' ').nth(1))
            else {
                return text;
            };
            let echo = format!("!PING {token}");
            s.relay.handle(s.now, addr(*from), echo.as_bytes());
            return "validated".into();
        }
    };
    let (Step::Create(from)
    | Step::Join(from, _)
    | Step::Leave(from, _)
    | Step::Ping(from)
    | Step::Validate(from)
    | Step::Who(from)
    | Step::Payload(from)) = step
    else {
        unreachable!()
    };
    let out = match s.relay.handle(s.now, addr(*from), datagram.as_bytes()) {
        Outgoing::Nothing => "nothing".to_string(),
        Outgoing::Reply(reply) => {
            let text = reply.to_string();
            if let Some(id) = text.strip_prefix("OK CREATED ") {
                known.push(id.parse().unwrap());
            }
            text
        }
        Outgoing::Relay { recipients, .. } => {
            let mut to: Vec<SocketAddr> = recipients.collect();
            to.sort();
            format!("relay to {to:?}")
        }
    };
    let mut named = out;
    for (index, id) in known.iter().enumerate() {
        named = named.replace(id.as_str(), &format!("#{index}"));
    }
    match named.strip_prefix("PONG ") {
        Some(rest) => format!("PONG {}", rest.split(' ').next().unwrap()),
        None => named,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_restored_relay_is_indistinguishable(
        before in prop::collection::vec(step(), 0..60),
        after in prop::collection::vec(step(), 1..60),
    ) {
        let limits = Limits { require_validation: true, ..Limits::none() };
        let config = Config { heartbeat: Duration::from_secs(30), empty_ttl: Duration::from_secs(100), cap: Some(3), max_groups_per_client: 2, limits };
        let mut original = Server::new(config.clone());
        let mut known = Vec::new();
        for step in &before {
            apply(&mut original, &mut known, step);
        }
        // Restored at the same moment (no downtime), from the file's bytes.
        let bytes = original.relay.snapshot(original.now, original.wall).encode();
        let mut restored = Server { relay: Relay::new(config), now: original.now, wall: original.wall };
        restored.relay.restore(restored.now, restored.wall, &Snapshot::decode(&bytes).unwrap()).unwrap();
        let mut known_restored = known.clone();
        for step in &after {
            let a = apply(&mut original, &mut known, step);
            let b = apply(&mut restored, &mut known_restored, step);
            prop_assert_eq!(a, b, "after {:?}", step);
        }
    }
}

/// A state file written before version 2 (every group with its creator) is still read, so an
/// upgrade keeps the groups and members.
#[test]
fn a_version_1_file_is_read() {
    /// id, creator, cap, empty for (ns).
    type V1Group = ([u8; 8], SocketAddr, Option<u32>, Option<u64>);
    #[derive(serde::Serialize)]
    struct V1 {
        saved_at_unix_ns: u64,
        groups: Vec<V1Group>,
        members: Vec<super::snapshot::SavedMember>,
    }
    let s = Server::new(config());
    let creator: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let saved_at = s.wall.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let old = V1 {
        saved_at_unix_ns: saved_at,
        groups: vec![(*b"ABCD1234", creator, Some(5), None)],
        members: vec![super::snapshot::SavedMember {
            addr: "127.0.0.1:4001".parse().unwrap(),
            group: *b"ABCD1234",
            silent_for_ns: 0,
            validated: true,
            received: 10,
            relayed: 0,
        }],
    };
    let mut bytes = b"udprelay-state\n".to_vec();
    bytes.extend_from_slice(&1u16.to_le_bytes());
    let bytes = postcard::to_extend(&old, bytes).unwrap();
    let snapshot = Snapshot::decode(&bytes).unwrap();
    assert_eq!(snapshot.groups[0].creator, Some(creator));
    assert_eq!(snapshot.groups[0].cap, Some(5));
    let mut relay = Relay::new(config());
    let restored = relay.restore(s.now, s.wall, &snapshot).unwrap();
    assert_eq!((restored.groups, restored.members), (1, 1));
}
