//! Running under systemd (`Type=notify`): readiness, reloads, stopping and the watchdog, told
//! to the service manager through `$NOTIFY_SOCKET` (sd-notify). Without a service manager every
//! call here does nothing.
//!
//! The watchdog is only fed while the server really works: each worker beats on a tick of its
//! own, and the serving loop pings the service manager only when every worker has beaten since
//! the last ping and it could take the relay's lock. A worker stuck in a call, or a lock never
//! released, stops the pings, and systemd restarts the service (`WatchdogSec=`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

fn tell(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        debug!(%error, "cannot notify the service manager");
    }
}

/// Bound and serving.
pub fn ready(status: &str) {
    tell(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Reading the configuration again (systemd 253 and later want the time with it).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => tell(&[NotifyState::Reloading, now]),
        Err(_) => tell(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    tell(&[NotifyState::Stopping]);
}

/// How often the watchdog must be fed (half of `WatchdogSec`), when it is on.
pub fn watchdog_every() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|limit| limit / 2)
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
    tell(&[NotifyState::Watchdog]);
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
