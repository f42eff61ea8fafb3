//! A client's link to the server, shared by the terminal and desktop clients: the protocol
//! [`Session`] (from `udprelay-shared`, pure) joined to a real UDP socket.
//!
//! A [`Connection`] does the part both clients would otherwise write twice: send what the
//! session queued, tell it when the network says the server is unreachable, and hand out what
//! it reports. Each client keeps its own small loop that waits on [`Connection::network`],
//! its user, and [`Connection::deadline`].

mod socket;

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use crossbeam_channel::Receiver;
use udprelay_shared::session::{Connection as Reachability, Event, Session};

pub use socket::{Link, Network, is_unreachable};

/// What a [`Connection`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Something the session reported.
    Session(Event),
    /// The network said the server cannot be reached (port closed, host unreachable), and the
    /// session did not know it yet.
    Unreachable,
    /// A send failed for another reason.
    SendFailed(String),
}

/// One session over one socket connected to the server.
pub struct Connection {
    session: Session,
    link: Link,
    network: Receiver<Network>,
    reports: Vec<Report>,
}

impl Connection {
    /// Opens a socket to `server` for a fresh session.
    pub fn open(server: SocketAddr) -> io::Result<Connection> {
        Connection::with_session(server, Session::new())
    }

    /// Opens a socket to `server` for the given session.
    pub fn with_session(server: SocketAddr, session: Session) -> io::Result<Connection> {
        let (link, network) = Link::connect(server)?;
        Ok(Connection { session, link, network, reports: Vec::new() })
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// For asking the session to do things; [`Connection::flush`] sends what it queued.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Datagrams and errors from the receive thread; pass each to [`Connection::receive`].
    pub fn network(&self) -> &Receiver<Network> {
        &self.network
    }

    /// When [`Connection::tick`] next has work.
    pub fn deadline(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    pub fn receive(&mut self, now: Instant, message: Network) {
        match message {
            Network::Datagram(datagram) => self.session.handle_datagram(now, &datagram),
            Network::Unreachable => self.unreachable(),
        }
    }

    pub fn tick(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    /// Sends everything the session queued; returns everything there is to report.
    pub fn flush(&mut self) -> Vec<Report> {
        while let Some(datagram) = self.session.poll_transmit() {
            if let Err(error) = self.link.send(&datagram) {
                if is_unreachable(&error) {
                    self.unreachable();
                } else {
                    self.reports.push(Report::SendFailed(error.to_string()));
                }
            }
        }
        while let Some(event) = self.session.poll_event() {
            self.reports.push(Report::Session(event));
        }
        std::mem::take(&mut self.reports)
    }

    /// Sends one datagram outside the session: a farewell `!LEAVE` when closing.
    pub fn send_raw(&self, datagram: &[u8]) -> io::Result<()> {
        self.link.send(datagram)
    }

    fn unreachable(&mut self) {
        if self.session.connection() != Reachability::Unreachable {
            self.reports.push(Report::Unreachable);
        }
        self.session.handle_unreachable();
    }
}
