//! The real window as a screen reader meets it (Linux): the window on an X display of its own,
//! its AccessKit tree read over AT-SPI by Debian's pyatspi on a private session bus (testkit's
//! desktop.rs), the real server and a real peer. Every wait is bounded.
#![cfg(target_os = "linux")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use udprelay_testkit::desktop::{Accessibility, Display, ScreenReader};
use udprelay_testkit::{Peer, ScratchDir, ServerProcess, SessionBus};

const GUI: &str = env!("CARGO_BIN_EXE_udprelay-gui");
/// The window's name on the accessibility bus.
const APP: &str = "udprelay-gui";

/// The window; closed when dropped.
struct Window(Child);

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One node of the tree: its role, name and text.
#[derive(Debug, Clone)]
struct Node {
    role: String,
    name: String,
    text: Option<String>,
}

fn tree(reader: &ScreenReader) -> Vec<Node> {
    reader
        .ask(&["tree", APP])
        .lines()
        .map(|line| {
            let node: Value = serde_json::from_str(line).expect("a JSON line");
            Node {
                role: node["role"].as_str().unwrap_or_default().to_string(),
                name: node["name"].as_str().unwrap_or_default().to_string(),
                text: node["text"].as_str().map(str::to_string),
            }
        })
        .collect()
}

/// Reads the tree until `found` picks something out of it; panics, with the tree, after 20 s.
fn wait_for<T>(reader: &ScreenReader, what: &str, found: impl Fn(&[Node]) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let nodes = tree(reader);
        if let Some(it) = found(&nodes) {
            return it;
        }
        assert!(Instant::now() < deadline, "no {what} in the tree:\n{nodes:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn named<'a>(nodes: &'a [Node], role: &str, name: &str) -> Option<&'a Node> {
    nodes.iter().find(|node| node.role == role && node.name == name)
}

/// A message's list item, `sender, time, text`, whatever the time.
fn message<'a>(nodes: &'a [Node], sender: &str, text: &str) -> Option<&'a Node> {
    nodes.iter().find(|node| {
        let Some(rest) = node.name.strip_prefix(&format!("{sender}, ")) else { return false };
        let Some(time) = rest.strip_suffix(&format!(", {text}")) else { return false };
        node.role == "list item" && time.len() >= 8 && time.contains(':')
    })
}

#[test]
fn a_screen_reader_finds_the_controls_reads_a_message_and_sends_one() {
    let display = Display::start();
    let bus = SessionBus::start();
    let _accessibility = Accessibility::start(&bus);
    let reader = ScreenReader::new(&bus, &display);
    let server = ServerProcess::start(&[]);
    let ben = Peer::new(server.addr);
    let group = ben.create();
    ben.join(&group);
    let scratch = ScratchDir::new("gui-accessibility");
    let port = server.addr.port().to_string();
    let _window = Window(
        Command::new(GUI)
            .args(["--host", "127.0.0.1", "--port", &port, "--join", &group])
            .arg("--history")
            .arg(scratch.join("history.sqlite3"))
            .env("DISPLAY", display.name())
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .env("HOME", scratch.path())
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the window starts"),
    );

    // The controls, named: what a screen reader's user tabs through.
    let nodes = wait_for(&reader, "joined group", |nodes| {
        let shown = |n: &Node| {
            n.name.contains(&group) || n.text.as_ref().is_some_and(|t| t.contains(&group))
        };
        nodes.iter().any(shown).then(|| nodes.to_vec())
    });
    for (role, name) in
        [("push button", "Create"), ("push button", "Join"), ("push button", "Send")]
    {
        assert!(named(&nodes, role, name).is_some(), "no {role} {name:?}:\n{nodes:#?}");
    }
    let boxes: Vec<&Node> = nodes.iter().filter(|n| n.name == "Message").collect();
    assert!(!boxes.is_empty(), "no message box:\n{nodes:#?}");
    // The regions are named, and the log is a list.
    for name in ["Server", "Groups", "Writing"] {
        assert!(named(&nodes, "panel", name).is_some(), "no region {name:?}:\n{nodes:#?}");
    }
    assert!(named(&nodes, "list", "Messages").is_some(), "no message list:\n{nodes:#?}");

    // A message from the peer is read as one item: sender, time, text.
    ben.send(b"ben: dinner at eight");
    wait_for(&reader, "ben's message", |nodes| message(nodes, "ben", "dinner at eight").cloned());

    // And the user writes back without the mouse's help: the box's text set, Send pressed.
    reader.ask(&["type", APP, "Message", "on my way"]);
    reader.ask(&["click", APP, "Send"]);
    assert!(ben.recv_text().ends_with("on my way"), "the peer gets the message");
    wait_for(&reader, "the user's message", |nodes| message(nodes, "you", "on my way").cloned());
}
