//! What the terminal does with the client: one group at a time, as the original. It waits on
//! three things at once: the client's events, the user's lines, and Ctrl-C; a typed command
//! is carried out by `udprelay-client`, and its answer shown before the next line is read.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;
use udprelay_client::e2e::Invite;
use udprelay_client::{Client, Command, Error, Event, Events, GroupId, Reply};

use crate::display::{self, Line, NOT_JOINED};
use crate::input::{self, HELP, Input};
use crate::style::Style;
use crate::terminal::{Terminal, UserInput};

/// What the client was started with.
pub struct Options {
    /// Colours, timestamps and the name to ring the bell for.
    pub style: Style,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Some command failed along the way.
    pub failed: bool,
}

/// A typed command's answer, on its way.
type Pending = Pin<Box<dyn Future<Output = Answer>>>;

/// What a typed command came to.
enum Answer {
    CreateAndJoin(Result<GroupId, Error>),
    CreatePrivate(Result<Invite, Error>),
    Join(GroupId, Result<(), Error>),
    Reply(Command, Result<Reply, Error>),
    Sent(Result<(), Error>),
}

struct App {
    client: Client,
    options: Options,
    terminal: Terminal,
    /// The group typed messages go to.
    current: Option<GroupId>,
    last_created: Option<GroupId>,
    /// A command failed (an error reply, no reply, or a refused line): pipe mode exits 1.
    failed: bool,
}

/// Most events shown before a command's answer that came after them.
const EVENTS_BEFORE_ANSWER: usize = 10_000;

/// Runs until the user quits, the input ends or Ctrl-C arrives.
pub async fn run(
    client: Client,
    mut events: Events,
    options: Options,
    terminal: Terminal,
    mut interrupted: UnboundedReceiver<()>,
    first: Option<Input>,
) -> io::Result<Outcome> {
    let mut app =
        App { client, options, terminal, current: None, last_created: None, failed: false };
    if app.terminal.interactive {
        app.greet();
    }
    // A join asked for at start (`--join`, or an invite link) goes first.
    let mut pending: Option<Pending> = match first.map(|first| app.act_on(first)) {
        Some(Some(Act::Wait(answer))) => Some(answer),
        _ => None,
    };
    loop {
        tokio::select! {
            biased;
            answer = answer_of(&mut pending) => {
                pending = None;
                // What happened before the answer is shown before it.
                for _ in 0..EVENTS_BEFORE_ANSWER {
                    let Some(event) = events.try_recv() else { break };
                    app.event(event);
                }
                app.answer(answer);
            }
            event = events.recv() => match event {
                Some(event) => app.event(event),
                None => break,
            },
            // Lines are taken one at a time, each after the previous one's answer, so that a
            // script's `create --join` is complete before its next line is read.
            line = app.terminal.lines.recv(), if pending.is_none() => match line {
                Some(UserInput::Line(line)) => match app.act(&line) {
                    Some(Act::Quit) => break,
                    Some(Act::Wait(answer)) => pending = Some(answer),
                    None => {}
                },
                Some(UserInput::End) | None => break,
            },
            _ = interrupted.recv() => break,
        }
    }
    app.client.clone().close().await;
    app.terminal.finish();
    println!("Goodbye.");
    Ok(Outcome { failed: app.failed })
}

async fn answer_of(pending: &mut Option<Pending>) -> Answer {
    match pending {
        Some(answer) => answer.await,
        None => std::future::pending().await,
    }
}

enum Act {
    Quit,
    /// Read no more lines until this answer is in.
    Wait(Pending),
}

fn wait(answer: impl Future<Output = Answer> + 'static) -> Option<Act> {
    Some(Act::Wait(Box::pin(answer)))
}

impl App {
    fn greet(&mut self) {
        let servers = self.client.servers();
        let others: Vec<&str> = servers[1..].iter().map(|server| server.label.as_str()).collect();
        let then = match others.is_empty() {
            true => String::new(),
            false => format!(" (if it stops answering: {})", others.join(", ")),
        };
        let first = servers[0].label.clone();
        self.show(&format!("Connecting to server at {first}{then} ..."));
        self.show(
            "Type 'help' for commands. Messages that don't start with '!' are sent as payloads.",
        );
    }

    /// One of the client's own lines (help, status, refusals).
    fn show(&mut self, line: &str) {
        let shown = self.options.style.render(&Line::Said(line.to_string()), None);
        self.terminal.show(&shown);
    }

    /// A line about something from the network: timestamped when asked.
    fn show_incoming(&mut self, line: &Line) {
        let time = self.options.style.timestamps.then(|| chrono::Local::now().format("%H:%M"));
        let time = time.map(|time| time.to_string());
        let shown = self.options.style.render(line, time.as_deref());
        self.terminal.show(&shown);
    }

    fn show_all(&mut self, lines: Vec<impl Into<Line>>) {
        lines.into_iter().for_each(|line| self.show_incoming(&line.into()));
    }

    /// Refuses a line, which counts as a failure for a script.
    fn refuse(&mut self, why: &str) {
        self.failed = true;
        self.show(why);
    }

    fn event(&mut self, event: Event) {
        self.failed |= display::is_failure(&event);
        if let Event::Lost { group, .. } = event
            && self.current == Some(group)
        {
            self.current = None;
        }
        self.show_all(display::event_lines(&event));
    }

    /// Acts on one typed line: `None` when it is done at once.
    fn act(&mut self, line: &str) -> Option<Act> {
        self.act_on(input::parse(line))
    }

    /// Acts on what a line meant.
    fn act_on(&mut self, input: Input) -> Option<Act> {
        let client = self.client.clone();
        let current = self.current;
        let request = |command: Command| {
            wait(async move { Answer::Reply(command, client.request(current, command).await) })
        };
        match input {
            Input::Nothing => None,
            Input::Quit => Some(Act::Quit),
            Input::Refused(why) => {
                self.refuse(&why);
                None
            }
            Input::Help => {
                HELP.iter().for_each(|line| self.show(line));
                None
            }
            Input::Status => {
                let status = self.status(Instant::now());
                self.show(&status);
                None
            }
            Input::Create { join: true, cap, encrypted: false } => {
                let client = self.client.clone();
                wait(async move { Answer::CreateAndJoin(client.create_and_join(cap).await) })
            }
            Input::Create { join: true, cap, encrypted: true } => {
                let client = self.client.clone();
                wait(async move { Answer::CreatePrivate(client.create_private(cap).await) })
            }
            Input::Create { join: false, cap, .. } => request(Command::Create { cap }),
            Input::JoinInvite(invite) => {
                if let Some(why) = self.elsewhere(&invite) {
                    self.refuse(&why);
                    return None;
                }
                let (client, id) = (self.client.clone(), invite.group);
                wait(async move { Answer::Join(id, client.join_invite(&invite).await) })
            }
            Input::Invite => {
                match self.current.and_then(|id| self.client.invite(id)) {
                    Some(invite) => self.show(&format!("[cli] invite: {invite}")),
                    None => self.refuse(NOT_JOINED),
                }
                None
            }
            Input::Join(id) if Some(id) == self.current => {
                self.show(&format!("[cli] already in {id}"));
                None
            }
            Input::Join(id) => {
                let client = self.client.clone();
                wait(async move { Answer::Join(id, client.join(id).await) })
            }
            Input::Leave(Some(id)) => request(Command::Leave(id)),
            Input::Leave(None) => match self.current {
                Some(id) => request(Command::Leave(id)),
                None => {
                    self.refuse(NOT_JOINED);
                    None
                }
            },
            Input::Who => request(Command::Who),
            Input::Ping => request(Command::Ping(None)),
            Input::Message(text) => {
                let Some(group) = self.current else {
                    self.refuse(NOT_JOINED);
                    return None;
                };
                let client = self.client.clone();
                wait(async move { Answer::Sent(client.send(group, &text).await) })
            }
        }
    }

    fn answer(&mut self, answer: Answer) {
        match answer {
            Answer::CreateAndJoin(Ok(id)) => {
                self.last_created = Some(id);
                self.show_all(display::created_lines(id));
                self.show_incoming(&Line::Said(format!("[server] {}", Reply::Joined(id))));
                self.switch_to(id);
            }
            Answer::CreatePrivate(Ok(invite)) => {
                self.last_created = Some(invite.group);
                self.show_all(display::created_lines(invite.group));
                self.show_incoming(&Line::Said(format!(
                    "[server] {}",
                    Reply::Joined(invite.group)
                )));
                self.show(&format!("[cli] invite: {invite}"));
                self.switch_to(invite.group);
            }
            Answer::CreatePrivate(Err(error)) => {
                self.failed = true;
                self.show_all(display::error_lines(Command::Create { cap: None }, &error));
            }
            Answer::CreateAndJoin(Err(error)) => {
                self.failed = true;
                // The create worked and the join that follows it did not.
                if let Error::NoReply { command: Command::Join(id), .. }
                | Error::Unreachable { command: Command::Join(id), .. } = error
                {
                    self.last_created = Some(id);
                    self.show_all(display::created_lines(id));
                    return self.show_all(display::error_lines(Command::Join(id), &error));
                }
                self.show_all(display::error_lines(Command::Create { cap: None }, &error));
            }
            Answer::Join(id, Ok(())) => {
                self.show_incoming(&Line::Said(format!("[server] {}", Reply::Joined(id))));
                self.switch_to(id);
            }
            Answer::Join(id, Err(error)) => {
                self.failed = true;
                self.show_all(display::error_lines(Command::Join(id), &error));
            }
            Answer::Reply(command, answer) => {
                self.failed |= matches!(answer, Ok(Reply::Error(_)) | Err(_));
                match (command, &answer) {
                    (Command::Create { .. }, Ok(Reply::Created(id))) => {
                        self.last_created = Some(*id)
                    }
                    // Whatever the answer, the client is out of a group it leaves.
                    (Command::Leave(id), _) if self.current == Some(id) => self.current = None,
                    _ => {}
                }
                self.show_all(display::answer_lines(&answer, command));
            }
            Answer::Sent(Ok(())) => {}
            Answer::Sent(Err(error)) => {
                self.failed = true;
                let lines = display::error_lines(Command::Who, &error);
                lines.iter().for_each(|line| self.show(line));
            }
        }
    }

    /// Typed messages go to `id` now; the group before it is left, as the original client
    /// leaves its group when it joins another.
    fn switch_to(&mut self, id: GroupId) {
        if let Some(old) = self.current.replace(id)
            && old != id
        {
            let client = self.client.clone();
            tokio::spawn(async move { client.leave(old).await });
        }
    }

    /// Why an invite cannot be joined from here: it names a server this client does not
    /// talk to (`None` when it does).
    fn elsewhere(&self, invite: &Invite) -> Option<String> {
        let servers = self.client.servers();
        let named = |server: &udprelay_client::Server| {
            server.label.split(" (").next() == Some(invite.server.as_str())
        };
        let found = udprelay_client::resolve(&invite.server, udprelay_client::DEFAULT_PORT);
        let same = |found: &Vec<udprelay_client::Server>| {
            found.iter().any(|f| servers.iter().any(|server| server.addr == f.addr))
        };
        if servers.iter().any(named) || found.as_ref().is_ok_and(same) {
            return None;
        }
        Some(format!(
            "[cli] that invite is for a group on {}; this client talks to {} (start one for it with `udprelay --host {}` and join there; a secret given as an argument is in your shell's history)",
            invite.server, servers[0].label, invite.server
        ))
    }

    fn status(&self, now: Instant) -> String {
        let none = || "<none>".to_string();
        let status = self.current.and_then(|id| self.client.status(Some(id)));
        let status = status.or_else(|| self.client.status(None));
        let server = status.as_ref().map(|s| s.server.clone());
        let server = server.unwrap_or_else(|| self.client.servers()[0].label.clone());
        let heartbeat = status.as_ref().map_or(60.0, |s| s.heartbeat.as_secs_f64());
        let next_ping = status.and_then(|s| s.next_ping).filter(|_| self.current.is_some());
        let eta = next_ping.map_or_else(none, |at| {
            format!("{:.2}s", at.saturating_duration_since(now).as_secs_f64())
        });
        let group = self.current.map_or_else(none, |id| id.to_string());
        let created = self.last_created.map_or_else(none, |id| id.to_string());
        let private = self.current.and_then(|id| self.client.status(Some(id))?.private);
        let encrypted = match private {
            Some(key) => match self.client.identity() {
                Ok(me) => format!("yes key={key} me={}", me.fingerprint()),
                Err(_) => format!("yes key={key}"),
            },
            None => "no".into(),
        };
        format!(
            "[cli] server={server} group={group} last_created={created} heartbeat_interval={heartbeat:.3}s next_ping_eta={eta} encrypted={encrypted}"
        )
    }
}
