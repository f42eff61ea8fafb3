//! A UDP proxy on loopback that delays every datagram by the same time each way: the
//! internet's latency in a test, so that the races a real network allows happen here too,
//! every time, without sleeps that hope for timing.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// How often the proxy's threads look whether they should stop.
const POLL: Duration = Duration::from_millis(50);

/// One datagram on its way, due at `due`: sent from `socket` to `to` (or to the socket's
/// connected peer).
struct Delayed {
    due: Instant,
    socket: Arc<UdpSocket>,
    to: Option<SocketAddr>,
    datagram: Vec<u8>,
}

/// A running proxy in front of one server; it stops when dropped. Each client address gets an
/// upstream socket of its own, so the server sees one address per client, as through a NAT.
pub struct DelayProxy {
    /// Where clients send instead of the server.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl DelayProxy {
    pub fn start(server: SocketAddr, delay: Duration) -> DelayProxy {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("bind the proxy"));
        front.set_read_timeout(Some(POLL)).unwrap();
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (queue, due) = mpsc::channel();
        let stopped = Arc::clone(&stop);
        thread::spawn(move || deliver(due, stopped));
        let stopped = Arc::clone(&stop);
        thread::spawn(move || forward(front, server, delay, queue, stopped));
        DelayProxy { addr, stop }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Client to server: each client's datagrams go out, late, from its own upstream socket, and
/// what comes back on that socket goes, late, to the client.
fn forward(
    front: Arc<UdpSocket>,
    server: SocketAddr,
    delay: Duration,
    queue: Sender<Delayed>,
    stop: Arc<AtomicBool>,
) {
    let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = front.recv_from(&mut buf) else { continue };
        let upstream = upstreams.entry(client).or_insert_with(|| {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an upstream socket");
            socket.connect(server).unwrap();
            socket.set_read_timeout(Some(POLL)).unwrap();
            let socket = Arc::new(socket);
            let (back, front, queue, stop) =
                (Arc::clone(&socket), Arc::clone(&front), queue.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(n) = back.recv(&mut buf) {
                        let datagram = buf[..n].to_vec();
                        let (socket, to) = (Arc::clone(&front), Some(client));
                        let due = Instant::now() + delay;
                        let _ = queue.send(Delayed { due, socket, to, datagram });
                    }
                }
            });
            socket
        });
        let datagram = buf[..n].to_vec();
        let due = Instant::now() + delay;
        let _ = queue.send(Delayed { due, socket: Arc::clone(upstream), to: None, datagram });
    }
}

/// Sends each datagram when it is due. The delay is the same for all, so the queue is in the
/// order they fall due.
fn deliver(due: Receiver<Delayed>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let next = match due.recv_timeout(POLL) {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        thread::sleep(next.due.saturating_duration_since(Instant::now()));
        let _ = match next.to {
            Some(to) => next.socket.send_to(&next.datagram, to),
            None => next.socket.send(&next.datagram),
        };
    }
}
