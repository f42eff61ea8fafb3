//! The client on a real pseudo-terminal, its output read through a terminal emulator (what a
//! person sees) and kept as raw bytes (what the terminal was told to do).

use std::io::{Read, Write};
use std::num::NonZero;
use std::sync::{Arc, Mutex};
use std::thread;

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};
use udprelay_testkit::poll_until;

use super::cli::CLIENT;

pub const ROWS: u16 = 24;
pub const COLS: u16 = 100;

pub struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    keys: Box<dyn Write + Send>,
    pub child: Box<dyn Child + Send + Sync>,
}

impl Screen {
    /// Starts `udprelay` with `args` on a fresh pseudo-terminal.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Screen {
        let pair = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .expect("a pseudo-terminal");
        let mut command = CommandBuilder::new(CLIENT);
        command.args(args);
        command.env("TERM", "xterm-256color");
        for (key, value) in env {
            command.env(key, value);
        }
        let child = pair.slave.spawn_command(command).expect("start udprelay on the pty");
        drop(pair.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            NonZero::new(ROWS).unwrap(),
            NonZero::new(COLS).unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut output = pair.master.try_clone_reader().unwrap();
        let (screen_parser, screen_raw) = (Arc::clone(&parser), Arc::clone(&raw));
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = output.read(&mut buf) {
                screen_parser.lock().unwrap().process(&buf[..n]);
                screen_raw.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let keys = pair.master.take_writer().unwrap();
        Screen { parser, raw, keys, child }
    }

    pub fn rows(&self) -> Vec<String> {
        let parser = self.parser.lock().unwrap();
        parser.screen().rows(0, COLS).map(|row| row.trim_end().to_string()).collect()
    }

    /// Everything the client wrote to the terminal so far.
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// How often `text` appears in what the client wrote.
    pub fn count(&self, text: &str) -> usize {
        let raw = self.raw();
        raw.windows(text.len()).filter(|w| *w == text.as_bytes()).count()
    }

    /// The row the cursor is on, and the cursor's column.
    pub fn cursor_row(&self) -> (String, u16) {
        let parser = self.parser.lock().unwrap();
        let (row, col) = parser.screen().cursor_position();
        let text = parser.screen().rows(0, COLS).nth(row.into()).unwrap_or_default();
        (text.trim_end().to_string(), col)
    }

    pub fn type_keys(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    pub fn wait_for(&self, what: &str, done: impl Fn(&Screen) -> bool) {
        assert!(
            poll_until(|| done(self)),
            "waited for {what}; screen:\n{}",
            self.rows().join("\n")
        );
    }

    pub fn wait_for_prompt(&self) {
        self.wait_for("a fresh prompt", |s| s.cursor_row() == (">".into(), 2));
    }

    pub fn wait_for_row(&self, prefix: &str) -> String {
        self.wait_for(prefix, |s| s.rows().iter().any(|row| row.starts_with(prefix)));
        self.rows().into_iter().find(|row| row.starts_with(prefix)).unwrap()
    }

    /// At a fresh prompt, types `create --join` and returns the new group's id.
    pub fn create_group(&mut self) -> String {
        self.wait_for_prompt();
        self.type_keys("create --join\r");
        let joined = self.wait_for_row("[server] OK JOINED ");
        joined.rsplit(' ').next().unwrap().to_string()
    }
}
