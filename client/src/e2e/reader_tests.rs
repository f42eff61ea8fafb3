//! A private group as a member reads it, under an injected clock.

use std::time::{Duration, Instant};

use super::*;
use crate::e2e::{MAX_SKEW, Secret};
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
    match reading {
        Reading::Message { from, text, new_key, .. } => (from, text, new_key),
        other => panic!("not a message: {other:?}"),
    }
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
    assert_eq!(ben.reader.read(b"~E1 garbage", start, NOW_MS), Reading::Undecryptable);
    assert_eq!(ben.reader.next_notice(start), Some(start));
    assert_eq!(ben.reader.notices(start), [Notice::Undecryptable { count: 4 }]);
    ben.reader.read(b"~E1 more", start, NOW_MS);
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
