//! The store on real files: what a restart finds, the size limit, and every way a store can be
//! unusable (each reported in words, never a panic).

use super::*;
use udprelay_testkit::ScratchDir;

fn id(text: &str) -> GroupId {
    GroupId::parse_lenient(text).unwrap()
}

fn message(text: &str) -> Entry {
    Entry::now(EntryKind::Theirs, text.to_string())
}

fn temp() -> (ScratchDir, PathBuf) {
    let dir = ScratchDir::new("store");
    let path = dir.join("history.sqlite3");
    (dir, path)
}

#[test]
fn groups_names_and_messages_survive_reopening() {
    let (_dir, path) = temp();
    {
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        let a = store.join("127.0.0.1:5000", id("AAAA2222"), Some(4)).unwrap();
        let b = store.join("relay.example:5000", id("BBBB3333"), None).unwrap();
        store.rename(b, Some("book club")).unwrap();
        assert_eq!(store.append(a, &message("hi").sent_by(Some("ana".into()))).unwrap(), 1);
        let marked = Entry { mark: " (new key)".into(), ..message("hello") };
        assert_eq!(store.append(a, &marked.sent_by(Some("ben".into()))).unwrap(), 2);
    }
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    let groups = store.groups().unwrap();
    let summary: Vec<_> = groups
        .iter()
        .map(|g| (g.server.as_str(), g.id.to_string(), g.name.as_deref(), g.cap))
        .collect();
    assert_eq!(
        summary,
        [
            ("127.0.0.1:5000", "AAAA2222".to_string(), None, Some(4)),
            ("relay.example:5000", "BBBB3333".to_string(), Some("book club"), None),
        ]
    );
    let page = store.page(groups[0].key, None, PAGE).unwrap();
    let texts: Vec<_> = page.iter().map(|e| (e.seq, e.sender.as_deref(), e.kind)).collect();
    assert_eq!(
        texts,
        [(Some(1), Some("ana"), EntryKind::Theirs), (Some(2), Some("ben"), EntryKind::Theirs)]
    );
    let shown: Vec<String> = page.iter().map(Entry::shown).collect();
    assert_eq!(shown, ["ana: hi", "ben: hello (new key)"], "text and mark kept apart");
    assert_eq!(store.page(groups[1].key, None, PAGE).unwrap(), []);
}

#[test]
fn leaving_keeps_the_history_for_a_later_join_or_deletes_it() {
    let (_dir, path) = temp();
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    let kept = store.join("s:1", id("KEEP2222"), None).unwrap();
    let gone = store.join("s:1", id("GAVE3333"), None).unwrap();
    store.append(kept, &message("old news")).unwrap();
    store.append(gone, &message("secret")).unwrap();
    store.leave(kept, true).unwrap();
    store.leave(gone, false).unwrap();
    assert_eq!(store.groups().unwrap(), [], "neither is rejoined at start");
    assert_eq!(store.count(gone).unwrap(), 0, "deleted with its group");
    assert_eq!(store.find("s:1", id("GAVE3333")).unwrap(), None);
    // Joining the kept one again finds its history, and numbering goes on.
    assert_eq!(store.join("s:1", id("KEEP2222"), None).unwrap(), kept);
    assert_eq!(store.append(kept, &message("new")).unwrap(), 2);
    let texts: Vec<_> = store.page(kept, None, PAGE).unwrap().into_iter().map(|e| e.text).collect();
    assert_eq!(texts, ["old news", "new"]);
    // A deleted group joined again starts empty.
    let again = store.join("s:1", id("GAVE3333"), None).unwrap();
    assert_eq!(store.page(again, None, PAGE).unwrap(), []);
}

#[test]
fn the_oldest_messages_go_past_the_limit_and_pages_go_back_in_order() {
    let (_dir, path) = temp();
    let store = Store::open(&path, 50).unwrap();
    let key = store.join("s:1", id("LIMT2222"), None).unwrap();
    for n in 1..=120 {
        store.append(key, &message(&n.to_string())).unwrap();
    }
    assert_eq!(store.count(key).unwrap(), 50);
    let newest = store.page(key, None, 20).unwrap();
    assert_eq!(newest.first().map(|e| e.text.as_str()), Some("101"));
    assert_eq!(newest.last().map(|e| e.text.as_str()), Some("120"));
    let before = store.page(key, newest[0].seq, 100).unwrap();
    assert_eq!(before.len(), 30, "only what is kept");
    assert_eq!(before.first().map(|e| e.text.as_str()), Some("71"));
    assert_eq!(before.last().map(|e| e.text.as_str()), Some("100"));
}

#[test]
fn a_store_that_cannot_be_made_is_reported() {
    let (dir, _) = temp();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let error = Store::open(&file.join("history.sqlite3"), HISTORY_LIMIT).err().unwrap();
    assert!(error.starts_with("cannot make the folder"), "{error}");
}

#[test]
fn a_corrupt_store_is_reported() {
    let (_dir, path) = temp();
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let error = Store::open(&path, HISTORY_LIMIT).err().unwrap();
    assert!(error.ends_with("is damaged (not a database)"), "{error}");
}

#[test]
fn a_store_locked_by_another_program_is_reported() {
    let (_dir, path) = temp();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);").unwrap();
    let error = Store::open(&path, HISTORY_LIMIT).err().unwrap();
    assert!(error.ends_with("is locked by another program"), "{error}");
    other.execute_batch("COMMIT").unwrap();
    assert!(Store::open(&path, HISTORY_LIMIT).is_ok(), "usable once the lock is gone");
}

#[test]
fn a_store_from_a_newer_version_is_left_alone() {
    let (_dir, path) = temp();
    Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let error = Store::open(&path, HISTORY_LIMIT).err().unwrap();
    assert!(error.contains("written by a newer udprelay-gui"), "{error}");
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99, "not rewritten");
}

#[test]
fn a_second_window_finds_the_store_locked_until_the_first_closes() {
    let (_dir, path) = temp();
    let first = Store::open(&path, HISTORY_LIMIT).unwrap();
    let error = Store::open(&path, HISTORY_LIMIT).err().unwrap();
    assert!(error.ends_with("is locked by another program"), "{error}");
    let key = first.join("s:1", id("LAST2222"), None).unwrap();
    first.append(key, &message("still writing")).unwrap();
    drop(first);
    let second = Store::open(&path, HISTORY_LIMIT).unwrap();
    assert_eq!(second.count(key).unwrap(), 1);
}

#[cfg(unix)]
#[test]
fn the_folder_and_every_file_are_the_users_alone_and_old_ones_are_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp();
    let folder = path.parent().unwrap().to_path_buf();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    {
        let store = Store::open(&path, 10).unwrap();
        let key = store.join("127.0.0.1:5000", id("ABCD1234"), None).unwrap();
        store.save(key, &mut message("a secret")).unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&path), 0o600);
        let wal = folder.join("history.sqlite3-wal");
        assert!(wal.exists(), "a write leaves the log");
        assert_eq!(mode(&wal), 0o600);
    }
    // As an older version left them: readable by everyone.
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = Store::open(&path, 10).unwrap();
    assert_eq!((mode(&folder), mode(&path)), (0o700, 0o600), "tightened at start");
}

#[test]
fn a_private_groups_secret_is_kept_and_a_version_1_store_takes_it_too() {
    let (_dir, path) = temp();
    {
        // As version 1 made it: no secret column.
        let db = Connection::open(&path).unwrap();
        db.execute_batch(&SCHEMA.replace("secret TEXT,", "")).unwrap();
        db.pragma_update(None, "user_version", 1).unwrap();
    }
    let secret = Secret::from_bytes([7; 32]);
    {
        let store = Store::open(&path, 10).unwrap();
        let key = store.join("127.0.0.1:5000", id("ABCD1234"), None).unwrap();
        store.set_secret(key, Some(&secret)).unwrap();
        store.join("127.0.0.1:5000", id("WXYZ9876"), None).unwrap();
    }
    let store = Store::open(&path, 10).unwrap();
    let groups = store.groups().unwrap();
    assert_eq!(groups[0].secret, Some(secret));
    assert_eq!(groups[1].secret, None, "a plain group");
}

#[test]
fn a_left_groups_secret_is_in_no_file_of_the_store() {
    let (dir, path) = temp();
    let secret = Secret::from_bytes([0x5a; 32]);
    let text = secret.to_string();
    for keep_history in [true, false] {
        {
            let store = Store::open(&path, HISTORY_LIMIT).unwrap();
            let key = store.join("127.0.0.1:5000", id("AAAA2222"), None).unwrap();
            store.set_secret(key, Some(&secret)).unwrap();
            store.append(key, &message("ana: hi")).unwrap();
            store.leave(key, keep_history).unwrap();
            // Still open, as a window that goes on running: nothing on disk holds it.
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let file = entry.unwrap().path();
                let bytes = std::fs::read(&file).unwrap();
                let found = bytes.windows(text.len()).any(|w| w == text.as_bytes());
                assert!(
                    !found,
                    "the secret is in {} (keep_history {keep_history})",
                    file.display()
                );
            }
        }
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        assert!(store.groups().unwrap().iter().all(|g| g.secret.is_none()));
    }
}

#[test]
fn a_version_2_stores_messages_get_their_senders_split_off_once() {
    let (_dir, path) = temp();
    let key = {
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        store.join("127.0.0.1:5000", id("ABCD1234"), None).unwrap()
    };
    {
        // As version 2 kept them: one line each, the name and the mark in it.
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "ALTER TABLE messages DROP COLUMN sender; ALTER TABLE messages DROP COLUMN mark;",
        )
        .unwrap();
        for (seq, kind, text) in [
            (1, EntryKind::Theirs, "ben: hi: there (new key)"),
            (2, EntryKind::Event, "Joined ABCD1234."),
            (3, EntryKind::Theirs, "no name here"),
            (4, EntryKind::Mine, "ana: mine keep their colon"),
        ] {
            db.execute(
                "INSERT INTO messages (group_key, seq, at, kind, text) VALUES (?1, ?2, 0, ?3, ?4)",
                params![key, seq, kind_code(kind), text],
            )
            .unwrap();
        }
        db.pragma_update(None, "user_version", 2).unwrap();
    }
    for _ in 0..2 {
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        let page = store.page(key, None, PAGE).unwrap();
        let split: Vec<_> = page.iter().map(|e| (e.sender.as_deref(), e.text.as_str())).collect();
        assert_eq!(
            split,
            [
                (Some("ben"), "hi: there (new key)"),
                (None, "Joined ABCD1234."),
                (None, "no name here"),
                (None, "ana: mine keep their colon"),
            ]
        );
    }
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, VERSION);
}
