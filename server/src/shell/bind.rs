//! Binding the listening sockets: one per worker, all on the same address.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

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
    #[cfg(target_os = "linux")]
    super::icmp::report_errors(&socket, addr.is_ipv6())?;
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The addresses datagrams from this server come from, given the address it bound: that one,
/// or for a wildcard (`0.0.0.0`, `::`) every address of every interface, on the bound port.
/// A datagram "from" one of them is forged (or the relay talking to itself), and is never
/// answered. On a dual-stack socket IPv4 peers appear as IPv4-mapped IPv6, so those forms are
/// listed too.
pub fn own_addresses(bound: SocketAddr) -> Vec<SocketAddr> {
    let port = bound.port();
    let ips: Vec<IpAddr> = if bound.ip().is_unspecified() {
        let mut ips = interface_addresses();
        ips.push(Ipv4Addr::LOCALHOST.into());
        ips.push(Ipv6Addr::LOCALHOST.into());
        ips
    } else {
        vec![bound.ip()]
    };
    let mut own: Vec<SocketAddr> = Vec::new();
    for ip in ips {
        own.push(SocketAddr::new(ip, port));
        if let IpAddr::V4(v4) = ip {
            own.push(SocketAddr::new(v4.to_ipv6_mapped().into(), port));
        }
    }
    own.sort();
    own.dedup();
    own
}

#[cfg(unix)]
fn interface_addresses() -> Vec<IpAddr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Vec::new();
    }
    let mut ips = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: a node of the list getifaddrs returned.
        let address = unsafe { (*entry).ifa_addr };
        if !address.is_null() {
            // SAFETY: `ifa_addr` points at a sockaddr of the family it names.
            let family = i32::from(unsafe { (*address).sa_family });
            if family == libc::AF_INET {
                // SAFETY: an AF_INET sockaddr is a sockaddr_in.
                let v4 = unsafe { *(address as *const libc::sockaddr_in) };
                ips.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))));
            } else if family == libc::AF_INET6 {
                // SAFETY: an AF_INET6 sockaddr is a sockaddr_in6.
                let v6 = unsafe { *(address as *const libc::sockaddr_in6) };
                ips.push(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)));
            }
        }
        // SAFETY: as above.
        entry = unsafe { (*entry).ifa_next };
    }
    // SAFETY: the list getifaddrs allocated, freed once.
    unsafe { libc::freeifaddrs(list) };
    ips
}

#[cfg(not(unix))]
fn interface_addresses() -> Vec<IpAddr> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_addresses_cover_loopback_for_a_wildcard() {
        let own = own_addresses("0.0.0.0:5000".parse().unwrap());
        assert!(own.contains(&"127.0.0.1:5000".parse().unwrap()), "{own:?}");
        assert!(own.contains(&"[::ffff:127.0.0.1]:5000".parse().unwrap()));
        assert!(!own.contains(&"127.0.0.1:5001".parse().unwrap()));
        let one = own_addresses("127.0.0.1:7".parse().unwrap());
        assert_eq!(one, ["127.0.0.1:7".parse().unwrap(), "[::ffff:127.0.0.1]:7".parse().unwrap()]);
    }
}
