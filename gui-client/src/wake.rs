//! Waking the window for news from the network. A message after a quiet spell is drawn within
//! [`FRAME`]; while messages stream in, the window is drawn at most every [`BUSY_FRAME`]: a
//! person reads no faster, and every frame draws the whole window (under a software renderer
//! that is most of the window's CPU).

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How soon news after a quiet spell is drawn (coalescing whatever else arrives meanwhile).
pub const FRAME: Duration = Duration::from_millis(16);

/// The shortest time between two frames drawn for network news.
pub const BUSY_FRAME: Duration = Duration::from_millis(200);

/// Shared by the window and the network (each row's client).
#[derive(Default)]
pub struct Wake {
    /// Filled when the window first draws: links opened before (`--join` at start) wake it too.
    ctx: OnceLock<egui::Context>,
    /// When the last frame for news was asked for.
    last: Mutex<Option<Instant>>,
}

impl Wake {
    pub fn attach(&self, ctx: &egui::Context) {
        let _ = self.ctx.set(ctx.clone());
    }

    /// News came: asks for a frame (egui keeps the earliest asked for).
    pub fn news(&self) {
        if let Some(ctx) = self.ctx.get() {
            ctx.request_repaint_after(self.delay(Instant::now()));
        }
    }

    /// How long until the frame for news that came at `now`.
    pub fn delay(&self, now: Instant) -> Duration {
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = match *last {
            // Asked for already and still to come: the same time again (asking twice is
            // harmless, and a frame drawn meanwhile for input may have used the first ask).
            Some(previous) if previous > now => previous,
            Some(previous) if previous + BUSY_FRAME > now + FRAME => previous + BUSY_FRAME,
            _ => now + FRAME,
        };
        *last = Some(at);
        at - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_after_quiet_is_drawn_at_once_and_a_stream_at_most_every_busy_frame() {
        let wake = Wake::default();
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        let until = |at: u64, now: u64| Duration::from_millis(at - now);
        assert_eq!(wake.delay(start), FRAME, "quiet: at once");
        assert_eq!(wake.delay(ms(5)), until(16, 5), "the same frame");
        // A stream: the next frame comes BUSY_FRAME after the last, however many arrive.
        for n in (30..216).step_by(5) {
            assert_eq!(wake.delay(ms(n)), until(216, n));
        }
        assert_eq!(wake.delay(ms(250)), until(416, 250));
        // Quiet again for a while: at once.
        assert_eq!(wake.delay(ms(2_000)), FRAME);
    }
}
