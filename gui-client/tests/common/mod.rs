//! What the window tests share: a window on a real server, bounded waits, typing and clicking.

#![allow(dead_code)] // each test file uses its own share of these

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use udprelay_gui::app::{App, Stage};
use udprelay_gui::view;
use udprelay_testkit::{Peer, ServerProcess, WAIT};

pub fn window(server: &ServerProcess, name: &str) -> Harness<'static, App> {
    harness(App::new(server.addr.to_string(), name))
}

/// The window over an app made elsewhere (with a history store, say). Frames are 1/60 s
/// apart in the window's time, as on a screen (so that two clicks a frame apart are a
/// double-click).
pub fn harness(app: App) -> Harness<'static, App> {
    Harness::builder()
        .with_size([1000.0, 700.0])
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(|ui, app: &mut App| view::show(ui, app), app)
}

/// Runs frames until `done` holds for the app's state; panics after a bounded wait.
pub fn wait_until(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "waited for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
}

/// A text field by its label: one line or several (the message box).
pub fn text_field<'a>(
    harness: &'a Harness<'static, App>,
    field: &'a str,
) -> egui_kittest::Node<'a> {
    harness
        .query_by_role_and_label(Role::TextInput, field)
        .or_else(|| harness.query_by_role_and_label(Role::MultilineTextInput, field))
        .unwrap_or_else(|| panic!("no text field labelled {field:?}"))
}

pub fn type_into(harness: &mut Harness<'static, App>, field: &str, text: &str) {
    text_field(harness, field).focus();
    harness.step();
    text_field(harness, field).type_text(text);
    harness.step();
}

/// Clicks a button and runs two frames: one where the click is handled, one that draws the
/// result (parts drawn before the button in the first frame show it only in the second).
pub fn click(harness: &mut Harness<'static, App>, label: &str) {
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}

/// Clicks Create and waits for the new group to be joined; returns its id.
pub fn create(harness: &mut Harness<'static, App>) -> String {
    let before = harness.state().groups.len();
    click(harness, "Create");
    wait_until(harness, "a created group", |app| {
        app.groups.len() == before + 1 && app.groups[before].stage == Stage::Joined
    });
    harness.state().groups[before].id.expect("a joined group has an id").to_string()
}

/// What most chat tests start from: a server, the window (as `name`) in a group it created,
/// and a plain UDP peer in the group too. Returns the server, the window, the id and the peer.
pub fn chat(name: &str) -> (ServerProcess, Harness<'static, App>, String, Peer) {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, name);
    let id = create(&mut harness);
    let peer = Peer::new(server.addr);
    peer.join(&id);
    (server, harness, id, peer)
}

/// A window (as `name`) in two groups it created, the second shown, and a plain UDP peer in
/// the first: what the peer says there is not seen as it comes. Returns the server, the
/// window, the first group's id and the peer.
pub fn in_the_background(name: &str) -> (ServerProcess, Harness<'static, App>, String, Peer) {
    let server = ServerProcess::start(&[]);
    let mut harness = window(&server, name);
    let first = create(&mut harness);
    create(&mut harness); // the second is selected
    let peer = Peer::new(server.addr);
    peer.join(&first);
    (server, harness, first, peer)
}
