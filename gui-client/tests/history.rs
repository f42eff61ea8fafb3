//! The window across runs: two `App`s, one after the other, over one history store, against
//! the real server; Leave with and without the history; scrolling back through older pages; a
//! store that cannot be used. Every wait is bounded.

mod common;

use std::path::Path;

use common::{click, create, harness, type_into, wait_until};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use udprelay_client::GroupId;
use udprelay_gui::app::{App, Entry, EntryKind, Stage};
use udprelay_gui::notify::Level;
use udprelay_gui::store::{HISTORY_LIMIT, PAGE, Store};
use udprelay_testkit::{Peer, ScratchDir, ServerProcess};

fn window_with_store(server: &ServerProcess, path: &Path) -> Harness<'static, App> {
    let store = Store::open(path, HISTORY_LIMIT);
    harness(App::with_history(server.addr.to_string(), "ana", store))
}

fn all_joined(app: &App) -> bool {
    !app.groups.is_empty() && app.groups.iter().all(|g| g.stage == Stage::Joined)
}

#[test]
fn groups_names_and_history_come_back_after_a_restart() {
    let server = ServerProcess::start(&[]);
    let dir = ScratchDir::new("gui-history");
    let path = dir.join("history.sqlite3");
    let ben = Peer::new(server.addr);
    let (first, second) = {
        let mut harness = window_with_store(&server, &path);
        let first = create(&mut harness);
        ben.join(&first);
        ben.send(b"ben: hello from before, Ana");
        wait_until(&mut harness, "ben's message", |app| {
            app.groups[0].log.texts(EntryKind::Theirs) == ["ben: hello from before, Ana"]
        });
        type_into(&mut harness, "Message", "see you later");
        harness.key_press(egui::Key::Enter);
        harness.step();
        click(&mut harness, "Rename");
        type_into(&mut harness, "Group name", "Family");
        harness.key_press(egui::Key::Enter);
        harness.step();
        let second = create(&mut harness);
        (first, second)
        // The window closes here, without any saving step: everything was written already.
    };
    assert_eq!(ben.recv(), b"ana: see you later");

    let mut harness = window_with_store(&server, &path);
    wait_until(&mut harness, "both groups rejoined", all_joined);
    let app = harness.state();
    let ids: Vec<String> = app.groups.iter().map(|g| g.id.unwrap().to_string()).collect();
    assert_eq!(ids, [first.clone(), second.clone()], "in the same order");
    assert_eq!(app.groups[0].name.as_deref(), Some("Family"));
    assert_eq!(app.selected, Some(app.groups[0].link), "the first is shown");
    harness.get_by_label("Family");
    harness.get_by_label(&second);
    harness.get_by_label("hello from before, Ana");
    harness.get_by_label("see you later");
    // Its parts came back as they were kept, and it still names ana.
    let before = app.groups[0].log.iter().find(|e| e.kind == EntryKind::Theirs).unwrap();
    assert_eq!((before.sender.as_deref(), before.mention), (Some("ben"), true));
    // Rejoined for real: ben's next message arrives and is kept too.
    ben.send(b"ben: welcome back");
    wait_until(&mut harness, "the next message", |app| {
        app.groups[0].log.texts(EntryKind::Theirs).iter().any(|t| t == "ben: welcome back")
    });
    assert_eq!(ben.ask("!WHO"), format!("OK WHO {first} 2"), "one membership, not two");
    // A second window on the same store runs without it (not rejoining, not writing twice).
    let second_window = window_with_store(&server, &path);
    assert!(second_window.state().groups.is_empty());
    let off = second_window.state().history_off.clone().unwrap_or_default();
    assert!(off.ends_with("is locked by another program."), "{off}");
    drop(second_window);
    drop(harness);
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    let key = store.find(&server.addr.to_string(), first.parse().unwrap()).unwrap().unwrap();
    let stored: Vec<String> =
        store.page(key, None, PAGE).unwrap().iter().map(Entry::shown).collect();
    assert!(stored.contains(&"ben: welcome back".to_string()), "{stored:?}");
}

#[test]
fn leave_can_keep_the_history_for_a_later_join_or_delete_it() {
    let server = ServerProcess::start(&[]);
    let dir = ScratchDir::new("gui-leave");
    let path = dir.join("history.sqlite3");
    let ben = Peer::new(server.addr);
    let mut harness = window_with_store(&server, &path);
    let kept = create(&mut harness);
    let deleted = create(&mut harness);
    ben.join(&deleted);
    ben.send(b"ben: about to be deleted");
    wait_until(&mut harness, "the message", |app| app.groups[1].log.len() >= 3);

    click(&mut harness, "Leave"); // the second, selected
    harness.get_by_label(&format!("Leave {deleted}?"));
    click(&mut harness, "Leave, delete history");
    assert_eq!(harness.state().groups.len(), 1);
    ben.join(&kept);
    ben.send(b"ben: worth keeping");
    wait_until(&mut harness, "the message", |app| {
        app.groups[0].log.texts(EntryKind::Theirs) == ["ben: worth keeping"]
    });
    click(&mut harness, "Leave");
    click(&mut harness, "Leave, keep history");
    assert!(harness.state().groups.is_empty());
    let left = udprelay_testkit::poll_until(|| ben.ask("!WHO") == format!("OK WHO {kept} 1"));
    assert!(left, "the window left the group on the server");
    drop(harness);

    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    let at = server.addr.to_string();
    assert_eq!(store.groups().unwrap(), [], "neither is rejoined at start");
    assert_eq!(store.find(&at, deleted.parse().unwrap()).unwrap(), None, "deleted");
    drop(store);

    // Joining the kept group again shows what was kept.
    let mut harness = window_with_store(&server, &path);
    assert!(harness.state().groups.is_empty());
    type_into(&mut harness, "Group id", &kept);
    click(&mut harness, "Join");
    wait_until(&mut harness, "joined", all_joined);
    harness.get_by_label("worth keeping");
}

#[test]
fn scrolling_to_the_top_brings_older_pages_from_the_store() {
    let server = ServerProcess::start(&[]);
    let owner = Peer::new(server.addr);
    let id = owner.create();
    let dir = ScratchDir::new("gui-pages");
    let path = dir.join("history.sqlite3");
    let total = 3 * PAGE + 50;
    {
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        let key = store.join(&server.addr.to_string(), GroupId::parse_lenient(&id).unwrap(), None);
        let key = key.unwrap();
        for n in 0..total {
            let entry = Entry::now(EntryKind::Theirs, format!("message {n}"));
            let entry = entry.sent_by(Some("ben".into()));
            store.append(key, &entry).unwrap();
        }
    }
    let mut harness = window_with_store(&server, &path);
    wait_until(&mut harness, "rejoined", all_joined);
    let shown = harness.state().groups[0].log.texts(EntryKind::Theirs).len();
    assert_eq!(shown, PAGE, "the newest page at start");
    harness.get_by_label(&format!("message {}", total - 1));

    // The mouse wheel, over the log, up as far as it goes: a page at a time, to the first.
    for _ in 0..20 {
        harness.hover_at(egui::pos2(700.0, 300.0));
        harness.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, 100_000.0),
            phase: egui::TouchPhase::Move,
            modifiers: egui::Modifiers::NONE,
            source: egui::MouseWheelSource::Wheel,
        });
        harness.step();
        harness.step();
    }
    let texts = harness.state().groups[0].log.texts(EntryKind::Theirs);
    assert_eq!(texts.len(), total, "every stored message came back");
    assert_eq!(texts[0], "ben: message 0");
    harness.get_by_label("message 0");
}

#[test]
fn a_group_whose_server_is_gone_stays_listed_with_its_history() {
    let dir = ScratchDir::new("gui-lost");
    let path = dir.join("history.sqlite3");
    let gone = {
        let server = ServerProcess::start(&[]);
        let mut harness = window_with_store(&server, &path);
        let id = create(&mut harness);
        type_into(&mut harness, "Message", "the last words");
        harness.key_press(egui::Key::Enter);
        harness.step();
        (server.addr, id)
    };
    // The old server has ended; the window starts with another one in its server field.
    let server = ServerProcess::start(&[]);
    let mut harness = window_with_store(&server, &path);
    assert_eq!(harness.state().groups[0].server, gone.0.to_string());
    wait_until(&mut harness, "the rejoin to fail", |app| app.groups[0].stage == Stage::Lost);
    harness.get_by_label(&gone.1);
    harness.get_by_label("the last words");
    harness.get_by_label("lost");
}

/// Each way a store can be unusable is said in the window, and the window works without it.
#[test]
fn a_missing_locked_or_corrupt_store_is_reported_and_the_window_still_works() {
    let server = ServerProcess::start(&[]);
    let dir = ScratchDir::new("gui-bad-store");
    let not_a_folder = dir.join("a-file");
    std::fs::write(&not_a_folder, "in the way").unwrap();
    let corrupt = dir.join("corrupt.sqlite3");
    std::fs::write(&corrupt, vec![0x5a; 8192]).unwrap();
    let locked = dir.join("locked.sqlite3");
    let lock = rusqlite::Connection::open(&locked).unwrap();
    lock.execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);").unwrap();

    let cases = [
        (not_a_folder.join("history.sqlite3"), "cannot make the folder"),
        (corrupt.clone(), "is damaged (not a database)"),
        (locked.clone(), "is locked by another program"),
    ];
    for (path, why) in cases {
        let mut harness = window_with_store(&server, &path);
        harness.step();
        let off = harness.state().history_off.clone().expect("history is off");
        assert!(off.starts_with("History is not kept this time: ") && off.contains(why), "{off}");
        harness.get_by_label(&off);
        create(&mut harness); // and the window works
        assert!(!harness.state().keeps_history());
    }
    drop(lock);
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        vec![0x5a; 8192],
        "a damaged store is not touched"
    );
}

/// A person in many groups behind one IP (one address per group) stays within the server's
/// default --max-members-per-ip 16: as the window makes them one by one, and as it rejoins
/// them all at once at its next start.
#[test]
fn twenty_groups_from_one_ip_fit_the_default_per_ip_limit() {
    let server = ServerProcess::start(&["--max-members-per-ip", "16"]);
    let dir = ScratchDir::new("gui-many-groups");
    let path = dir.join("history.sqlite3");
    let ids: Vec<String> = {
        let mut harness = window_with_store(&server, &path);
        (0..20).map(|_| create(&mut harness)).collect()
    };
    // The window closed (leaving each group). Its next start joins all 20 again at once: the
    // sockets validate as they join, and a join refused before the others have is sent again.
    let mut harness = window_with_store(&server, &path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !all_joined(harness.state()) {
        assert!(std::time::Instant::now() < deadline, "not all rejoined");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let rejoined: Vec<String> =
        harness.state().groups.iter().map(|g| g.id.unwrap().to_string()).collect();
    assert_eq!(rejoined, ids);
    let peer = Peer::new(server.addr);
    for id in &ids {
        peer.join(id);
        assert_eq!(peer.ask("!WHO"), format!("OK WHO {id} 2"), "the window is in {id}");
    }
}

#[test]
fn each_groups_draft_is_kept_across_a_restart() {
    let server = ServerProcess::start(&[]);
    let dir = ScratchDir::new("gui-drafts");
    let path = dir.join("history.sqlite3");
    let second = {
        let mut harness = window_with_store(&server, &path);
        let first = create(&mut harness);
        type_into(&mut harness, "Message", "to finish tomorrow");
        let second = create(&mut harness);
        type_into(&mut harness, "Message", "and this one");
        click(&mut harness, &first);
        // What the window does when it saves its settings: every 30 s, and on closing.
        harness.state_mut().keep_drafts();
        second
    };
    let mut harness = window_with_store(&server, &path);
    wait_until(&mut harness, "both groups rejoined", all_joined);
    let app = harness.state();
    assert_eq!(app.selected, Some(app.groups[0].link), "the first is shown");
    assert_eq!(app.draft, "to finish tomorrow", "its draft in the box");
    assert_eq!(app.groups[1].draft, "and this one");
    click(&mut harness, &second);
    assert_eq!(harness.state().draft, "and this one");
}

#[test]
fn settings_and_each_groups_notification_level_are_kept_with_the_groups() {
    let server = ServerProcess::start(&[]);
    let dir = ScratchDir::new("gui-settings");
    let path = dir.join("history.sqlite3");
    {
        let mut harness = window_with_store(&server, &path);
        let id = create(&mut harness);
        harness.get_by_role_and_label(Role::ComboBox, "Notify").click(); // the group's level
        harness.step();
        harness.step();
        click(&mut harness, "Muted");
        assert_eq!(harness.state().groups[0].notify, Some(Level::Muted));
        let shown = harness.get_by_role_and_label(Role::ComboBox, "Notify").value();
        assert_eq!(shown.as_deref(), Some("Muted"), "shown as its level");
        click(&mut harness, "Settings");
        click(&mut harness, "Leave private groups' text out of them");
        type_into(&mut harness, "Mention words", "release, on-call");
        // Text size: egui's zoom keys (Ctrl+Plus twice) are the setting too.
        for _ in 0..2 {
            harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Plus);
            harness.step();
        }
        harness.step();
        assert_eq!(harness.state().text_size, 120);
        assert!((harness.ctx.zoom_factor() - 1.2).abs() < 0.001);
        harness.get_by_role_and_label(Role::SpinButton, "Text size"); // in the panel, named
        let app = harness.state();
        assert!(!app.notifications.settings.hide_private_text);
        assert_eq!(app.keywords, ["release", "on-call"]);
        assert_eq!(app.groups[0].id.unwrap().to_string(), id);
    }
    let mut harness = window_with_store(&server, &path);
    wait_until(&mut harness, "rejoined", all_joined);
    let app = harness.state();
    assert_eq!(app.groups[0].notify, Some(Level::Muted));
    assert!(!app.notifications.settings.hide_private_text);
    assert!(app.notifications.settings.on, "what was not changed keeps its default");
    assert_eq!(app.keywords, ["release", "on-call"]);
    assert!(app.mentions().matches("the Release is out"));
    assert_eq!(app.text_size, 120);
    assert!((harness.ctx.zoom_factor() - 1.2).abs() < 0.001, "the window opens at that size");
    click(&mut harness, "Settings");
    let shown = common::text_field(&harness, "Mention words").value();
    assert_eq!(shown.as_deref(), Some("release, on-call"));
}
