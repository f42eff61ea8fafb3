//! A group's message log as the window holds it: the newest messages (at most [`SCROLLBACK`]
//! while the user reads the newest; older ones stay in the history store and come back a page
//! at a time as the user scrolls up), where its unread messages begin, and the height of each
//! row as last laid out, so that only the rows in view are ever laid out again.

use std::ops::Deref;

/// Lines a group keeps in memory while the user reads the newest: a day of a busy group.
pub const SCROLLBACK: usize = 10_000;

/// One line in a group's message log, in typed parts: the view draws each its own way, and
/// nothing is parsed back out of a rendered line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When, in milliseconds since the Unix epoch.
    pub at: i64,
    /// Local time: `HH:MM:SS` today, with the day (`Nov 24 14:02`) before.
    pub time: String,
    pub kind: EntryKind,
    /// Who sent a message of someone else's, when it carries a name (escaped).
    pub sender: Option<String>,
    /// What was said (a message's text after its sender's name), or what happened; escaped.
    pub text: String,
    /// What is said after a message: ` (new key)`, ` (not encrypted)`, … (empty: nothing).
    pub mark: String,
    /// A message that names the user (`udprelay_client::mention`).
    pub mention: bool,
    /// Its place in the group's stored history (`None` while not stored).
    pub seq: Option<i64>,
}

impl Entry {
    pub fn now(kind: EntryKind, text: String) -> Entry {
        Entry::at(chrono::Utc::now().timestamp_millis(), kind, text)
    }

    pub fn at(at: i64, kind: EntryKind, text: String) -> Entry {
        use chrono::TimeZone;
        let local = chrono::Local.timestamp_millis_opt(at).single().unwrap_or_default();
        let today = local.date_naive() == chrono::Local::now().date_naive();
        let time = local.format(if today { "%H:%M:%S" } else { "%b %d %H:%M" }).to_string();
        Entry { at, time, kind, sender: None, text, mark: String::new(), mention: false, seq: None }
    }

    /// The same entry, sent by `sender`.
    pub fn sent_by(self, sender: Option<String>) -> Entry {
        Entry { sender, ..self }
    }

    /// The line as the terminal client prints it: `sender: text` and the mark.
    pub fn shown(&self) -> String {
        match &self.sender {
            Some(sender) => format!("{sender}: {}{}", self.text, self.mark),
            None => format!("{}{}", self.text, self.mark),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A message this user sent.
    Mine,
    /// A message from someone else.
    Theirs,
    /// Something that happened: joined, rejoined, ...
    Event,
    /// Something that went wrong.
    Error,
}

#[derive(Default)]
pub struct Log {
    entries: Vec<Entry>,
    /// Where the messages not yet seen begin (drawn as a "New messages" line).
    pub unread_from: Option<usize>,
    /// The message a search result showed: marked, and scrolled to once.
    pub found: Option<usize>,
    /// The history store has messages older than the first here.
    pub older: bool,
    /// The view shows the newest line: only then is the oldest let go (a user reading old
    /// pages keeps them).
    pub at_bottom: bool,
    /// Row heights, for the view: see [`Rows`].
    pub(crate) rows: Rows,
}

impl Deref for Log {
    type Target = [Entry];
    fn deref(&self) -> &[Entry] {
        &self.entries
    }
}

impl Log {
    /// An empty log of a group just opened: the view starts at its newest line.
    pub fn new() -> Log {
        Log { at_bottom: true, ..Log::default() }
    }

    /// Adds the newest entry; returns its place.
    pub fn push(&mut self, entry: Entry) -> usize {
        self.entries.push(entry);
        self.rows.heights.push(None);
        if self.at_bottom && self.entries.len() > SCROLLBACK {
            // A tenth at a time, so a busy group does not shift its log on every message.
            self.drop_oldest(self.entries.len() - SCROLLBACK + SCROLLBACK / 10);
        }
        self.entries.len() - 1
    }

    /// Puts older entries (oldest first) before the first one.
    pub fn prepend(&mut self, older: Vec<Entry>) {
        let count = older.len();
        if count == 0 {
            return;
        }
        self.rows.heights.splice(0..0, std::iter::repeat_n(None, count));
        self.rows.dirty_from = 0;
        self.rows.prepended += count;
        self.entries.splice(0..0, older);
        if let Some(at) = &mut self.unread_from {
            *at += count;
        }
        if let Some(at) = &mut self.found {
            *at += count;
        }
    }

    /// Marks row `row` as the one a search result showed, and has the view scroll to it.
    pub fn find(&mut self, row: usize) {
        if row < self.entries.len() {
            self.found = Some(row);
            self.rows.reveal = true;
            self.at_bottom = false;
        }
    }

    /// Where the entry stored as `seq` is held, if it is.
    pub fn row_of(&self, seq: i64) -> Option<usize> {
        self.entries.iter().rposition(|e| e.seq == Some(seq))
    }

    /// Entries not yet in the store (made before the group had a row there).
    pub(crate) fn unsaved_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.entries.iter_mut().filter(|e| e.seq.is_none())
    }

    /// The seq of the oldest stored entry held here.
    pub fn first_seq(&self) -> Option<i64> {
        self.entries.iter().find_map(|e| e.seq)
    }

    /// The entries of `kind` as shown ([`Entry::shown`]), oldest first (for tests and checks).
    pub fn texts(&self, kind: EntryKind) -> Vec<String> {
        self.entries.iter().filter(|e| e.kind == kind).map(Entry::shown).collect()
    }

    fn drop_oldest(&mut self, count: usize) {
        self.entries.drain(..count);
        self.rows.heights.drain(..count);
        self.rows.dirty_from = 0;
        self.older = true;
        if let Some(at) = &mut self.unread_from {
            // An unread line older than what is kept moves to the top.
            *at = at.saturating_sub(count);
        }
        self.found = self.found.and_then(|at| at.checked_sub(count));
    }
}

/// Where each row of the log sits, for drawing only the rows in view. Heights are those of
/// the last layout at `width`; a row never laid out has `None` and an estimate stands in.
#[derive(Default)]
pub(crate) struct Rows {
    pub width: f32,
    pub heights: Vec<Option<f32>>,
    /// `tops[i]`: where row `i` starts; valid below `dirty_from`, and `tops[len]` is the total.
    pub tops: Vec<f32>,
    pub dirty_from: usize,
    /// Rows put in front since the view last looked (it keeps what the user sees in place).
    pub prepended: usize,
    /// The row the unread line was drawn above (its row is taller by the line).
    pub marked: Option<usize>,
    /// The view is to scroll to the found row at its next frame.
    pub reveal: bool,
    /// How far the view was scrolled down, and how tall it was, in the last frame.
    pub offset: f32,
    pub view_height: f32,
}

impl Rows {
    /// A row's height changed (laid out at last, or grew a line above it).
    pub fn set(&mut self, row: usize, height: Option<f32>) {
        if let Some(slot) = self.heights.get_mut(row)
            && *slot != height
        {
            *slot = height;
            self.dirty_from = self.dirty_from.min(row);
        }
    }

    /// Every height forgotten: the width changed, so every row wraps anew.
    pub fn relayout(&mut self, width: f32) {
        self.width = width;
        self.heights.fill(None);
        self.dirty_from = 0;
    }

    /// Brings `tops` up to date, estimating rows not laid out yet; returns the total height.
    pub fn update_tops(&mut self, estimate: impl Fn(usize) -> f32) -> f32 {
        let len = self.heights.len();
        self.tops.resize(len + 1, 0.0);
        let from = self.dirty_from.min(len);
        for row in from..len {
            let height = self.heights[row].unwrap_or_else(|| estimate(row));
            self.tops[row + 1] = self.tops[row] + height;
        }
        self.dirty_from = len;
        self.tops[len]
    }

    /// The first row whose bottom is below `y`.
    pub fn row_at(&self, y: f32) -> usize {
        let len = self.heights.len();
        self.tops[1..=len].partition_point(|&bottom| bottom <= y).min(len.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: usize) -> Entry {
        Entry::now(EntryKind::Theirs, n.to_string())
    }

    #[test]
    fn the_log_stays_bounded_while_the_newest_is_read_and_the_unread_line_stays_put() {
        let mut log = Log::new();
        for n in 0..50_000 {
            let at = log.push(message(n));
            if n == 45_000 {
                log.unread_from = Some(at);
            }
            assert!(log.len() <= SCROLLBACK);
            assert_eq!(log.rows.heights.len(), log.len());
        }
        assert_eq!(log.last().map(|e| e.text.as_str()), Some("49999"), "the newest are kept");
        assert_eq!(log.unread_from.map(|at| log[at].text.as_str()), Some("45000"));
        assert!(log.older, "what was let go is older history");
    }

    #[test]
    fn a_user_reading_old_pages_keeps_them() {
        let mut log = Log::default(); // scrolled up
        for n in 0..SCROLLBACK + 500 {
            log.push(message(n));
        }
        assert_eq!(log.len(), SCROLLBACK + 500);
        assert_eq!(log[0].text, "0");
    }

    #[test]
    fn prepending_moves_the_unread_line_and_forgets_positions() {
        let mut log = Log::default();
        log.push(message(10));
        log.unread_from = Some(0);
        log.rows.update_tops(|_| 20.0);
        log.prepend(vec![message(8), message(9)]);
        assert_eq!(log.unread_from, Some(2));
        assert_eq!(log.rows.prepended, 2);
        assert_eq!(log.rows.update_tops(|_| 20.0), 60.0);
    }

    #[test]
    fn tops_follow_measured_heights_and_rows_are_found_by_position() {
        let mut rows = Rows { heights: vec![None; 4], ..Rows::default() };
        assert_eq!(rows.update_tops(|_| 10.0), 40.0);
        rows.set(1, Some(30.0));
        assert_eq!(rows.update_tops(|_| 10.0), 60.0);
        assert_eq!(rows.tops, vec![0.0, 10.0, 40.0, 50.0, 60.0]);
        assert_eq!(rows.row_at(0.0), 0);
        assert_eq!(rows.row_at(10.0), 1);
        assert_eq!(rows.row_at(39.9), 1);
        assert_eq!(rows.row_at(45.0), 2);
        assert_eq!(rows.row_at(1000.0), 3);
    }
}
