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
        app.groups[0].log.iter().any(|e| e.text == "ana: meet at noon")
    });
    let seen = eve.recv_text();
    assert!(seen.starts_with("~E1 ") && !seen.contains("noon") && !seen.contains("ana"), "{seen}");

    eve.send(b"eve: hi");
    eve.send(b"~E1 AAAA");
    wait_until(&mut ben, "eve's clear message and the undecryptable one", |app| {
        let log = &app.groups[0].log;
        log.iter().any(|e| e.text == "eve: hi (not encrypted)")
            && log
                .iter()
                .any(|e| e.text.starts_with("1 messages in this group could not be decrypted"))
    });
    // Both see the same key fingerprint under the group.
    let key =
        |app: &udprelay_gui::app::App| app.groups[0].state.as_ref().and_then(|s| s.private.clone());
    wait_until(&mut ana, "a status", |app| key(app).is_some());
    wait_until(&mut ben, "a status", |app| key(app).is_some());
    assert_eq!(key(ana.state()), key(ben.state()));
}
