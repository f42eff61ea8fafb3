//! Datagrams with a forged source address, through a raw socket: what an attacker sends.
//! Needs root (CAP_NET_RAW); only ever aimed at our own server on 127.0.0.1.

use std::io;
use std::net::SocketAddrV4;

pub struct Forger {
    fd: i32,
}

impl Forger {
    /// A raw IPv4 socket that takes whole packets, headers included.
    pub fn open() -> io::Result<Forger> {
        // SAFETY: a plain socket call; the descriptor is closed on drop.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Forger { fd })
    }

    /// Sends `payload` to `to` as if from `from`. Only loopback destinations are accepted.
    pub fn send(&self, from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) -> io::Result<()> {
        assert!(to.ip().is_loopback(), "forged datagrams go to our own server on loopback only");
        let udp_len = 8 + payload.len();
        let total = 20 + udp_len;
        let mut packet = Vec::with_capacity(total);
        packet.extend_from_slice(&[0x45, 0]); // IPv4, 20-byte header
        packet.extend_from_slice(&(total as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]); // id, flags, TTL, UDP, checksum (kernel's)
        packet.extend_from_slice(&from.ip().octets());
        packet.extend_from_slice(&to.ip().octets());
        packet.extend_from_slice(&from.port().to_be_bytes());
        packet.extend_from_slice(&to.port().to_be_bytes());
        packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0]); // no UDP checksum (allowed on IPv4)
        packet.extend_from_slice(payload);
        // SAFETY: all-zero is a valid sockaddr_in; the fields are set below.
        let mut dest: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        dest.sin_family = libc::AF_INET as libc::sa_family_t;
        dest.sin_addr.s_addr = u32::from(*to.ip()).to_be();
        // SAFETY: the packet and address outlive the call.
        let sent = unsafe {
            libc::sendto(
                self.fd,
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&dest as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if sent < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.fd) };
    }
}
