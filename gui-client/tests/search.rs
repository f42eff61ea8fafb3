//! Search in the real window, over a history store and the real server: Ctrl+F, the words
//! typed, the results (one group or every group), a result chosen and shown in its place in
//! the log, far back in the history; a store made before the index, indexed while the window
//! runs. Every wait is bounded.

mod common;

use std::path::Path;

use common::{click, harness, type_into, wait_until};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use rusqlite::Connection;
use udprelay_gui::app::{App, Entry, EntryKind, Stage};
use udprelay_gui::store::{HISTORY_LIMIT, PAGE, Store};
use udprelay_testkit::{Peer, ScratchDir, ServerProcess};

fn window_with_store(server: &ServerProcess, path: &Path) -> Harness<'static, App> {
    harness(App::with_history(server.addr.to_string(), "ana", Store::open(path, HISTORY_LIMIT)))
}

fn all_joined(app: &App) -> bool {
    !app.groups.is_empty() && app.groups.iter().all(|g| g.stage == Stage::Joined)
}

/// A store with groups `first` (1 000 messages of ben's, the 11th holding "needle") and
/// `second` (a few, one holding "Needles"), as earlier runs left it.
fn fill(path: &Path, server: &ServerProcess, first: &str, second: &str) {
    let store = Store::open(path, HISTORY_LIMIT).unwrap();
    let server = server.addr.to_string();
    let parse = |id: &str| udprelay_client::GroupId::parse_lenient(id).unwrap();
    let a = store.join(&server, parse(first), None).unwrap();
    let b = store.join(&server, parse(second), None).unwrap();
    let start = chrono::Utc::now().timestamp_millis() - 3_600_000;
    for n in 0..1_000 {
        let text = if n == 10 { "where is the needle?".to_string() } else { format!("line {n}") };
        let entry = Entry::at(start + n, EntryKind::Theirs, text).sent_by(Some("ben".into()));
        store.append(a, &entry).unwrap();
    }
    for (n, text) in ["hello", "Needles, and thread"].into_iter().enumerate() {
        let entry = Entry::at(start + 2_000 + n as i64, EntryKind::Theirs, text.into());
        store.append(b, &entry.sent_by(Some("cay".into()))).unwrap();
    }
}

/// The result button holding `text`.
fn result<'a>(harness: &'a Harness<'static, App>, text: &'a str) -> egui_kittest::Node<'a> {
    harness.get_by(move |node| {
        node.role() == Role::Button && node.label().is_some_and(|label| label.contains(text))
    })
}

/// Whether the log shows a message reading exactly `text` (drawn: in view).
fn shown(harness: &Harness<'static, App>, text: &str) -> bool {
    // Exactly: a result's button holds more (its group, time and sender).
    harness.query_by_label(text).is_some()
}

#[test]
fn a_search_finds_old_and_new_messages_and_shows_one_in_its_place() {
    let server = ServerProcess::start(&[]);
    let ben = Peer::new(server.addr);
    let (first, second) = (ben.create(), ben.create());
    let dir = ScratchDir::new("gui-search");
    let path = dir.join("history.sqlite3");
    fill(&path, &server, &first, &second);
    let mut harness = window_with_store(&server, &path);
    wait_until(&mut harness, "both groups rejoined", all_joined);
    assert!(harness.state().groups[0].log.len() <= PAGE + 5, "only the newest page is loaded");
    // A new message, with a zero-width space: kept, indexed, and found as it is shown.
    ben.join(&first);
    ben.send("ben: the pass\u{200b}word needle".as_bytes());
    wait_until(&mut harness, "ben's new message", |app| {
        app.groups[0].log.last().is_some_and(|e| e.text.starts_with("the pass"))
    });

    harness.key_press_modifiers(egui::Modifiers::CTRL, egui::Key::F);
    harness.step();
    harness.step();
    type_into(&mut harness, "Search for", "NEEDLE");
    harness.get_by_label("2 messages found:");
    result(&harness, "where is the needle?");
    result(&harness, "the pass\\u{200b}word needle");
    // Another group shown: the search follows it.
    harness.key_press_modifiers(egui::Modifiers::CTRL, egui::Key::Tab);
    harness.step();
    harness.step();
    harness.get_by_label("1 message found:");
    result(&harness, "Needles, and thread");
    harness.key_press_modifiers(egui::Modifiers::CTRL, egui::Key::Tab);
    harness.step();
    harness.step();
    harness.get_by_label("2 messages found:");
    // Every group: cay's too, the newest first.
    click(&mut harness, "Every group");
    harness.get_by_label("3 messages found:");
    let hits: Vec<_> = harness.state().search.hits.iter().map(|h| h.entry.text.clone()).collect();
    assert_eq!(
        hits,
        ["the pass\\u{200b}word needle", "Needles, and thread", "where is the needle?"]
    );
    // The escaped text is what is searched: as the user sees it.
    text_replace(&mut harness, "\\u{200b}word");
    harness.get_by_label("1 message found:");
    text_replace(&mut harness, "no such words");
    harness.get_by_label("Nothing found for “no such words”.");

    // Choosing a result far back: its group is shown, older history loaded down to it, and
    // the message is in view, marked.
    text_replace(&mut harness, "needle?");
    assert!(!shown(&harness, "where is the needle?"));
    result(&harness, "where is the needle?").click();
    for _ in 0..4 {
        harness.step();
    }
    assert!(shown(&harness, "where is the needle?"), "the message is in view");
    let app = harness.state();
    let log = &app.groups[0].log;
    let found = log.found.expect("marked");
    assert_eq!(log[found].text, "where is the needle?");
    assert!(log.len() > 990, "older pages were loaded down to it");
    assert!(!shown(&harness, "line 500"), "what is far from it is not in view");
    // Another result, in the other group: that group is shown.
    text_replace(&mut harness, "thread");
    result(&harness, "Needles, and thread").click();
    harness.step();
    harness.step();
    assert_eq!(harness.state().selected, Some(harness.state().groups[1].link));
    assert!(shown(&harness, "Needles, and thread"));
    // Escape closes the panel.
    harness.key_press(egui::Key::Escape);
    harness.step();
    harness.step();
    assert!(harness.query_by_label("Search for").is_none());
}

/// Replaces the search field's text.
fn text_replace(harness: &mut Harness<'static, App>, text: &str) {
    harness.state_mut().search.query.clear();
    harness.step();
    type_into(harness, "Search for", text);
}

#[test]
fn a_store_made_before_the_index_is_indexed_while_the_window_runs() {
    let server = ServerProcess::start(&[]);
    let ben = Peer::new(server.addr);
    let id = udprelay_client::GroupId::parse_lenient(&ben.create()).unwrap();
    let dir = ScratchDir::new("gui-search-old");
    let path = dir.join("history.sqlite3");
    Store::open(&path, HISTORY_LIMIT).unwrap().join(&server.addr.to_string(), id, None).unwrap();
    {
        // As schema 3 left a store: no index; and 40 000 messages in it.
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "DROP TRIGGER message_indexed; DROP TRIGGER message_unindexed;
             DROP TABLE message_search; DROP TABLE search_pending;
             PRAGMA user_version = 3;
             BEGIN;
             WITH RECURSIVE n (seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM n WHERE seq < 40000)
             INSERT INTO messages (group_key, seq, at, kind, text, sender)
                 SELECT 1, seq, 1700000000000 + seq, 1, 'old message ' || seq, 'ben' FROM n;
             UPDATE groups SET last_seq = 40000;
             COMMIT;",
        )
        .unwrap();
    }
    let mut harness = window_with_store(&server, &path);
    click(&mut harness, "Search");
    // A batch a frame: the panel says how far it has got, and the window is usable meanwhile.
    harness.get_by_label("Older messages are found once it is done.");
    let share = harness.state().indexed_share().expect("indexing");
    assert!(share > 0.0 && share < 1.0, "{share}");
    type_into(&mut harness, "Search for", "old message 39999");
    wait_until(&mut harness, "the index built", |app| app.indexed_share().is_none());
    harness.step();
    assert!(harness.query_by_label("Older messages are found once it is done.").is_none());
    // The search asked meanwhile ran again once it was done.
    harness.get_by_label("1 message found:");
    assert_eq!(harness.state().search.hits[0].entry.text, "old message 39999");
}
