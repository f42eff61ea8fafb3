//! The UDP socket to the server, with a thread that receives for it.
//!
//! The socket is *connected* to the server: the kernel then drops datagrams from any other
//! address, and reports the server's port closed (ICMP port unreachable) as an error, which
//! is how the client can say "server unreachable".

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::Sender;
use udprelay_shared::SocketId;
use udprelay_shared::limits::RECV_BUFFER;

/// What a receiving thread reports, and on which of the session's sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// A datagram from the server's address.
    Datagram(SocketId, Vec<u8>),
    /// The server's port is closed (or its host unreachable).
    Unreachable(SocketId),
}

/// A socket connected to one server; receiving stops when this is dropped.
pub struct Link {
    socket: UdpSocket,
    stop: Arc<AtomicBool>,
}

/// How often the receiving thread looks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(200);

impl Link {
    /// Binds an ephemeral local port, connects it to `server` and starts receiving into
    /// `network`, tagged with `id`.
    pub fn connect(server: SocketAddr, id: SocketId, network: Sender<Network>) -> io::Result<Link> {
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
            SocketAddr::V6(_) => "[::]:0".parse().expect("literal"),
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(server)?;
        socket.set_read_timeout(Some(STOP_CHECK))?;
        let stop = Arc::new(AtomicBool::new(false));
        let receiver = socket.try_clone()?;
        let stopped = Arc::clone(&stop);
        thread::Builder::new()
            .name(format!("udprelay-receive-{}", id.0))
            .spawn(move || receive(receiver, id, network, stopped))?;
        Ok(Link { socket, stop })
    }

    /// Sends one datagram to the server.
    pub fn send(&self, datagram: &[u8]) -> io::Result<()> {
        self.socket.send(datagram).map(|_| ())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Whether a socket error means the server cannot be reached.
pub fn is_unreachable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

fn receive(socket: UdpSocket, id: SocketId, tx: Sender<Network>, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; RECV_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        let event = match socket.recv(&mut buf) {
            Ok(len) => Network::Datagram(id, buf[..len].to_vec()),
            Err(error) if is_unreachable(&error) => Network::Unreachable(id),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(_) => {
                // Anything else is unexpected; pause so that a persistent fault cannot spin.
                thread::sleep(STOP_CHECK);
                continue;
            }
        };
        if tx.send(event).is_err() {
            return; // nobody listens any more
        }
    }
}
