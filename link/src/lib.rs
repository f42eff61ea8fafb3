//! A client's link to the server, shared by the terminal and desktop clients: the protocol
//! [`Session`] (from `udprelay-shared`, pure) joined to real UDP sockets.
//!
//! A [`Connection`] does the part both clients would otherwise write twice: open the sockets
//! the session names (a member socket, and a fresh one for each create or join made while in a
//! group), send what the session queued, close what it lets go, tell it when the network says
//! the server is unreachable, and hand out what it reports. Each client keeps its own small
//! loop that waits on [`Connection::network`], its user, and [`Connection::deadline`].

mod socket;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};
use udprelay_shared::session::{Connection as Reachability, Event, Session, SocketId, Transmit};

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
}

/// One session over the sockets it asks for, all connected to one server.
pub struct Connection {
    session: Session,
    server: SocketAddr,
    sockets: HashMap<SocketId, Link>,
    network_tx: Sender<Network>,
    network: Receiver<Network>,
    reports: Vec<Report>,
}

impl Connection {
    /// Opens a socket to `server` for a fresh session.
    pub fn open(server: SocketAddr) -> io::Result<Connection> {
        Connection::with_session(server, Session::new())
    }

    /// Opens the member socket to `server` for the given session (so that a machine that
    /// cannot open one says so at once).
    pub fn with_session(server: SocketAddr, session: Session) -> io::Result<Connection> {
        let (network_tx, network) = unbounded();
        let member = session.member_socket();
        let link = Link::connect(server, member, network_tx.clone())?;
        let sockets = HashMap::from([(member, link)]);
        Ok(Connection { session, server, sockets, network_tx, network, reports: Vec::new() })
    }

    pub fn session(&self) -> &Session {
        &self.session
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
        while let Some(transmit) = self.session.poll_transmit() {
            match transmit {
                Transmit::Send { socket, datagram } => self.send(socket, &datagram),
                Transmit::Close(socket) => {
                    // Dropping the link stops its receive thread.
                    self.sockets.remove(&socket);
                }
            }
        }
        while let Some(event) = self.session.poll_event() {
            self.reports.push(Report::Session(event));
        }
        std::mem::take(&mut self.reports)
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
            match Link::connect(self.server, socket, self.network_tx.clone()) {
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

    fn unreachable(&mut self) {
        let known = self.session.connection() == Reachability::Unreachable;
        if self.session.handle_unreachable() && !known {
            self.reports.push(Report::Unreachable);
        }
    }
}
