//! The heartbeat's health, for an indicator (the desktop client's dot).

use std::time::Duration;

use udprelay_shared::limits::{MISSED_HEARTBEATS, REPLY_TIMEOUT};

/// How the heartbeat is doing, for an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// A `PONG` came within the interval (allowing for the reply's trip).
    Good,
    /// The last `PONG` is older than that: one is late.
    Late,
    /// No `PONG` for more than 3 × the interval: the server has likely dropped us.
    Lost,
}

impl Health {
    /// The health when the server was last heard `since` ago, pinging every `interval`.
    pub fn after(since: Duration, interval: Duration) -> Health {
        if since <= interval + REPLY_TIMEOUT {
            Health::Good
        } else if since <= interval * MISSED_HEARTBEATS {
            Health::Late
        } else {
            Health::Lost
        }
    }

    /// How long until [`Health::after`] changes by time alone (`None`: it is lost, and stays
    /// so until something is heard). A window repaints then, not on a fixed tick.
    pub fn changes_in(since: Duration, interval: Duration) -> Option<Duration> {
        let late = interval + REPLY_TIMEOUT;
        let lost = interval * MISSED_HEARTBEATS;
        [late, lost]
            .into_iter()
            .find(|&edge| since <= edge)
            .map(|edge| edge - since + Duration::from_millis(1))
    }
}
