//! Per-event log lines that a flood cannot turn into a flood of log. Each kind of line is
//! written at most [`LINES_PER_SECOND`] times a second; the rest are counted, and one line says
//! how many were left out once that second is over. The counters in [`super::Stats`] stay exact.

use std::time::Instant;

use tracing::info;

/// Lines of one kind per second, at most.
pub const LINES_PER_SECOND: u32 = 20;

/// The kinds of per-event line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    Create,
    Join,
    Leave,
    Removed,
    Expired,
    /// A limit refused something.
    Refused,
    /// What the cluster's NATS input made happen (nodes coming and going, records set right,
    /// forged input dropped): a NATS client can cause these as fast as a UDP sender.
    Cluster,
}

const KINDS: usize = 7;

impl Line {
    fn name(self) -> &'static str {
        match self {
            Line::Create => "create",
            Line::Join => "join",
            Line::Leave => "leave",
            Line::Removed => "removed",
            Line::Expired => "expired",
            Line::Refused => "refused",
            Line::Cluster => "cluster",
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    /// Whole seconds since the limiter's first use.
    second: u64,
    written: u32,
    left_out: u64,
}

#[derive(Debug, Default)]
pub struct LogLimiter {
    epoch: Option<Instant>,
    windows: [Window; KINDS],
    /// Lines left out since start, per kind (for tests and the final numbers).
    left_out_total: [u64; KINDS],
}

impl LogLimiter {
    /// Whether a line of `kind` may be written at `now`.
    pub fn admit(&mut self, now: Instant, kind: Line) -> bool {
        let second = self.second(now);
        let window = &mut self.windows[kind as usize];
        if window.second != second {
            Self::report(kind, window);
            *window = Window { second, ..Window::default() };
        }
        if window.written < LINES_PER_SECOND {
            window.written += 1;
            true
        } else {
            window.left_out += 1;
            self.left_out_total[kind as usize] += 1;
            false
        }
    }

    /// Says how many lines were left out in seconds that are over (the sweep calls this, so
    /// the count comes even when the flood has stopped).
    pub fn flush(&mut self, now: Instant) {
        let second = self.second(now);
        for (index, window) in self.windows.iter_mut().enumerate() {
            if window.second != second {
                Self::report(KINDS_IN_ORDER[index], window);
                window.left_out = 0;
            }
        }
    }

    #[cfg(test)]
    pub fn left_out(&self, kind: Line) -> u64 {
        self.left_out_total[kind as usize]
    }

    fn second(&mut self, now: Instant) -> u64 {
        now.saturating_duration_since(*self.epoch.get_or_insert(now)).as_secs()
    }

    fn report(kind: Line, window: &Window) {
        if window.left_out > 0 {
            info!(
                kind = kind.name(),
                left_out = window.left_out,
                "log lines left out (too many in a second)"
            );
        }
    }
}

const KINDS_IN_ORDER: [Line; KINDS] = [
    Line::Create,
    Line::Join,
    Line::Leave,
    Line::Removed,
    Line::Expired,
    Line::Refused,
    Line::Cluster,
];

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn at_most_so_many_lines_of_a_kind_a_second() {
        let start = Instant::now();
        let mut logs = LogLimiter::default();
        let written = (0..1000).filter(|_| logs.admit(start, Line::Join)).count();
        assert_eq!(written, LINES_PER_SECOND as usize);
        assert_eq!(logs.left_out(Line::Join), 1000 - u64::from(LINES_PER_SECOND));
        assert!(logs.admit(start, Line::Create), "other kinds have their own allowance");
        let next = start + Duration::from_secs(1);
        assert!(logs.admit(next, Line::Join), "a new second, a new allowance");
        logs.flush(next + Duration::from_secs(5));
        assert_eq!(
            KINDS_IN_ORDER.iter().map(|k| *k as usize).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5, 6]
        );
    }
}
