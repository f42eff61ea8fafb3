//! A replay window per sender, after RFC 6479 (as WireGuard keeps one): the newest counter
//! seen and a bitmap of the 1024 before it. A counter seen before, or too old to tell, is
//! dropped; a jump forward says how many of the sender's messages have not (yet) arrived.
//!
//! A sender's counter is `(start << 32) | n`: `start` the second its client started (so that
//! counters keep growing across restarts with the same identity), `n` its messages since.
//! Only a jump within one start counts as messages missed.

/// Counters remembered behind the newest.
const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// What a counter's arrival means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Newer than any before: show it; `missed` of the sender's messages came between.
    New {
        /// How many counters were skipped (within one start of the sender's client).
        missed: u64,
    },
    /// Older than the newest, not seen before: a message that came late, filling a gap a
    /// [`Arrival::New`] counted as missed.
    Late,
    /// Seen before: a duplicate or a replay. Dropped without a word.
    Duplicate,
    /// Too far behind the newest to tell: dropped as a replay.
    TooOld,
}

/// One sender's window.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    newest: Option<u64>,
    seen: [u64; WORDS],
}

impl ReplayWindow {
    /// A window that has seen nothing.
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// A window that has seen everything up to `newest` (kept from an earlier run: nothing at
    /// or before it is taken again).
    pub fn after(newest: u64) -> ReplayWindow {
        ReplayWindow { newest: Some(newest), seen: [u64::MAX; WORDS] }
    }

    /// The newest counter seen.
    pub fn newest(&self) -> Option<u64> {
        self.newest
    }

    /// Takes in `counter` and says what it is.
    pub fn accept(&mut self, counter: u64) -> Arrival {
        let Some(newest) = self.newest else {
            self.newest = Some(counter);
            self.mark(counter);
            return Arrival::New { missed: 0 };
        };
        if counter > newest {
            let ahead = counter - newest;
            if ahead >= WINDOW {
                self.seen = [0; WORDS];
            } else {
                (newest + 1..counter).for_each(|skipped| self.clear(skipped));
            }
            self.newest = Some(counter);
            self.mark(counter);
            let same_start = counter >> 32 == newest >> 32;
            return Arrival::New { missed: if same_start { ahead - 1 } else { 0 } };
        }
        if newest - counter >= WINDOW {
            return Arrival::TooOld;
        }
        if self.is_marked(counter) {
            return Arrival::Duplicate;
        }
        self.mark(counter);
        Arrival::Late
    }

    fn mark(&mut self, counter: u64) {
        let bit = counter % WINDOW;
        self.seen[(bit / 64) as usize] |= 1 << (bit % 64);
    }

    fn clear(&mut self, counter: u64) {
        let bit = counter % WINDOW;
        self.seen[(bit / 64) as usize] &= !(1 << (bit % 64));
    }

    fn is_marked(&self, counter: u64) -> bool {
        let bit = counter % WINDOW;
        self.seen[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }
}

/// A sender's counters: `(start << 32) | n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequence(u64);

impl Sequence {
    /// Counters for a client started at `unix_seconds`.
    pub fn starting(unix_seconds: u64) -> Sequence {
        Sequence((unix_seconds & 0xffff_ffff) << 32)
    }

    /// Whether `counter` is one of this sequence's (the same start).
    pub fn started(&self, counter: u64) -> bool {
        counter >> 32 == self.0 >> 32
    }

    /// The counter for the next message.
    pub fn next_counter(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}
