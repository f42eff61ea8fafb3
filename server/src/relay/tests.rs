//! The rules of docs/protocol.md, one test each, through the core with an injected clock.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use udprelay_shared::{GroupId, Reply};

use super::limits::Limits;
use super::{Config, Outgoing, Relay, Swept};

/// The protocol's own rules, without the abuse limits (these tests speak from one IP, many
/// times a second); the limits have their own tests in `abuse_tests`.
fn original() -> Config {
    Config { limits: Limits::none(), ..Config::default() }
}

/// A relay, a clock that only moves when told, and helpers that speak text.
struct Harness {
    relay: Relay,
    now: Instant,
}

fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000 + n))
}

fn id(text: &str) -> GroupId {
    text.parse().unwrap()
}

const A: u16 = 1;
const B: u16 = 2;
const C: u16 = 3;

impl Harness {
    fn new() -> Harness {
        Harness::with(original())
    }

    fn with(config: Config) -> Harness {
        Harness { relay: Relay::new(config), now: Instant::now() }
    }

    /// Every datagram the relay sends for one received datagram, as (destination, bytes).
    fn send(&mut self, from: u16, datagram: &[u8]) -> Vec<(SocketAddr, Vec<u8>)> {
        match self.relay.handle(self.now, addr(from), datagram) {
            Outgoing::Nothing => Vec::new(),
            Outgoing::Reply(reply) => vec![(addr(from), reply.to_bytes())],
            Outgoing::Relay { payload, recipients, .. } => {
                recipients.map(|to| (to, payload.to_vec())).collect()
            }
        }
    }

    /// The one reply to a command, as text.
    fn reply(&mut self, from: u16, command: &str) -> String {
        let out = self.send(from, command.as_bytes());
        assert_eq!(out.len(), 1, "{command} got {out:?}");
        assert_eq!(out[0].0, addr(from), "replies go to the sender");
        String::from_utf8(out[0].1.clone()).unwrap()
    }

    fn create(&mut self, from: u16) -> GroupId {
        let text = self.reply(from, "!CREATE");
        match Reply::parse(text.as_bytes()) {
            Some(Reply::Created(id)) => id,
            _ => panic!("create failed: {text}"),
        }
    }

    /// A group created by the first of `members`, which all join it.
    fn group_with(&mut self, members: &[u16]) -> GroupId {
        let group = self.create(members[0]);
        for &member in members {
            self.join(member, group);
        }
        group
    }

    fn join(&mut self, from: u16, group: GroupId) {
        assert_eq!(self.reply(from, &format!("!JOIN {group}")), format!("OK JOINED {group}"));
    }

    fn members(&mut self, from: u16) -> String {
        self.reply(from, "!WHO")
    }

    fn advance(&mut self, seconds: f64) {
        self.now += Duration::from_secs_f64(seconds);
    }

    /// What a sweep removed (whether it shrank a table is memory's business, and these tests'
    /// tables are tiny: `abuse_tests` checks it).
    fn sweep(&mut self) -> Swept {
        Swept { shrunk: false, ..self.relay.sweep(self.now) }
    }
}

// ---- Commands ----

#[test]
fn create_answers_a_fresh_id_and_does_not_join() {
    let mut h = Harness::new();
    let group = h.create(A);
    assert_eq!(h.members(A), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    h.join(B, group);
    assert_eq!(h.members(B), format!("OK WHO {group} 1"));
}

#[test]
fn join_leaves_the_previous_group() {
    let mut h = Harness::new();
    let (first, second) = (h.create(A), h.create(A));
    h.join(A, first);
    h.join(B, first);
    assert_eq!(h.members(B), format!("OK WHO {first} 2"));
    h.join(A, second);
    assert_eq!(h.members(A), format!("OK WHO {second} 1"));
    assert_eq!(h.members(B), format!("OK WHO {first} 1"));
    assert_eq!(h.reply(A, &format!("!LEAVE {first}")), "ERR NOT_IN_GROUP NotInThatGroup");
}

#[test]
fn joining_your_own_group_again_succeeds_without_duplicating() {
    let mut h = Harness::new();
    let group = h.create(A);
    h.join(A, group);
    h.join(A, group);
    assert_eq!(h.members(A), format!("OK WHO {group} 1"));
    assert_eq!(h.relay.stats().joins, 1);
}

#[test]
fn join_accepts_lower_case_and_white_space() {
    let mut h = Harness::new();
    let group = h.create(A);
    let typed = format!("!JOIN  {} ", group.as_str().to_lowercase());
    assert_eq!(h.reply(B, &typed), format!("OK JOINED {group}"));
}

#[test]
fn leave_takes_the_sender_out() {
    let mut h = Harness::new();
    let group = h.group_with(&[A, B]);
    assert_eq!(
        h.reply(A, &format!("!LEAVE {}", group.as_str().to_lowercase())),
        format!("OK LEFT {group}")
    );
    assert_eq!(h.members(B), format!("OK WHO {group} 1"));
    assert_eq!(h.members(A), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert!(h.send(B, b"anyone?").is_empty(), "nobody else is left to relay to");
}

#[test]
fn ping_answers_the_heartbeat_interval() {
    let mut h = Harness::new();
    h.group_with(&[A]);
    assert_eq!(h.reply(A, "!PING"), "PONG 60.0");

    let config = Config { heartbeat: Duration::from_millis(2500), ..original() };
    let mut h = Harness::with(config);
    h.group_with(&[A]);
    assert_eq!(h.reply(A, "!PING"), "PONG 2.5");
}

#[test]
fn who_counts_members() {
    let mut h = Harness::new();
    let group = h.create(A);
    for n in 1..=4 {
        h.join(n, group);
        assert_eq!(h.members(1), format!("OK WHO {group} {n}"));
    }
}

#[test]
fn extra_arguments_are_ignored() {
    let mut h = Harness::new();
    let text = h.reply(A, "!CREATE x");
    assert!(text.starts_with("OK CREATED "), "{text}");
    let group = id(&text["OK CREATED ".len()..]);
    h.join(A, group);
    assert_eq!(h.reply(A, "!WHO x"), format!("OK WHO {group} 1"));
    // `!PING <arg>` is the address-validation extension: the PONG carries a token.
    assert!(h.reply(A, "!PING x").starts_with("PONG 60.0 "));
}

#[test]
fn commands_typed_with_a_newline_work() {
    let mut h = Harness::new();
    let text = h.reply(A, "!CREATE\n");
    let group = id(&text["OK CREATED ".len()..]);
    assert_eq!(h.reply(A, &format!("!JOIN {group}\r\n")), format!("OK JOINED {group}"));
    assert_eq!(h.reply(A, "!PING\n"), "PONG 60.0");
}

#[test]
fn create_with_a_size_caps_that_group() {
    let mut h = Harness::new();
    let text = h.reply(A, "!CREATE 2");
    let small = id(&text["OK CREATED ".len()..]);
    h.join(A, small);
    h.join(B, small);
    assert_eq!(h.reply(C, &format!("!JOIN {small}")), format!("ERR GROUP_FULL {small}"));

    // Never above the global cap.
    let config = Config { cap: Some(2), ..original() };
    let mut h = Harness::with(config);
    let text = h.reply(A, "!CREATE 50");
    let group = id(&text["OK CREATED ".len()..]);
    h.join(A, group);
    h.join(B, group);
    assert_eq!(h.reply(C, &format!("!JOIN {group}")), format!("ERR GROUP_FULL {group}"));
}

// ---- Errors ----

#[test]
fn malformed_commands_are_unknown() {
    let mut h = Harness::new();
    for command in ["!", "!ping", "!Join ABCD1234", "!CREATEX", "!NOPE", "! PING", "!WHOAMI"] {
        assert_eq!(h.reply(A, command), "ERR BAD_CMD UnknownCommand", "{command}");
    }
    assert_eq!(h.send(A, b"!\xff\x00"), vec![(addr(A), b"ERR BAD_CMD UnknownCommand".to_vec())]);
}

#[test]
fn join_and_leave_without_an_id_show_usage() {
    let mut h = Harness::new();
    assert_eq!(h.reply(A, "!JOIN"), "ERR BAD_ARG Usage:!JOIN <GROUPID>");
    assert_eq!(h.reply(A, "!JOIN   "), "ERR BAD_ARG Usage:!JOIN <GROUPID>");
    assert_eq!(h.reply(A, "!LEAVE"), "ERR BAD_ARG Usage:!LEAVE <GROUPID>");
    assert_eq!(h.reply(A, "!LEAVE "), "ERR BAD_ARG Usage:!LEAVE <GROUPID>");
}

#[test]
fn join_of_a_missing_group() {
    let mut h = Harness::new();
    assert_eq!(h.reply(A, "!JOIN ABCD1234"), "ERR BAD_ARG NoSuchGroup");
    assert_eq!(h.reply(A, "!JOIN not-an-id"), "ERR BAD_ARG NoSuchGroup");
}

#[test]
fn join_of_a_full_group_keeps_the_old_membership() {
    let config = Config { cap: Some(2), ..original() };
    let mut h = Harness::with(config);
    let (full, home) = (h.create(A), h.create(A));
    h.join(A, full);
    h.join(B, full);
    h.join(C, home);
    assert_eq!(h.reply(C, &format!("!JOIN {full}")), format!("ERR GROUP_FULL {full}"));
    assert_eq!(h.members(C), format!("OK WHO {home} 1"));
    // A member of a full group may join it again.
    h.join(B, full);
}

#[test]
fn no_cap_means_no_limit() {
    let config = Config { cap: None, ..original() };
    let mut h = Harness::with(config);
    let group = h.create(1);
    for n in 1..=300 {
        h.join(n, group);
    }
    assert_eq!(h.members(1), format!("OK WHO {group} 300"));
}

#[test]
fn leave_of_a_group_you_are_not_in() {
    let mut h = Harness::new();
    let (mine, other) = (h.create(A), h.create(A));
    assert_eq!(h.reply(A, &format!("!LEAVE {mine}")), "ERR NOT_IN_GROUP NotInThatGroup");
    h.join(A, mine);
    assert_eq!(h.reply(A, &format!("!LEAVE {other}")), "ERR NOT_IN_GROUP NotInThatGroup");
    assert_eq!(h.reply(A, "!LEAVE garbage"), "ERR NOT_IN_GROUP NotInThatGroup");
    assert_eq!(h.members(A), format!("OK WHO {mine} 1"));
}

#[test]
fn ping_who_and_payload_need_a_group() {
    let mut h = Harness::new();
    assert_eq!(h.reply(A, "!PING"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(h.reply(A, "!WHO"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(h.reply(A, "hello"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
}

#[test]
fn create_limit_per_address() {
    let mut h = Harness::new();
    for _ in 0..3 {
        h.create(A);
    }
    assert_eq!(h.reply(A, "!CREATE"), "ERR CLIENT_LIMIT 3/3");
    h.create(B); // the limit is per address

    let config = Config { max_groups_per_client: 1, ..original() };
    let mut h = Harness::with(config);
    h.create(A);
    assert_eq!(h.reply(A, "!CREATE"), "ERR CLIENT_LIMIT 1/1");
}

#[test]
fn oversize_datagrams_are_refused_and_dropped() {
    let mut h = Harness::new();
    h.group_with(&[A, B]);
    for datagram in [
        vec![b'x'; 4097],
        vec![b'!'; 5000],
        b"!PING ".iter().copied().chain([b' '; 4091]).collect(),
    ] {
        assert_eq!(
            h.send(A, &datagram),
            vec![(addr(A), b"ERR TOO_LARGE PayloadTooLarge".to_vec())]
        );
    }
    assert_eq!(h.relay.stats().oversize, 3);
    assert_eq!(h.send(A, &[b'x'; 4096]).len(), 1, "4096 bytes is relayed");
}

#[test]
fn empty_datagrams_are_ignored() {
    let mut h = Harness::new();
    assert!(h.send(A, b"").is_empty());
}

// ---- Relaying ----

#[test]
fn payloads_go_verbatim_to_every_other_member() {
    let mut h = Harness::new();
    h.group_with(&[A, B, C]);
    h.group_with(&[9]);

    let payload = b"\x00\xff binary \r\n\x1b[2J OK JOINED ABCD1234";
    let mut out = h.send(B, payload);
    out.sort();
    assert_eq!(out, vec![(addr(A), payload.to_vec()), (addr(C), payload.to_vec())]);
}

#[test]
fn a_member_that_cannot_be_reached_is_removed() {
    let mut h = Harness::new();
    let group = h.group_with(&[A, B, C]);
    h.relay.remove_unreachable(h.now, addr(B));
    assert_eq!(h.members(A), format!("OK WHO {group} 2"));
    assert_eq!(h.send(A, b"hi"), vec![(addr(C), b"hi".to_vec())]);
    assert_eq!(h.relay.stats().unreachable, 1);
    assert_eq!(h.relay.stats().removals, 0, "removals count the silent only");
}

// ---- Groups ----

/// Candidate ids from a script, to make the generator repeat itself.
fn scripted(ids: &[&str]) -> impl FnMut() -> GroupId + Send + 'static {
    let queue: Arc<Mutex<VecDeque<GroupId>>> =
        Arc::new(Mutex::new(ids.iter().map(|t| id(t)).collect()));
    move || queue.lock().unwrap().pop_front().expect("script ran out of ids")
}

#[test]
fn ids_are_unique_among_live_groups() {
    let ids = ["AAAAAAAA", "AAAAAAAA", "AAAAAAAA", "BBBBBBBB", "BBBBBBBB", "CCCCCCCC"];
    let mut h = Harness {
        relay: Relay::with_id_source(Config::default(), scripted(&ids)),
        now: Instant::now(),
    };
    assert_eq!(h.create(A), id("AAAAAAAA"));
    assert_eq!(h.create(B), id("BBBBBBBB"));
    assert_eq!(h.create(C), id("CCCCCCCC"));
}

#[test]
fn an_expired_id_may_be_used_again() {
    let ids = ["AAAAAAAA", "AAAAAAAA"];
    let mut h = Harness {
        relay: Relay::with_id_source(Config::default(), scripted(&ids)),
        now: Instant::now(),
    };
    assert_eq!(h.create(A), id("AAAAAAAA"));
    h.advance(301.0);
    assert_eq!(h.sweep(), Swept { removed: 0, expired: 1, shrunk: false });
    assert_eq!(h.create(A), id("AAAAAAAA"));
}

#[test]
fn real_ids_do_not_repeat() {
    let config = Config { max_groups_per_client: u32::MAX, ..original() };
    let mut h = Harness::with(config);
    let ids: HashSet<GroupId> = (0..5000).map(|_| h.create(A)).collect();
    assert_eq!(ids.len(), 5000);
}

// ---- Liveness and cleanup ----

#[test]
fn a_silent_member_is_removed_after_three_heartbeats_and_not_before() {
    let mut h = Harness::new(); // heartbeat 60 s
    let group = h.group_with(&[A, B]);
    h.advance(120.0);
    assert_eq!(h.reply(B, "!PING"), "PONG 60.0");

    h.advance(60.0); // A: exactly 3 × 60 s of silence
    assert_eq!(h.sweep(), Swept::default());
    assert_eq!(h.members(B), format!("OK WHO {group} 2"));

    h.advance(0.001);
    assert_eq!(h.sweep(), Swept { removed: 1, expired: 0, shrunk: false });
    assert_eq!(h.members(B), format!("OK WHO {group} 1"));
    assert_eq!(h.reply(A, "!PING"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
}

#[test]
fn removal_waits_for_the_next_sweep() {
    let mut h = Harness::new();
    let group = h.group_with(&[A]);
    h.advance(200.0); // past the deadline, but no sweep has run
    assert_eq!(h.members(A), format!("OK WHO {group} 1"));
    h.sweep();
    assert_eq!(h.members(A), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
}

#[test]
fn activity_postpones_removal() {
    // (what keeps A alive, when it happens)
    let cases: [(&str, &[u8]); 3] =
        [("payload", b"still here"), ("ping", b"!PING"), ("join", b"!JOIN")];
    for (what, datagram) in cases {
        let mut h = Harness::new();
        let group = h.group_with(&[A, B]);
        h.advance(170.0);
        let datagram =
            if what == "join" { format!("!JOIN {group}").into_bytes() } else { datagram.to_vec() };
        h.send(A, &datagram);
        h.advance(170.0); // 340 s since A joined, 170 s since it was last active
        h.send(B, b"!PING");
        assert_eq!(h.sweep(), Swept::default(), "{what}");
        h.advance(11.0);
        h.send(B, b"!PING");
        assert_eq!(h.sweep(), Swept { removed: 1, expired: 0, shrunk: false }, "{what}");
    }
}

#[test]
fn the_sweep_goes_by_last_activity_not_by_joining_order() {
    let mut h = Harness::new();
    let group = h.group_with(&[A, B, C]); // A joined first
    h.advance(100.0);
    h.send(A, b"A is still here");
    h.advance(80.001); // B and C: 180.001 s of silence; A: 80.001 s
    assert_eq!(h.sweep(), Swept { removed: 2, expired: 0, shrunk: false });
    assert_eq!(h.members(A), format!("OK WHO {group} 1"));
}

#[test]
fn empty_groups_expire_by_when_they_emptied_not_by_creation() {
    let config = Config { empty_ttl: Duration::from_secs(200), ..original() };
    let mut h = Harness::with(config);
    let first = h.group_with(&[A]); // created, and left empty, before `second`
    h.advance(100.0);
    let second = h.create(B);
    h.advance(100.0);
    assert_eq!(h.reply(A, &format!("!LEAVE {first}")), format!("OK LEFT {first}"));
    h.advance(100.001); // `second` empty for 200.001 s, `first` for 100.001 s
    assert_eq!(h.sweep(), Swept { removed: 0, expired: 1, shrunk: false });
    assert_eq!(h.reply(C, &format!("!JOIN {second}")), "ERR BAD_ARG NoSuchGroup");
    assert_eq!(h.reply(C, &format!("!JOIN {first}")), format!("OK JOINED {first}"));
}

#[test]
fn a_sweep_in_steps_removes_everything_due_a_few_at_a_time() {
    let config = Config { empty_ttl: Duration::from_secs(10), ..original() };
    let mut h = Harness::with(config);
    let keep = h.group_with(&[A]);
    let silent = h.group_with(&[10, 11, 12, 13, 14]);
    h.create(20); // a second group, empty from the start
    h.advance(100.0);
    h.send(A, b"A is still here");
    h.advance(80.001); // the five: 180.001 s of silence

    let mut steps = Vec::new();
    for _ in 0..10 {
        let (swept, done) = h.relay.sweep_step(h.now, 2);
        steps.push((swept.removed, swept.expired, done));
        if done {
            break;
        }
    }
    // Members first, two at a time; then the groups (the one the five left became empty only
    // now, so only the group that was always empty is due).
    assert_eq!(steps, [(2, 0, false), (2, 0, false), (1, 1, false), (0, 0, true)]);
    assert_eq!(h.members(A), format!("OK WHO {keep} 1"));
    assert_eq!(h.reply(30, &format!("!JOIN {silent}")), format!("OK JOINED {silent}"));
    assert_eq!(h.relay.stats().removals, 5);
}

#[test]
fn who_is_not_activity() {
    let mut h = Harness::new();
    h.group_with(&[A]);
    h.advance(179.0);
    h.members(A);
    h.advance(2.0);
    assert_eq!(h.sweep().removed, 1);
}

#[test]
fn the_deadline_follows_the_configured_heartbeat() {
    let config = Config { heartbeat: Duration::from_millis(500), ..original() };
    let mut h = Harness::with(config);
    h.group_with(&[A]);
    h.advance(1.5);
    assert_eq!(h.sweep().removed, 0);
    h.advance(0.001);
    assert_eq!(h.sweep().removed, 1);
}

#[test]
fn a_new_group_expires_after_the_ttl_and_frees_its_slot() {
    let config = Config { max_groups_per_client: 1, ..original() };
    let mut h = Harness::with(config);
    let group = h.create(A);
    assert_eq!(h.reply(A, "!CREATE"), "ERR CLIENT_LIMIT 1/1");
    h.advance(300.0);
    assert_eq!(h.sweep(), Swept::default());
    h.join(B, group);
    h.reply(B, &format!("!LEAVE {group}"));

    h.advance(300.0); // empty again for exactly the TTL
    assert_eq!(h.sweep(), Swept::default());
    h.advance(0.001);
    assert_eq!(h.sweep(), Swept { removed: 0, expired: 1, shrunk: false });
    assert_eq!(h.reply(B, &format!("!JOIN {group}")), "ERR BAD_ARG NoSuchGroup");
    h.create(A); // the slot is free again
}

#[test]
fn a_group_emptied_by_silence_expires_a_ttl_later() {
    let config = Config { empty_ttl: Duration::from_secs(10), ..original() };
    let mut h = Harness::with(config);
    h.group_with(&[A]);
    h.advance(181.0);
    assert_eq!(h.sweep(), Swept { removed: 1, expired: 0, shrunk: false });
    h.advance(10.0);
    assert_eq!(h.sweep(), Swept::default());
    h.advance(1.0);
    assert_eq!(h.sweep(), Swept { removed: 0, expired: 1, shrunk: false });
    assert_eq!(h.relay.live_groups(), 0);
}

#[test]
fn a_group_with_members_never_expires() {
    let mut h = Harness::new();
    let group = h.group_with(&[A]);
    for _ in 0..20 {
        h.advance(59.0);
        h.send(A, b"!PING");
        h.sweep();
    }
    assert_eq!(h.members(A), format!("OK WHO {group} 1"));
}

#[test]
fn stats_count_what_happened() {
    let mut h = Harness::new();
    let group = h.group_with(&[A, B]);
    h.send(A, b"hi"); // one delivery
    h.reply(B, &format!("!LEAVE {group}"));
    h.send(A, b"");
    h.send(A, &[0; 5000]);
    let stats = h.relay.stats();
    assert_eq!((stats.creates, stats.joins, stats.leaves, stats.oversize), (1, 2, 1, 1));
    assert_eq!(stats.datagrams_in, 7);
    assert_eq!(stats.datagrams_out, 6, "5 replies and 1 relayed payload");
}
