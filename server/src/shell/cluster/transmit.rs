//! Sending from the cluster's thread: replies that waited for the directory, and payloads that
//! came from other nodes. It sends on a copy of a worker's socket, so that clients see them
//! come from the server's address like everything else.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use tracing::debug;

/// Sends datagrams, batched where the platform can.
pub struct Transmitter {
    socket: UdpSocket,
    #[cfg(target_os = "linux")]
    sender: super::super::mmsg::Sender,
}

impl Transmitter {
    pub fn new(socket: UdpSocket) -> Transmitter {
        Transmitter {
            socket,
            #[cfg(target_os = "linux")]
            sender: super::super::mmsg::Sender::new(),
        }
    }

    /// Sends each message; returns how many could not be sent. A full send buffer is waited
    /// out (this thread has nothing better to do); any other error skips that message (a
    /// member that cannot be reached is the workers' to remove, from the ICMP errors they read).
    pub fn send(&mut self, messages: &[(&[u8], SocketAddr)]) -> usize {
        let mut failed = 0;
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = self.socket.as_raw_fd();
            let mut at = 0;
            while at < messages.len() {
                match self.sender.send(fd, messages[at..].iter().copied()) {
                    Ok(sent) => at += sent,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        super::super::mmsg::wait_writable(fd)
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        debug!(to = %messages[at].1, %error, "send failed");
                        failed += 1;
                        at += 1;
                    }
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        for (bytes, to) in messages {
            loop {
                match self.socket.send_to(bytes, to) {
                    Ok(_) => break,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        debug!(%to, %error, "send failed");
                        failed += 1;
                        break;
                    }
                }
            }
        }
        failed
    }
}
