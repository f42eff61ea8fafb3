//! Linux: ICMP errors for what the relay sent. A member at an address where nothing listens
//! (a client that quit, or a forged join) answers each relayed payload with an ICMP "port
//! unreachable". With `IP_RECVERR` the kernel queues those errors on the socket; the next
//! receive fails with the error, and the queue (read with `MSG_ERRQUEUE`) names the address
//! each was about. The relay then removes those members (docs/protocol.md, "Relaying").

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::RawFd;

use socket2::{SockAddr, SockAddrStorage, Socket};

/// Asks the kernel to queue ICMP errors on `socket` (both families on an IPv6 socket, which
/// may carry IPv4-mapped traffic).
pub fn report_errors(socket: &Socket, ipv6: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    let set = |level, name| {
        // SAFETY: a valid descriptor, and a pointer to an int of the size given.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    };
    if ipv6 {
        set(libc::IPPROTO_IPV6, libc::IPV6_RECVERR)?;
        let _ = set(libc::IPPROTO_IP, libc::IP_RECVERR); // for IPv4-mapped peers, where allowed
        Ok(())
    } else {
        set(libc::IPPROTO_IP, libc::IP_RECVERR)
    }
}

/// Errors read per call at most, so a flood of ICMP cannot keep a worker from relaying.
const MOST_PER_DRAIN: usize = 1024;

/// Reads the socket's error queue; adds to `unreachable` each address an ICMP error said
/// cannot be reached (destination unreachable, but not "fragmentation needed", which is about
/// the path's MTU, not the peer).
pub fn drain(fd: RawFd, unreachable: &mut Vec<SocketAddr>) {
    for _ in 0..MOST_PER_DRAIN {
        let mut name = SockAddrStorage::zeroed();
        let mut payload = [0u8; 64];
        let mut control = [0u8; 256];
        let mut slice =
            libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() };
        // SAFETY: all-zero is a valid `msghdr`; every pointer set below outlives the call.
        let mut header: libc::msghdr = unsafe { zeroed() };
        header.msg_name = (&mut name as *mut SockAddrStorage).cast();
        header.msg_namelen = size_of::<SockAddrStorage>() as libc::socklen_t;
        header.msg_iov = &mut slice;
        header.msg_iovlen = 1;
        header.msg_control = control.as_mut_ptr().cast();
        header.msg_controllen = control.len() as _;
        // SAFETY: the header describes buffers owned by this frame.
        let read =
            unsafe { libc::recvmsg(fd, &mut header, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if read < 0 {
            return; // EAGAIN: the queue is empty
        }
        if !says_unreachable(&header) {
            continue;
        }
        // SAFETY: the kernel wrote `msg_namelen` bytes of address into `name`.
        let addr = unsafe { SockAddr::new(name, header.msg_namelen) };
        // As the kernel names the peer on this socket, so as the relay knows the member.
        if let Some(addr) = addr.as_socket() {
            unreachable.push(addr);
        }
    }
}

/// Whether the control messages hold an ICMP "destination unreachable".
fn says_unreachable(header: &libc::msghdr) -> bool {
    // SAFETY: walking the control buffer the kernel filled, with the libc macros.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(header) };
    while !cmsg.is_null() {
        // SAFETY: non-null, inside the control buffer.
        let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
        let is_error = (level == libc::SOL_IP && kind == libc::IP_RECVERR)
            || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR);
        if is_error {
            // SAFETY: an IP(V6)_RECVERR message carries a `sock_extended_err`.
            let error: libc::sock_extended_err =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
            const DEST_UNREACH: u8 = 3;
            const FRAGMENTATION_NEEDED: u8 = 4;
            const DEST_UNREACH_V6: u8 = 1;
            return match error.ee_origin {
                libc::SO_EE_ORIGIN_ICMP => {
                    error.ee_type == DEST_UNREACH && error.ee_code != FRAGMENTATION_NEEDED
                }
                libc::SO_EE_ORIGIN_ICMP6 => error.ee_type == DEST_UNREACH_V6,
                _ => false,
            };
        }
        // SAFETY: as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(header, cmsg) };
    }
    false
}
