//! Property tests: no sequence of datagrams, from any senders at any times, breaks the state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use udprelay_shared::{GroupId, Reply};

use super::limits::{AMPLIFICATION, IpKey, Limits, Rate};
use super::{Config, Outgoing, Relay};

/// Everything that must hold between any two datagrams.
pub(super) fn check_invariants(relay: &Relay) {
    let tables = &relay.tables;
    let mut listed = 0;
    let mut previous: Option<Instant> = None;
    for (key, member) in tables.members.by_activity() {
        let group = tables.groups.get(&member.group).expect("a member's group exists");
        assert_eq!(
            group.members.get(member.slot as usize),
            Some(&key),
            "the group lists the member at its slot"
        );
        assert_eq!(tables.members.key_of(member.addr), Some(key), "the index finds the member");
        assert!(previous <= Some(member.last_active), "the activity list is oldest first");
        previous = Some(member.last_active);
        listed += 1;
    }
    assert_eq!(listed, tables.members.len(), "every member is in the activity list");
    let empty: Vec<(Instant, GroupId)> = tables
        .groups
        .iter()
        .filter_map(|(id, group)| group.empty_since.map(|since| (since, *id)))
        .collect();
    assert_eq!(empty.len(), tables.empty.len(), "every empty group is listed once");
    for entry in &empty {
        assert!(tables.empty.contains(entry), "the empty list has {entry:?}");
    }
    let mut per_creator: HashMap<SocketAddr, u32> = HashMap::new();
    for (id, group) in &tables.groups {
        for (slot, &key) in group.members.iter().enumerate() {
            let member = tables.members.get(key);
            assert_eq!((member.group, member.slot as usize), (*id, slot));
        }
        assert_eq!(
            group.members.is_empty(),
            group.empty_since.is_some(),
            "empty_since set iff empty"
        );
        if let Some(cap) = group.cap {
            assert!(group.members.len() <= cap as usize, "group {id} above its cap");
        }
        if let (Some(cap), Some(global)) = (group.cap, relay.config.cap) {
            assert!(cap <= global);
        }
        if let Some(creator) = group.creator {
            *per_creator.entry(creator).or_default() += 1;
        }
    }
    assert_eq!(per_creator, tables.created, "creator counts match live groups");
    let mut groups_per_ip: HashMap<IpKey, u32> = HashMap::new();
    for creator in tables.groups.values().filter_map(|group| group.creator) {
        *groups_per_ip.entry(IpKey::of(creator)).or_default() += 1;
    }
    assert_eq!(groups_per_ip, tables.groups_per_ip, "per-IP group counts match");
    let mut members_per_ip: HashMap<IpKey, u32> = HashMap::new();
    let mut unvalidated_per_ip: HashMap<IpKey, u32> = HashMap::new();
    for (_, member) in tables.members.by_activity() {
        *members_per_ip.entry(IpKey::of(member.addr)).or_default() += 1;
        if !member.validated {
            *unvalidated_per_ip.entry(IpKey::of(member.addr)).or_default() += 1;
        }
        if relay.config.limits.require_validation && !member.validated {
            assert!(member.relayed <= AMPLIFICATION * member.received, "within the budget");
        }
    }
    assert_eq!(members_per_ip, tables.members_per_ip, "per-IP member counts match");
    assert_eq!(unvalidated_per_ip, tables.unvalidated_per_ip, "per-IP unvalidated counts match");
    let validated = tables.members.by_activity().filter(|(_, m)| m.validated).count();
    assert_eq!(validated, tables.validated, "the validated count matches");
    let limits = &relay.config.limits;
    let within = |count: usize, limit: Option<u32>| limit.is_none_or(|max| count <= max as usize);
    assert!(within(tables.groups.len(), limits.max_groups), "--max-groups");
    assert!(within(tables.members.len(), limits.max_members), "--max-members");
    for count in groups_per_ip.values() {
        assert!(within(*count as usize, limits.max_groups_per_ip), "--max-groups-per-ip");
    }
    for count in unvalidated_per_ip.values() {
        assert!(within(*count as usize, limits.max_members_per_ip), "--max-members-per-ip");
    }
    let all = limits.max_members_per_ip.map(|max| max * super::limits::VALIDATED_PER_IP_FACTOR);
    for count in members_per_ip.values() {
        assert!(within(*count as usize, all), "16 × --max-members-per-ip in all");
    }
    for count in tables.created.values() {
        assert!(*count <= relay.config.max_groups_per_client);
    }
}

#[derive(Debug, Clone)]
enum Step {
    Datagram(u8, Vec<u8>),
    Create(u8, Option<u8>),
    Join(u8, usize),
    Leave(u8, usize),
    Ping(u8),
    Who(u8),
    Payload(u8),
    /// `!PING +`, then the token it brought echoed back.
    Validate(u8),
    Unreachable(u8),
    Advance(u16),
    Sweep,
}

fn step() -> impl Strategy<Value = Step> {
    let sender = 0u8..8;
    prop_oneof![
        (sender.clone(), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(s, d)| Step::Datagram(s, d)),
        (sender.clone(), "![A-Z]{0,7}( [a-zA-Z0-9 ]{0,10})?")
            .prop_map(|(s, d)| Step::Datagram(s, d.into_bytes())),
        (sender.clone(), prop::option::of(0u8..6)).prop_map(|(s, cap)| Step::Create(s, cap)),
        (sender.clone(), any::<usize>()).prop_map(|(s, k)| Step::Join(s, k)),
        (sender.clone(), any::<usize>()).prop_map(|(s, k)| Step::Leave(s, k)),
        sender.clone().prop_map(Step::Ping),
        sender.clone().prop_map(Step::Who),
        sender.clone().prop_map(Step::Payload),
        sender.clone().prop_map(Step::Validate),
        sender.prop_map(Step::Unreachable),
        (0u16..40).prop_map(Step::Advance),
        Just(Step::Sweep),
    ]
}

/// Senders on three IPs, so that the per-IP limits are reached and crossed.
fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1 + n % 3], 50000 + u16::from(n)))
}

/// Small limits, so that random sequences reach every one of them.
fn limited() -> Limits {
    Limits {
        max_groups: Some(5),
        max_members: Some(6),
        max_groups_per_ip: Some(3),
        max_members_per_ip: Some(3),
        command_rate: Rate::per_second(5),
        error_rate: Rate::per_second(3),
        payload_rate: Rate::per_second(4),
        require_validation: true,
    }
}

fn run(steps: Vec<Step>, limits: Limits) {
    let config = Config {
        heartbeat: Duration::from_secs(5),
        empty_ttl: Duration::from_secs(20),
        cap: Some(3),
        max_groups_per_client: 2,
        limits,
    };
    let mut relay = Relay::new(config);
    let mut now = Instant::now();
    let mut known: Vec<GroupId> = Vec::new();
    for step in steps {
        let (sender, datagram) = match step {
            Step::Datagram(s, d) => (s, d),
            Step::Create(s, cap) => {
                (s, cap.map_or("!CREATE".into(), |n| format!("!CREATE {n}")).into_bytes())
            }
            Step::Join(s, k) => (s, format!("!JOIN {}", pick(&known, k)).into_bytes()),
            Step::Leave(s, k) => (s, format!("!LEAVE {}", pick(&known, k)).into_bytes()),
            Step::Ping(s) => (s, b"!PING".to_vec()),
            Step::Who(s) => (s, b"!WHO".to_vec()),
            Step::Payload(s) => (s, b"payload".to_vec()),
            Step::Validate(s) => {
                let token = match relay.handle(now, addr(s), b"!PING +") {
                    Outgoing::Reply(Reply::Pong { token: Some(token), .. }) => token,
                    _ => continue, // not a member, or over a rate
                };
                check_invariants(&relay);
                (s, format!("!PING {token}").into_bytes())
            }
            Step::Unreachable(s) => {
                relay.remove_unreachable(now, addr(s));
                check_invariants(&relay);
                continue;
            }
            Step::Advance(seconds) => {
                now += Duration::from_secs(seconds.into());
                continue;
            }
            Step::Sweep => {
                relay.sweep(now);
                check_invariants(&relay);
                continue;
            }
        };
        match relay.handle(now, addr(sender), &datagram) {
            Outgoing::Reply(Reply::Created(id)) => known.push(id),
            Outgoing::Relay { recipients, .. } => {
                let recipients: Vec<SocketAddr> = recipients.collect();
                assert!(recipients.iter().all(|&to| to != addr(sender)), "no echo");
            }
            _ => {}
        }
        check_invariants(&relay);
    }
}

fn pick(known: &[GroupId], k: usize) -> String {
    if known.is_empty() { "ABCD1234".into() } else { known[k % known.len()].to_string() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_sequence_keeps_the_state_consistent(steps in prop::collection::vec(step(), 1..120)) {
        run(steps, Limits::none());
    }

    #[test]
    fn with_limits_on_no_sequence_exceeds_them(steps in prop::collection::vec(step(), 1..160)) {
        run(steps, limited());
    }

    #[test]
    fn any_bytes_from_any_sender_are_survived(datagrams in prop::collection::vec((0u8..4, prop::collection::vec(any::<u8>(), 0..4200)), 1..20)) {
        let mut relay = Relay::new(Config::default());
        let now = Instant::now();
        for (sender, datagram) in datagrams {
            let out = relay.handle(now, addr(sender), &datagram);
            if datagram.len() > 4096 {
                assert!(matches!(out, Outgoing::Reply(Reply::Error(udprelay_shared::ErrorReply::TooLarge))));
            }
            check_invariants(&relay);
        }
    }
}
