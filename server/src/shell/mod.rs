//! The thin tokio shell around the relay core: worker threads that receive, hand datagrams to
//! the shared [`Relay`] and send what it answers; a sweep timer; and a clean stop.
//!
//! Each worker has its own socket on the same port (see [`bind`]) and its own single-threaded
//! runtime. The relay sits behind one mutex, held only while datagrams are handled (tens of
//! nanoseconds each), never during a system call, so the protocol's rules hold exactly as
//! with one thread.

mod bind;
#[cfg(target_os = "linux")]
mod mmsg;
mod outbox;
mod worker;

use std::future::Future;
use std::io;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use crate::relay::Relay;

pub use bind::bind;

/// How the shell runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub sweep_every: Duration,
    /// Many datagrams per system call; only where the platform has it ([`CAN_BATCH`]).
    pub batching: bool,
}

/// Whether this platform can batch system calls.
pub const CAN_BATCH: bool = cfg!(target_os = "linux");

/// Serves on `sockets`, one worker thread each, until `shutdown` completes; returns the relay
/// for its final numbers.
pub async fn serve(
    sockets: Vec<UdpSocket>,
    relay: Relay,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Relay> {
    let relay = Arc::new(Mutex::new(relay));
    let (stop, stopped) = watch::channel(false);
    let mut workers = Vec::new();
    for (n, socket) in sockets.into_iter().enumerate() {
        let (relay, stopped) = (Arc::clone(&relay), stopped.clone());
        let batching = options.batching;
        let worker = std::thread::Builder::new()
            .name(format!("relay-{n}"))
            .spawn(move || worker::run(socket, &relay, stopped, batching))?;
        workers.push(worker);
    }

    let every = options.sweep_every;
    let mut sweeps = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    sweeps.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = sweeps.tick() => sweep(&relay),
            () = &mut shutdown => break,
        }
    }

    let _ = stop.send(true);
    for worker in workers {
        if worker.join().is_err() {
            warn!("a relay worker panicked");
        }
    }
    let relay =
        Arc::try_unwrap(relay).map_err(|_| io::Error::other("a worker still holds the relay"))?;
    Ok(relay.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// The relay, for a moment. Poisoning is ignored: a panic in the core is a bug either way, and
/// stopping every other worker over it would turn one bad datagram into an outage.
fn lock(relay: &Mutex<Relay>) -> MutexGuard<'_, Relay> {
    relay.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Most members and groups one sweep step removes while holding the relay (about 0.15 ms).
const SWEEP_STEP: usize = 1000;

/// Sweeps in steps, letting the workers have the relay between them.
fn sweep(relay: &Mutex<Relay>) {
    let started = Instant::now();
    let (mut removed, mut expired, mut longest_hold) = (0, 0, Duration::ZERO);
    loop {
        let step = Instant::now();
        let (swept, done) = lock(relay).sweep_step(started, SWEEP_STEP);
        longest_hold = longest_hold.max(step.elapsed());
        (removed, expired) = (removed + swept.removed, expired + swept.expired);
        if done {
            break;
        }
        std::thread::yield_now();
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
