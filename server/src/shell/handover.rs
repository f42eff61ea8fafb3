//! Keeping each sender's datagrams in order when the steering changes (`super::steer` tells
//! it of each change).
//!
//! At a change, a sender's next datagrams go to another worker's socket than the ones still
//! queued on the old one, and could overtake them: a bot's message, then its `!LEAVE`, would
//! reach the relay as a leave and then a message from a non-member, which is lost. So after a
//! change the workers that now receive wait, before handling anything, until the ones that
//! received before have handled what they had: their sockets are empty and none of them is
//! between taking datagrams off its socket and handling the last of them. The wait is bounded
//! ([`MOST`]): a worker that is not scheduled cannot stop the others for longer.
//!
//! Who waits for whom: going to spread, every worker but the first waits for the first (which
//! had everything); going back to one, the first waits for all the others.
//!
//! The batched workers mark themselves before their receive; the portable path (tokio's
//! receive happens inside its wait) just after, so there a datagram taken in that instant can
//! still be overtaken.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest a worker waits for the others after a change.
pub const MOST: Duration = Duration::from_millis(100);

/// What the workers share about the steering's changes.
#[derive(Debug)]
pub struct Handover {
    /// The changes so far (shifted left by one) and the current steering (the low bit: spread).
    changes: AtomicU64,
    /// Each worker's socket (a clone: the same queue), for how much is waiting on it.
    sockets: Vec<UdpSocket>,
    /// Each worker: between taking datagrams off its socket and handling the last of them.
    taking: Vec<AtomicBool>,
}

/// A worker's mark that it is taking datagrams off its socket; cleared when dropped.
pub struct Taking<'a>(&'a AtomicBool);

impl Drop for Taking<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Handover {
    /// For the workers' `sockets`, in worker order, all datagrams going to the first (or,
    /// `spread`, each sender to one of them) to begin with.
    pub fn new(sockets: &[UdpSocket], spread: bool) -> std::io::Result<Handover> {
        let sockets = sockets.iter().map(UdpSocket::try_clone).collect::<Result<Vec<_>, _>>()?;
        let taking = sockets.iter().map(|_| AtomicBool::new(false)).collect();
        Ok(Handover { changes: AtomicU64::new(word(0, spread)), sockets, taking })
    }

    /// The balancer changes the steering (to `spread` or to the first worker): said just
    /// before the kernel is told, and again after it was.
    pub fn changed(&self, spread: bool) {
        let count = (self.changes.load(Ordering::SeqCst) >> 1) + 1;
        self.changes.store(word(count, spread), Ordering::SeqCst);
    }

    /// Called by `worker` before it takes datagrams off its socket; holds the mark until the
    /// last of them is handled.
    pub fn taking(&self, worker: usize) -> Taking<'_> {
        let mark = &self.taking[worker];
        mark.store(true, Ordering::SeqCst);
        Taking(mark)
    }

    /// Called by `worker` with datagrams in hand, before it handles them; `seen` is what it
    /// saw last time. After a change it waits (at most `most`) for the workers that received
    /// before it; returns false if it gave up waiting.
    pub fn wait_turn(&self, worker: usize, seen: &mut u64, most: Duration) -> bool {
        let now = self.changes.load(Ordering::SeqCst);
        if now == *seen {
            return true;
        }
        *seen = now;
        let deadline = Instant::now() + most;
        while !self.may_handle(worker, now) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        true
    }

    /// [`Handover::may_handle`] with the steering as it is now, for tests elsewhere.
    #[cfg(test)]
    pub(super) fn may_handle_now(&self, worker: usize) -> bool {
        self.may_handle(worker, self.changes.load(Ordering::SeqCst))
    }

    /// Whether `worker` may handle what it took, with the steering at `changes`: every worker
    /// that received before the last change has handled what it had.
    fn may_handle(&self, worker: usize, changes: u64) -> bool {
        let spread = changes & 1 == 1;
        let earlier =
            |other: usize| other != worker && if spread { other == 0 } else { worker == 0 };
        (0..self.sockets.len()).filter(|&other| earlier(other)).all(|other| {
            // The queue first, then the mark: the mark is set before anything leaves the
            // queue, so an empty queue and no mark after it mean all of it was handled.
            queued(&self.sockets[other]) == 0 && !self.taking[other].load(Ordering::SeqCst)
        })
    }
}

fn word(count: u64, spread: bool) -> u64 {
    count << 1 | u64::from(spread)
}

/// The size of the next datagram waiting on `socket` (0: none, or it cannot be told).
#[cfg(target_os = "linux")]
fn queued(socket: &UdpSocket) -> usize {
    queued_on(std::os::fd::AsRawFd::as_raw_fd(socket))
}

/// [`queued`], by descriptor.
#[cfg(target_os = "linux")]
pub fn queued_on(fd: std::os::fd::RawFd) -> usize {
    let mut size: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int; a bad descriptor is an error, answered 0.
    let done = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut size) };
    if done == 0 { size.max(0) as usize } else { 0 }
}

/// Elsewhere there is no steering, so nothing to wait for.
#[cfg(not(target_os = "linux"))]
fn queued(_socket: &UdpSocket) -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Two workers' sockets (separate ports: which socket gets what is the test's choice).
    fn sockets() -> Vec<UdpSocket> {
        (0..2).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect()
    }

    fn queue_on(socket: &UdpSocket) {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"hi", socket.local_addr().unwrap()).unwrap();
        for _ in 0..1000 {
            if queued(socket) > 0 {
                return;
            }
            std::thread::yield_now();
        }
        panic!("the datagram never arrived");
    }

    fn take(socket: &UdpSocket) {
        socket.set_nonblocking(true).unwrap();
        socket.recv_from(&mut [0u8; 16]).unwrap();
    }

    #[test]
    fn spreading_the_others_wait_until_the_first_has_handled_what_it_had() {
        let sockets = sockets();
        let handover = Handover::new(&sockets, false).unwrap();
        let mut seen = [handover.changes.load(Ordering::SeqCst); 2];
        queue_on(&sockets[0]);
        handover.changed(true);

        assert!(handover.wait_turn(0, &mut seen[0], MOST), "the first never waits to spread");
        assert!(!handover.wait_turn(1, &mut seen[1], Duration::ZERO), "it is still queued");
        let changes = handover.changes.load(Ordering::SeqCst);
        let taking = handover.taking(0);
        take(&sockets[0]);
        assert!(!handover.may_handle(1, changes), "taken off, not yet handled");
        drop(taking);
        assert!(handover.may_handle(1, changes), "handled");
        assert!(handover.wait_turn(1, &mut seen[1], Duration::ZERO), "no change since");
    }

    #[test]
    fn concentrating_the_first_waits_for_all_the_others() {
        let sockets = sockets();
        let handover = Handover::new(&sockets, true).unwrap();
        let mut seen = handover.changes.load(Ordering::SeqCst);
        queue_on(&sockets[1]);
        handover.changed(false);
        let changes = handover.changes.load(Ordering::SeqCst);
        assert!(!handover.may_handle(0, changes));
        assert!(handover.may_handle(1, changes), "the others receive nothing new");
        let started = Instant::now();
        assert!(!handover.wait_turn(0, &mut seen, Duration::from_millis(5)), "gives up");
        assert!(started.elapsed() < Duration::from_secs(1), "bounded");
        drop(handover.taking(1));
        take(&sockets[1]);
        assert!(handover.may_handle(0, changes));
    }

    #[test]
    fn with_nothing_queued_no_one_waits() {
        let sockets = sockets();
        let handover = Handover::new(&sockets, false).unwrap();
        for spread in [true, false, true] {
            handover.changed(spread);
            let changes = handover.changes.load(Ordering::SeqCst);
            assert!((0..2).all(|worker| handover.may_handle(worker, changes)), "{spread}");
        }
    }
}
