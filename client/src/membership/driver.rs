//! One [`Session`] over real sockets, all connected to one server at a time: the first of its
//! servers, then, when that one stops answering, the next (the nodes of a cluster,
//! docs/cluster.md). It opens the sockets the session names, sends what the session queued,
//! closes what it lets go, and tells it when the network says the server is unreachable.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use udprelay_shared::{Command, GroupId};

use super::sockets::{Sockets, is_unreachable};
use crate::Server;
use crate::session::{Event, Purpose, Reachability, Session, SocketId, Transmit};

/// What the driver reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    /// Something the session reported.
    Session(Event),
    /// The network said the server cannot be reached, and the session did not know it yet.
    Unreachable,
    /// A socket could not be opened, or a send failed for another reason.
    SendFailed(String),
    /// The server stopped answering, and the driver moved to the next of its servers (and
    /// joined `group` again there, if the session was in one).
    Moved { from: String, to: String, group: Option<GroupId> },
}

pub(crate) struct Driver {
    pub(crate) session: Session,
    servers: Arc<[Server]>,
    /// The server in use.
    current: usize,
    /// A move under way: the server moved from, and how many have been tried since.
    moving: Option<(usize, usize)>,
    pub(crate) sockets: Sockets,
    reports: Vec<Report>,
}

impl Driver {
    pub(crate) fn new(servers: Arc<[Server]>, session: Session) -> Driver {
        assert!(!servers.is_empty(), "at least one server");
        let (current, moving, reports) = (0, None, Vec::new());
        Driver { session, servers, current, moving, sockets: Sockets::default(), reports }
    }

    /// Which of the servers is in use.
    pub(crate) fn server_index(&self) -> usize {
        self.current
    }

    /// The server in use.
    pub(crate) fn server(&self) -> &Server {
        &self.servers[self.current]
    }

    /// What [`Sockets::recv`] brought: a datagram's length, or an error, on `socket`.
    pub(crate) fn receive(&mut self, now: Instant, socket: SocketId, received: io::Result<usize>) {
        if self.sockets.get(socket).is_none() {
            return; // what a closed socket received before it closed is no one's business now
        }
        match received {
            Ok(len) => {
                let datagram = self.sockets.received(socket, len);
                self.session.handle_datagram(now, socket, datagram);
            }
            Err(error) if is_unreachable(&error) => self.unreachable(),
            Err(_) => {}
        }
    }

    /// Does everything the session queued; puts everything there is to report in `reports`.
    pub(crate) fn flush(&mut self, reports: &mut Vec<Report>) {
        // A move made while reading these events: the ones after it still speak of the old
        // server (they were queued before the move).
        let mut moved_now = false;
        loop {
            while let Some(transmit) = self.session.poll_transmit() {
                match transmit {
                    Transmit::Send { socket, datagram } => self.send(socket, &datagram),
                    Transmit::Close(socket) => self.sockets.close(socket),
                }
            }
            let Some(event) = self.session.poll_event() else { break };
            if let Some(event) = self.failover(event, &mut moved_now) {
                self.reports.push(Report::Session(event));
            }
        }
        reports.append(&mut self.reports);
    }

    /// With several servers, what the session reports may mean the one in use is gone: then
    /// the next is tried, until one answers or each has been tried once. `moved_now` says a
    /// move was made for an earlier event of the same batch: then this one is about the old
    /// server, and only its command is sent again. Returns the event when it is still to be
    /// reported.
    fn failover(&mut self, event: Event, moved_now: &mut bool) -> Option<Event> {
        if self.servers.len() < 2 {
            return Some(event);
        }
        let now = Instant::now();
        let untried = self.moving.is_none_or(|(_, tried)| tried < self.servers.len());
        match event {
            // The heartbeat went unanswered (its retry too) while in a group: the move speaks
            // for that silence.
            Event::NoReply { purpose: Purpose::Heartbeat, .. } => {
                if !*moved_now && self.moving.is_none() && self.session.group().is_some() {
                    *moved_now = true;
                    self.move_on(now, self.session.group(), None);
                }
                None
            }
            // A command of the user's went unanswered: it goes to the next server.
            Event::NoReply {
                request,
                purpose: purpose @ (Purpose::User | Purpose::CreateAndJoin),
            } if untried || *moved_now => {
                if *moved_now {
                    self.send_again(now, request, purpose);
                } else {
                    *moved_now = true;
                    self.move_on(now, self.session.group(), Some((request, purpose)));
                }
                None
            }
            Event::RejoinFailed { group, error: None } if self.moving.is_some() && untried => {
                *moved_now = true;
                self.move_on(now, Some(group), None);
                None
            }
            Event::Rejoined(group) if self.moving.is_some() => {
                self.moved(Some(group));
                None
            }
            Event::Reply { .. } | Event::RejoinFailed { .. } if self.moving.is_some() => {
                self.moved(None);
                Some(event)
            }
            // Every server was tried once without an answer: this round is over, and the
            // failure is reported as it is.
            Event::NoReply { purpose: Purpose::User | Purpose::CreateAndJoin, .. }
            | Event::RejoinFailed { .. } => {
                self.moving = None;
                Some(event)
            }
            event => Some(event),
        }
    }

    /// Sends a command of the user's again, as it was first made.
    fn send_again(&mut self, now: Instant, command: Command, purpose: Purpose) {
        match (command, purpose) {
            (Command::Create { cap }, Purpose::CreateAndJoin) => {
                self.session.create_and_join(now, cap)
            }
            (command, _) => self.session.command(now, command),
        }
    }

    /// Moves to the next server: the old one's sockets go, and the session starts again
    /// there (rejoining `group`, and sending `again` once more).
    fn move_on(&mut self, now: Instant, group: Option<GroupId>, again: Option<(Command, Purpose)>) {
        let (from, tried) = self.moving.unwrap_or((self.current, 0));
        self.moving = Some((from, tried + 1));
        self.current = (self.current + 1) % self.servers.len();
        self.sockets.close_all();
        self.session.change_server(now, group);
        if let Some((command, purpose)) = again {
            self.send_again(now, command, purpose);
        }
    }

    /// The server moved to answered.
    fn moved(&mut self, group: Option<GroupId>) {
        if let Some((from, _)) = self.moving.take() {
            let from = self.servers[from].label.clone();
            let to = self.server().label.clone();
            self.reports.push(Report::Moved { from, to, group });
        }
    }

    /// Sends one datagram outside the session, from the member socket: a farewell `!LEAVE`.
    pub(crate) fn send_raw(&self, datagram: &[u8]) {
        if let Some(socket) = self.sockets.get(self.session.member_socket()) {
            let _ = socket.send(datagram);
        }
    }

    fn send(&mut self, socket: SocketId, datagram: &[u8]) {
        if self.sockets.get(socket).is_none()
            && let Err(error) = self.sockets.open(socket, self.servers[self.current].addr)
        {
            let why = format!("cannot open a socket: {error}");
            return self.reports.push(Report::SendFailed(why));
        }
        let sent = self.sockets.get(socket).expect("opened above").send(datagram);
        match sent {
            Ok(_) => {}
            Err(error) if is_unreachable(&error) => self.unreachable(),
            Err(error) => self.reports.push(Report::SendFailed(error.to_string())),
        }
    }

    /// The network says the server's port is closed (or its host unreachable). With several
    /// servers, the client moves on at once.
    fn unreachable(&mut self) {
        let untried = self.moving.is_none_or(|(_, tried)| tried < self.servers.len());
        if self.servers.len() > 1 && untried {
            let group = self.session.group();
            return self.move_on(Instant::now(), group, None);
        }
        let known = self.session.reachability() == Reachability::Unreachable;
        if self.session.handle_unreachable() && !known {
            self.reports.push(Report::Unreachable);
        }
    }
}
