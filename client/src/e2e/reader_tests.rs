//! A private group as a member reads it, under an injected clock.

use std::time::{Duration, Instant};

use super::*;
use crate::e2e::{MAX_PINS, MAX_SIGNERS, MAX_SKEW, Secret};
use crate::message::Name;

const NOW_MS: u64 = 1_780_000_000_000;

struct Member {
    reader: Reader,
    name: Name,
}

fn key() -> GroupKey {
    GroupKey::derive(&Secret::from_bytes([7; 32]), "ABCD1234".parse().unwrap())
}

fn member(seed: u8, name: &str) -> Member {
    let reader = Reader::new(key(), Identity::from_seed([seed; 32]), 1_780_000_000);
    Member { reader, name: name.parse().unwrap() }
}

impl Member {
    fn says(&mut self, text: &str) -> String {
        self.reader.seal(Some(&self.name), text, NOW_MS).unwrap()
    }
}

fn text_of(reading: Reading) -> (Option<String>, String, bool) {
    let (from, text, doubt) = read_of(reading);
    (from, text, doubt == Some(Doubt::NewKey))
}

fn read_of(reading: Reading) -> (Option<String>, String, Option<Doubt>) {
    match reading {
        Reading::Message { from, text, doubt, .. } => (from, text, doubt),
        other => panic!("not a message: {other:?}"),
    }
}

/// An envelope from `seed` under any name at all, as a forger's client would seal it.
fn forged(seed: u8, name: &str, counter: u64) -> String {
    let identity = Identity::from_seed([seed; 32]);
    crate::e2e::envelope::seal_raw(&key(), &identity, name, "hi", counter, NOW_MS, [seed; 24])
}

#[test]
fn messages_duplicates_replays_and_our_own() {
    let (mut ana, mut ben) = (member(1, "ana"), member(2, "ben"));
    let now = Instant::now();
    let hello = ana.says("hello");
    assert_eq!(
        text_of(ben.reader.read(hello.as_bytes(), now, NOW_MS)),
        (Some("ana".into()), "hello".into(), false)
    );
    assert_eq!(ben.reader.read(hello.as_bytes(), now, NOW_MS), Reading::Dropped, "a duplicate");
    let later = ana.says("later");
    ben.reader.read(later.as_bytes(), now, NOW_MS);
    assert_eq!(ben.reader.read(hello.as_bytes(), now, NOW_MS), Reading::Dropped, "a replay");
    // What ana sent, relayed back to her by a peer, is not shown as someone else's.
    assert_eq!(ana.reader.read(hello.as_bytes(), now, NOW_MS), Reading::Dropped);
    // The same identity in another client (started another second) is read as a member.
    let mut ana_elsewhere = Reader::new(key(), Identity::from_seed([1; 32]), 1_780_000_500);
    let from_there = ana_elsewhere.seal(Some(&ana.name), "from my phone", NOW_MS).unwrap();
    let read = text_of(ana.reader.read(from_there.as_bytes(), now, NOW_MS));
    assert_eq!(read.1, "from my phone");
    assert_eq!(ben.reader.read(b"ana: in the clear", now, NOW_MS), Reading::Plain);
    let stale = ana.reader.seal(Some(&ana.name), "old", NOW_MS - MAX_SKEW - 1).unwrap();
    assert_eq!(ben.reader.read(stale.as_bytes(), now, NOW_MS), Reading::Dropped);
    assert!(ben.reader.notices(now).is_empty(), "none of that is news");
}

#[test]
fn a_name_that_comes_with_another_key_is_marked() {
    let (mut ana, mut ben) = (member(1, "ana"), member(2, "ben"));
    let mut mallory = member(6, "ana");
    let now = Instant::now();
    let first = text_of(ben.reader.read(ana.says("hi").as_bytes(), now, NOW_MS));
    assert!(!first.2);
    let forged = text_of(ben.reader.read(mallory.says("send money").as_bytes(), now, NOW_MS));
    assert_eq!((forged.0.as_deref(), forged.2), (Some("ana"), true));
    let again = text_of(ben.reader.read(ana.says("that was not me").as_bytes(), now, NOW_MS));
    assert!(!again.2, "the first key stays the name's");
}

#[test]
fn what_does_not_decrypt_is_counted_and_said_at_most_every_ten_seconds() {
    let mut ben = member(2, "ben");
    let outsider = GroupKey::derive(&Secret::from_bytes([8; 32]), "ABCD1234".parse().unwrap());
    let mut stranger = Reader::new(outsider, Identity::from_seed([9; 32]), 1_780_000_000);
    let start = Instant::now();
    for _ in 0..3 {
        let envelope = stranger.seal(None, "can you read me", NOW_MS).unwrap();
        assert_eq!(ben.reader.read(envelope.as_bytes(), start, NOW_MS), Reading::Undecryptable);
    }
    assert_eq!(ben.reader.read(b"~E2 garbage", start, NOW_MS), Reading::Undecryptable);
    assert_eq!(ben.reader.next_notice(start), Some(start));
    assert_eq!(ben.reader.notices(start), [Notice::Undecryptable { count: 4 }]);
    // An envelope of version 1, from an older client, is not read, and not shown as text.
    let old = "~E1 CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJGXH-0y-M0-mk0eUL4aTJeTQRU_Nuw6cp5TvftkyyZqPLkjc";
    assert_eq!(ben.reader.read(old.as_bytes(), start, NOW_MS), Reading::Undecryptable);
    let soon = start + Duration::from_secs(3);
    assert!(ben.reader.notices(soon).is_empty());
    assert_eq!(ben.reader.next_notice(soon), Some(start + NOTICE_EVERY));
    assert_eq!(ben.reader.notices(start + NOTICE_EVERY), [Notice::Undecryptable { count: 1 }]);
    assert_eq!(ben.reader.next_notice(start + NOTICE_EVERY), None);
}

#[test]
fn messages_that_did_not_arrive_are_said_after_a_grace_for_latecomers() {
    let (mut ana, mut ben) = (member(1, "ana"), member(2, "ben"));
    let sent: Vec<String> = (0..6).map(|n| ana.says(&format!("{n}"))).collect();
    let start = Instant::now();
    ben.reader.read(sent[0].as_bytes(), start, NOW_MS);
    ben.reader.read(sent[3].as_bytes(), start, NOW_MS); // 1 and 2 are missing
    ben.reader.read(sent[1].as_bytes(), start, NOW_MS); // 1 was only late
    assert!(ben.reader.notices(start + Duration::from_secs(1)).is_empty(), "within the grace");
    assert_eq!(ben.reader.next_notice(start), Some(start + LATE_GRACE));
    let after = start + LATE_GRACE;
    assert_eq!(ben.reader.notices(after), [Notice::Missed { from: "ana".into(), count: 1 }]);
    // Another gap soon after: said once ten seconds have passed since the last notice.
    ben.reader.read(sent[5].as_bytes(), after, NOW_MS);
    let later = after + LATE_GRACE;
    assert!(ben.reader.notices(later).is_empty());
    assert_eq!(ben.reader.next_notice(later), Some(after + NOTICE_EVERY));
    let notices = ben.reader.notices(after + NOTICE_EVERY);
    assert_eq!(notices, [Notice::Missed { from: "ana".into(), count: 1 }]);
}

#[test]
fn a_name_that_breaks_the_rule_is_marked_and_never_pinned() {
    let mut ben = member(2, "ben");
    let now = Instant::now();
    let long = "x".repeat(255);
    for (n, name) in
        ["ana: pay me", "a\u{1b}[2Jb", " ana", "!who", long.as_str()].iter().enumerate()
    {
        let read = read_of(ben.reader.read(forged(6, name, n as u64 + 1).as_bytes(), now, NOW_MS));
        assert_eq!((read.0.as_deref(), read.2), (Some(*name), Some(Doubt::BadName)), "{name:?}");
    }
    assert!(ben.reader.pins().names.is_empty(), "no bad name is pinned");
    // The real "ana" comes later and is taken as herself.
    let read = read_of(ben.reader.read(forged(1, "ana", 1).as_bytes(), now, NOW_MS));
    assert_eq!(read.2, None);
}

#[test]
fn a_name_that_looks_like_another_members_is_marked() {
    let mut ben = member(2, "ben");
    let now = Instant::now();
    assert_eq!(read_of(ben.reader.read(forged(1, "ana", 1).as_bytes(), now, NOW_MS)).2, None);
    // Cyrillic а (U+0430), a capital, and "rn" for "m": each from another key.
    for (seed, name, like) in [(6, "\u{430}na", "ana"), (7, "Ana", "ana"), (8, "rnia", "mia")] {
        if like == "mia" {
            ben.reader.read(forged(3, "mia", 1).as_bytes(), now, NOW_MS);
        }
        let read = read_of(ben.reader.read(forged(seed, name, 1).as_bytes(), now, NOW_MS));
        assert_eq!(read.2, Some(Doubt::LooksLike(like.into())), "{name}");
    }
    // The first of the look-alikes is not marked, nor its key under another of them.
    assert_eq!(read_of(ben.reader.read(forged(1, "ANA", 2).as_bytes(), now, NOW_MS)).2, None);
    // A look-alike of this member's own name is marked too.
    ben.says("hello");
    let read = read_of(ben.reader.read(forged(9, "b\u{435}n", 1).as_bytes(), now, NOW_MS));
    assert_eq!(read.2, Some(Doubt::LooksLike("ben".into())));
    let impostor = read_of(ben.reader.read(forged(9, "ben", 2).as_bytes(), now, NOW_MS));
    assert_eq!(impostor.2, Some(Doubt::NewKey), "the member's own name is pinned to its key");

    // After a restart, the first of the look-alikes is still the one the others look like
    // (each reader's tables have an order of their own: eight tries).
    for _ in 0..8 {
        let mut before = member(2, "ben");
        for (seed, name) in [(1, "ana"), (6, "\u{430}na"), (7, "Ana"), (8, "ANA")] {
            before.reader.read(forged(seed, name, 1).as_bytes(), now, NOW_MS);
        }
        let kept = Pins::decode(&before.reader.pins().encode()).unwrap();
        let mut again = Reader::new(key(), Identity::from_seed([2; 32]), 1_780_000_100);
        again.remember(kept, now);
        assert_eq!(read_of(again.read(forged(1, "ana", 3).as_bytes(), now, NOW_MS)).2, None);
        let read = read_of(again.read(forged(6, "\u{430}na", 3).as_bytes(), now, NOW_MS));
        assert_eq!(read.2, Some(Doubt::LooksLike("ana".into())));
    }
}

#[test]
fn pins_and_counters_hold_across_a_restart() {
    let (mut ana, mut ben) = (member(1, "ana"), member(2, "ben"));
    let now = Instant::now();
    let hello = ana.says("hello");
    ben.reader.read(hello.as_bytes(), now, NOW_MS);
    assert!(ben.reader.pins_changed());
    let kept = Pins::decode(&ben.reader.pins().encode()).unwrap();
    ben.reader.pins_kept();
    assert!(!ben.reader.pins_changed());

    // Ben's client starts again: a newcomer-like reader, given what was kept.
    let mut again = Reader::new(key(), Identity::from_seed([2; 32]), 1_780_000_100);
    again.remember(kept, now);
    assert_eq!(again.read(hello.as_bytes(), now, NOW_MS), Reading::Dropped, "the replay");
    let mut mallory = member(6, "ana");
    let forged = text_of(again.read(mallory.says("it is me").as_bytes(), now, NOW_MS));
    assert_eq!((forged.0.as_deref(), forged.2), (Some("ana"), true), "ana is still ana");
    let real = text_of(again.read(ana.says("no it is not").as_bytes(), now, NOW_MS));
    assert_eq!((real.1.as_str(), real.2), ("no it is not", false));
    assert!(again.notices(now + LATE_GRACE).is_empty(), "nothing counted missing");
}

#[test]
fn throwaway_keys_never_push_a_named_member_out() {
    let (mut ana, mut ben) = (member(1, "ana"), member(2, "ben"));
    let mut now = Instant::now();
    let hello = ana.says("hello");
    ben.reader.read(hello.as_bytes(), now, NOW_MS);
    // A member makes up more keys than the table holds, each heard after ana.
    for n in 0..MAX_SIGNERS as u64 + 10 {
        now += Duration::from_millis(1);
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(n + 1000).to_be_bytes());
        let throwaway = Identity::from_seed(seed);
        let envelope = crate::e2e::seal(&key(), &throwaway, None, "x", 1, NOW_MS).unwrap();
        assert!(matches!(
            ben.reader.read(envelope.as_bytes(), now, NOW_MS),
            Reading::Message { .. }
        ));
    }
    assert_eq!(ben.reader.read(hello.as_bytes(), now, NOW_MS), Reading::Dropped, "still a replay");
    assert!(ben.reader.pins().newest.len() <= MAX_SIGNERS);
}

#[test]
fn the_pinned_names_are_bounded_and_the_first_stay() {
    let mut ben = member(2, "ben");
    let now = Instant::now();
    ben.reader.read(forged(1, "ana", 1).as_bytes(), now, NOW_MS);
    for n in 0..MAX_PINS + 5 {
        let identity = Identity::from_seed([3; 32]);
        let name = format!("n{n}");
        let counter = n as u64 + 1;
        let envelope =
            crate::e2e::envelope::seal_raw(&key(), &identity, &name, "x", counter, NOW_MS, [0; 24]);
        ben.reader.read(envelope.as_bytes(), now, NOW_MS);
    }
    let pins = ben.reader.pins();
    assert_eq!(pins.names.len(), MAX_PINS);
    assert!(pins.names.contains(&("ana".into(), Identity::from_seed([1; 32]).public_key())));
    assert!(
        text_of(ben.reader.read(forged(6, "ana", 1).as_bytes(), now, NOW_MS)).2,
        "ana is pinned"
    );
}
