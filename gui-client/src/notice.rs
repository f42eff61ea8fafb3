//! Errors and hints in plain words, shown next to what caused them. One at a time; it goes
//! with the next action, or after [`NOTICE_LIFETIME`], so an old error never lingers.

use std::time::{Duration, Instant};

/// How long a notice stays when nothing else clears it.
pub const NOTICE_LIFETIME: Duration = Duration::from_secs(6);

/// Where a notice belongs: next to what caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Server,
    Create,
    Join,
    /// Under Leave and Copy id.
    Group,
    Message,
}

/// An error or hint, and when it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub place: Place,
    pub text: String,
    pub since: Instant,
}

impl Notice {
    pub fn new(place: Place, text: &str) -> Notice {
        Notice { place, text: text.to_string(), since: Instant::now() }
    }

    /// When it goes by itself.
    pub fn until(&self) -> Instant {
        self.since + NOTICE_LIFETIME
    }
}
