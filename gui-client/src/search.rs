//! Search in the window: the words asked for, in the shown group or in every group; the
//! newest messages that hold them (group, time, sender, the text with the words marked); and
//! choosing one, which shows it in its place in the group's log (older history loaded as
//! needed) and marks it there. The store does the finding (`store/search.rs`); a store made
//! before the index is indexed a batch at a time between frames, and the panel says how far
//! it has got.

use std::ops::Range;

use udprelay_client::mention::find_part;

use crate::app::{App, Entry, Place};
use crate::net::LinkId;
use crate::store::Found;

/// Results shown at most: the newest.
pub const RESULTS: usize = 100;

/// Of a long message, the characters a result shows: some before the first match, the
/// rest after.
const EXCERPT: usize = 160;
const BEFORE_MATCH: usize = 40;

/// Messages indexed per batch (a few milliseconds' work, docs/performance.md).
pub const INDEX_BATCH: u64 = 1_000;

/// Pages of the index merged per step, once indexing is done.
pub const MERGE_PAGES: u32 = 200;

/// Where to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The group shown.
    #[default]
    Shown,
    /// Every group in the window.
    Every,
}

/// A message found, as the results list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub link: LinkId,
    /// The group's name as its row shows it (its own name, or its id).
    pub group: String,
    pub entry: Entry,
    /// What of its text is shown: all of it, or a part around the first match (with `…`).
    pub excerpt: String,
    /// Where the words are in [`Hit::excerpt`] (byte ranges).
    pub marks: Vec<Range<usize>>,
}

/// The search panel's state.
#[derive(Debug, Default)]
pub struct Search {
    pub open: bool,
    /// The words as typed.
    pub query: String,
    pub scope: Scope,
    /// The newest messages found, newest first.
    pub hits: Vec<Hit>,
    /// There were more than [`RESULTS`].
    pub more: bool,
    /// What `hits` answer (the query trimmed, the scope, the group shown when only it is
    /// searched): nothing is searched twice.
    asked: Option<(String, Scope, Option<LinkId>)>,
    /// A store made before the index is being indexed: how many messages are left, of how
    /// many.
    pub indexing: Option<(u64, u64)>,
    /// The last batch is in; what indexing left is being merged.
    tidying: bool,
    /// Everything in the store is indexed (and merged).
    indexed: bool,
    /// The search field takes the keyboard at the next frame (Ctrl+F, the button).
    pub focus: bool,
}

impl Search {
    /// The results are to be found again (a group left, with its messages).
    pub fn invalidate(&mut self) {
        self.asked = None;
    }
}

impl App {
    /// Opens the search panel, its field taking the keyboard.
    pub fn open_search(&mut self) {
        self.search.open = true;
        self.search.focus = true;
        self.run_search();
    }

    pub fn close_search(&mut self) {
        self.search.open = false;
    }

    /// Searches for what is typed, where asked, unless that is what the results already
    /// answer (the view calls this on every change).
    pub fn run_search(&mut self) {
        let query = self.search.query.trim().to_string();
        // The shown group is part of the question while only it is searched.
        let shown = self.selected.filter(|_| self.search.scope == Scope::Shown);
        let asked = (query.clone(), self.search.scope, shown);
        if self.search.asked.as_ref() == Some(&asked) {
            return;
        }
        self.search.asked = Some(asked);
        self.search.hits.clear();
        self.search.more = false;
        if query.is_empty() {
            return;
        }
        let groups: Vec<_> = match self.search.scope {
            Scope::Shown => self.selected_group().into_iter().collect(),
            Scope::Every => self.groups.iter().collect(),
        };
        let keys: Vec<_> = groups.iter().filter_map(|group| group.key).collect();
        if keys.is_empty() {
            return;
        }
        let Some(found) = self.with_store(|store| store.search(&keys, &query, RESULTS + 1)) else {
            return;
        };
        self.search.more = found.len() > RESULTS;
        let hits = found.into_iter().take(RESULTS).filter_map(|found| self.hit(found, &query));
        self.search.hits = hits.collect();
    }

    fn hit(&self, found: Found, query: &str) -> Option<Hit> {
        let group = self.groups.iter().find(|group| group.key == Some(found.key))?;
        let (excerpt, marks) = excerpt(&found.entry.text, query);
        Some(Hit { link: group.link, group: group.title(), entry: found.entry, excerpt, marks })
    }

    /// Shows result `index` in its place in its group's log (loading older history as
    /// needed), marked.
    pub fn show_hit(&mut self, index: usize) {
        let Some(hit) = self.search.hits.get(index) else { return };
        let (link, seq) = (hit.link, hit.entry.seq);
        if self.selected != Some(link) {
            self.select(link);
        }
        let Some(seq) = seq else { return };
        match self.load_until(link, seq) {
            Some(row) => {
                if let Some(group) = self.group_mut(link) {
                    group.log.find(row);
                }
            }
            None => self.tell(Place::Message, "That message is no longer in the history."),
        }
    }

    /// Indexes a batch of a store made before the index, if any is left, or merges a step of
    /// what that left; returns whether more is to do (the window does one step a frame). When
    /// the last batch is in, the search asked is run again: its results may have grown.
    pub fn index_history(&mut self) -> bool {
        if self.search.indexed || self.store.is_none() {
            return false;
        }
        if self.search.tidying {
            let more = self.with_store(|store| store.tidy_index(MERGE_PAGES)).unwrap_or(false);
            self.search.tidying = more;
            self.search.indexed = !more;
            return more;
        }
        if self.search.indexing.is_none() {
            let Some(left) = self.with_store(|store| store.unindexed()) else { return false };
            if left == 0 {
                self.search.indexed = true;
                return false;
            }
            self.search.indexing = Some((left, left));
        }
        let Some(left) = self.with_store(|store| store.index_some(INDEX_BATCH)) else {
            return false;
        };
        let total = self.search.indexing.map_or(left, |(_, total)| total);
        if left > 0 {
            self.search.indexing = Some((left, total.max(left)));
            return true;
        }
        self.search.indexing = None;
        self.search.tidying = true;
        self.search.invalidate();
        if self.search.open {
            self.run_search();
        }
        true
    }

    /// The share of the history indexed, while a store made before the index is indexed.
    pub fn indexed_share(&self) -> Option<f32> {
        self.search.indexing.map(|(left, total)| 1.0 - left as f32 / total.max(1) as f32)
    }
}

/// What a result shows of `text`, and where `query` is in it: all of a short text; of a long
/// one, [`EXCERPT`] characters from a little before the first match, with `…` where cut.
fn excerpt(text: &str, query: &str) -> (String, Vec<Range<usize>>) {
    let first = find_part(text, query).first().map_or(0, |range| range.start);
    let start = if text.chars().count() <= EXCERPT {
        0
    } else {
        let before = text[..first].char_indices().rev().nth(BEFORE_MATCH - 1);
        before.map_or(0, |(at, _)| at)
    };
    let rest = &text[start..];
    let end = rest.char_indices().nth(EXCERPT).map_or(rest.len(), |(at, _)| at);
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.push_str(&rest[..end]);
    if end < rest.len() {
        shown.push('…');
    }
    let marks = find_part(&shown, query);
    (shown, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_text_is_shown_whole_with_every_match_marked() {
        let (shown, marks) = excerpt("Release? the release.", "RELEASE");
        assert_eq!(shown, "Release? the release.");
        assert_eq!(marks, [0..7, 13..20]);
    }

    #[test]
    fn a_long_text_is_cut_around_its_first_match() {
        let text = format!("{}needle{}", "a".repeat(500), "b".repeat(500));
        let (shown, marks) = excerpt(&text, "needle");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().count(), EXCERPT + 2);
        assert_eq!(&shown[marks[0].clone()], "needle");
        assert_eq!(shown.find("needle"), Some('…'.len_utf8() + BEFORE_MATCH));
        // At the start: nothing cut before it.
        let text = format!("needle{}", "é".repeat(500));
        let (shown, marks) = excerpt(&text, "NEEDLE");
        assert_eq!(marks.iter().map(|m| (m.start, m.end)).collect::<Vec<_>>(), [(0, 6)]);
        assert_eq!(shown.chars().count(), EXCERPT + 1);
    }
}
