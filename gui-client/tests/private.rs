//! Private groups in the real window (egui_kittest) against the real server: created with the
//! box ticked, its invite copied, joined from the Join field by a second window; a member with
//! only the id reads nothing. Every wait is bounded.

mod common;

use common::{click, create, type_into, wait_until, window};
use egui_kittest::kittest::Queryable;
use udprelay_client::e2e::Invite;
use udprelay_testkit::{Peer, ServerProcess};

#[test]
fn two_windows_chat_sealed_through_an_invite() {
    let server = ServerProcess::start(&[]);
    // The window's own fonts: the lock is an emoji.
    let mut ana = window(&server, "ana");
    udprelay_gui::fonts::install(&ana.ctx);
    ana.get_by_label("End-to-end encrypted").click();
    ana.step();
    assert!(ana.state().encrypted);
    let id = create(&mut ana);
    assert!(ana.state().groups[0].private);
    ana.get_by_label("🔒");
    click(&mut ana, "Copy invite");
    let notice = ana.state().notice.clone().expect("a notice");
    assert_eq!(notice.text, "Copied the invite: whoever has it can read this group.");
    let invite = ana.state_mut().copy_invite().expect("an invite");
    let parsed: Invite = invite.parse().unwrap();
    assert_eq!(parsed.group.to_string(), id);
    assert!(parsed.secret.is_some(), "{invite}");

    let mut ben = window(&server, "ben");
    udprelay_gui::fonts::install(&ben.ctx);
    type_into(&mut ben, "Group id", &invite);
    click(&mut ben, "Join");
    wait_until(&mut ben, "the join by invite", |app| {
        app.groups.first().is_some_and(|g| g.id.map(|id| id.to_string()) == Some(id.clone()))
            && app.groups[0].stage == udprelay_gui::app::Stage::Joined
    });
    assert!(ben.state().groups[0].private);
    let eve = Peer::new(server.addr);
    eve.join(&id);

    type_into(&mut ana, "Message", "meet at noon");
    ana.key_press(egui::Key::Enter);
    ana.step();
    wait_until(&mut ben, "ana's message", |app| {
        app.groups[0].log.iter().any(|e| e.shown() == "ana: meet at noon")
    });
    let seen = eve.recv_text();
    assert!(seen.starts_with("~E2 ") && !seen.contains("noon") && !seen.contains("ana"), "{seen}");

    eve.send(b"eve: hi");
    eve.send(b"~E2 AAAA");
    wait_until(&mut ben, "eve's clear message and the undecryptable one", |app| {
        let log = &app.groups[0].log;
        log.iter().any(|e| e.shown() == "eve: hi (not encrypted)")
            && log
                .iter()
                .any(|e| e.shown().starts_with("1 message in this group could not be decrypted"))
    });
    // Both see the same key fingerprint under the group.
    let key =
        |app: &udprelay_gui::app::App| app.groups[0].state.as_ref().and_then(|s| s.private.clone());
    wait_until(&mut ana, "a status", |app| key(app).is_some());
    wait_until(&mut ben, "a status", |app| key(app).is_some());
    assert_eq!(key(ana.state()), key(ben.state()));
}

/// The window, the terminal and a program on the library, in one private group.
#[test]
fn the_window_the_terminal_and_a_program_read_each_other() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use udprelay_testkit::WAIT;

    let server = ServerProcess::start(&[]);
    let mut ana = window(&server, "ana");
    udprelay_gui::fonts::install(&ana.ctx);
    ana.state_mut().encrypted = true;
    create(&mut ana);
    let invite = ana.state_mut().copy_invite().expect("an invite");

    // Ben in the terminal, started with the invite.
    let key = std::env::temp_dir().join(format!("udprelay-gui-interop-{}.key", std::process::id()));
    let mut ben = Command::new(udprelay_testkit::client_binary())
        .args(["--name", "ben", "--identity", key.to_str().unwrap(), &invite])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, ben_lines) = std::sync::mpsc::channel();
    let stdout = ben.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ben_says = |prefix: &str| loop {
        let line = ben_lines.recv_timeout(WAIT).expect("a line from the terminal");
        if line.starts_with(prefix) {
            return line;
        }
    };
    ben_says("[server] OK JOINED");

    // Carl, a program.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config =
        udprelay_client::Config::new(server.addr.to_string()).name("carl".parse().unwrap());
    let (carl, mut carl_events) = runtime.block_on(config.connect()).unwrap();
    runtime.block_on(carl.join_invite(&invite.parse().unwrap())).unwrap();

    type_into(&mut ana, "Message", "hello both");
    ana.key_press(egui::Key::Enter);
    ana.step();
    assert_eq!(ben_says("[payload]"), "[payload] ana: hello both");
    let heard = runtime.block_on(async {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(udprelay_client::Event::Message(m)) = carl_events.recv().await {
                    return m;
                }
            }
        })
        .await
        .expect("carl hears ana")
    });
    assert_eq!((heard.from.as_deref(), heard.text.as_str()), (Some("ana"), "hello both"));

    let stdin = ben.stdin.as_mut().unwrap();
    writeln!(stdin, "hi from the terminal").unwrap();
    runtime.block_on(carl.send(heard.group, "hi from a program")).unwrap();
    wait_until(&mut ana, "both answers", |app| {
        let log = &app.groups[0].log;
        log.iter().any(|e| e.shown() == "ben: hi from the terminal")
            && log.iter().any(|e| e.shown() == "carl: hi from a program")
    });
    assert_eq!(ben_says("[payload]"), "[payload] carl: hi from a program");
    drop(ben.stdin.take());
    assert!(udprelay_testkit::wait_bounded(&mut ben).success());
    let _ = std::fs::remove_file(&key);
}
