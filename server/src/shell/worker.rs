//! One worker: its own socket and single-threaded runtime, receiving, handling and sending
//! until told to stop. Two ways to do it: batched system calls (Linux), or one datagram per
//! call (any platform).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::watch;
use tracing::{debug, error};
use udprelay_shared::Incoming;
use udprelay_shared::limits::RECV_BUFFER;

use super::cluster::Link;
use super::handover::{self, Handover, Taking};
use super::lock;
use super::outbox::Outbox;
use super::service::Heart;
use crate::relay::Relay;

/// What every worker shares: the relay, the busy-time counter (nanoseconds), the watchdog's
/// heart, the way to the cluster thread (when clustered), and, when the steering changes, the
/// handover with this worker's number in it.
pub struct Shared<'a> {
    pub relay: &'a Mutex<Relay>,
    pub busy: &'a AtomicU64,
    pub heart: &'a Heart,
    pub link: Option<&'a Link>,
    pub handover: Option<(&'a Handover, usize)>,
}

impl Shared<'_> {
    /// Marks this worker as taking datagrams off its socket, until the mark is dropped.
    fn taking(&self) -> Option<Taking<'_>> {
        self.handover.map(|(handover, worker)| handover.taking(worker))
    }

    /// With datagrams in hand: after a change of steering, waits for the workers that received
    /// before (see [`Handover`]).
    fn wait_turn(&self, seen: &mut u64) {
        if let Some((handover, worker)) = self.handover
            && !handover.wait_turn(worker, seen, handover::MOST)
        {
            debug!(worker, "the steering changed and another worker is slow: not waiting longer");
        }
    }
}

/// Runs a worker until `stopped`, adding the time it spends handling and sending to `busy`.
pub fn run(socket: UdpSocket, shared: &Shared, stopped: watch::Receiver<bool>, batching: bool) {
    let built = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build();
    let runtime = match built {
        Ok(runtime) => runtime,
        Err(error) => return error!(%error, "cannot start a relay worker"),
    };
    let served = runtime.block_on(async {
        #[cfg(target_os = "linux")]
        if batching {
            return batched(socket, shared, stopped).await;
        }
        let _ = batching;
        one_at_a_time(socket, shared, stopped).await
    });
    if let Err(error) = served {
        error!(%error, "a relay worker stopped");
    }
}

fn add_busy(busy: &AtomicU64, since: Instant) {
    busy.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

/// What to do after a send to `to` failed.
#[derive(Debug, PartialEq, Eq)]
enum AfterFailure {
    /// Send it again.
    Retry,
    /// `to` cannot be sent to: it is in `unreachable` now; go on with the next.
    Skip,
}

/// Decides about a failed send. An "unreachable" error may be the socket reporting an earlier
/// ICMP error about someone else (the kernel hands a pending error to the next call), so the
/// error queue is read first, which names whom it was about, and the send tried once more;
/// only if it fails again is `to` itself unreachable.
fn send_failed(
    error: &io::Error,
    to: SocketAddr,
    fd: Option<i32>,
    retried: &mut bool,
    unreachable: &mut Vec<SocketAddr>,
) -> AfterFailure {
    use io::ErrorKind::{ConnectionRefused, HostUnreachable, Interrupted, NetworkUnreachable};
    match error.kind() {
        Interrupted => AfterFailure::Retry,
        ConnectionRefused | HostUnreachable | NetworkUnreachable if !*retried => {
            *retried = true;
            receive_failed(error, fd, unreachable);
            AfterFailure::Retry
        }
        _ => {
            debug!(%to, %error, "send failed");
            unreachable.push(to);
            AfterFailure::Skip
        }
    }
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

/// The socket reported members unreachable (`addrs`). What is queued on it arrived before the
/// error was read, and is handled first: a bot that sends a message, `!LEAVE`s and exits
/// makes the reply to its last `!PING` bounce, and removing it at once would lose the message
/// queued behind. So they are removed now only when nothing is queued; otherwise after the
/// next batch, where every iteration ends.
fn after_errors(shared: &Shared, fd: Option<i32>, addrs: &mut Vec<SocketAddr>) {
    if addrs.is_empty() {
        return;
    }
    #[cfg(target_os = "linux")]
    let queued = fd.map_or(0, handover::queued_on);
    #[cfg(not(target_os = "linux"))]
    let queued = {
        let _ = fd;
        0
    };
    if queued == 0 {
        remove_unreachable(shared, Instant::now(), addrs);
    }
}

fn remove_unreachable(shared: &Shared, now: Instant, addrs: &mut Vec<SocketAddr>) {
    if !addrs.is_empty() {
        let mut relay = lock(shared.relay);
        for addr in addrs.drain(..) {
            relay.remove_unreachable(now, addr);
        }
        if let Some(link) = shared.link
            && relay.cluster_work_waiting()
        {
            link.wake();
        }
    }
}

/// The portable path: one receive and one send per datagram.
async fn one_at_a_time(
    socket: UdpSocket,
    shared: &Shared<'_>,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    let (relay, heart) = (shared.relay, shared.heart);
    let mut ticker = heart.ticker();
    #[cfg(unix)]
    let fd = Some(std::os::fd::AsRawFd::as_raw_fd(&socket));
    #[cfg(not(unix))]
    let fd = None;
    let socket = tokio::net::UdpSocket::from_std(socket)?;
    let mut buffer = vec![0u8; RECV_BUFFER];
    let mut outbox = Outbox::default();
    let mut failed = Vec::new();
    let mut seen = 0; // the handover's start: concentrated, no change yet
    loop {
        let (len, from) = tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                // An ICMP error from an earlier send, or a transient fault: neither is a
                // reason to stop serving everyone else.
                Err(error) => {
                    receive_failed(&error, fd, &mut failed);
                    after_errors(shared, fd, &mut failed);
                    continue;
                }
            },
            _ = ticker.tick(), if heart.on() => {
                heart.beat();
                continue;
            }
            _ = stopped.changed() => return Ok(()),
        };
        // Marked once received (the receive happens inside tokio's wait): the handover can
        // miss a datagram taken in the instant before, which batching does not.
        let _taking = shared.taking();
        shared.wait_turn(&mut seen);
        let now = Instant::now();
        outbox.clear();
        let incoming = Incoming::parse(&buffer[..len]); // before the lock: parsing is ours alone
        outbox.handle(&mut lock(relay), now, from, &buffer, 0..len, incoming);
        for (body, to) in &outbox.messages {
            let mut retried = false;
            while let Err(error) = socket.send_to(outbox.bytes(body, &buffer), *to).await {
                if send_failed(&error, *to, fd, &mut retried, &mut failed) == AfterFailure::Skip {
                    break;
                }
            }
        }
        outbox.hand_over(&buffer, shared.link);
        remove_unreachable(shared, now, &mut failed);
        add_busy(shared.busy, now);
    }
}

/// Linux: one `recvmmsg` for everything waiting, one `sendmmsg` for everything it produced.
#[cfg(target_os = "linux")]
async fn batched(
    socket: UdpSocket,
    shared: &Shared<'_>,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    let (relay, heart) = (shared.relay, shared.heart);
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
    let mut ticker = heart.ticker();
    let mut seen = 0; // the handover's start: concentrated, no change yet
    loop {
        let mut ready = tokio::select! {
            ready = socket.ready(interest) => ready?,
            _ = ticker.tick(), if heart.on() => {
                heart.beat();
                continue;
            }
            _ = stopped.changed() => return Ok(()),
        };
        if ready.ready().is_error() {
            // An ICMP error arrived. Read the error queue now: recvmmsg would hand back the
            // queued datagrams and keep the error pending, with no new wake-up to tell of it.
            // The members it names are removed once the batch is handled (see `after_errors`).
            super::icmp::drain(fd, &mut failed);
            ready.clear_ready_matching(tokio::io::Ready::ERROR);
            if !ready.ready().is_readable() {
                after_errors(shared, Some(fd), &mut failed);
                continue;
            }
        }
        let _taking = shared.taking();
        let count = match ready.try_io(|_| receiver.receive(fd)) {
            Err(_would_block) => {
                // try_io has cleared the readiness
                after_errors(shared, Some(fd), &mut failed);
                continue;
            }
            Ok(Err(error)) => {
                receive_failed(&error, Some(fd), &mut failed);
                after_errors(shared, Some(fd), &mut failed);
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
        shared.wait_turn(&mut seen);

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
        let mut retried = false;
        while at < outbox.messages.len() {
            let messages = outbox.messages[at..]
                .iter()
                .map(|(body, to)| (outbox.bytes(body, &receiver.buffer), *to));
            match sender.send(fd, messages) {
                Ok(sent) => {
                    at += sent;
                    retried = false;
                }
                // The send buffer is full (rare: it drains at the speed of loopback or the
                // NIC). This thread has nothing else to do meanwhile, so it simply waits.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => wait_writable(fd),
                Err(error) => {
                    let to = outbox.messages[at].1;
                    if send_failed(&error, to, Some(fd), &mut retried, &mut failed)
                        == AfterFailure::Skip
                    {
                        at += 1;
                        retried = false;
                    }
                }
            }
        }
        outbox.hand_over(&receiver.buffer, shared.link);
        remove_unreachable(shared, now, &mut failed);
        add_busy(shared.busy, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The relay's answer to `command` from `from`, as text.
    fn ask(relay: &Mutex<Relay>, from: SocketAddr, command: &str) -> String {
        match lock(relay).handle(Instant::now(), from, command.as_bytes()) {
            crate::relay::Outgoing::Reply(reply) => String::from_utf8(reply.to_bytes()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_member_said_unreachable_is_removed_once_what_is_queued_is_handled() {
        use std::os::fd::AsRawFd;
        use std::sync::Arc;

        use crate::shell::service::{Beats, Heart};

        let relay = Mutex::new(Relay::new(crate::relay::Config::default()));
        let member: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let created = ask(&relay, member, "!CREATE");
        let group = created.strip_prefix("OK CREATED ").unwrap().to_string();
        assert_eq!(ask(&relay, member, &format!("!JOIN {group}")), format!("OK JOINED {group}"));
        let heart = Heart { beats: Arc::new(Beats::new(1)), worker: 0, every: None };
        let busy = AtomicU64::new(0);
        let shared =
            Shared { relay: &relay, busy: &busy, heart: &heart, link: None, handover: None };

        // Its last words, queued on the worker's socket when the error is read.
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"bye", socket.local_addr().unwrap()).unwrap();
        let fd = Some(socket.as_raw_fd());
        let arrived = (0..1000).any(|_| {
            std::thread::yield_now();
            handover::queued_on(socket.as_raw_fd()) > 0
        });
        assert!(arrived, "the datagram is queued");
        let mut failed = vec![member];
        after_errors(&shared, fd, &mut failed);
        assert_eq!(failed, [member], "kept for after the batch");
        assert_eq!(ask(&relay, member, "!WHO"), format!("OK WHO {group} 1"), "still a member");

        socket.recv_from(&mut [0u8; 16]).unwrap();
        after_errors(&shared, fd, &mut failed);
        assert!(failed.is_empty());
        assert_eq!(ask(&relay, member, "!WHO"), "ERR NOT_IN_GROUP JoinFirstUseJOIN", "removed");
    }

    #[test]
    fn an_unreachable_send_error_is_blamed_on_its_destination_only_when_it_repeats() {
        let to: SocketAddr = "192.0.2.7:9".parse().unwrap();
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let (mut retried, mut unreachable) = (false, Vec::new());
        // First: perhaps an earlier ICMP error about someone else; read the queue, try again.
        assert_eq!(
            send_failed(&refused, to, None, &mut retried, &mut unreachable),
            AfterFailure::Retry
        );
        assert!(unreachable.is_empty());
        // Again for the same send: it is this destination.
        assert_eq!(
            send_failed(&refused, to, None, &mut retried, &mut unreachable),
            AfterFailure::Skip
        );
        assert_eq!(unreachable, [to]);
        let interrupted = io::Error::from(io::ErrorKind::Interrupted);
        assert_eq!(
            send_failed(&interrupted, to, None, &mut false, &mut Vec::new()),
            AfterFailure::Retry
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied); // a broadcast address
        let mut blamed = Vec::new();
        assert_eq!(send_failed(&denied, to, None, &mut false, &mut blamed), AfterFailure::Skip);
        assert_eq!(blamed, [to]);
    }
}
