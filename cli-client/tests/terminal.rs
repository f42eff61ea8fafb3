//! The client on a real pseudo-terminal, its output read through a terminal emulator: what a
//! person at the keyboard sees. A message arriving while a line is half typed appears above
//! the prompt, and the typed line, cursor and history survive it; so does typing ahead.

use std::io::{Read, Write};
use std::num::NonZero;
use std::sync::{Arc, Mutex};
use std::thread;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use udprelay_testkit::{Peer, ServerProcess, poll_until};

const CLIENT: &str = env!("CARGO_BIN_EXE_udprelay");
const ROWS: u16 = 24;
const COLS: u16 = 100;

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
    keys: Box<dyn Write + Send>,
}

impl Screen {
    fn rows(&self) -> Vec<String> {
        let parser = self.parser.lock().unwrap();
        parser.screen().rows(0, COLS).map(|row| row.trim_end().to_string()).collect()
    }

    /// The row the cursor is on, and the cursor's column.
    fn cursor_row(&self) -> (String, u16) {
        let parser = self.parser.lock().unwrap();
        let (row, col) = parser.screen().cursor_position();
        let text = parser.screen().rows(0, COLS).nth(row.into()).unwrap_or_default();
        (text.trim_end().to_string(), col)
    }

    fn type_keys(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    fn wait_for(&self, what: &str, done: impl Fn(&Screen) -> bool) {
        assert!(
            poll_until(|| done(self)),
            "waited for {what}; screen:\n{}",
            self.rows().join("\n")
        );
    }

    fn wait_for_prompt(&self) {
        self.wait_for("a fresh prompt", |s| s.cursor_row() == (">".into(), 2));
    }

    fn wait_for_row(&self, prefix: &str) -> String {
        self.wait_for(prefix, |s| s.rows().iter().any(|row| row.starts_with(prefix)));
        self.rows().into_iter().find(|row| row.starts_with(prefix)).unwrap()
    }
}

#[test]
fn an_incoming_message_does_not_garble_the_typed_line() {
    let server = ServerProcess::start(&[]);
    let pair = native_pty_system()
        .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
        .expect("a pseudo-terminal");
    let mut command = CommandBuilder::new(CLIENT);
    command.args(["--host", "127.0.0.1", "--port", &server.addr.port().to_string()]);
    command.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(command).expect("start udprelay on the pty");
    drop(pair.slave);

    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        NonZero::new(ROWS).unwrap(),
        NonZero::new(COLS).unwrap(),
        0,
    )));
    let mut output = pair.master.try_clone_reader().unwrap();
    let screen_parser = Arc::clone(&parser);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = output.read(&mut buf) {
            screen_parser.lock().unwrap().process(&buf[..n]);
        }
    });
    let mut screen = Screen { parser, keys: pair.master.take_writer().unwrap() };

    screen.wait_for_row("Type 'help' for commands.");
    screen.wait_for_prompt();
    screen.type_keys("create --join\r");
    let joined = screen.wait_for_row("[server] OK JOINED ");
    let id = joined.rsplit(' ').next().unwrap().to_string();
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
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert!(status.unwrap().success());
    // Quitting left the group.
    assert_eq!(peer.ask("!WHO"), format!("OK WHO {id} 1"));
}
