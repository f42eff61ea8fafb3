//! What the session reports, turned into answers for whoever waits on an order and events
//! for the program.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use udprelay_shared::{Command, GroupId, Reply};

use super::{Membership, Opening};
use crate::Error;
use crate::e2e::{Notice, Reading};
use crate::event::{Event, Status};
use crate::message::{Encryption, Message};
use crate::session::{Event as SessionEvent, Purpose, Reachability};

impl Membership {
    pub(super) fn session_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Reply { request, reply, purpose } => {
                self.network_refused = false;
                self.reply(request, reply, purpose);
            }
            SessionEvent::PayloadRefused(error) => {
                if let Some(group) = self.group() {
                    self.emit(Event::Refused { group, error });
                }
            }
            SessionEvent::Payload(bytes) => {
                if let Some(group) = self.group() {
                    self.payload(group, bytes);
                }
            }
            SessionEvent::NoReply { request, purpose: Purpose::Heartbeat } => {
                if let (Some(group), Command::Ping(_)) = (self.group(), request) {
                    self.emit(Event::Silent { group });
                }
            }
            SessionEvent::NoReply { request, .. } => {
                let server = self.driver.server().label.clone();
                let error = match self.network_refused {
                    true => Error::Unreachable { command: request, server },
                    false => Error::NoReply { command: request, server },
                };
                self.failed(request, error);
            }
            SessionEvent::Rejoined(group) => {
                self.emit(Event::Rejoined { group });
            }
            SessionEvent::RejoinFailed { group, error } => {
                self.end();
                self.emit(Event::Lost { group, error });
            }
            SessionEvent::Reachability(reachability) => {
                if reachability == Reachability::Reachable {
                    self.network_refused = false;
                }
                self.emit(Event::Reachability { group: self.group(), reachability });
            }
            SessionEvent::Retrying(command) => {
                let group = match command {
                    Command::Join(group) => Some(group),
                    _ => self.group(),
                };
                self.emit(Event::Retrying { group, command });
            }
        }
    }

    /// A peer's payload: shown as it is in a plain group; in a private one, opened, and shown
    /// only when it is news (never what does not decrypt).
    fn payload(&mut self, group: GroupId, bytes: Vec<u8>) {
        let Some(reader) = &mut self.private else {
            return self.emit(Event::Message(Message::parse(group, bytes)));
        };
        let message = match reader.read(&bytes, Instant::now(), super::unix_ms()) {
            Reading::Message { from, text, signer, doubt } => {
                let encryption = Encryption::Signed { signer, doubt };
                Message { group, from, text, bytes, encryption }
            }
            Reading::Plain => {
                Message { encryption: Encryption::NotEncrypted, ..Message::parse(group, bytes) }
            }
            Reading::Dropped | Reading::Undecryptable => return,
        };
        self.emit(Event::Message(message));
    }

    /// What a private group's reader has to say now.
    pub(super) fn say_notices(&mut self, now: Instant) {
        let (Some(group), Some(reader)) = (self.group(), &mut self.private) else { return };
        for notice in reader.notices(now) {
            let event = match notice {
                Notice::Undecryptable { count } => Event::Undecryptable { group, count },
                Notice::Missed { from, count } => Event::Missed { group, from, count },
            };
            self.emit(event);
        }
    }

    /// The server answered `request`.
    fn reply(&mut self, request: Command, reply: Reply, purpose: Purpose) {
        if let Reply::Who { group, members } = reply
            && Some(group) == self.group()
        {
            self.emit(Event::Members { group, count: members });
        }
        if purpose == Purpose::Heartbeat || purpose == Purpose::Rejoin {
            return; // the rejoin that follows a forgotten membership speaks for it
        }
        match (&self.opening, request, &reply) {
            (Some(Opening::CreateAndJoin(_)), Command::Create { .. }, Reply::Created(_)) => return,
            (Some(_), Command::Join(group), Reply::Joined(_)) => {
                match self.opening.take() {
                    Some(Opening::Join(done)) => {
                        let _ = done.send(Ok(()));
                    }
                    Some(Opening::CreateAndJoin(done)) => {
                        self.created(group);
                        let _ = done.send(Ok(group));
                    }
                    None => {}
                }
                return;
            }
            (Some(_), Command::Create { .. } | Command::Join(_), Reply::Error(error)) => {
                return self.failed(request, Error::Refused(error.clone()));
            }
            _ => {}
        }
        // Whatever the answer to leaving this group, the program is done with it.
        if let Command::Leave(left) = request
            && Some(left) == self.group()
        {
            self.end();
        }
        if let Some(index) = self.waiting.iter().position(|(command, _)| *command == request) {
            let (_, done) = self.waiting.remove(index);
            let _ = done.send(Ok(reply));
        }
    }

    /// `request` failed with `error`: whoever waits for it is told. A membership whose join
    /// failed ends.
    fn failed(&mut self, request: Command, error: Error) {
        let opening = matches!(request, Command::Create { .. } | Command::Join(_));
        if opening && let Some(opening) = self.opening.take() {
            self.end();
            match opening {
                Opening::Join(done) => {
                    let _ = done.send(Err(error.clone()));
                }
                Opening::CreateAndJoin(done) => {
                    let _ = done.send(Err(error.clone()));
                }
            }
            return;
        }
        if let Command::Leave(left) = request
            && Some(left) == self.group()
        {
            // Unanswered: the group is left all the same (a farewell goes as the loop ends).
            self.end();
        }
        if let Some(index) = self.waiting.iter().position(|(command, _)| *command == request) {
            let (_, done) = self.waiting.remove(index);
            let _ = done.send(Err(error));
        }
    }

    /// Hands the program an event; when it does not keep up, counts what is dropped, and says
    /// how many once there is room again.
    pub(super) fn emit(&mut self, event: Event) {
        if self.missed > 0 {
            match self.events.try_send(Event::Lagged { missed: self.missed }) {
                Ok(()) => self.missed = 0,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.missed += 1;
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
            self.missed += 1;
        }
    }

    /// Keeps the status for [`crate::Client::status`] current, and reports changes in a
    /// joined group.
    pub(super) fn publish_status(&mut self) {
        let session = &self.driver.session;
        let shown = StatusKey {
            server: self.driver.server_index(),
            reachability: session.reachability(),
            private: self.private.is_some(),
            heard_at: session.last_heard(),
            heartbeat: session.heartbeat(),
            next_ping: session.next_ping(),
        };
        // Compared first, built only when it changed: this runs once a datagram.
        if self.shown == Some(shown) {
            return;
        }
        self.shown = Some(shown);
        let status = Status {
            server: self.driver.server().label.clone(),
            reachability: shown.reachability,
            private: self.private.as_ref().map(|reader| reader.key().fingerprint()),
            heard_at: shown.heard_at,
            heartbeat: shown.heartbeat,
            ping_interval: session.ping_interval(),
            next_ping: shown.next_ping,
        };
        *self.status.lock().expect("status") = Some(status.clone());
        if let (Some(group), Some(_)) = (self.group(), self.driver.session.group()) {
            self.emit(Event::Status { group, status });
        }
    }
}

/// What [`Status`] is made of, cheap to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StatusKey {
    server: usize,
    reachability: Reachability,
    private: bool,
    heard_at: Option<Instant>,
    heartbeat: Duration,
    next_ping: Option<Instant>,
}
