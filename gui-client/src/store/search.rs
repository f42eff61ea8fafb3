//! Search over the stored history: an FTS5 index of the messages' text (the user's and
//! others', not events or errors) with the trigram tokenizer, so that any part of a word
//! matches (`elea` finds `release`), in any case. The text indexed is the text kept, which is
//! the text shown (invisible and control characters escaped), so what the user sees is what
//! is found.
//!
//! The index holds no text of its own (`content=''`): a message is found by its rowid,
//! `group_key × 2⁴⁰ + seq`, and read back from `messages`. The store's own triggers keep it:
//! a message written is indexed in the same transaction, and one deleted (past the history
//! limit, or with its group's history) leaves it. A store made before the index (schema 3)
//! is indexed after opening, a batch at a time ([`Store::index_some`]), from the list of
//! what is left (`search_pending`): the window does a batch between frames and shows how far
//! it has got.
//!
//! A query without a word of three characters has no trigram to look up: it is a plain `LIKE`
//! scan of each group's messages (newest first, stopping at the results wanted), which is
//! also what the benchmark compares the index with (`gui-client/benches/search.rs`).

use rusqlite::{OptionalExtension, params};
use udprelay_client::mention::find_part;

use super::{GroupRow, Store, kind_code, row_entry};
use crate::app::{Entry, EntryKind};

/// A message's rowid in the index: its group's key times this, plus its seq.
const PER_GROUP: i64 = 1 << 40;

/// What a query of this many characters or more is looked up in the index with.
pub const TRIGRAM: usize = 3;

pub(super) const SCHEMA: &str = "
    CREATE VIRTUAL TABLE message_search USING fts5 (
        text, content = '', contentless_delete = 1, tokenize = 'trigram'
    );
    CREATE TRIGGER message_indexed AFTER INSERT ON messages WHEN NEW.kind IN (0, 1) BEGIN
        INSERT INTO message_search (rowid, text)
            VALUES (NEW.group_key * 1099511627776 + NEW.seq, NEW.text);
    END;
    CREATE TRIGGER message_unindexed AFTER DELETE ON messages WHEN OLD.kind IN (0, 1) BEGIN
        DELETE FROM message_search WHERE rowid = OLD.group_key * 1099511627776 + OLD.seq;
    END;
    -- what a store made before the index still has to index: each group's seqs after `done`
    -- up to `upto` (what it held when the index was made)
    CREATE TABLE search_pending (
        group_key INTEGER PRIMARY KEY REFERENCES groups (key) ON DELETE CASCADE,
        done INTEGER NOT NULL,
        upto INTEGER NOT NULL
    );
    INSERT INTO search_pending (group_key, done, upto)
        SELECT key, (SELECT COALESCE(MIN(seq), 1) - 1 FROM messages WHERE group_key = key),
               last_seq
        FROM groups WHERE last_seq > 0;
";

/// A message found, with its group's row in the store (its `entry.seq` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub key: GroupRow,
    pub entry: Entry,
}

impl Store {
    /// Makes the index if the store has none yet (a new store, or one made by schema 3): the
    /// triggers from now on, and the list of what is already there to index.
    pub(super) fn prepare_search(&self) -> rusqlite::Result<()> {
        let exists: bool = self.db.query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'message_search'",
            [],
            |row| row.get(0),
        )?;
        if !exists {
            let tx = self.db.unchecked_transaction()?;
            tx.execute_batch(SCHEMA)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Messages not indexed yet (of a store made before the index).
    pub fn unindexed(&self) -> rusqlite::Result<u64> {
        let left: i64 = self.db.query_row(
            "SELECT COALESCE(SUM(upto - done), 0) FROM search_pending",
            [],
            |row| row.get(0),
        )?;
        Ok(left as u64)
    }

    /// Indexes up to `most` of the messages not indexed yet; returns how many are left.
    pub fn index_some(&self, most: u64) -> rusqlite::Result<u64> {
        let next = self
            .db
            .query_row("SELECT group_key, done, upto FROM search_pending LIMIT 1", [], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .optional()?;
        let Some((key, done, upto)) = next else { return Ok(0) };
        let until = upto.min(done.saturating_add(most.max(1) as i64));
        let tx = self.db.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO message_search (rowid, text)
             SELECT ?1 * 1099511627776 + seq, text FROM messages
             WHERE group_key = ?1 AND seq > ?2 AND seq <= ?3 AND kind IN (?4, ?5)",
            params![key, done, until, kind_code(EntryKind::Mine), kind_code(EntryKind::Theirs)],
        )?;
        if until >= upto {
            tx.execute("DELETE FROM search_pending WHERE group_key = ?1", [key])?;
        } else {
            tx.execute("UPDATE search_pending SET done = ?2 WHERE group_key = ?1", [key, until])?;
        }
        tx.commit()?;
        self.unindexed()
    }

    /// Merges the index's segments, up to about `pages` pages of work; returns whether there is
    /// more to do. Indexing an existing store a batch at a time leaves many segments, and
    /// each is read by every search: merged into one, searches take about half as long
    /// (docs/performance.md); done a step a frame, as `optimize` would do it in one go.
    pub fn tidy_index(&self, pages: u32) -> rusqlite::Result<bool> {
        let before = self.db.total_changes();
        // A negative count: every segment, as `optimize` does, continued where it stopped.
        self.db.execute(
            "INSERT INTO message_search (message_search, rank) VALUES ('merge', ?1)",
            [-i64::from(pages.max(1))],
        )?;
        // SQLite's own test of whether a merge did any work.
        Ok(self.db.total_changes() - before >= 2)
    }

    /// The newest `most` messages of the groups `keys` whose text holds `query` (any case),
    /// newest first: looked up in the index, or scanned when no word of it has [`TRIGRAM`]
    /// characters.
    ///
    /// Each word of three characters or more is looked up as a phrase, and a message must hold
    /// them all (`"esl" AND "lay"`); with several words, the messages are then checked for the
    /// query as typed, spaces and all. A phrase of the whole query would look up the trigrams
    /// across its spaces too (`e l`, ` la`), which nearly every message has.
    pub fn search(
        &self,
        keys: &[GroupRow],
        query: &str,
        most: usize,
    ) -> rusqlite::Result<Vec<Found>> {
        let words: Vec<&str> =
            query.split_whitespace().filter(|word| word.chars().count() >= TRIGRAM).collect();
        if words.is_empty() {
            return self.scan(keys, query, most);
        }
        // Each word as typed, quotes doubled: FTS5's syntax is text to find, not a language.
        let phrases: Vec<String> =
            words.iter().map(|word| format!("\"{}\"", word.replace('"', "\"\""))).collect();
        let expression = phrases.join(" AND ");
        let whole_word = words.len() == 1 && words[0] == query;
        let mut statement = self.db.prepare_cached(
            "SELECT m.seq, m.at, m.kind, m.text, m.sender, m.mark
             FROM message_search AS s
             JOIN messages AS m ON m.group_key = ?1 AND m.seq = s.rowid - ?1 * 1099511627776
             WHERE message_search MATCH ?2
                 AND s.rowid BETWEEN ?1 * 1099511627776 AND ?1 * 1099511627776 + ?3
             ORDER BY s.rowid DESC",
        )?;
        let mut found = Vec::new();
        for &key in keys {
            // Read newest first, only as far as needed.
            let rows = statement.query_map(params![key, expression, PER_GROUP - 1], row_entry)?;
            let mut kept = 0;
            for entry in rows {
                let entry = entry?;
                if whole_word || !find_part(&entry.text, query).is_empty() {
                    found.push(Found { key, entry });
                    kept += 1;
                    if kept == most {
                        break;
                    }
                }
            }
        }
        Ok(newest(found, most))
    }

    /// [`Store::search`] without the index: a `LIKE` over each group's messages, newest
    /// first, stopping at `most` (case folded for ASCII letters only, as SQLite's `LIKE`).
    pub fn scan(
        &self,
        keys: &[GroupRow],
        query: &str,
        most: usize,
    ) -> rusqlite::Result<Vec<Found>> {
        let pattern = format!("%{}%", escape_like(query));
        let mut statement = self.db.prepare_cached(
            "SELECT seq, at, kind, text, sender, mark FROM messages
             WHERE group_key = ?1 AND kind IN (?2, ?3) AND text LIKE ?4 ESCAPE '\\'
             ORDER BY seq DESC LIMIT ?5",
        )?;
        let (mine, theirs) = (kind_code(EntryKind::Mine), kind_code(EntryKind::Theirs));
        let mut found = Vec::new();
        for &key in keys {
            let rows =
                statement.query_map(params![key, mine, theirs, pattern, most as i64], row_entry)?;
            for entry in rows {
                found.push(Found { key, entry: entry? });
            }
        }
        Ok(newest(found, most))
    }
}

/// `text` with `LIKE`'s wildcards (`%`, `_`) and its escape (`\`) escaped.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The newest `most` of what each group gave, newest first.
fn newest(mut found: Vec<Found>, most: usize) -> Vec<Found> {
    found.sort_by_key(|f| std::cmp::Reverse((f.entry.at, f.entry.seq)));
    found.truncate(most);
    found
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
