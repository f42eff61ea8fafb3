//! The real window (egui_kittest, no display) against the real server on 127.0.0.1 port 0,
//! with plain UDP sockets as the other people. Every wait is bounded.

mod common;

use std::time::{Duration, Instant};

use common::{chat, click, create, harness, text_field, type_into, wait_until, window};
use egui_kittest::kittest::Queryable;
use udprelay_gui::app::{App, Place, Stage};
use udprelay_testkit::{Peer, ServerProcess, WAIT};

#[test]
fn create_shows_a_new_group_selected() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let id = create(&mut harness);
    assert!(id.parse::<udprelay_client::GroupId>().is_ok(), "{id}");
    let app = harness.state();
    assert_eq!(app.selected, Some(app.groups[0].link));
    // The row shows the id, and the log says what happened.
    harness.get_by_label(&id);
    harness.get_by_label(&format!("Joined {id}."));
    // The member count comes from the heartbeat's WHO.
    wait_until(&mut harness, "a member count", |app| app.groups[0].members == Some(1));
    harness.get_by_label("1 member");
}

#[test]
fn enter_sends_the_typed_message_and_keeps_the_focus() {
    let (_server, mut harness, _id, ben) = chat("ana");

    type_into(&mut harness, "Message", "hello ben");
    harness.key_press(egui::Key::Enter);
    harness.step();
    assert_eq!(ben.recv(), b"ana: hello ben");
    assert!(text_field(&harness, "Message").is_focused());
    assert_eq!(harness.state().draft, "");
    harness.get_by_label("hello ben");
}

#[test]
fn messages_from_others_appear_and_mark_other_groups_unread() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let first = create(&mut harness);
    let second = create(&mut harness); // now selected
    let ben = Peer::new(server.addr);
    ben.join(&first);

    ben.send(b"ben: over here");
    wait_until(&mut harness, "an unread message", |app| app.groups[0].unread == 1);
    harness.get_by_label(" 1 "); // the badge on the first group's row
    assert_eq!(
        harness.state().selected_group().and_then(|g| g.id).map(|id| id.to_string()),
        Some(second)
    );

    click(&mut harness, &first);
    assert_eq!(harness.state().groups[0].unread, 0);
    harness.get_by_label("ben"); // the sender, in its colour
    harness.get_by_label("over here");
}

#[test]
fn join_with_an_unknown_id_says_so_in_words() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    type_into(&mut harness, "Group id", "zzzz1111");
    click(&mut harness, "Join");
    wait_until(&mut harness, "the join to fail", |app| {
        app.notice.as_ref().is_some_and(|n| n.place == Place::Join)
    });
    let text = "No group has the id ZZZZ1111 (it may have expired).";
    assert_eq!(harness.state().notice.as_ref().unwrap().text, text);
    harness.get_by_label(text);
    assert!(harness.state().groups.is_empty());
}

#[test]
fn an_invalid_id_is_refused_before_sending() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    type_into(&mut harness, "Group id", "abc");
    click(&mut harness, "Join");
    harness.get_by_label("Not a group id: a group id has 8 characters, not 3.");
    assert!(harness.state().groups.is_empty(), "nothing was sent");
}

#[test]
fn two_groups_at_once_both_receive() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let first = create(&mut harness);
    let (ben, cay) = (Peer::new(server.addr), Peer::new(server.addr));
    ben.join(&first);
    let second = cay.create();
    cay.join(&second);
    type_into(&mut harness, "Group id", &second.to_lowercase());
    click(&mut harness, "Join");
    wait_until(&mut harness, "the second group", |app| {
        app.groups.len() == 2 && app.groups[1].stage == Stage::Joined
    });

    ben.send(b"ben in the first");
    cay.send(b"cay in the second");
    wait_until(&mut harness, "both messages", |app| {
        app.groups.iter().all(|g| {
            g.log.iter().any(|e| {
                e.shown().ends_with("in the first") || e.shown().ends_with("in the second")
            })
        })
    });
    // Each is a member of its own group, through its own socket.
    assert_eq!(ben.ask("!WHO"), format!("OK WHO {first} 2"));
    assert_eq!(cay.ask("!WHO"), format!("OK WHO {second} 2"));
}

#[test]
fn leave_removes_the_group_and_its_membership() {
    let (_server, mut harness, id, ben) = chat("");
    assert_eq!(ben.ask("!WHO"), format!("OK WHO {id} 2"));

    click(&mut harness, "Leave");
    assert!(harness.state().groups.len() == 1, "Leave asks first");
    click(&mut harness, "Cancel");
    assert!(harness.state().groups.len() == 1 && harness.state().leaving.is_none());
    click(&mut harness, "Leave");
    click(&mut harness, "Yes, leave"); // without a history store there is nothing to keep
    assert!(harness.state().groups.is_empty());
    assert!(harness.query_by_label(&id).is_none());
    // The closed socket said !LEAVE on its way out.
    let left = udprelay_testkit::poll_until(|| ben.ask("!WHO") == format!("OK WHO {id} 1"));
    assert!(left, "the server still counts the window as a member");
}

#[test]
fn an_over_long_message_is_refused_with_the_reason() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    create(&mut harness);
    harness.state_mut().draft = "x".repeat(5000);
    click(&mut harness, "Send");
    harness.get_by_label("Too long to send: 5000 bytes, the most is 4096.");
    assert_eq!(harness.state().draft.len(), 5000, "the text is kept for editing");
}

#[test]
fn a_full_group_is_put_in_words() {
    let server = ServerProcess::start(&["--cap", "1"]);
    let ben = Peer::new(server.addr);
    let full = Peer::group_of(&[&ben]);
    let mut harness = window(&server, "");
    type_into(&mut harness, "Group id", &full);
    click(&mut harness, "Join");
    wait_until(&mut harness, "the join to fail", |app| app.notice.is_some());
    harness.get_by_label(&format!("Group {full} is full."));
    assert!(harness.state().groups.is_empty(), "the refused join left no row behind");
}

#[test]
fn the_create_limit_is_put_in_words() {
    // Each group has its own socket, so the per-address limit only bites at 0.
    let server = ServerProcess::start(&["--max-groups-per-client", "0"]);
    let mut harness = window(&server, "");
    click(&mut harness, "Create");
    wait_until(&mut harness, "the create to fail", |app| app.notice.is_some());
    harness.get_by_label("The server lets one address create at most 0 groups, and you have 0.");
    assert!(harness.state().groups.is_empty());
}

#[test]
fn a_group_the_server_forgot_is_rejoined() {
    // Members silent for 0.6 s are dropped; the window pings each group every second.
    let server = ServerProcess::start(&["--heartbeat", "0.2", "--sweep", "0.05"]);
    let mut harness = window(&server, "");
    let id = create(&mut harness);
    let rejoined = format!("The server had forgotten us; rejoined {id}.");
    wait_until(&mut harness, "a rejoin", |app| {
        app.groups[0].log.iter().any(|e| e.shown() == rejoined)
    });
    harness.get_by_label(&rejoined);
    assert_eq!(harness.state().groups[0].stage, Stage::Joined);
}

#[test]
fn a_hostile_member_can_neither_redirect_create_nor_write_raw_text() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let first = create(&mut harness);
    let mallory = Peer::new(server.addr);
    mallory.join(&first);
    let owned = Peer::new(server.addr).create(); // Mallory's own group
    let forged = format!("OK CREATED {owned}");
    let hidden = "ERR X zero\u{200b}width \u{202e}reversed \u{1b}]0;title\u{7}";
    // Forged replies keep arriving in the first group while Create is clicked.
    for _ in 0..3 {
        mallory.send(forged.as_bytes());
    }
    mallory.send(hidden.as_bytes());
    click(&mut harness, "Create");
    for _ in 0..3 {
        mallory.send(forged.as_bytes());
    }
    wait_until(&mut harness, "the second group", |app| {
        app.groups.len() == 2 && app.groups[1].stage == Stage::Joined
    });
    let second = harness.state().groups[1].id.unwrap().to_string();
    assert_ne!(second, owned, "the new group is a new one, not Mallory's");
    assert_ne!(second, first);
    // In the first group's log, Mallory's texts are messages, escaped.
    wait_until(&mut harness, "the forged texts", |app| app.groups[0].log.len() >= 8);
    click(&mut harness, &first);
    let log: Vec<String> = harness.state().groups[0].log.iter().map(|e| e.shown()).collect();
    assert!(log.contains(&forged), "{log:?}");
    assert!(
        log.contains(
            &"ERR X zero\\u{200b}width \\u{202e}reversed \\u{1b}]0;title\\u{7}".to_string()
        ),
        "{log:?}"
    );
}

#[test]
fn under_require_validation_the_window_validates_and_receives_everything() {
    let server = ServerProcess::start(&["--require-validation", "--threads", "1"]);
    let mut harness = window(&server, "");
    let id = create(&mut harness);
    // The count is asked for after the PONG to the token's echo: once it shows, the server has
    // the echo (one worker handles datagrams in order).
    wait_until(&mut harness, "a member count", |app| app.groups[0].members.is_some());
    let ben = Peer::new(server.addr);
    ben.join(&id);
    let long = "x".repeat(1000);
    for n in 0..20 {
        ben.send(format!("ben: {n} {long}").as_bytes());
    }
    wait_until(&mut harness, "twenty long messages", |app| {
        app.groups[0].log.iter().filter(|e| e.shown().starts_with("ben: ")).count() == 20
    });
}

#[test]
fn the_window_chats_on_across_a_server_restart_with_a_state_file() {
    let dir = std::env::temp_dir().join(format!("udprelay-gui-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let flags = ["--state-file", state.to_str().unwrap(), "--heartbeat", "1"];
    let mut server = ServerProcess::start(&flags);
    let port = server.addr.port();
    let mut harness = window(&server, "ana");
    let id = create(&mut harness);
    let ben = Peer::new(server.addr);
    ben.join(&id);
    ben.send(b"ben: before");
    wait_until(&mut harness, "the first message", |app| {
        app.groups[0].log.iter().any(|e| e.shown() == "ben: before")
    });

    assert!(server.terminate().success());
    let _restarted = ServerProcess::start_at("127.0.0.1", port, &flags);
    ben.send(b"ben: after");
    wait_until(&mut harness, "the message after the restart", |app| {
        app.groups[0].log.iter().any(|e| e.shown() == "ben: after")
    });
    // Three heartbeats on, nothing was lost, rejoined or reported.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let app = harness.state();
    assert_eq!(app.groups[0].stage, Stage::Joined);
    let texts: Vec<String> = app.groups[0].log.iter().map(|e| e.shown()).collect();
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("forgotten") || t.contains("Lost") || t.contains("No reply")),
        "{texts:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failed_join_keeps_the_selection_and_the_typed_id() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let first = create(&mut harness);
    let leave_button = harness.get_by_label("Leave").rect();
    type_into(&mut harness, "Group id", "zzzz1111");
    click(&mut harness, "Join");
    wait_until(&mut harness, "the join to fail", |app| {
        app.notice.as_ref().is_some_and(|n| n.place == Place::Join)
    });
    let app = harness.state();
    assert_eq!(app.selected_group().and_then(|g| g.id).map(|id| id.to_string()), Some(first));
    assert_eq!(app.join_text, "zzzz1111", "the typo can be fixed");
    assert_eq!(app.groups.len(), 1);
    // The notice took no one's place: what is below it stays where it was.
    let moved = (harness.get_by_label("Leave").rect().top() - leave_button.top()).abs();
    assert!(moved < 1.0, "the Leave button moved {moved} px");
    // It goes by itself after a few seconds.
    let later = Instant::now() + udprelay_gui::notice::NOTICE_LIFETIME;
    assert_eq!(harness.state_mut().expire_notices(later), None);
    assert!(harness.state().notice.is_none());
}

#[test]
fn a_successful_join_clears_the_typed_id() {
    let server = ServerProcess::start(&[]);
    let owner = Peer::new(server.addr);
    let id = owner.create();
    let mut harness = window(&server, "");
    type_into(&mut harness, "Group id", &id.to_lowercase());
    click(&mut harness, "Join");
    wait_until(&mut harness, "the join", |app| {
        app.groups.first().is_some_and(|g| g.stage == Stage::Joined)
    });
    assert_eq!(harness.state().join_text, "");
}

#[test]
fn groups_named_at_start_are_joined() {
    // What `udprelay-gui --join A --join b` does before the first frame.
    let server = ServerProcess::start(&[]);
    let owner = Peer::new(server.addr);
    let (first, second) = (owner.create(), owner.create());
    let mut app = App::new(server.addr.to_string(), "");
    app.join_group(first.parse().unwrap());
    app.join_group(second.parse().unwrap());
    let mut harness = harness(app);
    wait_until(&mut harness, "both joined", |app| {
        app.groups.len() == 2 && app.groups.iter().all(|g| g.stage == Stage::Joined)
    });
    harness.get_by_label(&first);
    harness.get_by_label(&second);
}

#[test]
fn senders_are_named_and_the_nameless_are_someone() {
    let (_server, mut harness, _id, peer) = chat("ana");
    peer.send(b"ben: hi ana");
    peer.send(b"no name at all");
    wait_until(&mut harness, "two messages", |app| {
        app.groups[0].log.texts(udprelay_gui::app::EntryKind::Theirs).len() == 2
    });
    harness.get_by_label("ben");
    harness.get_by_label("hi ana");
    harness.get_by_label("someone");
    harness.get_by_label("no name at all");
    type_into(&mut harness, "Message", "hello");
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.get_by_label("you");
    assert_ne!(udprelay_gui::view::sender_colour("ben"), udprelay_gui::view::sender_colour("ana"));
}

#[test]
fn a_message_that_names_you_is_marked_and_counted_apart_until_read() {
    let (_server, mut harness, first, ben) = common::in_the_background("ana");
    harness.state_mut().keywords = vec!["release".into()];
    ben.send(b"ben: are you there, Ana?");
    ben.send(b"ben: bananas for everyone");
    ben.send(b"ana: a namesake, talking of others");
    ben.send(b"ben: the RELEASE is out");
    wait_until(&mut harness, "four unread", |app| app.groups[0].unread == 4);
    let group = &harness.state().groups[0];
    assert_eq!(group.mentions, 2, "the name and the keyword, as words, in the text");
    let marked: Vec<String> = group.log.iter().filter(|e| e.mention).map(|e| e.shown()).collect();
    assert_eq!(marked, ["ben: are you there, Ana?", "ben: the RELEASE is out"]);
    harness.step();
    harness.get_by_label_contains("@2");
    // Read: the badge goes with the count.
    click(&mut harness, &first);
    harness.step();
    assert_eq!(harness.state().groups[0].mentions, 0);
    assert!(harness.query_by_label_contains("@2").is_none());
    // While the group is shown and the window focused, a mention is no news.
    ben.send(b"ben: ana, still here?");
    wait_until(&mut harness, "the fifth", |app| {
        app.groups[0].log.iter().filter(|e| e.mention).count() == 3
    });
    assert_eq!(harness.state().groups[0].mentions, 0);
}

#[test]
fn each_group_keeps_what_was_typed_in_its_box() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "ana");
    let first = create(&mut harness);
    type_into(&mut harness, "Message", "half a thought");
    let second = create(&mut harness);
    assert_eq!(harness.state().draft, "", "a new group's box is empty");
    type_into(&mut harness, "Message", "for the second");
    click(&mut harness, &first);
    assert_eq!(harness.state().draft, "half a thought");
    let shown = common::text_field(&harness, "Message").value();
    assert_eq!(shown.as_deref(), Some("half a thought"), "and the box shows it");
    click(&mut harness, &second);
    assert_eq!(harness.state().draft, "for the second");
    // Sent: the box empties, for this group only.
    common::text_field(&harness, "Message").focus();
    harness.step();
    harness.key_press(egui::Key::Enter);
    harness.step();
    assert_eq!(harness.state().draft, "");
    click(&mut harness, &first);
    assert_eq!(harness.state().draft, "half a thought");
}

#[test]
fn ctrl_tab_and_ctrl_k_go_round_the_groups_and_escape_closes_the_settings() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "ana");
    for _ in 0..3 {
        create(&mut harness);
    }
    let links: Vec<_> = harness.state().groups.iter().map(|g| g.link).collect();
    assert_eq!(harness.state().selected, Some(links[2]), "the newest is shown");
    let press = |harness: &mut egui_kittest::Harness<'static, App>, modifiers, key| {
        harness.key_press_modifiers(modifiers, key);
        harness.step();
        harness.state().selected
    };
    let (ctrl, back) = (egui::Modifiers::CTRL, egui::Modifiers::CTRL | egui::Modifiers::SHIFT);
    assert_eq!(press(&mut harness, ctrl, egui::Key::Tab), Some(links[0]), "round to the first");
    assert_eq!(press(&mut harness, ctrl, egui::Key::K), Some(links[1]));
    assert_eq!(press(&mut harness, back, egui::Key::Tab), Some(links[0]));
    assert_eq!(press(&mut harness, back, egui::Key::K), Some(links[2]), "round to the last");
    click(&mut harness, "Settings");
    assert!(harness.state().settings_open);
    harness.key_press(egui::Key::Escape);
    harness.step();
    assert!(!harness.state().settings_open);
}

#[test]
fn unread_messages_get_a_line_a_count_in_the_title_and_go_when_read() {
    let (_server, mut harness, first, ben) = common::in_the_background("ana");
    ben.send(b"ben: one");
    ben.send(b"ben: two");
    wait_until(&mut harness, "two unread", |app| app.groups[0].unread == 2);
    assert_eq!(harness.state().title(), "udprelay (2)");
    // The window's title (a count that keeps changing follows at most once a second).
    wait_until(&mut harness, "the title", |app| app.shown_title.as_deref() == Some("udprelay (2)"));

    click(&mut harness, &first);
    assert_eq!(harness.state().title(), "udprelay");
    harness.get_by_label("New messages"); // above "one", where the unseen began
    let log = &harness.state().groups[0].log;
    let from = harness.state().groups[0].log.unread_from.unwrap();
    assert_eq!(log[from].shown(), "ben: one", "the line stands right above the first unseen");
    // Writing in the group: everything before has been read.
    type_into(&mut harness, "Message", "hi ben");
    harness.key_press(egui::Key::Enter);
    harness.step();
    assert!(harness.query_by_label("New messages").is_none());
}

#[test]
fn a_message_in_the_background_asks_for_attention() {
    let server = ServerProcess::start(&[]);
    let owner = Peer::new(server.addr);
    let id = owner.create();
    let mut app = App::new(server.addr.to_string(), "");
    app.join_group(id.parse().unwrap());
    let deadline = Instant::now() + WAIT;
    while app.groups[0].stage != Stage::Joined {
        assert!(Instant::now() < deadline, "joined");
        app.poll();
        std::thread::sleep(Duration::from_millis(10));
    }
    let wait_for_unread = |app: &mut App, count: usize| {
        while app.groups[0].unread < count {
            assert!(Instant::now() < deadline, "message {count}");
            app.poll();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    app.set_focused(false); // the user went to another window
    owner.join(&id);
    owner.send(b"ben: are you there?");
    wait_for_unread(&mut app, 1);
    assert_eq!(app.groups[0].unread, 1, "the selected group counts too when unseen");
    assert!(app.take_attention(), "attention is asked for");
    assert!(!app.take_attention(), "once");
    // More messages while the user is still away: asked once already, not again (each ask
    // would flash the taskbar and draw a frame).
    owner.send(b"ben: hello?");
    wait_for_unread(&mut app, 2);
    assert!(!app.take_attention(), "not again while away");
    // Back, then away again: the next message asks again.
    app.set_focused(true);
    assert_eq!(app.groups[0].unread, 0);
    assert_eq!(app.title(), "udprelay");
    app.set_focused(false);
    owner.send(b"ben: still there?");
    wait_for_unread(&mut app, 1);
    assert!(app.take_attention(), "asked again after the user came back and left");
}

#[test]
fn copy_id_says_it_copied() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let id = create(&mut harness);
    harness.get_by_label("Copy id").click();
    harness.step();
    let copied = harness
        .output()
        .platform_output
        .commands
        .iter()
        .any(|command| matches!(command, egui::OutputCommand::CopyText(text) if *text == id));
    assert!(
        copied,
        "the id went to the clipboard: {:?}",
        harness.output().platform_output.commands
    );
    harness.step();
    harness.get_by_label(&format!("Copied {id}: send it to whoever should join."));
}

#[test]
fn shift_enter_makes_a_new_line_and_multi_line_messages_keep_their_lines() {
    let (_server, mut harness, _id, ben) = chat("ana");

    type_into(&mut harness, "Message", "line one");
    harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::Enter);
    harness.step();
    text_field(&harness, "Message").type_text("line two");
    harness.step();
    assert_eq!(harness.state().draft, "line one\nline two", "Shift+Enter: a new line, not sent");
    harness.key_press(egui::Key::Enter);
    harness.step();
    assert_eq!(ben.recv(), b"ana: line one\nline two");

    // Received: the lines are kept, and only other control characters are escaped.
    ben.send(b"ben: first line\nsecond line\x1b[2J");
    wait_until(&mut harness, "the message", |app| {
        app.groups[0].log.iter().any(|e| e.shown().starts_with("ben: first line"))
    });
    harness.get_by_label("first line\nsecond line\\u{1b}[2J");
}

#[test]
fn groups_joined_before_the_first_frame_still_wake_the_window() {
    // `--join` opens links before the window exists; their messages must still wake it. The
    // harness steps frames itself, so what is checked is the wake-up: with no frame run after
    // attaching, only a network thread can ask for a repaint.
    let server = ServerProcess::start(&[]);
    let owner = Peer::new(server.addr);
    let id = owner.create();
    let mut app = App::new(server.addr.to_string(), "");
    app.join_group(id.parse().unwrap());
    let ctx = egui::Context::default();
    let wakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&wakes);
    ctx.set_request_repaint_callback(move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    app.attach(&ctx);
    let deadline = Instant::now() + WAIT;
    while app.groups[0].stage != Stage::Joined {
        assert!(Instant::now() < deadline, "joined");
        app.poll();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        udprelay_testkit::poll_until(|| wakes.load(std::sync::atomic::Ordering::Relaxed) > 0),
        "the network woke the window"
    );
    owner.join(&id);
    owner.send(b"ben: wake up");
    while !app.groups[0].log.iter().any(|e| e.shown() == "ben: wake up") {
        assert!(Instant::now() < deadline, "the message");
        app.poll();
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_group_can_be_given_a_name_of_ones_own() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let id = create(&mut harness);
    click(&mut harness, "Rename");
    type_into(&mut harness, "Group name", "  Family ");
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.step();
    assert_eq!(harness.state().groups[0].name.as_deref(), Some("Family"));
    harness.get_by_label("Family");
    assert!(harness.query_by_label(&id).is_none(), "the name stands for the id in the list");
    // Renaming again shows the name given; an empty one brings the id back.
    click(&mut harness, "Rename");
    assert_eq!(harness.state().renaming.as_ref().map(|r| r.1.as_str()), Some("Family"));
    harness.state_mut().renaming.as_mut().unwrap().1.clear();
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.step();
    assert_eq!(harness.state().groups[0].name, None);
    harness.get_by_label(&id);
}

#[test]
fn rows_say_their_server_when_there_are_several() {
    let (one, two) = (ServerProcess::start(&[]), ServerProcess::start(&[]));
    let mut harness = window(&one, "");
    create(&mut harness);
    assert!(harness.query_by_label(&one.addr.to_string()).is_none(), "one server: not said");
    harness.state_mut().server = two.addr.to_string();
    create(&mut harness);
    harness.step();
    harness.get_by_label(&one.addr.to_string());
    harness.get_by_label(&two.addr.to_string());
}

/// A group joined from a link on another server does not make the top bar say that the
/// server in the field answers (the field still names one nobody has asked).
#[test]
fn the_top_bar_speaks_only_of_the_server_in_its_field() {
    let (one, two) = (ServerProcess::start(&[]), ServerProcess::start(&[]));
    let mut harness = window(&one, "");
    harness.get_by_label("Server: not contacted yet");
    let id = Peer::new(two.addr).create();
    type_into(&mut harness, "Group id", &format!("udprelay://{}/{id}", two.addr));
    click(&mut harness, "Join");
    // The member count comes after the join's answer: every event of the join is in by then.
    wait_until(&mut harness, "the group on the other server, with its count", |app| {
        app.groups.first().is_some_and(|g| g.stage == Stage::Joined && g.members.is_some())
    });
    assert_eq!(harness.state().groups[0].server, two.addr.to_string());
    harness.get_by_label("Server: not contacted yet");

    create(&mut harness);
    wait_until(&mut harness, "the field's server answering", |app| {
        app.field_reachability() == udprelay_client::Reachability::Reachable
    });
    harness.get_by_label("Server: answering");
    // Another server typed: nothing is known of it yet; the link's server: it answered.
    type_into(&mut harness, "Server", "0");
    harness.get_by_label("Server: not contacted yet");
    harness.state_mut().server = two.addr.to_string();
    harness.step();
    harness.get_by_label("Server: answering");
}

#[test]
fn double_clicking_a_group_renames_it() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let first = create(&mut harness);
    create(&mut harness); // the second is selected
    harness.run_steps(20); // a second after the last click (Create's), in the window's time
    harness.get_by_label(&first).click();
    harness.step();
    harness.get_by_label(&first).click();
    harness.step();
    harness.step();
    let link = harness.state().groups[0].link;
    assert_eq!(harness.state().selected, Some(link), "the double-clicked group is selected");
    assert_eq!(harness.state().renaming.as_ref().map(|r| r.0), Some(link), "and being renamed");
    type_into(&mut harness, "Group name", "Book club");
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.step();
    assert_eq!(harness.state().groups[0].name.as_deref(), Some("Book club"));
    // A single click only selects.
    let second = harness.state().groups[1].id.unwrap().to_string();
    click(&mut harness, &second);
    assert!(harness.state().renaming.is_none());
}

#[test]
fn the_server_field_takes_several_servers_and_the_first_that_answers_is_used() {
    let server = ServerProcess::start(&[]);
    let port = server.addr.port();
    // Nothing listens on 127.0.0.9: the window moves on to the next and creates there.
    let mut harness = harness(App::new(format!("127.0.0.9:{port},127.0.0.1:{port}"), ""));
    let id = create(&mut harness);
    let moved = format!("127.0.0.9:{port} is not answering; moved to 127.0.0.1:{port}.");
    assert!(harness.state().groups[0].log.iter().any(|e| e.shown() == moved), "no {moved:?}");
    harness.get_by_label(&moved);
    let ben = Peer::new(server.addr);
    ben.join(&id);
    assert_eq!(ben.ask("!WHO"), format!("OK WHO {id} 2"));
}

#[test]
fn a_name_that_would_make_messages_commands_is_refused_with_the_reason() {
    let (_server, mut harness, _id, ben) = chat("!x");
    type_into(&mut harness, "Message", "hi there");
    harness.key_press(egui::Key::Enter);
    harness.step();
    let notice = harness.state().notice.clone().expect("a notice");
    assert_eq!(notice.place, Place::Message);
    assert_eq!(
        notice.text,
        "Your name must not start with '!' (that would make messages commands)."
    );
    harness.get_by_label(&notice.text);
    assert_eq!(harness.state().draft, "hi there", "the text is kept");
    assert!(
        !harness.state().groups[0].log.iter().any(|e| e.shown() == "hi there"),
        "not shown as sent"
    );
    // Nothing reached the group.
    ben.socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(ben.socket.recv(&mut [0u8; 64]).is_err());
}

#[test]
fn the_selected_groups_member_count_follows_a_join_within_ten_seconds() {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, "");
    let id = create(&mut harness);
    wait_until(&mut harness, "a member count", |app| app.groups[0].members == Some(1));
    let joined = Instant::now();
    Peer::new(server.addr).join(&id);
    while harness.state().groups[0].members != Some(2) {
        assert!(joined.elapsed() < Duration::from_secs(10), "the count stayed at 1 for 10 s");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
    harness.get_by_label("2 members");
}
