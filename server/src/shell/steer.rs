//! Which of the workers' sockets the kernel hands each datagram to, and when to change it.
//!
//! With several workers, the kernel spreads senders over their sockets by a hash of the
//! sender's address. That buys parallel work, and costs CPU when there is little to do (on
//! two cores, 40-60 % more per delivery, most likely from the second worker running on a core
//! that something else is using; docs/performance.md). So while one
//! worker can keep up, a one-instruction BPF program hands everything to the first socket and
//! the other workers sleep; when the first gets busy, the program steps aside.

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::handover::Handover;

/// How often the shell looks at how busy the workers were.
pub const BALANCE_EVERY: Duration = Duration::from_millis(100);

/// Spread once the workers were busy this share of one core's time, or more.
const SPREAD_AT: f64 = 0.5;
/// Go back to one worker once they were busy less than this ...
const CONCENTRATE_BELOW: f64 = 0.25;
/// ... for this many looks in a row (a second), so a short lull does not flip it back and forth.
const QUIET_LOOKS: u32 = 10;

/// Where datagrams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steering {
    /// All to the first worker's socket.
    Concentrated,
    /// Each sender to one of the sockets, by the kernel's hash of its address.
    Spread,
}

/// Decides the steering from how busy the workers were.
#[derive(Debug)]
pub struct Balance {
    steering: Steering,
    quiet_looks: u32,
}

impl Balance {
    pub fn new(steering: Steering) -> Balance {
        Balance { steering, quiet_looks: 0 }
    }

    /// Takes how long the workers were busy (all together) in the last `period`; returns the
    /// steering to switch to, if it should change.
    pub fn look(&mut self, busy: Duration, period: Duration) -> Option<Steering> {
        let load = busy.as_secs_f64() / period.as_secs_f64().max(f64::MIN_POSITIVE);
        let next = match self.steering {
            Steering::Concentrated if load >= SPREAD_AT => Steering::Spread,
            Steering::Spread if load < CONCENTRATE_BELOW => {
                self.quiet_looks += 1;
                if self.quiet_looks < QUIET_LOOKS {
                    return None;
                }
                Steering::Concentrated
            }
            _ => {
                self.quiet_looks = 0;
                return None;
            }
        };
        self.steering = next;
        self.quiet_looks = 0;
        Some(next)
    }
}

/// Steers the port's sockets by how busy the workers are.
#[derive(Debug)]
pub struct Balancer {
    /// Any socket of the group (the program applies to all of them).
    socket: UdpSocket,
    balance: Balance,
    /// Nanoseconds the workers spent handling and sending; they add, [`Balancer::look`] takes.
    busy: Arc<AtomicU64>,
    looked: Instant,
    /// Told of each change, so that the workers keep each sender's datagrams in order.
    handover: Arc<Handover>,
}

impl Balancer {
    /// Starts with everything on the first of the workers' `sockets`; `None` (with a warning)
    /// where the kernel cannot steer, which leaves its own spreading.
    pub fn start(sockets: &[UdpSocket], busy: Arc<AtomicU64>, now: Instant) -> Option<Balancer> {
        let started =
            sockets.first().ok_or_else(|| io::Error::other("no socket")).and_then(|first| {
                let socket = first.try_clone()?;
                steer(&socket, Steering::Concentrated)?;
                Ok((socket, Handover::new(sockets, false)?))
            });
        match started {
            Ok((socket, handover)) => {
                let balance = Balance::new(Steering::Concentrated);
                let handover = Arc::new(handover);
                Some(Balancer { socket, balance, busy, looked: now, handover })
            }
            Err(error) => {
                warn!(%error, "cannot steer datagrams to one worker; the kernel spreads them over all");
                None
            }
        }
    }

    /// What the workers wait on after a change.
    pub fn handover(&self) -> &Arc<Handover> {
        &self.handover
    }

    /// Takes the workers' busy time since the last look and steers accordingly.
    pub fn look(&mut self, now: Instant) {
        let busy = Duration::from_nanos(self.busy.swap(0, Ordering::Relaxed));
        let period = now.saturating_duration_since(self.looked);
        self.looked = now;
        if let Some(steering) = self.balance.look(busy, period) {
            // Told before the kernel, so that a worker taking a datagram steered the new way
            // finds the change; and after, so that one that looked in between looks again.
            let spread = steering == Steering::Spread;
            self.handover.changed(spread);
            match steer(&self.socket, steering) {
                Ok(()) => {
                    self.handover.changed(spread);
                    debug!(?steering, "steering datagrams");
                }
                Err(error) => {
                    warn!(%error, ?steering, "cannot steer datagrams");
                    self.handover.changed(!spread);
                }
            }
        }
    }
}

/// Applies `steering` to the port's group of sockets (through any one of them).
#[cfg(target_os = "linux")]
pub fn steer(socket: &UdpSocket, steering: Steering) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    // The program's answer is an index into the group, in the order the sockets were bound;
    // one past the last (or any beyond it) makes the kernel fall back to its hash.
    let index = match steering {
        Steering::Concentrated => 0,
        Steering::Spread => u32::MAX,
    };
    let mut program =
        [libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: index }];
    let program = libc::sock_fprog { len: 1, filter: program.as_mut_ptr() };
    // SAFETY: a valid descriptor, and a one-instruction program that outlives the call (the
    // kernel copies it).
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&program as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if done == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Elsewhere the kernel's spreading is all there is.
#[cfg(not(target_os = "linux"))]
pub fn steer(_socket: &UdpSocket, _steering: Steering) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "steering needs Linux"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = BALANCE_EVERY;

    fn busy(share: f64) -> Duration {
        PERIOD.mul_f64(share)
    }

    #[test]
    fn spreads_as_soon_as_one_worker_is_half_busy() {
        let mut balance = Balance::new(Steering::Concentrated);
        assert_eq!(balance.look(busy(0.49), PERIOD), None);
        assert_eq!(balance.look(busy(0.5), PERIOD), Some(Steering::Spread));
        assert_eq!(balance.look(busy(1.5), PERIOD), None, "already spread");
    }

    #[test]
    fn concentrates_again_only_after_a_quiet_second() {
        let mut balance = Balance::new(Steering::Spread);
        for _ in 0..9 {
            assert_eq!(balance.look(busy(0.1), PERIOD), None);
        }
        // A busy moment starts the count again.
        assert_eq!(balance.look(busy(0.3), PERIOD), None);
        for _ in 0..9 {
            assert_eq!(balance.look(busy(0.1), PERIOD), None);
        }
        assert_eq!(balance.look(busy(0.1), PERIOD), Some(Steering::Concentrated));
        assert_eq!(balance.look(busy(0.1), PERIOD), None, "already concentrated");
    }

    #[test]
    fn between_the_thresholds_nothing_changes() {
        for start in [Steering::Concentrated, Steering::Spread] {
            let mut balance = Balance::new(start);
            for _ in 0..100 {
                assert_eq!(balance.look(busy(0.3), PERIOD), None, "{start:?}");
            }
        }
    }

    /// Two sockets on one port, as the shell binds them for two workers.
    #[cfg(target_os = "linux")]
    fn two_workers_sockets() -> Vec<UdpSocket> {
        let sockets = super::super::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        for socket in &sockets {
            socket.set_nonblocking(false).unwrap();
            socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        }
        sockets
    }

    /// How many of 32 senders' datagrams each socket gets. With the kernel's hash, the odds
    /// that one socket gets none are 2 in 2^32.
    #[cfg(target_os = "linux")]
    fn received_by(sockets: &[UdpSocket]) -> [usize; 2] {
        let addr = sockets[0].local_addr().unwrap();
        let senders: Vec<UdpSocket> =
            (0..32).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        for sender in &senders {
            sender.send_to(b"x", addr).unwrap();
        }
        let mut counts = [0; 2];
        let mut buffer = [0u8; 16];
        for (socket, count) in sockets.iter().zip(&mut counts) {
            while *count < 32 && socket.recv_from(&mut buffer).is_ok() {
                *count += 1;
            }
        }
        counts
    }

    #[cfg(target_os = "linux")]
    fn both_get_some(counts: [usize; 2]) -> bool {
        counts[0] + counts[1] == 32 && counts[0] > 0 && counts[1] > 0
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_follows_the_steering() {
        let sockets = two_workers_sockets();
        // Through the second socket: the program belongs to the whole group.
        steer(&sockets[1], Steering::Concentrated).unwrap();
        assert_eq!(received_by(&sockets), [32, 0]);
        steer(&sockets[1], Steering::Spread).unwrap();
        let spread = received_by(&sockets);
        assert!(both_get_some(spread), "{spread:?}");
        steer(&sockets[1], Steering::Concentrated).unwrap();
        assert_eq!(received_by(&sockets), [32, 0], "and back");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_balancer_steers_by_the_busy_time_the_workers_report() {
        let sockets = two_workers_sockets();
        let busy = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let at = |looks: u32| start + BALANCE_EVERY * looks;
        let mut balancer = Balancer::start(&sockets, Arc::clone(&busy), start).unwrap();
        assert_eq!(received_by(&sockets), [32, 0], "one worker to begin with");

        busy.store(BALANCE_EVERY.mul_f64(0.6).as_nanos() as u64, Ordering::Relaxed);
        balancer.look(at(1));
        let spread = received_by(&sockets);
        assert!(both_get_some(spread), "busy: spread, {spread:?}");

        for looks in 2..=11 {
            balancer.look(at(looks)); // nothing reported: idle
        }
        assert_eq!(received_by(&sockets), [32, 0], "a quiet second: one worker again");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn what_the_kernel_steers_to_a_new_socket_waits_for_what_the_old_one_holds() {
        let sockets = super::super::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let steer = |steering| steer(&sockets[0], steering).unwrap();
        steer(Steering::Concentrated);
        let handover = Handover::new(&sockets, false).unwrap();
        let addr = sockets[0].local_addr().unwrap();
        // 32 senders: the odds that the kernel's hash puts none on the second are 2 in 2^32.
        let senders: Vec<UdpSocket> =
            (0..32).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        for sender in &senders {
            sender.send_to(b"first", addr).unwrap();
        }
        handover.changed(true);
        steer(Steering::Spread);
        handover.changed(true);
        for sender in &senders {
            sender.send_to(b"second", addr).unwrap();
        }
        let mut seen = 0;
        let taking = handover.taking(1);
        let mut buffer = [0u8; 16];
        let (len, _) = sockets[1].recv_from(&mut buffer).expect("one on the second socket");
        assert_eq!(&buffer[..len], b"second");
        assert!(!handover.wait_turn(1, &mut seen, Duration::ZERO), "the firsts are queued");
        let mut firsts = 0;
        while let Ok((len, _)) = sockets[0].recv_from(&mut buffer) {
            firsts += usize::from(&buffer[..len] == b"first");
        }
        assert_eq!(firsts, 32, "all of them went to the first socket");
        assert!(handover.may_handle_now(1), "the first socket is empty: its turn");
        drop(taking);
    }
}
