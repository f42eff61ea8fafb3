//! Running under systemd (`Type=notify`): readiness, reloads, stopping and the watchdog, told
//! to the service manager through `$NOTIFY_SOCKET` (sd-notify). Without a service manager every
//! call here does nothing.
//!
//! The watchdog is only fed while the server really works: each worker beats on a tick of its
//! own, and the serving loop pings the service manager only when every worker has beaten since
//! the last ping and it could take the relay's lock. A worker stuck in a call, or a lock never
//! released, stops the pings, and systemd restarts the service (`WatchdogSec=`).
//!
//! Elsewhere than Unix (Windows) there is no such service manager: every call does nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the service manager is told.
#[cfg_attr(not(unix), allow(dead_code))]
enum State<'a> {
    Ready(&'a str),
    Reloading,
    Stopping,
    Watchdog,
}

#[cfg(unix)]
fn tell(state: State) {
    use sd_notify::NotifyState;
    let states = match state {
        State::Ready(status) => vec![NotifyState::Ready, NotifyState::Status(status)],
        // systemd 253 and later want the time with it.
        State::Reloading => match NotifyState::monotonic_usec_now() {
            Ok(now) => vec![NotifyState::Reloading, now],
            Err(_) => vec![NotifyState::Reloading],
        },
        State::Stopping => vec![NotifyState::Stopping],
        State::Watchdog => vec![NotifyState::Watchdog],
    };
    if let Err(error) = sd_notify::notify(&states) {
        tracing::debug!(%error, "cannot notify the service manager");
    }
}

#[cfg(not(unix))]
fn tell(_: State) {}

/// Bound and serving.
pub fn ready(status: &str) {
    tell(State::Ready(status));
}

/// Reading the configuration again.
pub fn reloading() {
    tell(State::Reloading);
}

pub fn stopping() {
    tell(State::Stopping);
}

/// How often the watchdog must be fed (half of `WatchdogSec`), when it is on.
pub fn watchdog_every() -> Option<Duration> {
    #[cfg(unix)]
    return sd_notify::watchdog_enabled().map(|limit| limit / 2);
    #[cfg(not(unix))]
    None
}

/// How often a worker beats when the watchdog is on.
pub const BEAT_EVERY: Duration = Duration::from_millis(250);

/// One counter per worker, bumped as it goes round its loop.
#[derive(Debug, Default)]
pub struct Beats {
    counts: Vec<AtomicU64>,
    seen: Vec<AtomicU64>,
}

impl Beats {
    pub fn new(workers: usize) -> Beats {
        let zeros = || (0..workers).map(|_| AtomicU64::new(0)).collect();
        Beats { counts: zeros(), seen: zeros() }
    }

    pub fn beat(&self, worker: usize) {
        self.counts[worker].fetch_add(1, Ordering::Relaxed);
    }

    /// Whether every worker beat since the last call (which only the serving loop makes).
    pub fn all_alive(&self) -> bool {
        let mut alive = true;
        for (count, seen) in self.counts.iter().zip(&self.seen) {
            let now = count.load(Ordering::Relaxed);
            alive &= now != seen.swap(now, Ordering::Relaxed);
        }
        alive
    }
}

/// A worker's side: its number, and whether (how often) to beat.
#[derive(Debug, Clone)]
pub struct Heart {
    pub beats: std::sync::Arc<Beats>,
    pub worker: usize,
    pub every: Option<Duration>,
}

impl Heart {
    /// A timer for the worker's loop: ticks every [`BEAT_EVERY`] when the watchdog is on.
    pub fn ticker(&self) -> tokio::time::Interval {
        let mut ticker = tokio::time::interval(self.every.unwrap_or(Duration::from_secs(3600)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    }

    pub fn on(&self) -> bool {
        self.every.is_some()
    }

    pub fn beat(&self) {
        self.beats.beat(self.worker);
    }
}

/// Feeds the watchdog.
pub fn watchdog() {
    tell(State::Watchdog);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_fed_only_when_every_worker_beat() {
        let beats = Beats::new(2);
        beats.beat(0);
        beats.beat(1);
        assert!(beats.all_alive());
        beats.beat(0);
        assert!(!beats.all_alive(), "worker 1 did not beat");
        beats.beat(0);
        beats.beat(1);
        assert!(beats.all_alive());
    }
}
