//! The client on a real pseudo-terminal, its output read through a terminal emulator: what a
//! person at the keyboard sees. A message arriving while a line is half typed appears above
//! the prompt, and the typed line, cursor and history survive it; so does typing ahead.

mod common;

use common::screen::Screen;
use udprelay_testkit::{Peer, ServerProcess, poll_until};

#[test]
fn an_incoming_message_does_not_garble_the_typed_line() {
    let server = ServerProcess::start(&[]);
    let port = server.addr.port().to_string();
    let mut screen = Screen::start(&["--host", "127.0.0.1", "--port", &port], &[]);
    screen.wait_for_row("Type 'help' for commands.");
    let id = screen.create_group();
    let peer = Peer::new(server.addr);
    peer.join(&id);

    screen.type_keys("hel");
    screen.wait_for("the half-typed line", |s| s.cursor_row() == ("> hel".into(), 5));
    peer.send(b"incoming message");
    screen.wait_for_row("[payload] incoming message");

    // The typed line is intact on its own row below the message, the cursor after it.
    assert_eq!(screen.cursor_row(), ("> hel".to_string(), 5));
    let rows = screen.rows();
    let message_row = rows.iter().position(|r| r == "[payload] incoming message").unwrap();
    let prompt_row = rows.iter().rposition(|r| r == "> hel").unwrap();
    assert!(message_row < prompt_row, "{rows:#?}");
    assert!(
        !rows.iter().any(|r| r.contains("hel[payload]") || r.contains("message> ")),
        "{rows:#?}"
    );

    // Typing goes on where it stopped, and what is typed ahead of the next prompt is kept.
    screen.type_keys("lo\rsecond");
    assert_eq!(peer.recv(), b"hello");
    screen.wait_for("the typed-ahead line", |s| s.cursor_row() == ("> second".into(), 8));
    screen.type_keys("\r");
    assert_eq!(peer.recv(), b"second");

    // History: the up arrow brings the last line back. (Wait for the new prompt first, as a
    // person does: between two lines the terminal is briefly not in the editor's hands.)
    screen.wait_for_prompt();
    screen.type_keys("\x1b[A");
    screen.wait_for("history", |s| s.cursor_row() == ("> second".into(), 8));
    screen.type_keys("\r");
    assert_eq!(peer.recv(), b"second");

    screen.wait_for_prompt();
    screen.type_keys("quit\r");
    screen.wait_for_row("Goodbye.");
    let mut status = None;
    assert!(poll_until(|| {
        status = screen.child.try_wait().unwrap();
        status.is_some()
    }));
    assert!(status.unwrap().success());
    // Quitting left the group.
    assert_eq!(peer.ask("!WHO"), format!("OK WHO {id} 1"));
}
