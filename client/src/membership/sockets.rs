//! The sockets of one membership, each *connected* to the server in use: the kernel then drops
//! datagrams from any other address, and reports the server's port closed (ICMP port
//! unreachable) as an error on the socket, which is how the client can say "server
//! unreachable".

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use udprelay_shared::limits::RECV_BUFFER;

use crate::session::SocketId;

/// One open socket.
struct Open {
    id: SocketId,
    /// For waiting: registered with the runtime.
    socket: UdpSocket,
    /// The same socket, for the system calls: a send never waits, whereas tokio's
    /// `try_send` refuses until the runtime has seen the socket writable.
    raw: std::net::UdpSocket,
    buf: Box<[u8]>,
}

/// The open sockets, by the session's numbers (rarely more than two: the member, and a fresh
/// one with a join under way).
#[derive(Default)]
pub(crate) struct Sockets {
    open: Vec<Open>,
}

impl Sockets {
    /// Binds an ephemeral local port and connects it to `server`.
    pub(crate) fn open(&mut self, id: SocketId, server: SocketAddr) -> io::Result<()> {
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let raw = std::net::UdpSocket::bind(local)?;
        raw.connect(server)?;
        raw.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(raw.try_clone()?)?;
        let buf = vec![0u8; RECV_BUFFER].into_boxed_slice();
        self.open.push(Open { id, socket, raw, buf });
        Ok(())
    }

    /// The socket `id`, for sending, if it is open.
    pub(crate) fn get(&self, id: SocketId) -> Option<&std::net::UdpSocket> {
        self.open.iter().find(|open| open.id == id).map(|open| &open.raw)
    }

    pub(crate) fn close(&mut self, id: SocketId) {
        self.open.retain(|open| open.id != id);
    }

    pub(crate) fn close_all(&mut self) {
        self.open.clear();
    }

    /// The next datagram or error on any of the sockets, as the socket and the datagram's
    /// length in [`Sockets::received`]; waits forever when none is open. The wait includes
    /// error readiness: an ICMP error alone does not make a socket readable.
    pub(crate) async fn recv(&mut self) -> (SocketId, io::Result<usize>) {
        let interest = Interest::READABLE | Interest::ERROR;
        if let [Open { id, socket, raw, buf }] = &mut self.open[..] {
            // The usual case, one socket: no allocation on the way.
            return (*id, socket.async_io(interest, || raw.recv(buf)).await);
        }
        let mut waits: Vec<_> = self
            .open
            .iter_mut()
            .map(|open| {
                let Open { id, socket, raw, buf } = open;
                let id = *id;
                Box::pin(async move {
                    let received = socket.async_io(interest, || raw.recv(buf)).await;
                    (id, received)
                })
            })
            .collect();
        poll_fn(|cx| {
            for wait in &mut waits {
                if let Poll::Ready(done) = pin!(wait).poll(cx) {
                    return Poll::Ready(done);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// A datagram or error already waiting on any socket, without waiting: after one
    /// arrived, the ones behind it are taken in the same turn of the loop.
    pub(crate) fn try_recv(&mut self) -> Option<(SocketId, io::Result<usize>)> {
        self.open.iter_mut().find_map(|Open { id, raw, buf, .. }| match raw.recv(buf) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => None,
            received => Some((*id, received)),
        })
    }

    /// The datagram [`Sockets::recv`] said came on `id`.
    pub(crate) fn received(&self, id: SocketId, len: usize) -> &[u8] {
        self.open.iter().find(|open| open.id == id).map_or(&[], |open| &open.buf[..len])
    }
}

/// Whether a socket error means the server cannot be reached. Windows reports an ICMP "port
/// unreachable" on a UDP socket as WSAECONNRESET (`ConnectionReset`), where Linux says
/// `ConnectionRefused`; a UDP socket has no connection to reset otherwise.
pub(crate) fn is_unreachable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}
