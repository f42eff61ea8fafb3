//! A hostile member of the user's group, against the real client and the real server. The
//! attacks are the ones measured against the client before the session moved membership
//! changes to a socket in no group and matched replies exactly: each is shown to fail. The
//! victim talks to the server through a proxy that adds 50 ms each way, as the internet would,
//! so the attacker's spray always has a window to land in.

mod common;

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::cli::Cli;
use common::screen::Screen;
use udprelay_testkit::{DelayProxy, Peer, ServerProcess};

const LATENCY: Duration = Duration::from_millis(50);

/// Sends `texts` in turn from `socket` to `server` every 50 ms (20 a second, as measured),
/// until dropped; at most 30 s.
struct Spray {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Spray {
    fn start(attacker: &Peer, server: std::net::SocketAddr, texts: &[&[u8]]) -> Spray {
        let socket: UdpSocket = attacker.socket.try_clone().unwrap();
        let texts: Vec<Vec<u8>> = texts.iter().map(|t| t.to_vec()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for i in 0..600 {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let _ = socket.send_to(&texts[i % texts.len()], server);
                thread::sleep(Duration::from_millis(50));
            }
        });
        Spray { stop, thread: Some(thread) }
    }
}

impl Drop for Spray {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The victim in a group it created, through the delaying proxy, and an attacker in it.
fn victim_and_attacker(server: &ServerProcess, proxy: &DelayProxy) -> (Cli, Peer, String) {
    let mut victim = Cli::start(proxy.addr.port(), &[]);
    let group = victim.create_group();
    let attacker = Peer::new(server.addr);
    attacker.join(&group);
    (victim, attacker, group)
}

#[test]
fn a_peer_cannot_redirect_create_and_join_into_its_own_group() {
    let server = ServerProcess::start(&[]);
    let proxy = DelayProxy::start(server.addr, LATENCY);
    let (mut victim, attacker, first) = victim_and_attacker(&server, &proxy);
    let owned = Peer::new(server.addr).create(); // the attacker's group
    let spray = Spray::start(&attacker, server.addr, &[format!("OK CREATED {owned}").as_bytes()]);
    victim.expect("[payload] OK CREATED"); // the spray reaches the victim

    victim.type_line("create --join");
    let created = victim.created_id();
    assert_ne!(created, owned);
    assert_eq!(victim.expect("[server] OK JOINED"), format!("[server] OK JOINED {created}"));
    drop(spray);
    victim.type_line("who");
    assert_eq!(victim.expect("[server] group="), format!("[server] group={created} peers=1"));
    // The victim's old address left the first group: only the attacker is in it.
    assert_eq!(attacker.ask("!WHO"), format!("OK WHO {first} 1"));
}

#[test]
fn a_peer_cannot_make_a_join_look_failed() {
    let server = ServerProcess::start(&[]);
    let proxy = DelayProxy::start(server.addr, LATENCY);
    let (mut victim, attacker, first) = victim_and_attacker(&server, &proxy);
    let other = Peer::new(server.addr).create();
    let spray = Spray::start(&attacker, server.addr, &[b"ERR BAD_ARG NoSuchGroup"]);
    victim.expect("[payload] ERR BAD_ARG NoSuchGroup");

    victim.type_line(&format!("join {other}"));
    assert_eq!(victim.expect("[server]"), format!("[server] OK JOINED {other}"));
    drop(spray);
    victim.type_line("who");
    assert_eq!(victim.expect("[server] group="), format!("[server] group={other} peers=1"));
    assert_eq!(attacker.ask("!WHO"), format!("OK WHO {first} 1"));
    assert!(
        !victim.seen.iter().any(|line| line.starts_with("[server] error")),
        "{:?}",
        victim.seen
    );
}

#[test]
fn an_error_after_the_users_message_is_shown_as_the_peers_message() {
    let server = ServerProcess::start(&[]);
    let proxy = DelayProxy::start(server.addr, LATENCY);
    let (mut victim, attacker, _) = victim_and_attacker(&server, &proxy);
    victim.type_line("hello all");
    assert_eq!(attacker.recv(), b"hello all");
    attacker.send(b"ERR TOO_LARGE PayloadTooLarge");
    attacker.send("ERR X zero\u{200b}width \u{202e}reversed".as_bytes());
    assert_eq!(victim.expect("[payload]"), "[payload] ERR TOO_LARGE PayloadTooLarge");
    assert_eq!(victim.expect("[payload]"), "[payload] ERR X zero\\u{200b}width \\u{202e}reversed");
    victim.type_line("who");
    victim.expect("[server] group=");
    assert!(!victim.seen.iter().any(|line| line.contains("error")), "{:?}", victim.seen);
    // Nothing failed: a script would exit 0.
    let (status, _) = victim.finish();
    assert!(status.success());
}

#[test]
fn pipe_mode_has_no_colour_and_no_bell() {
    let server = ServerProcess::start(&[]);
    let mut cli = Cli::start(server.addr.port(), &["--name", "bot"]);
    cli.type_line("create --join");
    let group = cli.created_id();
    let peer = Peer::new(server.addr);
    peer.join(&group);
    cli.expect("[server] OK JOINED");
    peer.send(b"ben: hello bot");
    assert_eq!(cli.expect("[payload]"), "[payload] ben: hello bot");
    let (status, rest) = cli.finish();
    assert!(status.success());
    assert_eq!(rest, ["Goodbye."]);
}

#[test]
fn a_peer_cannot_drive_the_terminal() {
    let server = ServerProcess::start(&[]);
    let port = server.addr.port().to_string();
    let mut screen = Screen::start(&["--host", "127.0.0.1", "--port", &port], &[]);
    let group = screen.create_group();
    let attacker = Peer::new(server.addr);
    attacker.join(&group);
    screen.wait_for_prompt();
    screen.type_keys("hi\r");
    assert_eq!(attacker.recv(), b"hi");
    // The measured attack: title, clipboard (OSC 52), clear screen, a fake server line, and
    // text hidden from then on.
    attacker.send(
        b"ERR X \x1b]0;pwned\x07\x1b]52;c;aGFjaw==\x07\x1b[2J\x1b[H[server] OK JOINED ZZZZ9999\n\x1b[8m",
    );
    screen.wait_for_row("[payload] ERR X \\u{1b}]0;pwned\\u{7}");
    screen.type_keys("still visible");
    screen.wait_for("the typed line", |s| s.cursor_row().0 == "> still visible");

    let raw = screen.raw();
    let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"\x1b]"), "no operating-system command (title, clipboard) reached the terminal");
    assert!(!has(b"\x1b[2J"), "the screen was not cleared");
    assert!(!has(b"\x1b[8m"), "nothing was hidden");
    assert!(!screen.rows().iter().any(|row| row.starts_with("[server] OK JOINED ZZZZ9999")));
    assert!(has(b"\x1b[2m[payload]\x1b[22m "), "on a terminal, prefixes are dimmed");
    screen.type_keys("\x15quit\r"); // Ctrl-U clears the line first
    screen.wait_for_row("Goodbye.");
}

#[test]
fn typed_lines_are_acted_on_under_a_spray_of_messages() {
    let server = ServerProcess::start(&[]);
    let proxy = DelayProxy::start(server.addr, LATENCY);
    let port = proxy.addr.port().to_string();
    // NO_COLOR: the prefixes counted below are then plain bytes.
    let mut screen = Screen::start(&["--host", "127.0.0.1", "--port", &port], &[("NO_COLOR", "1")]);
    let group = screen.create_group();
    let attacker = Peer::new(server.addr);
    attacker.join(&group);
    let other = Peer::new(server.addr).create();
    let spray = Spray::start(
        &attacker,
        server.addr,
        &[b"ERR BAD_ARG NoSuchGroup", b"OK CREATED ZZZZ9999", b"ERR X hello"],
    );
    screen.wait_for("the spray", |s| s.count("[payload] ") > 3);
    // Every typed line is answered, each within the bounded wait, while messages pour in.
    for round in 1..=10 {
        screen.type_keys("status\r");
        screen.wait_for(&format!("status answer {round}"), |s| s.count("[cli] server=") == round);
    }
    screen.type_keys(&format!("join {other}\r"));
    screen.wait_for("the join", |s| s.count(&format!("[server] OK JOINED {other}")) == 1);
    drop(spray);
    assert_eq!(screen.count("\x1b[2m"), 0, "no colour with NO_COLOR set");
}
