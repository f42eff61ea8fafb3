//! One worker: its own socket and single-threaded runtime, receiving, handling and sending
//! until told to stop. Two ways to do it: batched system calls (Linux), or one datagram per
//! call (any platform).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::watch;
use tracing::{debug, error, warn};
use udprelay_shared::Incoming;
use udprelay_shared::limits::RECV_BUFFER;

use super::lock;
use super::outbox::Outbox;
use crate::relay::Relay;

/// Runs a worker until `stopped`, adding the time it spends handling and sending to `busy`
/// (nanoseconds).
pub fn run(
    socket: UdpSocket,
    relay: &Mutex<Relay>,
    busy: &AtomicU64,
    stopped: watch::Receiver<bool>,
    batching: bool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
        Ok(runtime) => runtime,
        Err(error) => return error!(%error, "cannot start a relay worker"),
    };
    let served = runtime.block_on(async {
        #[cfg(target_os = "linux")]
        if batching {
            return batched(socket, relay, busy, stopped).await;
        }
        let _ = batching;
        one_at_a_time(socket, relay, busy, stopped).await
    });
    if let Err(error) = served {
        error!(%error, "a relay worker stopped");
    }
}

fn add_busy(busy: &AtomicU64, since: Instant) {
    busy.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

/// Whether a failed send means the address cannot be reached (rather than "try again").
fn unreachable(error: &io::Error) -> bool {
    !matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock)
}

/// A receive failed: on Linux, the ICMP errors queued on the socket say which members cannot
/// be reached.
fn receive_failed(error: &io::Error, fd: Option<i32>, unreachable: &mut Vec<SocketAddr>) {
    debug!(%error, "receive failed");
    #[cfg(target_os = "linux")]
    if let Some(fd) = fd {
        super::icmp::drain(fd, unreachable);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (fd, unreachable);
}

fn remove_unreachable(relay: &Mutex<Relay>, now: Instant, addrs: &mut Vec<SocketAddr>) {
    if !addrs.is_empty() {
        let mut relay = lock(relay);
        for addr in addrs.drain(..) {
            relay.remove_unreachable(now, addr);
        }
    }
}

/// The portable path: one receive and one send per datagram.
async fn one_at_a_time(
    socket: UdpSocket,
    relay: &Mutex<Relay>,
    busy: &AtomicU64,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    #[cfg(unix)]
    let fd = Some(std::os::fd::AsRawFd::as_raw_fd(&socket));
    #[cfg(not(unix))]
    let fd = None;
    let socket = tokio::net::UdpSocket::from_std(socket)?;
    let mut buffer = vec![0u8; RECV_BUFFER];
    let mut outbox = Outbox::default();
    let mut failed = Vec::new();
    loop {
        let (len, from) = tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                // An ICMP error from an earlier send, or a transient fault: neither is a
                // reason to stop serving everyone else.
                Err(error) => {
                    receive_failed(&error, fd, &mut failed);
                    remove_unreachable(relay, Instant::now(), &mut failed);
                    continue;
                }
            },
            _ = stopped.changed() => return Ok(()),
        };
        let now = Instant::now();
        outbox.clear();
        let incoming = Incoming::parse(&buffer[..len]); // before the lock: parsing is ours alone
        outbox.handle(&mut lock(relay), now, from, &buffer, 0..len, incoming);
        for (body, to) in &outbox.messages {
            if let Err(error) = socket.send_to(outbox.bytes(body, &buffer), *to).await {
                warn!(%to, %error, "send failed");
                if unreachable(&error) {
                    failed.push(*to);
                }
            }
        }
        remove_unreachable(relay, now, &mut failed);
        add_busy(busy, now);
    }
}

/// Linux: one `recvmmsg` for everything waiting, one `sendmmsg` for everything it produced.
#[cfg(target_os = "linux")]
async fn batched(
    socket: UdpSocket,
    relay: &Mutex<Relay>,
    busy: &AtomicU64,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    use super::mmsg::{BATCH, Receiver, Sender, wait_writable};

    // Readable (and errors: an ICMP error for a member) only: with writable interest too,
    // every datagram sent would queue a wake-up (the kernel reports send-buffer space as it
    // frees each one), a cost per delivery.
    let interest = Interest::READABLE | Interest::ERROR;
    // SAFETY: the socket is moved into the AsyncFd, which owns its descriptor until dropped.
    let socket = unsafe { AsyncFd::register_with_interest(socket, interest) }
        .map_err(|error| error.into_parts().1)?;
    let fd = socket.as_raw_fd();
    let mut receiver = Receiver::new();
    let mut sender = Sender::new();
    let mut outbox = Outbox::default();
    let mut failed = Vec::new();
    loop {
        let mut ready = tokio::select! {
            ready = socket.ready(interest) => ready?,
            _ = stopped.changed() => return Ok(()),
        };
        let count = match ready.try_io(|_| receiver.receive(fd)) {
            Err(_would_block) => continue, // try_io has cleared the readiness
            Ok(Err(error)) => {
                receive_failed(&error, Some(fd), &mut failed);
                remove_unreachable(relay, Instant::now(), &mut failed);
                continue;
            }
            Ok(Ok(count)) => count,
        };
        if count < BATCH {
            // The queue was empty before the batch filled: wait for the next datagram rather
            // than spend a call on learning that. Safe with edge-triggered readiness: any
            // datagram that arrived since will wake us again.
            ready.clear_ready();
        }
        drop(ready);

        let now = Instant::now();
        outbox.clear();
        // Parsed before the lock: what a datagram costs to read is this worker's alone.
        let parsed: Vec<Incoming> = receiver
            .datagrams
            .iter()
            .map(|(_, range)| Incoming::parse(&receiver.buffer[range.clone()]))
            .collect();
        {
            let mut relay = lock(relay);
            for ((from, range), incoming) in receiver.datagrams.iter().zip(parsed) {
                outbox.handle(&mut relay, now, *from, &receiver.buffer, range.clone(), incoming);
            }
        }

        let mut at = 0;
        while at < outbox.messages.len() {
            let messages = outbox.messages[at..]
                .iter()
                .map(|(body, to)| (outbox.bytes(body, &receiver.buffer), *to));
            match sender.send(fd, messages) {
                Ok(sent) => at += sent,
                // The send buffer is full (rare: it drains at the speed of loopback or the
                // NIC). This thread has nothing else to do meanwhile, so it simply waits.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => wait_writable(fd),
                Err(error) => {
                    let to = outbox.messages[at].1;
                    warn!(%to, %error, "send failed");
                    if unreachable(&error) {
                        failed.push(to);
                        at += 1;
                    }
                }
            }
        }
        remove_unreachable(relay, now, &mut failed);
        add_busy(busy, now);
    }
}
