//! Property tests of the cluster, over the bus:
//!
//! - A cluster answers like one relay: any sequence of commands, payloads and waits, each
//!   client on one node, gets the same replies and the same deliveries from three relays as
//!   from one, group ids aside.
//! - However joins on different nodes interleave, no group passes its cap, and once the bus
//!   settles the directory counts exactly the members each node has.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;
use udprelay_shared::{GroupId, Reply};

use super::bus::Bus;
use crate::relay::limits::Limits;
use crate::relay::proptests::check_invariants;
use crate::relay::{Config, Outgoing, Relay};

const NODES: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    Create(u8, Option<u8>),
    Join(u8, usize),
    Leave(u8, usize),
    Ping(u8),
    Who(u8),
    Payload(u8),
    /// Seconds, a second at a time, then a sweep everywhere.
    Wait(u8),
}

fn step() -> impl Strategy<Value = Step> {
    let client = 0u8..9;
    prop_oneof![
        2 => (client.clone(), prop::option::of(0u8..4)).prop_map(|(c, cap)| Step::Create(c, cap)),
        3 => (client.clone(), any::<usize>()).prop_map(|(c, k)| Step::Join(c, k)),
        1 => (client.clone(), any::<usize>()).prop_map(|(c, k)| Step::Leave(c, k)),
        1 => client.clone().prop_map(Step::Ping),
        1 => client.clone().prop_map(Step::Who),
        2 => client.prop_map(Step::Payload),
        1 => (1u8..30).prop_map(Step::Wait),
    ]
}

fn config() -> Config {
    Config {
        heartbeat: Duration::from_secs(5),
        empty_ttl: Duration::from_secs(20),
        cap: Some(3),
        max_groups_per_client: 2,
        limits: Limits::none(),
    }
}

fn addr(client: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50000 + u16::from(client)))
}

/// Group ids as the order they were created in, so that two runs' replies compare.
#[derive(Default)]
struct Ids(HashMap<GroupId, usize>);

impl Ids {
    fn canonical(&self, text: &str) -> String {
        text.split(' ')
            .map(|word| match word.parse::<GroupId>().ok().and_then(|id| self.0.get(&id)) {
                Some(n) => format!("#{n}"),
                None => word.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn compare(steps: Vec<Step>) {
    let mut single = Relay::new(config());
    let mut bus = Bus::new(config(), NODES);
    let (mut single_ids, mut cluster_ids) = (Ids::default(), Ids::default());
    // The n-th group created, in each.
    let mut known: Vec<(GroupId, GroupId)> = Vec::new();
    let pick = |known: &[(GroupId, GroupId)], k: usize| {
        let unknown: GroupId = "ABCD1234".parse().unwrap();
        if known.is_empty() { (unknown, unknown) } else { known[k % known.len()] }
    };
    for step in steps {
        let (client, single_text, cluster_text) = match step {
            Step::Wait(seconds) => {
                let now = bus.now + Duration::from_secs(seconds.into());
                bus.run_for(Duration::from_secs(seconds.into()), Duration::from_secs(1));
                bus.sweep();
                single.sweep(now);
                continue;
            }
            Step::Create(c, cap) => {
                let text = cap.map_or("!CREATE".into(), |n| format!("!CREATE {n}"));
                (c, text.clone(), text)
            }
            Step::Join(c, k) => {
                let (s, b) = pick(&known, k);
                (c, format!("!JOIN {s}"), format!("!JOIN {b}"))
            }
            Step::Leave(c, k) => {
                let (s, b) = pick(&known, k);
                (c, format!("!LEAVE {s}"), format!("!LEAVE {b}"))
            }
            Step::Ping(c) => (c, "!PING".into(), "!PING".into()),
            Step::Who(c) => (c, "!WHO".into(), "!WHO".into()),
            Step::Payload(c) => (c, format!("from {c}"), format!("from {c}")),
        };
        let from = addr(client);
        let node = usize::from(client) % NODES;
        // One relay.
        let now = bus.now;
        let mut single_out: Vec<(SocketAddr, String)> =
            match single.handle(now, from, single_text.as_bytes()) {
                Outgoing::Nothing => Vec::new(),
                Outgoing::Reply(reply) => vec![(from, reply.to_string())],
                Outgoing::Relay { payload, recipients, .. } => {
                    let text = String::from_utf8_lossy(payload).into_owned();
                    recipients.map(|to| (to, text.clone())).collect()
                }
            };
        // The cluster.
        bus.sent.clear();
        bus.send(node, from, cluster_text.as_bytes());
        bus.settle();
        let mut cluster_out: Vec<(SocketAddr, String)> = bus
            .sent
            .drain(..)
            .map(|(_, to, bytes)| (to, String::from_utf8_lossy(&bytes).into_owned()))
            .collect();
        // A create names the new group in each.
        let created = |out: &[(SocketAddr, String)]| {
            out.iter().find_map(|(_, text)| match Reply::parse(text.as_bytes()) {
                Some(Reply::Created(id)) => Some(id),
                _ => None,
            })
        };
        match (created(&single_out), created(&cluster_out)) {
            (Some(s), Some(b)) => {
                single_ids.0.insert(s, known.len());
                cluster_ids.0.insert(b, known.len());
                known.push((s, b));
            }
            (None, None) => {}
            other => panic!("created in one only: {other:?}"),
        }
        for (out, ids) in [(&mut single_out, &single_ids), (&mut cluster_out, &cluster_ids)] {
            for (_, text) in out.iter_mut() {
                *text = ids.canonical(text);
            }
            out.sort();
        }
        assert_eq!(
            cluster_out, single_out,
            "after {cluster_text:?} from client {client} on n{node}"
        );
        for node in &bus.nodes {
            check_invariants(&node.relay);
        }
    }
}

/// One round of a race: (client, join or leave) sent without settling, then the order the
/// nodes settle in.
type Round = (Vec<(u8, bool)>, Vec<usize>);

/// Joins and leaves sent to the nodes in any grouping, settled in any order.
fn race(rounds: Vec<Round>) {
    let config = Config { cap: Some(2), ..config() };
    let mut bus = Bus::new(config, NODES);
    let group: GroupId =
        bus.ask(0, addr(0), "!CREATE").strip_prefix("OK CREATED ").unwrap().parse().unwrap();
    for (moves, order) in rounds {
        for (client, join) in moves {
            let node = usize::from(client) % NODES;
            let command = if join { format!("!JOIN {group}") } else { format!("!LEAVE {group}") };
            bus.send(node, addr(client), command.as_bytes());
        }
        let order: Vec<usize> = {
            let mut seen = BTreeSet::new();
            order
                .into_iter()
                .map(|n| n % NODES)
                .chain(0..NODES)
                .filter(|n| seen.insert(*n))
                .collect()
        };
        bus.settle_in(&order);
        let local: usize = bus.nodes.iter_mut().map(|node| node.relay.local_members(group)).sum();
        assert!(local <= 2, "{local} members in a group capped at 2");
        assert_eq!(bus.record(group).map_or(0, |r| r.total()), local as u64);
        for node in &bus.nodes {
            check_invariants(&node.relay);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_cluster_answers_like_one_relay(steps in prop::collection::vec(step(), 1..80)) {
        compare(steps);
    }

    #[test]
    fn racing_joins_never_pass_the_cap(
        rounds in prop::collection::vec(
            (prop::collection::vec((0u8..9, prop::bool::weighted(0.7)), 1..6),
             prop::collection::vec(0usize..3, 0..3)),
            1..12,
        )
    ) {
        race(rounds);
    }
}
