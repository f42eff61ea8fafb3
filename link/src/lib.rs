//! A client's link to the server, shared by the terminal and desktop clients: the protocol
//! [`Session`] (from `udprelay-shared`, pure) joined to real UDP sockets.
//!
//! A [`Connection`] does the part both clients would otherwise write twice: open the sockets
//! the session names (a member socket, and a fresh one for each create or join made while in a
//! group), send what the session queued, close what it lets go, tell it when the network says
//! the server is unreachable, move to the next server when the one in use stops answering
//! (the nodes of a cluster, docs/cluster.md), and hand out what it reports. Each client keeps
//! its own small loop that waits on [`Connection::network`], its user, and
//! [`Connection::deadline`].

mod servers;
mod socket;

use std::collections::HashMap;
use std::io;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};
use udprelay_shared::session::{
    Connection as Reachability, Event, Purpose, Session, SocketId, Transmit,
};
use udprelay_shared::{Command, GroupId};

pub use servers::{Server, resolve, with_port};
pub use socket::{Link, Network, is_unreachable};

/// What a [`Connection`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Something the session reported.
    Session(Event),
    /// The network said the server cannot be reached (port closed, host unreachable), and the
    /// session did not know it yet.
    Unreachable,
    /// A socket could not be opened, or a send failed for another reason.
    SendFailed(String),
    /// The server stopped answering, and the client moved to the next of its servers (and
    /// joined its group again there, if it was in one).
    Moved { from: String, to: String, group: Option<GroupId> },
}

/// One session over the sockets it asks for, all connected to one server at a time: the first
/// of its servers, then, when that one stops answering, the next.
pub struct Connection {
    session: Session,
    servers: Vec<Server>,
    /// The server in use.
    current: usize,
    /// A move under way: the server moved from, and how many have been tried since.
    moving: Option<(usize, usize)>,
    sockets: HashMap<SocketId, Link>,
    network_tx: Sender<Network>,
    network: Receiver<Network>,
    reports: Vec<Report>,
}

impl Connection {
    /// Opens a socket to the first of `servers` for a fresh session.
    pub fn open(servers: Vec<Server>) -> io::Result<Connection> {
        Connection::with_session(servers, Session::new())
    }

    /// Opens the member socket to the first of `servers` for the given session (so that a
    /// machine that cannot open one says so at once).
    pub fn with_session(servers: Vec<Server>, session: Session) -> io::Result<Connection> {
        assert!(!servers.is_empty(), "at least one server");
        let (network_tx, network) = unbounded();
        let member = session.member_socket();
        let link = Link::connect(servers[0].addr, member, network_tx.clone())?;
        let sockets = HashMap::from([(member, link)]);
        Ok(Connection {
            session,
            servers,
            current: 0,
            moving: None,
            sockets,
            network_tx,
            network,
            reports: Vec::new(),
        })
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The server in use.
    pub fn server(&self) -> &Server {
        &self.servers[self.current]
    }

    /// For asking the session to do things; [`Connection::flush`] sends what it queued.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Datagrams and errors from the receive threads; pass each to [`Connection::receive`].
    pub fn network(&self) -> &Receiver<Network> {
        &self.network
    }

    /// When [`Connection::tick`] next has work.
    pub fn deadline(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    pub fn receive(&mut self, now: Instant, message: Network) {
        match message {
            // What a closed socket received before it closed is no one's business now.
            Network::Datagram(socket, _) | Network::Unreachable(socket)
                if !self.sockets.contains_key(&socket) => {}
            Network::Datagram(socket, datagram) => {
                self.session.handle_datagram(now, socket, &datagram);
            }
            Network::Unreachable(_) => self.unreachable(),
        }
    }

    pub fn tick(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    /// Does everything the session queued; returns everything there is to report.
    pub fn flush(&mut self) -> Vec<Report> {
        // A move made while reading these events: the ones after it still speak of the old
        // server (they were queued before the move).
        let mut moved_now = false;
        loop {
            while let Some(transmit) = self.session.poll_transmit() {
                match transmit {
                    Transmit::Send { socket, datagram } => self.send(socket, &datagram),
                    Transmit::Close(socket) => {
                        // Dropping the link stops its receive thread.
                        self.sockets.remove(&socket);
                    }
                }
            }
            let Some(event) = self.session.poll_event() else { break };
            if let Some(event) = self.failover(event, &mut moved_now) {
                self.reports.push(Report::Session(event));
            }
        }
        std::mem::take(&mut self.reports)
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
        self.sockets.clear();
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
    pub fn send_raw(&self, datagram: &[u8]) -> io::Result<()> {
        match self.sockets.get(&self.session.member_socket()) {
            Some(link) => link.send(datagram),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "no member socket")),
        }
    }

    fn send(&mut self, socket: SocketId, datagram: &[u8]) {
        if !self.sockets.contains_key(&socket) {
            let server = self.servers[self.current].addr;
            match Link::connect(server, socket, self.network_tx.clone()) {
                Ok(link) => {
                    self.sockets.insert(socket, link);
                }
                Err(error) => {
                    let why = format!("cannot open a socket: {error}");
                    return self.reports.push(Report::SendFailed(why));
                }
            }
        }
        if let Err(error) = self.sockets[&socket].send(datagram) {
            if is_unreachable(&error) {
                self.unreachable();
            } else {
                self.reports.push(Report::SendFailed(error.to_string()));
            }
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
        let known = self.session.connection() == Reachability::Unreachable;
        if self.session.handle_unreachable() && !known {
            self.reports.push(Report::Unreachable);
        }
    }
}
