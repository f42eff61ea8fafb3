//! The real `udprelay` driven through pipes: what a script sees. Every wait is bounded.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;

use udprelay_testkit::{ServerProcess, WAIT, wait_bounded};

pub const CLIENT: &str = env!("CARGO_BIN_EXE_udprelay");

/// A `udprelay` process whose stdin and stdout are pipes.
pub struct Cli {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Cli {
    pub fn start(port: u16, extra: &[&str]) -> Cli {
        Cli::start_at("127.0.0.1", port, extra)
    }

    /// A client given `hosts` (one, or several comma-separated) on `port`.
    pub fn start_at(hosts: &str, port: u16, extra: &[&str]) -> Cli {
        let mut command = Command::new(CLIENT);
        command.args(["--host", hosts, "--port", &port.to_string()]).args(extra);
        Cli::spawn(command)
    }

    /// `command` (a `udprelay` with its arguments and environment) started with pipes.
    pub fn spawn(mut command: Command) -> Cli {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start udprelay");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Cli { stdin: child.stdin.take(), child, lines, seen: Vec::new() }
    }

    pub fn for_server(server: &ServerProcess, extra: &[&str]) -> Cli {
        Cli::start(server.addr.port(), extra)
    }

    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Reads lines until one starts with `prefix`; returns it. Panics after a bounded wait.
    pub fn expect(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!("no line starting {prefix:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Types `create --join` and returns the new group's id once it is joined.
    pub fn create_group(&mut self) -> String {
        self.type_line("create --join");
        let id = self.created_id();
        self.expect("[server] OK JOINED");
        id
    }

    /// The group id from `[cli] created group id: X`.
    pub fn created_id(&mut self) -> String {
        let line = self.expect("[cli] created group id: ");
        line.rsplit(' ').next().unwrap().to_string()
    }

    /// Closes stdin (EOF) and returns how the process ended and the lines after the last read.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        drop(self.stdin.take());
        let status = wait_bounded(&mut self.child);
        let rest = self.lines.try_iter().collect();
        (status, rest)
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
