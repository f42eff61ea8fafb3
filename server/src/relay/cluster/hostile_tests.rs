//! NATS input is hostile input: what a NATS client with a node's permissions can send (forged
//! payloads, records, heartbeats, a record rewritten over and over) does bounded harm, through
//! relays joined over the in-memory bus with an injected clock. docs/security.md, "The
//! cluster", says what each of these stands for.

use std::time::Duration;

use udprelay_shared::GroupId;
use udprelay_shared::limits::MAX_DATAGRAM;

use super::bus::{Bus, HEARTBEAT, addr};
use super::writer::{FREE_CONFLICTS, MAX_CONFLICTS};
use super::{HOLD, Heartbeat, MAX_HELD_BYTES, MAX_NODES, NODE_DELIVERY_RATE, Record, Response};
use crate::relay::Config;
use crate::relay::limits::Limits;

fn config() -> Config {
    Config { limits: Limits::none(), ..Config::default() }
}

/// Three nodes and a group with member `1` on n0, `2` on n1 and `3` on n2.
fn spread() -> (Bus, GroupId) {
    let mut bus = Bus::new(config(), 3);
    let group = bus.create(0, addr(1));
    for (node, member) in [(0, 1), (1, 2), (2, 3)] {
        bus.join(node, addr(member), group);
    }
    (bus, group)
}

fn heartbeat(node: &str, instance: u64, leaving: bool) -> Response {
    Response::Heartbeat(Heartbeat { node: node.parse().unwrap(), instance, leaving })
}

#[test]
fn payloads_udp_could_not_carry_or_from_a_node_outside_the_group_go_nowhere() {
    let (mut bus, group) = spread();
    let other = bus.create(2, addr(9));
    let too_long = vec![b'x'; MAX_DATAGRAM + 1];
    for (from, payload) in [
        ("n0", &b"!LEAVE"[..]),
        ("n0", b"!JOIN ABCD1234"),
        ("n0", b""),
        ("n0", &too_long[..]),
        // The receiver itself.
        ("n1", b"hello"),
    ] {
        assert_eq!(bus.deliver_as(1, from, group, payload), [], "{from} {payload:?}");
    }
    // `other` has no members at all (its creator on n2 did not join).
    assert_eq!(bus.deliver_as(1, "n2", other, b"hello"), []);
    assert_eq!(bus.nodes[1].relay.cluster_stats().refused_payloads, 6);
    // A node with no members in the group (one not in the cluster here) may be one whose
    // member the directory does not count yet: its payload waits, and when the directory
    // never counts one, it is dropped after the hold.
    assert_eq!(bus.deliver_as(1, "n9", group, b"hello"), []);
    assert_eq!(bus.nodes[1].relay.cluster_stats().held_payloads, 1);
    bus.run_for(HOLD, Duration::from_millis(100));
    assert_eq!(bus.take(addr(2)), Vec::<String>::new(), "nothing of n9's went out");
    assert_eq!(bus.nodes[1].relay.cluster_stats().refused_payloads, 7);
    // What a node with members sends is delivered, verbatim.
    assert_eq!(bus.deliver_as(1, "n0", group, b"hi \x00"), [addr(2)]);
    assert_eq!(bus.nodes[1].relay.cluster_stats().refused_payloads, 7);
}

#[test]
fn payloads_waiting_for_the_directory_are_bounded() {
    let (mut bus, group) = spread();
    let full = vec![b'x'; MAX_DATAGRAM];
    let fits = MAX_HELD_BYTES / MAX_DATAGRAM;
    for _ in 0..fits + 100 {
        bus.deliver_as(1, "n9", group, &full);
    }
    let stats = bus.nodes[1].relay.cluster_stats();
    assert_eq!((stats.held_payloads, stats.refused_payloads), (fits as u64, 100));
    // A real node's member is not held up by it: n0 counts, so its payloads go at once.
    bus.send(0, addr(1), b"still heard");
    assert_eq!(bus.take(addr(2)), ["still heard"]);
}

/// The other side of the hold: a member who joins on n2 while n1 is too slow to take the
/// announcement hears `OK JOINED` and speaks at once; n1 gives its member those words, in order,
/// once its copy of the directory counts n2's member.
#[test]
fn a_new_members_first_words_wait_for_a_slow_node_to_count_it() {
    let mut bus = Bus::new(config(), 3);
    let group = bus.create(0, addr(1));
    bus.join(0, addr(1), group);
    bus.join(1, addr(2), group);
    bus.slow[1] = true;
    bus.pause_feed(1);
    bus.join(2, addr(3), group);
    bus.send(2, addr(3), b"first words");
    bus.send(2, addr(3), b"and more");
    assert_eq!(bus.take(addr(1)), ["first words", "and more"], "n0 took the announcement");
    assert_eq!(bus.take(addr(2)), Vec::<String>::new());
    bus.advance(Duration::from_millis(500));
    bus.resume_feed(1);
    bus.settle();
    assert_eq!(bus.take(addr(2)), ["first words", "and more"]);
    let stats = bus.nodes[1].relay.cluster_stats();
    assert_eq!((stats.held_payloads, stats.refused_payloads), (2, 0));
    // From then on they go at once.
    bus.send(2, addr(3), b"hello");
    assert_eq!(bus.take(addr(2)), ["hello"]);
}

#[test]
fn one_node_makes_no_more_deliveries_than_its_budget() {
    let mut bus = Bus::new(Config { cap: None, ..config() }, 2);
    let group = bus.create(0, addr(1));
    bus.join(0, addr(1), group);
    const MEMBERS: u16 = 200;
    for member in 0..MEMBERS {
        bus.join(1, addr(100 + member), group);
    }
    // Bursts of twice the rate, at one instant: 2 000 000 deliveries, 10 000 payloads here.
    let burst = (2 * NODE_DELIVERY_RATE / u32::from(MEMBERS)) as usize;
    let delivered =
        (0..burst * 2).filter(|_| !bus.deliver_as(1, "n0", group, b"flood").is_empty()).count();
    assert!((burst..=burst + 1).contains(&delivered), "{delivered} of {} taken", burst * 2);
    bus.sent.clear();
    // The budget comes back with time, at the rate.
    bus.now += Duration::from_millis(10);
    let later = (0..burst).filter(|_| !bus.deliver_as(1, "n0", group, b"flood").is_empty()).count();
    let per_10ms = (NODE_DELIVERY_RATE / 100 / u32::from(MEMBERS)) as usize;
    assert!((per_10ms..=per_10ms + 1).contains(&later), "{later} after 10 ms");
    // n1's own members are not held up by what n0's name was used for: local relaying has
    // no cluster budget.
    bus.sent.clear();
    bus.send(1, addr(100), b"local");
    assert_eq!(bus.take(addr(101)), ["local"]);
    // The budget is n0's name, real or stolen: once it has refilled, n0's member is heard.
    bus.now += Duration::from_secs(3);
    bus.sent.clear();
    bus.send(0, addr(1), b"still heard");
    assert_eq!(bus.take(addr(100)), ["still heard"]);
}

#[test]
fn a_record_rewritten_over_and_over_gets_joins_answered_and_retries_backed_off() {
    let (mut bus, group) = spread();
    bus.rewritten = Some(group);
    bus.take(addr(5));
    bus.send(1, addr(5), format!("!JOIN {group}").as_bytes());
    bus.settle();
    // Within the bounded retries, at once and without the clock moving on: conflicts back off.
    let first = bus.nodes[1].relay.cluster_stats().directory_conflicts;
    assert!(first <= u64::from(FREE_CONFLICTS) + 1, "{first} conflicts before the first backoff");
    // Told to try again within a second, after at most MAX_CONFLICTS tries.
    let mut answered = Vec::new();
    for _ in 0..20 {
        bus.advance(Duration::from_millis(50));
        answered.extend(bus.take(addr(5)));
    }
    assert_eq!(answered, ["ERR BUSY TryAgain"]);
    // And the node does not spin: a few writes a second, not thousands.
    let before = bus.nodes[1].relay.cluster_stats().directory_writes;
    bus.run_for(Duration::from_secs(3), Duration::from_millis(50));
    let writes = bus.nodes[1].relay.cluster_stats().directory_writes - before;
    assert!(writes <= 60, "{writes} writes in 3 s");
    assert_eq!(bus.take(addr(5)), Vec::<String>::new(), "one answer only");
    // Once the writer stops, the join goes through.
    bus.rewritten = None;
    bus.run_for(Duration::from_secs(1), Duration::from_millis(100));
    assert_eq!(bus.ask(1, addr(5), &format!("!JOIN {group}")), format!("OK JOINED {group}"));
    assert_eq!(bus.who(0, addr(1)), 4);
    assert!(u64::from(MAX_CONFLICTS) <= bus.forged_writes);
}

#[test]
fn a_forged_record_the_nodes_cannot_read_is_written_back_and_nobody_is_evicted() {
    let (mut bus, group) = spread();
    // A value that is no record (a cap of 0, too many nodes, too long): it reads as no group.
    bus.forge(group, None, None);
    bus.settle();
    let record = bus.record(group).expect("written back by the nodes with members");
    assert_eq!(record.total(), 3);
    for (node, member) in [(0, 1), (1, 2), (2, 3)] {
        assert_eq!(bus.who(node, addr(member)), 3, "n{node}");
    }
    bus.send(2, addr(3), b"still here");
    assert_eq!(
        (bus.take(addr(1)), bus.take(addr(2))),
        (vec!["still here".into()], vec!["still here".into()])
    );
}

#[test]
fn an_empty_record_written_without_a_time_to_live_expires_anyway() {
    let mut bus = Bus::new(config(), 2);
    let group: GroupId = "ABCD1234".parse().unwrap();
    let record = Record {
        node: "n9".parse().unwrap(),
        creator: addr(77),
        cap: Some(1),
        members: Default::default(),
    };
    bus.forge(group, Some(record), None);
    bus.settle();
    assert_eq!(bus.nodes[0].relay.cluster_groups(), Some(1));
    // Twice --empty-ttl and the grace: still there just before, gone soon after.
    let empty_ttl = config().empty_ttl;
    bus.run_for(empty_ttl * 2, HEARTBEAT);
    assert!(bus.record(group).is_some());
    bus.run_for(super::ABANDONED_GRACE + HEARTBEAT * 2, Duration::from_secs(1));
    assert!(bus.record(group).is_none(), "expired");
    assert_eq!(bus.nodes[1].relay.cluster_groups(), Some(0));
}

#[test]
fn forged_heartbeats_change_little_and_grow_nothing() {
    let (mut bus, group) = spread();
    let now = bus.now;
    // A farewell for a live node, with another instance than its own: nothing happens.
    bus.nodes[0].relay.cluster_receive(now, heartbeat("n2", 999, true));
    bus.settle();
    assert_eq!(bus.who(0, addr(1)), 3);
    // Many names: the node table stops at MAX_NODES.
    for i in 0..MAX_NODES + 100 {
        bus.nodes[0].relay.cluster_receive(now, heartbeat(&format!("fake{i}"), 1, false));
    }
    let cluster = bus.nodes[0].relay.cluster.as_ref().unwrap();
    assert_eq!(cluster.replica.node_count(), MAX_NODES);
    assert!(cluster.stats.ignored_heartbeats >= 100);
    // A new instance in every message: one restart taken per heartbeat interval.
    let before = bus.nodes[1].relay.cluster_stats().ignored_heartbeats;
    for instance in 1000..1100 {
        bus.nodes[1].relay.cluster_receive(now, heartbeat("n2", instance, false));
    }
    let ignored = bus.nodes[1].relay.cluster_stats().ignored_heartbeats - before;
    assert_eq!(ignored, 99);
    bus.send(0, addr(1), b"after all that");
    assert_eq!(bus.take(addr(3)), ["after all that"]);
    assert_eq!(bus.record(group).unwrap().total(), 3);
}

#[test]
fn a_janitor_that_heartbeats_but_does_no_work_does_not_keep_dead_counts() {
    let (mut bus, group) = spread();
    // "-" sorts before every real name: it would be the janitor.
    bus.kill(2);
    for _ in 0..40 {
        let now = bus.now;
        for node in 0..2 {
            bus.nodes[node].relay.cluster_receive(now, heartbeat("-", 5, false));
        }
        bus.advance(Duration::from_millis(500));
    }
    assert_eq!(bus.record(group).unwrap().count(&"n2".parse().unwrap()), 0);
    assert_eq!(bus.who(0, addr(1)), 2);
}
