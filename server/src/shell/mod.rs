//! The thin tokio shell around the relay core: worker threads that receive, hand datagrams to
//! the shared [`Relay`] and send what it answers; a sweep timer; and a clean stop.
//!
//! Each worker has its own socket on the same port (see [`bind`]) and its own single-threaded
//! runtime; while one worker keeps up, the kernel is told to give it everything (see
//! [`steer`]). The relay sits behind one mutex, held only while datagrams are handled (tens of
//! nanoseconds each), never during a system call, so the protocol's rules hold exactly as
//! with one thread.

mod bind;
pub mod cluster;
mod handover;
#[cfg(target_os = "linux")]
mod icmp;
pub mod metrics;
#[cfg(target_os = "linux")]
mod mmsg;
mod outbox;
pub mod service;
pub mod state_file;
mod steer;
mod worker;

use std::future::Future;
use std::io;
use std::net::UdpSocket;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tracing::{debug, error, warn};

use crate::relay::Relay;

pub use bind::{bind, own_addresses};
use steer::{BALANCE_EVERY, Balancer};

/// How the shell runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub sweep_every: Duration,
    /// Many datagrams per system call; only where the platform has it ([`CAN_BATCH`]).
    pub batching: bool,
    /// With several workers: all datagrams to one of them while it keeps up (see [`steer`]).
    pub balancing: bool,
    /// Write the state to this file this often (off the relay's lock, but for a copy).
    pub snapshots: Option<(std::path::PathBuf, Duration)>,
    /// Where to leave the numbers for `--metrics`.
    pub metrics: Option<Arc<metrics::Board>>,
    /// `--cluster`: how to reach the other nodes (the relay must be clustered), and where the
    /// cluster thread counts what it does.
    pub cluster: Option<(cluster::Options, Arc<cluster::Counters>)>,
}

/// Whether this platform can batch system calls.
pub const CAN_BATCH: bool = cfg!(target_os = "linux");

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Ctrl-C, SIGTERM, or whatever `shutdown` waited for.
    Asked,
    /// A worker stopped on its own (an error or a panic, logged where it happened). The
    /// others were stopped too: with a worker gone, the clients the kernel sends to its socket
    /// would get no answer, and a server that exits can be restarted by whatever runs it.
    WorkerStopped,
}

/// New settings to apply while serving (SIGHUP).
#[derive(Debug, Clone)]
pub struct Reload {
    pub config: crate::relay::Config,
    pub sweep_every: Duration,
}

/// Serves on `sockets`, one worker thread each, until `shutdown` completes or a worker stops,
/// applying each [`Reload`] as it comes; returns the relay, for its final numbers, and why it
/// ended.
pub async fn serve(
    sockets: Vec<UdpSocket>,
    relay: Relay,
    options: Options,
    mut reloads: mpsc::UnboundedReceiver<Reload>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<(Relay, Ending)> {
    let relay = Arc::new(Mutex::new(relay));
    let (stop, stopped) = watch::channel(false);
    let (ended, mut worker_ended) = mpsc::unbounded_channel();
    let mut workers = Vec::new();
    let busy = Arc::new(AtomicU64::new(0));
    let mut balancer = match options.balancing && sockets.len() > 1 {
        true => Balancer::start(&sockets, Arc::clone(&busy), Instant::now()),
        false => None,
    };
    let handover = balancer.as_ref().map(|balancer| Arc::clone(balancer.handover()));
    let watchdog = service::watchdog_every();
    let beats = Arc::new(service::Beats::new(sockets.len()));
    let (link, clustering) = match &options.cluster {
        Some((cluster_options, counters)) => {
            let socket =
                sockets.first().ok_or_else(|| io::Error::other("no socket"))?.try_clone()?;
            let (link, running) = cluster::start(
                cluster_options.clone(),
                Arc::clone(&relay),
                socket,
                Arc::clone(counters),
            )?;
            (Some(link), Some(running))
        }
        None => (None, None),
    };
    for (n, socket) in sockets.into_iter().enumerate() {
        let (relay, stopped, busy) = (Arc::clone(&relay), stopped.clone(), Arc::clone(&busy));
        let ended = Ended(ended.clone());
        let batching = options.batching;
        let heart = service::Heart {
            beats: Arc::clone(&beats),
            worker: n,
            every: watchdog.map(|every| every.min(service::BEAT_EVERY)),
        };
        let link = link.clone();
        let handover = handover.clone();
        let worker = std::thread::Builder::new().name(format!("relay-{n}")).spawn(move || {
            let _ended = ended;
            let shared = worker::Shared {
                relay: &relay,
                busy: &busy,
                heart: &heart,
                link: link.as_ref(),
                handover: handover.as_deref().map(|handover| (handover, n)),
            };
            worker::run(socket, &shared, stopped, batching);
        })?;
        workers.push(worker);
    }

    let mut sweeps = sweep_timer(options.sweep_every);
    let mut freed = 0;
    let mut looks = tokio::time::interval(BALANCE_EVERY);
    let snapshot_every = options.snapshots.as_ref().map_or(Duration::from_secs(3600), |s| s.1);
    let mut snapshots =
        tokio::time::interval_at(tokio::time::Instant::now() + snapshot_every, snapshot_every);
    snapshots.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readings = tokio::time::interval(Duration::from_secs(1));
    let mut watchdog_checks = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    if let Some(board) = &options.metrics {
        board.set_serving(true);
    }
    tokio::pin!(shutdown);
    let ending = loop {
        tokio::select! {
            _ = sweeps.tick() => {
                sweep(&relay, &mut freed);
                if let Some(link) = &link {
                    link.wake();
                }
            }
            Some(reload) = reloads.recv() => {
                lock(&relay).reconfigure(reload.config);
                if reload.sweep_every != sweeps.period() {
                    sweeps = sweep_timer(reload.sweep_every);
                }
            }
            _ = snapshots.tick(), if options.snapshots.is_some() => {
                if let Some((path, _)) = &options.snapshots {
                    snapshot(&relay, path, &writing, options.metrics.clone());
                }
            }
            _ = watchdog_checks.tick(), if watchdog.is_some() => {
                // Every worker went round its loop, and the relay's lock can be had.
                if beats.all_alive() {
                    drop(lock(&relay));
                    service::watchdog();
                }
            }
            _ = readings.tick(), if options.metrics.is_some() => {
                if let Some(board) = &options.metrics {
                    board.update(&lock(&relay));
                }
            }
            _ = looks.tick(), if balancer.is_some() => {
                if let Some(balancer) = &mut balancer {
                    balancer.look(Instant::now());
                }
            }
            () = &mut shutdown => break Ending::Asked,
            _ = worker_ended.recv() => break Ending::WorkerStopped,
        }
    };

    if let Some(board) = &options.metrics {
        board.set_serving(false);
    }
    if let Some(running) = clustering {
        running.stop();
    }
    let _ = stop.send(true);
    for worker in workers {
        if worker.join().is_err() {
            error!("a relay worker panicked");
        }
    }
    let relay =
        Arc::try_unwrap(relay).map_err(|_| io::Error::other("a worker still holds the relay"))?;
    Ok((relay.into_inner().unwrap_or_else(PoisonError::into_inner), ending))
}

fn sweep_timer(every: Duration) -> tokio::time::Interval {
    let mut sweeps = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    sweeps.set_missed_tick_behavior(MissedTickBehavior::Delay);
    sweeps
}

/// Tells the shell, when dropped, that a worker thread has ended: returned or panicked.
struct Ended(mpsc::UnboundedSender<()>);

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// The relay, for a moment. Poisoning is ignored: a worker that panics stops the server anyway
/// ([`Ending::WorkerStopped`]), and meanwhile the others, the sweep and the final numbers
/// still need the relay.
fn lock(relay: &Mutex<Relay>) -> MutexGuard<'_, Relay> {
    relay.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Most members and groups one sweep step removes while holding the relay (about 0.15 ms).
const SWEEP_STEP: usize = 1000;

/// Copies the state under the lock (the only pause the relay sees) and writes it on a thread of
/// its own; a write still under way makes this one wait for the next tick.
fn snapshot(
    relay: &Arc<Mutex<Relay>>,
    path: &std::path::Path,
    writing: &Arc<std::sync::atomic::AtomicBool>,
    board: Option<Arc<metrics::Board>>,
) {
    use std::sync::atomic::Ordering;
    if writing.swap(true, Ordering::AcqRel) {
        return;
    }
    let held = Instant::now();
    let state = lock(relay).snapshot(Instant::now(), std::time::SystemTime::now());
    let hold = held.elapsed();
    let (path, writing) = (path.to_path_buf(), Arc::clone(writing));
    std::thread::spawn(move || {
        let started = Instant::now();
        let written = state_file::write(&path, &state);
        if let Some(board) = &board {
            board.snapshot_written(written.as_ref().map(|_| started.elapsed()).map_err(|_| ()));
        }
        match written {
            Ok(bytes) => debug!(
                target: "udprelay_server::snapshot",
                path = %path.display(),
                bytes,
                groups = state.groups.len(),
                members = state.members.len(),
                hold_us = hold.as_micros() as u64,
                write_ms = started.elapsed().as_millis() as u64,
                "state written"
            ),
            Err(error) => warn!(path = %path.display(), %error, "cannot write the state file"),
        }
        writing.store(false, Ordering::Release);
    });
}

/// Once sweeps have removed this many members and groups since the last time, freed memory
/// goes back to the system (and whenever a sweep shrank a table).
const TRIM_AFTER: usize = 1000;

/// Returns the allocator's free memory to the system. The relay's tables shrink after a wave
/// expires, but glibc keeps freed small blocks in its heaps; `malloc_trim` releases the free
/// pages (off the relay's lock: the workers keep relaying meanwhile).
fn give_memory_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Sets the allocator up to give memory back predictably (call it first thing, before any
/// thread starts). glibc serves a large allocation with its own mapping, which goes back to the
/// system when freed, but it raises that threshold to the size of each such block freed: after
/// the relay's tables have grown and shrunk once, their large blocks come from its heaps
/// instead, where freed memory stays unless whole pages around it are free. Three runs of a
/// million forged creates and joins left 54 %, 22 % and 52 % of the peak after everything
/// expired; with the threshold fixed at glibc's default, 31-32 % every time (docs/security.md).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's settings; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Sweeps in steps, letting the workers have the relay between them. `freed` counts the
/// members and groups removed since memory was last given back: a wave that expires over
/// several sweeps gives it back too, whatever its sweeps' sizes.
fn sweep(relay: &Mutex<Relay>, freed: &mut usize) {
    let started = Instant::now();
    let (mut removed, mut expired, mut shrunk, mut longest_hold) = (0, 0, false, Duration::ZERO);
    loop {
        let step = Instant::now();
        let (swept, done) = lock(relay).sweep_step(started, SWEEP_STEP);
        longest_hold = longest_hold.max(step.elapsed());
        (removed, expired) = (removed + swept.removed, expired + swept.expired);
        shrunk |= swept.shrunk;
        if done {
            break;
        }
        std::thread::yield_now();
    }
    *freed += removed + expired;
    if shrunk || *freed >= TRIM_AFTER {
        give_memory_back();
        *freed = 0;
    }
    let relay = lock(relay);
    // Its own target, so a benchmark can turn on just this line.
    debug!(
        target: "udprelay_server::sweep",
        elapsed_us = started.elapsed().as_micros() as u64,
        longest_hold_us = longest_hold.as_micros() as u64,
        removed,
        expired,
        groups = relay.live_groups(),
        members = relay.live_members(),
        stats = %relay.stats(),
        "sweep"
    );
}

/// Watches for Ctrl-C and, on Unix, SIGTERM from the moment it is called (call it before
/// announcing the address, so that a signal sent right after is never the default kill);
/// the future completes on either.
#[cfg_attr(not(unix), allow(clippy::manual_async_fn))] // one signature for both
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Err(error), _) | (_, Err(error)) => {
                    warn!(%error, "cannot watch for Ctrl-C and SIGTERM; falling back to Ctrl-C");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::fd::OwnedFd;

    use super::*;
    use crate::relay::Config;

    /// A socket no worker can use: a file, which epoll refuses to watch, so its worker stops
    /// at once with an error, as one would on any fault of its own.
    fn broken_socket() -> UdpSocket {
        let socket = UdpSocket::from(OwnedFd::from(std::fs::File::open("/dev/null").unwrap()));
        socket.set_nonblocking(true).unwrap(); // as `bind` leaves its sockets
        socket
    }

    fn working_socket() -> UdpSocket {
        bind("127.0.0.1:0".parse().unwrap(), 1).unwrap().remove(0)
    }

    async fn serve_until(
        sockets: Vec<UdpSocket>,
        batching: bool,
        shutdown: impl Future<Output = ()>,
    ) -> Ending {
        let options = Options {
            sweep_every: Duration::from_secs(30),
            batching,
            balancing: true,
            snapshots: None,
            metrics: None,
            cluster: None,
        };
        let (_keep, reloads) = mpsc::unbounded_channel();
        let served = serve(sockets, Relay::new(Config::default()), options, reloads, shutdown);
        let (_, ending) = tokio::time::timeout(Duration::from_secs(10), served)
            .await
            .expect("serve returned within 10 s")
            .unwrap();
        ending
    }

    #[tokio::test]
    async fn a_worker_that_stops_stops_the_server_with_it() {
        for batching in [false, true] {
            let sockets = vec![working_socket(), broken_socket()];
            let ending = serve_until(sockets, batching, std::future::pending()).await;
            assert_eq!(ending, Ending::WorkerStopped, "batching={batching}");
        }
    }

    #[tokio::test]
    async fn asked_to_stop_it_says_so() {
        for batching in [false, true] {
            let ending = serve_until(vec![working_socket()], batching, async {}).await;
            assert_eq!(ending, Ending::Asked, "batching={batching}");
        }
    }
}
