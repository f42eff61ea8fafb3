//! The client's loop: one thread that owns the connection and waits on three things at once:
//! the network, the user's lines, and the session's next deadline.

use std::io;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, never, select};
use udprelay_link::{Connection, Report, Server};
use udprelay_shared::session::PayloadError;
use udprelay_shared::{Command, limits::MAX_DATAGRAM};

use crate::display::{self, NOT_JOINED};
use crate::input::{self, HELP, Input};
use crate::style::Style;
use crate::terminal::{Terminal, UserInput};

/// Longest sleep when the session has nothing scheduled.
const IDLE: Duration = Duration::from_secs(3600);

/// What the client was started with.
pub struct Options {
    /// The server, or the servers to move between (the first is used first).
    pub servers: Vec<Server>,
    /// Prefix for outgoing messages (`NAME: text`).
    pub name: Option<String>,
    /// Colours and timestamps.
    pub style: Style,
}

struct Client {
    options: Options,
    connection: Connection,
    terminal: Terminal,
    /// A command failed (an error reply, no reply, or a refused line): pipe mode exits 1.
    failed: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Some command failed along the way.
    pub failed: bool,
}

/// Runs until the user quits, the input ends or Ctrl-C arrives.
pub fn run(options: Options, terminal: Terminal, interrupted: Receiver<()>) -> io::Result<Outcome> {
    let connection = Connection::open(options.servers.clone())?;
    let network = connection.network().clone();
    let mut client = Client { options, connection, terminal, failed: false };
    if client.terminal.interactive {
        let others: Vec<&str> =
            client.options.servers[1..].iter().map(|server| server.label.as_str()).collect();
        let then = if others.is_empty() {
            String::new()
        } else {
            format!(" (if it stops answering: {})", others.join(", "))
        };
        client.show(&format!(
            "Connecting to server at {}{then} ...",
            client.options.servers[0].label
        ));
        client.show(
            "Type 'help' for commands. Messages that don't start with '!' are sent as payloads.",
        );
    }
    loop {
        client.flush();
        let now = Instant::now();
        let wait =
            client.connection.deadline().map_or(IDLE, |at| at.saturating_duration_since(now));
        // Lines are taken one at a time, each after the previous one's reply, so that a
        // script's `create --join` is complete before its next line is read.
        let lines = if client.connection.session().awaiting_user_reply() {
            never()
        } else {
            client.terminal.lines.clone()
        };
        select! {
            recv(network) -> message => match message {
                Ok(message) => client.connection.receive(Instant::now(), message),
                Err(_) => break,
            },
            recv(lines) -> line => match line {
                Ok(UserInput::Line(line)) => {
                    if !client.act(&line) {
                        break;
                    }
                }
                Ok(UserInput::End) | Err(_) => break,
            },
            recv(interrupted) -> _ => break,
            default(wait) => {}
        }
        client.connection.tick(Instant::now());
    }
    client.flush();
    client.goodbye();
    Ok(Outcome { failed: client.failed })
}

impl Client {
    /// One of the client's own lines (help, status, refusals).
    fn show(&mut self, line: &str) {
        let shown = self.options.style.render(line, None);
        self.terminal.show(&shown);
    }

    /// A line about something from the network: timestamped when asked.
    fn show_incoming(&mut self, line: &str) {
        let time = self.options.style.timestamps.then(|| chrono::Local::now().format("%H:%M"));
        let time = time.map(|time| time.to_string());
        let shown = self.options.style.render(line, time.as_deref());
        self.terminal.show(&shown);
    }

    /// Refuses a line, which counts as a failure for a script.
    fn refuse(&mut self, why: &str) {
        self.failed = true;
        self.show(why);
    }

    /// Sends what the session queued and shows what it reported.
    fn flush(&mut self) {
        for report in self.connection.flush() {
            match report {
                Report::Session(event) => {
                    self.failed |= display::is_failure(&event);
                    for line in display::event_lines(&event) {
                        self.show_incoming(&line);
                    }
                }
                Report::Unreachable => {
                    let label = self.connection.server().label.clone();
                    self.show_incoming(&format!("[cli] server unreachable at {label}"));
                }
                Report::Moved { from, to, group } => {
                    self.show_incoming(&display::moved_line(&from, &to, group));
                }
                Report::SendFailed(error) => {
                    self.failed = true;
                    self.show(&format!("[cli] could not send: {error}"));
                }
            }
        }
    }

    /// Acts on one typed line; `false` when it ends the session.
    fn act(&mut self, line: &str) -> bool {
        let now = Instant::now();
        let session = self.connection.session_mut();
        match input::parse(line) {
            Input::Nothing => {}
            Input::Quit => return false,
            Input::Refused(why) => self.refuse(&why),
            Input::Help => HELP.iter().for_each(|line| self.show(line)),
            Input::Status => {
                let status = self.status(now);
                self.show(&status);
            }
            Input::Create { join: true, cap } => session.create_and_join(now, cap),
            Input::Create { join: false, cap } => session.command(now, Command::Create { cap }),
            Input::Join(id) => session.command(now, Command::Join(id)),
            Input::Leave(Some(id)) => session.command(now, Command::Leave(id)),
            Input::Leave(None) => match session.group() {
                Some(id) => session.command(now, Command::Leave(id)),
                None => self.refuse(NOT_JOINED),
            },
            Input::Who => session.command(now, Command::Who),
            Input::Ping => session.command(now, Command::Ping(None)),
            Input::Message(text) => {
                let payload = match &self.options.name {
                    Some(name) => format!("{name}: {text}"),
                    None => text,
                };
                match session.send_payload(now, payload.as_bytes()) {
                    Ok(()) => {}
                    Err(PayloadError::NotJoined) => self.refuse(NOT_JOINED),
                    Err(PayloadError::TooLong(len)) => {
                        self.refuse(&format!(
                            "[cli] message too long ({len} bytes, max {MAX_DATAGRAM})"
                        ));
                    }
                }
            }
        }
        true
    }

    fn status(&self, now: Instant) -> String {
        let session = self.connection.session();
        let none = || "<none>".to_string();
        let group = session.group().map_or_else(none, |id| id.to_string());
        let created = session.last_created().map_or_else(none, |id| id.to_string());
        let eta = session.next_ping().map_or_else(none, |at| {
            format!("{:.2}s", at.saturating_duration_since(now).as_secs_f64())
        });
        format!(
            "[cli] server={} group={group} last_created={created} heartbeat_interval={:.3}s next_ping_eta={eta}",
            self.connection.server().label,
            session.heartbeat().as_secs_f64(),
        )
    }

    /// Leaves the group, so that the others' count is right at once, then says goodbye.
    fn goodbye(&mut self) {
        if let Some(group) = self.connection.session().group() {
            let _ = self.connection.send_raw(&Command::Leave(group).to_bytes());
        }
        self.terminal.finish();
        println!("Goodbye.");
    }
}
