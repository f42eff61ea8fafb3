//! The cluster's rules (docs/cluster.md), through relays joined over the in-memory bus with
//! an injected clock: one namespace of groups, caps over all nodes, expiry wherever a group
//! was made, dead nodes counted out, and a clear `ERR BUSY TryAgain` when the directory is out
//! of reach.

use std::time::Duration;

use udprelay_shared::GroupId;

use super::bus::{Bus, HEARTBEAT, addr};
use crate::relay::Config;
use crate::relay::limits::Limits;

fn config() -> Config {
    Config { limits: Limits::none(), ..Config::default() }
}

fn three() -> Bus {
    Bus::new(config(), 3)
}

/// A group created on n0 with member `1` on n0, `2` on n1 and `3` on n2.
fn spread(bus: &mut Bus) -> GroupId {
    let group = bus.create(0, addr(1));
    for (node, member) in [(0, 1), (1, 2), (2, 3)] {
        bus.join(node, addr(member), group);
    }
    group
}

#[test]
fn one_namespace_over_every_node() {
    let mut bus = three();
    let group = spread(&mut bus);
    for (node, member) in [(0, 1), (1, 2), (2, 3)] {
        assert_eq!(bus.who(node, addr(member)), 3, "!WHO on n{node}");
    }
    // A payload from each member reaches every other, verbatim and once, whatever the node.
    for (node, member) in [(0, 1u16), (1, 2), (2, 3)] {
        let payload = format!("from {member} \u{0}\u{ff}");
        bus.send(node, addr(member), payload.as_bytes());
        for other in [1u16, 2, 3] {
            let got = bus.take(addr(other));
            let expected = if other == member { vec![] } else { vec![payload.clone()] };
            assert_eq!(got, expected, "member {other}, payload from {member}");
        }
    }
    // Ids are the directory's: the group is the same record on every node.
    let record = bus.record(group).unwrap();
    assert_eq!(record.total(), 3);
    assert_eq!(record.node.as_str(), "n0");
}

#[test]
fn a_join_by_lower_case_id_on_another_node_works() {
    let mut bus = three();
    let group = bus.create(0, addr(1));
    let reply = bus.ask(2, addr(2), &format!("!JOIN {}", group.as_str().to_lowercase()));
    assert_eq!(reply, format!("OK JOINED {group}"));
}

#[test]
fn no_two_nodes_hand_out_one_id() {
    // Both nodes draw the same ids in the same order, and create at once.
    let mut bus = Bus::with_ids(config(), 2, |_| Some(vec!["AAAAAAAA", "BBBBBBBB", "CCCCCCCC"]));
    bus.send(0, addr(1), b"!CREATE");
    bus.send(1, addr(2), b"!CREATE");
    bus.settle();
    let first = bus.take(addr(1));
    let second = bus.take(addr(2));
    assert_eq!(first, ["OK CREATED AAAAAAAA"]);
    assert_eq!(second, ["OK CREATED BBBBBBBB"], "n1's first id was taken: it drew another");
    // And an id already in the directory is never drawn again while it lives.
    assert_eq!(bus.create(1, addr(3)).as_str(), "CCCCCCCC");
}

#[test]
fn racing_joins_never_pass_the_cap() {
    for order in [[0, 1], [1, 0]] {
        let mut bus = three();
        let reply = bus.ask(2, addr(9), "!CREATE 1");
        let group: GroupId = reply.strip_prefix("OK CREATED ").unwrap().parse().unwrap();
        // Both joins are composed from the same record before either is written.
        bus.send(0, addr(1), format!("!JOIN {group}").as_bytes());
        bus.send(1, addr(2), format!("!JOIN {group}").as_bytes());
        bus.settle_in(&order);
        let mut replies = [bus.take(addr(1)), bus.take(addr(2))].concat();
        replies.sort();
        assert_eq!(
            replies,
            [format!("ERR GROUP_FULL {group}"), format!("OK JOINED {group}")],
            "order {order:?}"
        );
        assert_eq!(bus.record(group).unwrap().total(), 1);
    }
}

#[test]
fn the_cap_counts_every_node_and_a_leave_anywhere_frees_a_place() {
    let mut bus = three();
    let group: GroupId =
        bus.ask(0, addr(1), "!CREATE 2").strip_prefix("OK CREATED ").unwrap().parse().unwrap();
    bus.join(0, addr(1), group);
    bus.join(1, addr(2), group);
    let full = format!("ERR GROUP_FULL {group}");
    assert_eq!(bus.ask(2, addr(3), &format!("!JOIN {group}")), full);
    assert_eq!(bus.ask(0, addr(4), &format!("!JOIN {group}")), full);
    // A member on n1 leaves; n2's copy knew the group full, reads again, and admits.
    assert_eq!(bus.ask(1, addr(2), &format!("!LEAVE {group}")), format!("OK LEFT {group}"));
    bus.join(2, addr(3), group);
    assert_eq!(bus.who(0, addr(1)), 2);
}

#[test]
fn many_joins_at_once_on_one_node_share_writes_and_the_cap() {
    let mut bus = three();
    let group: GroupId =
        bus.ask(0, addr(1), "!CREATE 5").strip_prefix("OK CREATED ").unwrap().parse().unwrap();
    for member in 10..20 {
        bus.send(1, addr(member), format!("!JOIN {group}").as_bytes());
    }
    bus.settle();
    let joined =
        (10..20).filter(|&member| bus.take(addr(member)) == [format!("OK JOINED {group}")]).count();
    assert_eq!(joined, 5);
    assert_eq!(bus.record(group).unwrap().total(), 5);
    let writes = bus.nodes[1].relay.cluster_stats().directory_writes;
    assert!(writes <= 3, "{writes} directory writes for 10 joins");
}

#[test]
fn who_follows_joins_and_leaves_on_other_nodes() {
    let mut bus = three();
    let group = spread(&mut bus);
    assert_eq!(bus.ask(2, addr(3), &format!("!LEAVE {group}")), format!("OK LEFT {group}"));
    assert_eq!(bus.who(0, addr(1)), 2);
    assert_eq!(bus.who(1, addr(2)), 2);
    // A member gone silent on n1 is removed by n1's sweep; the others see it at once.
    bus.run_for(Duration::from_secs(170), Duration::from_secs(1));
    bus.ask(0, addr(1), "!PING");
    bus.run_for(Duration::from_secs(11), Duration::from_secs(1));
    bus.sweep();
    assert_eq!(bus.who(0, addr(1)), 1);
}

#[test]
fn an_empty_group_expires_wherever_it_was_created() {
    let mut bus = three();
    let group = bus.create(0, addr(1));
    bus.join(2, addr(2), group);
    assert!(!bus.expiring(group), "a group with members does not expire");
    assert_eq!(bus.ask(2, addr(2), &format!("!LEAVE {group}")), format!("OK LEFT {group}"));
    assert!(bus.expiring(group), "empty: the directory expires it");
    bus.run_for(Duration::from_secs(299), Duration::from_secs(1));
    bus.join(1, addr(3), group); // still there: and a join cancels the expiry
    assert!(!bus.expiring(group));
    assert_eq!(bus.ask(1, addr(3), &format!("!LEAVE {group}")), format!("OK LEFT {group}"));
    bus.run_for(Duration::from_secs(301), Duration::from_secs(1));
    assert!(bus.record(group).is_none());
    for node in 0..3 {
        assert_eq!(bus.ask(node, addr(4), &format!("!JOIN {group}")), "ERR BAD_ARG NoSuchGroup");
    }
    // The creator's slot on n0 is free again: three more creates are allowed.
    for _ in 0..3 {
        bus.create(0, addr(1));
    }
    assert_eq!(bus.ask(0, addr(1), "!CREATE"), "ERR CLIENT_LIMIT 3/3");
}

#[test]
fn a_new_member_is_routed_to_before_it_hears_ok_joined() {
    let mut bus = three();
    let group = bus.create(0, addr(1));
    bus.join(0, addr(1), group);
    // n0 hears nothing from the directory's feed: only n1's announcement tells it.
    bus.pause_feed(0);
    bus.join(1, addr(2), group);
    bus.send(0, addr(1), b"first words");
    assert_eq!(bus.take(addr(2)), ["first words"]);
    bus.resume_feed(0);
    bus.settle();
    assert_eq!(bus.who(0, addr(1)), 2);
}

#[test]
fn a_dead_node_is_counted_out_and_its_group_lives_on() {
    let mut bus = three();
    let group = spread(&mut bus);
    bus.kill(2);
    // Within 3 heartbeats the others count its member out.
    bus.run_for(HEARTBEAT * 3 + Duration::from_secs(1), Duration::from_millis(500));
    assert_eq!(bus.who(0, addr(1)), 2);
    assert_eq!(bus.who(1, addr(2)), 2);
    let record = bus.record(group).unwrap();
    assert_eq!(record.count(&"n2".parse().unwrap()), 0, "the janitor removed n2's count");
    // Payloads no longer go to the dead node; the group lives on, and its member can rejoin
    // it on a node that lives.
    bus.send(0, addr(1), b"still here");
    assert_eq!(bus.take(addr(2)), ["still here"]);
    bus.join(1, addr(3), group);
    assert_eq!(bus.who(1, addr(3)), 3);
}

#[test]
fn a_node_that_says_it_leaves_is_counted_out_at_once() {
    let mut bus = three();
    let group = spread(&mut bus);
    let farewell = bus.nodes[2].relay.farewell().unwrap();
    bus.kill(2);
    let now = bus.now;
    for node in 0..2 {
        bus.nodes[node].relay.cluster_receive(now, super::Response::Heartbeat(farewell.clone()));
    }
    bus.settle();
    assert_eq!(bus.who(0, addr(1)), 2);
    assert_eq!(bus.record(group).unwrap().total(), 2);
}

#[test]
fn without_the_directory_joins_and_creates_are_busy_and_chat_goes_on() {
    let mut bus = three();
    let group = spread(&mut bus);
    bus.directory_up = false;
    assert_eq!(bus.ask(1, addr(5), &format!("!JOIN {group}")), "ERR BUSY TryAgain");
    assert_eq!(bus.ask(1, addr(5), "!CREATE"), "ERR BUSY TryAgain");
    // Payloads need no directory: they still cross nodes.
    bus.send(0, addr(1), b"hello");
    assert_eq!(
        (bus.take(addr(2)), bus.take(addr(3))),
        (vec!["hello".into()], vec!["hello".into()])
    );
    // A leave is answered at once; its count is written when the directory is back.
    assert_eq!(bus.ask(2, addr(3), &format!("!LEAVE {group}")), format!("OK LEFT {group}"));
    bus.directory_up = true;
    bus.run_for(Duration::from_secs(6), Duration::from_millis(500));
    assert_eq!(bus.record(group).unwrap().total(), 2);
    bus.join(1, addr(5), group);
    assert_eq!(bus.who(0, addr(1)), 3);
}

#[test]
fn a_node_cut_off_relays_among_its_own_and_catches_up_by_itself() {
    let mut bus = three();
    let group = spread(&mut bus);
    bus.join(0, addr(7), group);
    let other = bus.create(1, addr(2));
    bus.connect(0, false);
    // What needs the directory is refused with the reason; never a duplicate id.
    assert_eq!(bus.ask(0, addr(6), "!CREATE"), "ERR BUSY TryAgain");
    assert_eq!(bus.ask(0, addr(6), &format!("!JOIN {other}")), "ERR BUSY TryAgain", "not held");
    assert_eq!(bus.ask(0, addr(6), &format!("!JOIN {group}")), "ERR BUSY TryAgain", "capped");
    // Its own members still chat; the other nodes' members are out of its reach.
    bus.send(0, addr(1), b"local");
    assert_eq!(bus.take(addr(7)), ["local"]);
    assert!(bus.take(addr(2)).is_empty());
    assert_eq!(bus.ask(0, addr(7), &format!("!LEAVE {group}")), format!("OK LEFT {group}"));
    // Back: it writes its counts again by itself, and joins work again.
    bus.connect(0, true);
    bus.settle();
    assert_eq!(bus.record(group).unwrap().total(), 3);
    assert_eq!(bus.who(1, addr(2)), 3);
    bus.join(0, addr(6), other);
}

#[test]
fn an_uncapped_group_held_here_can_be_joined_while_cut_off() {
    let config = Config { cap: None, ..config() };
    let mut bus = Bus::new(config, 2);
    let group = bus.create(0, addr(1));
    bus.join(0, addr(1), group);
    bus.connect(0, false);
    bus.join(0, addr(2), group);
    bus.send(0, addr(1), b"hi");
    assert_eq!(bus.take(addr(2)), ["hi"]);
    bus.connect(0, true);
    bus.settle();
    assert_eq!(bus.record(group).unwrap().total(), 2);
    assert_eq!(bus.who(0, addr(2)), 2);
}

#[test]
fn a_node_counted_dead_while_alive_writes_its_members_back() {
    let mut bus = three();
    let group = spread(&mut bus);
    // n2 is cut off long enough to be counted dead; its member stays (it pings).
    bus.connect(2, false);
    bus.run_for(HEARTBEAT * 4, Duration::from_millis(500));
    assert_eq!(bus.record(group).unwrap().total(), 2);
    bus.connect(2, true);
    bus.run_for(Duration::from_secs(1), Duration::from_millis(500));
    assert_eq!(bus.record(group).unwrap().total(), 3);
    assert_eq!(bus.who(0, addr(1)), 3);
}

#[test]
fn the_cap_is_never_passed_when_a_node_comes_back_to_a_filled_group() {
    let mut bus = three();
    let group: GroupId =
        bus.ask(0, addr(1), "!CREATE 2").strip_prefix("OK CREATED ").unwrap().parse().unwrap();
    bus.join(2, addr(3), group);
    bus.connect(2, false);
    bus.run_for(HEARTBEAT * 4, Duration::from_millis(500));
    // With n2 counted out, two others fill the group.
    bus.join(0, addr(1), group);
    bus.join(1, addr(2), group);
    bus.connect(2, true);
    bus.run_for(Duration::from_secs(1), Duration::from_millis(500));
    let record = bus.record(group).unwrap();
    assert_eq!(record.total(), 2, "{record:?}");
    assert_eq!(bus.nodes[2].relay.cluster_stats().evicted, 1);
    assert_eq!(bus.ask(2, addr(3), "!WHO"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
}

#[test]
fn a_later_join_from_the_same_address_replaces_the_first() {
    let mut bus = three();
    let one = bus.create(0, addr(1));
    let two = bus.create(0, addr(1));
    bus.send(1, addr(5), format!("!JOIN {one}").as_bytes());
    bus.send(1, addr(5), format!("!JOIN {one}").as_bytes());
    bus.send(1, addr(5), format!("!JOIN {two}").as_bytes());
    bus.settle();
    assert_eq!(bus.take(addr(5)), [format!("OK JOINED {two}")]);
    assert_eq!(bus.record(one).unwrap().total(), 0);
    // Repeats of one join are each answered, as one relay answers each.
    bus.send(1, addr(6), format!("!JOIN {one}").as_bytes());
    bus.send(1, addr(6), format!("!JOIN {one}").as_bytes());
    bus.settle();
    assert_eq!(bus.take(addr(6)), [format!("OK JOINED {one}"), format!("OK JOINED {one}")]);
    assert_eq!(bus.record(one).unwrap().total(), 1);
    assert_eq!(bus.record(two).unwrap().total(), 1);
}

#[test]
fn moving_between_groups_on_different_nodes_counts_both() {
    let mut bus = three();
    let one = bus.create(0, addr(1));
    let two = bus.create(1, addr(2));
    bus.join(2, addr(3), one);
    bus.join(2, addr(3), two);
    assert_eq!(bus.record(one).unwrap().total(), 0);
    assert!(bus.expiring(one));
    assert_eq!(bus.record(two).unwrap().total(), 1);
}

#[test]
fn a_failed_write_is_busy_and_set_right_later() {
    let mut bus = three();
    let group = bus.create(0, addr(1));
    bus.join(0, addr(1), group);
    // The write of n1's join is lost (the directory stops answering mid-way).
    bus.send(1, addr(2), format!("!JOIN {group}").as_bytes());
    bus.directory_up = false;
    bus.settle();
    assert_eq!(bus.take(addr(2)), ["ERR BUSY TryAgain"]);
    // Until the next try, a join of that group is told at once, not kept waiting.
    bus.directory_up = true;
    bus.send(1, addr(3), format!("!JOIN {group}").as_bytes());
    assert_eq!(bus.take(addr(3)), ["ERR BUSY TryAgain"]);
    bus.run_for(Duration::from_secs(6), Duration::from_millis(500));
    assert_eq!(bus.record(group).unwrap().total(), 1);
    bus.join(1, addr(2), group);
    assert_eq!(bus.who(0, addr(1)), 2);
}

#[test]
fn forwarded_payloads_respect_the_receivers_budget() {
    let config =
        Config { limits: Limits { require_validation: true, ..Limits::none() }, ..config() };
    let mut bus = Bus::new(config, 2);
    let group = bus.create(0, addr(1));
    bus.join(0, addr(1), group);
    bus.join(1, addr(2), group);
    // addr(2) sent a 14-byte join: it may receive 42 bytes before it validates.
    for _ in 0..10 {
        bus.send(0, addr(1), b"0123456789");
    }
    assert_eq!(bus.take(addr(2)).len(), 4);
}

#[test]
fn a_node_just_started_counts_the_others_before_it_hears_them() {
    let mut bus = Bus::new(config(), 2);
    let group = bus.create(0, addr(1));
    bus.join(0, addr(1), group);
    bus.restart(1, config());
    // No heartbeat has gone round yet: n1 knows n0 only from the directory.
    bus.join(1, addr(2), group);
    assert_eq!(bus.who(1, addr(2)), 2);
    bus.send(1, addr(2), b"hello");
    assert_eq!(bus.take(addr(1)), ["hello"]);
    bus.send(0, addr(1), b"hi");
    assert_eq!(bus.take(addr(2)), ["hi"]);
    // A node the directory names that never speaks is counted dead all the same.
    bus.kill(0);
    bus.run_for(HEARTBEAT * 3 + Duration::from_secs(1), Duration::from_millis(500));
    assert_eq!(bus.who(1, addr(2)), 1);
}

#[test]
fn creates_from_one_address_at_once_are_each_answered_within_its_limit() {
    let mut bus = three();
    for _ in 0..5 {
        bus.send(0, addr(1), b"!CREATE");
    }
    bus.settle();
    let replies = bus.take(addr(1));
    assert_eq!(replies.len(), 5, "{replies:?}");
    assert_eq!(replies.iter().filter(|r| r.starts_with("OK CREATED")).count(), 3);
    assert_eq!(replies.iter().filter(|r| *r == "ERR CLIENT_LIMIT 3/3").count(), 2);
}
