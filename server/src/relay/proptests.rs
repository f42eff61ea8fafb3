//! Property tests: no sequence of datagrams, from any senders at any times, breaks the state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use udprelay_shared::{GroupId, Reply};

use super::{Config, Outgoing, Relay};

/// Everything that must hold between any two datagrams.
fn check_invariants(relay: &Relay) {
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
        *per_creator.entry(group.creator).or_default() += 1;
    }
    assert_eq!(per_creator, tables.created, "creator counts match live groups");
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
        sender.prop_map(Step::Unreachable),
        (0u16..40).prop_map(Step::Advance),
        Just(Step::Sweep),
    ]
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50000 + u16::from(n)))
}

fn run(steps: Vec<Step>) {
    let config = Config {
        heartbeat: Duration::from_secs(5),
        empty_ttl: Duration::from_secs(20),
        cap: Some(3),
        max_groups_per_client: 2,
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
                assert!(recipients.clone().all(|to| to != addr(sender)), "no echo");
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
        run(steps);
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
