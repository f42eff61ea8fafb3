//! The index on real files: what is found, in what order, and that it follows the history
//! (limits, deleted groups, a store made before it).

use std::path::PathBuf;

use rusqlite::Connection;
use udprelay_client::GroupId;
use udprelay_testkit::ScratchDir;

use super::*;
use crate::store::HISTORY_LIMIT;

fn id(text: &str) -> GroupId {
    GroupId::parse_lenient(text).unwrap()
}

fn temp() -> (ScratchDir, PathBuf) {
    let dir = ScratchDir::new("search");
    let path = dir.join("history.sqlite3");
    (dir, path)
}

/// A message of someone else's, sent at `at` ms.
fn theirs(at: i64, text: &str) -> Entry {
    Entry::at(at, EntryKind::Theirs, text.to_string())
}

fn texts(found: &[Found]) -> Vec<&str> {
    found.iter().map(|f| f.entry.text.as_str()).collect()
}

#[test]
fn a_part_of_a_word_is_found_in_any_case_newest_first_across_groups() {
    let (_dir, path) = temp();
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    let a = store.join("127.0.0.1:5000", id("AAAA2222"), None).unwrap();
    let b = store.join("127.0.0.1:5000", id("BBBB3333"), None).unwrap();
    store.append(a, &theirs(1_000, "the RELEASE is out").sent_by(Some("ana".into()))).unwrap();
    store.append(b, &theirs(2_000, "release notes?")).unwrap();
    store.append(a, &Entry::at(3_000, EntryKind::Mine, "no releases today".into())).unwrap();
    store.append(a, &Entry::at(4_000, EntryKind::Event, "Rejoined: release".into())).unwrap();
    store.append(a, &theirs(5_000, "unrelated")).unwrap();

    let found = store.search(&[a, b], "elea", 100).unwrap();
    assert_eq!(texts(&found), ["no releases today", "release notes?", "the RELEASE is out"]);
    assert_eq!(found[2].key, a);
    assert_eq!(found[2].entry.sender.as_deref(), Some("ana"));
    assert_eq!(found[2].entry.seq, Some(1));
    assert_eq!(found[1].key, b);
    // One group; the newest `most`; nothing.
    assert_eq!(texts(&store.search(&[b], "RELEASE", 100).unwrap()), ["release notes?"]);
    assert_eq!(texts(&store.search(&[a, b], "release", 1).unwrap()), ["no releases today"]);
    assert!(store.search(&[a, b], "missing", 100).unwrap().is_empty());
    assert!(store.search(&[], "release", 100).unwrap().is_empty());
}

#[test]
fn queries_are_taken_as_typed_short_ones_too() {
    let (_dir, path) = temp();
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    let a = store.join("127.0.0.1:5000", id("AAAA2222"), None).unwrap();
    for (at, text) in [
        (1, "she said \"hi\" AND left"),
        (2, "100% sure"),
        (3, "snake_case"),
        (4, "ok"),
        (5, "a \\ b"),
        (6, "hi* NOT there"),
    ] {
        store.append(a, &theirs(at, text)).unwrap();
    }
    // FTS5's syntax (quotes, AND, NOT, *) is text to find, not a query language.
    assert_eq!(texts(&store.search(&[a], "\"hi\" AND", 10).unwrap()), ["she said \"hi\" AND left"]);
    assert_eq!(texts(&store.search(&[a], "hi* NOT", 10).unwrap()), ["hi* NOT there"]);
    // Shorter than a trigram: scanned, LIKE's wildcards taken literally.
    assert_eq!(texts(&store.search(&[a], "%", 10).unwrap()), ["100% sure"]);
    assert_eq!(texts(&store.search(&[a], "_", 10).unwrap()), ["snake_case"]);
    assert_eq!(texts(&store.search(&[a], "\\", 10).unwrap()), ["a \\ b"]);
    assert_eq!(texts(&store.search(&[a], "OK", 10).unwrap()), ["ok"]);
    assert_eq!(
        texts(&store.search(&[a], "hi", 10).unwrap()),
        ["hi* NOT there", "she said \"hi\" AND left"]
    );
    // Several words: as typed, in that order, spaces and all; not each anywhere.
    store.append(a, &theirs(7, "left she said")).unwrap();
    assert_eq!(
        texts(&store.search(&[a], "SHE SAID", 10).unwrap()),
        ["left she said", "she said \"hi\" AND left"]
    );
    assert_eq!(texts(&store.search(&[a], "said she", 10).unwrap()), Vec::<&str>::new());
    assert_eq!(texts(&store.search(&[a], "she  said", 10).unwrap()), Vec::<&str>::new());
    // Words all shorter than a trigram: scanned.
    assert_eq!(texts(&store.search(&[a], "a \\", 10).unwrap()), ["a \\ b"]);
    // The index and the scan agree.
    for query in ["said", "100% s", "e_c", "SURE"] {
        assert_eq!(store.search(&[a], query, 10).unwrap(), store.scan(&[a], query, 10).unwrap());
    }
}

#[test]
fn what_leaves_the_history_leaves_the_index() {
    let (_dir, path) = temp();
    let store = Store::open(&path, 5).unwrap();
    let a = store.join("127.0.0.1:5000", id("AAAA2222"), None).unwrap();
    for n in 1..=8 {
        store.append(a, &theirs(n, &format!("needle {n}"))).unwrap();
    }
    // Past the limit: the three oldest went, from the index too.
    let found = store.search(&[a], "needle", 100).unwrap();
    assert_eq!(texts(&found), ["needle 8", "needle 7", "needle 6", "needle 5", "needle 4"]);
    // Leaving and deleting the history, then joining again: the row's key comes back (the
    // highest one is reused), and the new messages are not found by the old ones' words.
    store.leave(a, false).unwrap();
    let again = store.join("127.0.0.1:5000", id("AAAA2222"), None).unwrap();
    assert_eq!(again, a, "the key is reused, as this test needs");
    store.append(again, &theirs(9, "hello")).unwrap();
    assert!(store.search(&[again], "needle", 100).unwrap().is_empty());
    assert_eq!(texts(&store.search(&[again], "hello", 100).unwrap()), ["hello"]);
    let indexed: i64 =
        store.db.query_row("SELECT COUNT(*) FROM message_search", [], |r| r.get(0)).unwrap();
    assert_eq!(indexed, 1, "nothing of the deleted history is left in the index");
}

#[test]
fn a_store_made_before_the_index_is_indexed_in_batches_while_it_is_used() {
    let (_dir, path) = temp();
    let (a, b) = {
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        let a = store.join("127.0.0.1:5000", id("AAAA2222"), None).unwrap();
        let b = store.join("127.0.0.1:5000", id("BBBB3333"), None).unwrap();
        for n in 0..250 {
            store.append(a, &theirs(n, &format!("old needle {n}"))).unwrap();
        }
        store.append(b, &Entry::at(0, EntryKind::Event, "Joined: needle".into())).unwrap();
        store.append(b, &theirs(1, "needle in b")).unwrap();
        (a, b)
    };
    {
        // As schema 3 left it: no index.
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "DROP TRIGGER message_indexed; DROP TRIGGER message_unindexed;
             DROP TABLE message_search; DROP TABLE search_pending;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    assert_eq!(store.unindexed().unwrap(), 252);
    assert!(store.search(&[a, b], "needle", 1000).unwrap().is_empty(), "nothing indexed yet");
    // What comes meanwhile is found at once.
    store.append(a, &theirs(300, "new needle")).unwrap();
    assert_eq!(texts(&store.search(&[a], "needle", 1000).unwrap()), ["new needle"]);
    assert_eq!(store.index_some(100).unwrap(), 152);
    assert_eq!(store.search(&[a], "old needle", 1000).unwrap().len(), 100);
    let mut batches = 0;
    while store.index_some(100).unwrap() > 0 {
        batches += 1;
        assert!(batches < 10, "indexing ends");
    }
    assert_eq!(store.search(&[a], "needle", 1000).unwrap().len(), 251);
    assert_eq!(texts(&store.search(&[b], "needle", 1000).unwrap()), ["needle in b"]);
    assert_eq!(store.index_some(100).unwrap(), 0, "nothing left");
    // What batch indexing left is merged, step by step, to an end.
    let mut steps = 0;
    while store.tidy_index(10).unwrap() {
        steps += 1;
        assert!(steps < 1000, "merging ends");
    }
    assert!(!store.tidy_index(10).unwrap(), "nothing more to merge");
    assert_eq!(store.search(&[a], "needle", 1000).unwrap().len(), 251);
    drop(store);
    // Reopened: the index is there, nothing to do.
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    assert_eq!(store.unindexed().unwrap(), 0);
    assert_eq!(store.search(&[a, b], "needle", 1000).unwrap().len(), 252);
}

#[test]
fn a_group_deleted_before_it_was_indexed_leaves_nothing_to_do() {
    let (_dir, path) = temp();
    let a = {
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        let a = store.join("127.0.0.1:5000", id("AAAA2222"), None).unwrap();
        for n in 0..10 {
            store.append(a, &theirs(n, "needle")).unwrap();
        }
        a
    };
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TRIGGER message_indexed; DROP TRIGGER message_unindexed;
             DROP TABLE message_search; DROP TABLE search_pending;",
        )
        .unwrap();
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    assert_eq!(store.unindexed().unwrap(), 10);
    // Deleting messages the index never had is no error.
    store.leave(a, false).unwrap();
    assert_eq!(store.unindexed().unwrap(), 0);
    assert_eq!(store.index_some(100).unwrap(), 0);
}
