//! Binding the listening sockets: one per worker, all on the same address.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// Binds `count` non-blocking sockets to `wanted`. With more than one, each has SO_REUSEPORT,
/// so the kernel spreads senders over them (one sender always lands on the same socket, which
/// keeps its datagrams in order); elsewhere the workers share one socket.
pub fn bind(wanted: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    // A plain bind first: it fails if anyone holds the port, even another server that also
    // uses SO_REUSEPORT and would otherwise silently share our traffic. It also resolves
    // port 0 to the port everyone then binds.
    let first = open(wanted, false)?;
    if count <= 1 {
        return Ok(vec![first]);
    }
    if cfg!(unix) {
        let addr = first.local_addr()?;
        drop(first);
        (0..count).map(|_| open(addr, true)).collect()
    } else {
        let mut sockets = (1..count).map(|_| first.try_clone()).collect::<io::Result<Vec<_>>>()?;
        sockets.push(first);
        Ok(sockets)
    }
}

fn open(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(unix))]
    let _ = reuse_port;
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
