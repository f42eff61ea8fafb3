//! The history store: the groups a user is in (server, id, local name, cap, order) and each
//! group's messages, in a SQLite database in the platform's data directory. Every change is
//! written as it happens, so a crash loses nothing; a closed window rejoins its groups at the
//! next start and shows their history.
//! Every message's text is also in a search index the store's own triggers keep
//! (`store/search.rs`).
//!
//! When the store cannot be used (missing, locked by something else, corrupt, made by a newer
//! version), the window says why and runs without history; nothing here panics.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use udprelay_client::GroupId;
use udprelay_client::e2e::Secret;
use udprelay_client::files;

use crate::app::{Entry, EntryKind};
use crate::notify::Level;

mod search;
pub use search::{Found, TRIGRAM};

/// `path` with `suffix` after its file name (`history.sqlite3-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A group's row in the store (not to be taken for `e2e::GroupKey`, a private group's key).
pub type GroupRow = i64;

/// Messages kept per group unless told otherwise; the oldest go first.
pub const HISTORY_LIMIT: u64 = 100_000;

/// Messages read at a time: the newest on joining, then older ones as the user scrolls up.
pub const PAGE: usize = 200;

/// The schema this version writes; a store with a higher one is left alone.
const VERSION: i64 = 4;

/// How long a write waits for another window that is writing to the same store.
const BUSY_WAIT: Duration = Duration::from_millis(500);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS groups (
        key INTEGER PRIMARY KEY,
        server TEXT NOT NULL,
        group_id TEXT NOT NULL,
        name TEXT,
        cap INTEGER,
        position INTEGER NOT NULL,
        -- 1: rejoined at start; 0: left, its history kept
        member INTEGER NOT NULL,
        -- the seq of its newest message; messages count up from 1
        last_seq INTEGER NOT NULL DEFAULT 0,
        -- a private group's secret (base32), as in its invite
        secret TEXT,
        -- what was typed in its message box and not sent (since version 3)
        draft TEXT NOT NULL DEFAULT '',
        -- its notification level: 'all', 'mentions', 'muted'; NULL: by its size (since 3)
        notify TEXT,
        UNIQUE (server, group_id)
    );
    -- the window's settings, one a row (since version 3)
    CREATE TABLE IF NOT EXISTS settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS messages (
        group_key INTEGER NOT NULL REFERENCES groups (key) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        -- milliseconds since the Unix epoch
        at INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        text TEXT NOT NULL,
        -- who sent someone else's message, when it has a name (since version 3)
        sender TEXT,
        -- what is said after it: ' (new key)', ... (since version 3)
        mark TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (group_key, seq)
    ) WITHOUT ROWID;
";

/// A group the user was in when the window last ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedGroup {
    pub key: GroupRow,
    pub server: String,
    pub id: GroupId,
    pub name: Option<String>,
    pub cap: Option<u32>,
    /// A private group's secret, to join it again.
    pub secret: Option<Secret>,
    /// What was typed in its message box and not sent.
    pub draft: String,
    /// Its notification level (`None`: by its size).
    pub notify: Option<Level>,
}

/// The open store.
pub struct Store {
    db: Connection,
    limit: u64,
    path: PathBuf,
}

impl Store {
    /// Where the store lives: the platform's data directory (on Linux
    /// `~/.local/share/udprelay/history.sqlite3`).
    pub fn default_path() -> Option<PathBuf> {
        let dirs = directories::ProjectDirs::from("", "", "udprelay")?;
        Some(dirs.data_dir().join("history.sqlite3"))
    }

    /// Opens the store at `path` (made, with its directory, when missing), keeping at most
    /// `limit` messages per group. The error says in words why it cannot be used.
    pub fn open(path: &Path, limit: u64) -> Result<Store, String> {
        let shown = path.display();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make the folder {}: {e}", dir.display()))?;
            files::private_dir(dir)
                .map_err(|e| format!("cannot keep the folder {} private: {e}", dir.display()))?;
        }
        let db = Connection::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
        // The user's conversations are theirs alone: the store, and the log SQLite writes
        // beside it (made with the store's permissions, and tightened if an older version
        // left it readable).
        for file in [path.to_path_buf(), with_suffix(path, "-wal"), with_suffix(path, "-shm")] {
            if file.exists() {
                files::private_file(&file)
                    .map_err(|e| format!("cannot keep {} private: {e}", file.display()))?;
            }
        }
        db.busy_timeout(BUSY_WAIT).map_err(|e| describe(path, &e))?;
        let version: i64 = db
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| describe(path, &e))?;
        if version > VERSION {
            return Err(format!(
                "{shown}: it was written by a newer udprelay-gui (schema {version})"
            ));
        }
        let store = Store { db, limit: limit.max(1), path: path.to_path_buf() };
        store.prepare().map_err(|e| describe(path, &e))?;
        Ok(store)
    }

    /// Where the window keeps its signing identity for private groups: `identity.key` beside
    /// the store (the terminal client's default too, so both sign alike).
    pub fn identity_path(&self) -> PathBuf {
        self.path.with_file_name("identity.key")
    }

    /// Takes the lock, and makes the tables of a new store.
    fn prepare(&self) -> rusqlite::Result<()> {
        // One window at a time: a second one would rejoin the same groups and store every
        // message twice. The lock is taken by the first write below and held while open; a
        // second window finds the store locked and runs without history.
        self.db.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        // WAL: a write is one append to the log, and a crash of the window loses nothing
        // that was written (NORMAL only risks the last writes on a power cut).
        self.db.pragma_update(None, "journal_mode", "WAL")?;
        self.db.pragma_update(None, "synchronous", "NORMAL")?;
        self.db.pragma_update(None, "foreign_keys", true)?;
        // What is deleted or overwritten (a left group's secret, deleted messages) is zeroed in
        // the file, not left in free pages.
        self.db.pragma_update(None, "secure_delete", true)?;
        self.db.execute_batch(SCHEMA)?;
        // Version 1 had no secrets.
        let has_secret: bool = self.db.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('groups') WHERE name = 'secret'",
            [],
            |row| row.get(0),
        )?;
        if !has_secret {
            self.db.execute_batch("ALTER TABLE groups ADD COLUMN secret TEXT")?;
        }
        // Versions 1 and 2 had no drafts.
        let has_draft: bool = self.db.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('groups') WHERE name = 'draft'",
            [],
            |row| row.get(0),
        )?;
        if !has_draft {
            self.db.execute_batch(
                "ALTER TABLE groups ADD COLUMN draft TEXT NOT NULL DEFAULT '';
                 ALTER TABLE groups ADD COLUMN notify TEXT;",
            )?;
        }
        let has_sender: bool = self.db.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'sender'",
            [],
            |row| row.get(0),
        )?;
        if !has_sender {
            self.split_senders()?;
        }
        // Versions 1 to 3 had no search index.
        self.prepare_search()?;
        self.db.pragma_update(None, "user_version", VERSION)?;
        Ok(())
    }

    /// Versions 1 and 2 kept someone else's message as one line, `NAME: text` and its mark:
    /// once, on opening such a store, the name is split off into its own column (the mark
    /// stays in the text).
    fn split_senders(&self) -> rusqlite::Result<()> {
        let tx = self.db.unchecked_transaction()?;
        tx.execute_batch(
            "ALTER TABLE messages ADD COLUMN sender TEXT;
             ALTER TABLE messages ADD COLUMN mark TEXT NOT NULL DEFAULT '';",
        )?;
        let theirs = kind_code(EntryKind::Theirs);
        let mut split = Vec::new();
        {
            let mut query =
                tx.prepare("SELECT group_key, seq, text FROM messages WHERE kind = ?1")?;
            let rows = query.query_map([theirs], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                let (key, seq, line) = row?;
                if let Some((name, text)) = udprelay_client::message::sender(&line) {
                    split.push((key, seq, name.to_string(), text.to_string()));
                }
            }
        }
        let mut update = tx.prepare(
            "UPDATE messages SET sender = ?3, text = ?4 WHERE group_key = ?1 AND seq = ?2",
        )?;
        for (key, seq, name, text) in split {
            update.execute(params![key, seq, name, text])?;
        }
        drop(update);
        tx.commit()
    }

    /// The groups to rejoin at start, in the order they were joined.
    pub fn groups(&self) -> rusqlite::Result<Vec<SavedGroup>> {
        let mut query = self.db.prepare(
            "SELECT key, server, group_id, name, cap, secret, draft, notify FROM groups
             WHERE member = 1 ORDER BY position",
        )?;
        let rows = query.query_map([], |row| {
            let secret: Option<String> = row.get(5)?;
            Ok((
                (row.get(0)?, row.get(1)?, row.get::<_, String>(2)?),
                (row.get(3)?, row.get(4)?, secret, row.get(6)?),
                row.get::<_, Option<String>>(7)?,
            ))
        })?;
        let mut groups = Vec::new();
        for row in rows {
            let ((key, server, id), (name, cap, secret, draft), notify) = row?;
            // A row that is not a group id (edited by hand) is skipped, not fatal.
            if let Ok(id) = GroupId::parse_lenient(&id) {
                let secret = secret.as_deref().and_then(Secret::parse);
                let notify = notify.as_deref().and_then(Level::from_code);
                groups.push(SavedGroup { key, server, id, name, cap, secret, draft, notify });
            }
        }
        Ok(groups)
    }

    /// The user is in group `id` on `server`: its row (the same one as before if its
    /// history was kept on leaving), last in the order.
    pub fn join(&self, server: &str, id: GroupId, cap: Option<u32>) -> rusqlite::Result<GroupRow> {
        let position: i64 =
            self.db
                .query_row("SELECT COALESCE(MAX(position), 0) + 1 FROM groups", [], |r| r.get(0))?;
        self.db.query_row(
            "INSERT INTO groups (server, group_id, cap, position, member) VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT (server, group_id) DO UPDATE
                 SET member = 1, position = excluded.position, cap = COALESCE(excluded.cap, cap)
             RETURNING key",
            params![server, id.to_string(), cap, position],
            |row| row.get(0),
        )
    }

    /// A private group's secret, kept to join it again (the store is the user's alone).
    pub fn set_secret(&self, key: GroupRow, secret: Option<&Secret>) -> rusqlite::Result<()> {
        let secret = secret.map(Secret::to_string);
        self.db.execute("UPDATE groups SET secret = ?2 WHERE key = ?1", params![key, secret])?;
        Ok(())
    }

    /// The group's notification level (`None`: by its size).
    pub fn set_notify(&self, key: GroupRow, level: Option<Level>) -> rusqlite::Result<()> {
        let code = level.map(Level::code);
        self.db.execute("UPDATE groups SET notify = ?2 WHERE key = ?1", params![key, code])?;
        Ok(())
    }

    /// The window's settings, by key.
    pub fn settings(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let mut query = self.db.prepare("SELECT key, value FROM settings ORDER BY key")?;
        let rows = query.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
    }

    /// Keeps one setting.
    pub fn set_setting(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// What is typed in the group's message box and not sent (empty: nothing).
    pub fn set_draft(&self, key: GroupRow, draft: &str) -> rusqlite::Result<()> {
        self.db.execute("UPDATE groups SET draft = ?2 WHERE key = ?1", params![key, draft])?;
        Ok(())
    }

    /// The name the user gave the group (`None`: its id again).
    pub fn rename(&self, key: GroupRow, name: Option<&str>) -> rusqlite::Result<()> {
        self.db.execute("UPDATE groups SET name = ?2 WHERE key = ?1", params![key, name])?;
        Ok(())
    }

    /// The user left the group: not rejoined at start; its history kept for a later join, or
    /// deleted. A private group's secret is forgotten either way (joining again takes its
    /// invite), and the log is folded into the file at once, so that the secret is left
    /// neither in the write-ahead log nor, with `secure_delete`, in free pages.
    pub fn leave(&self, key: GroupRow, keep_history: bool) -> rusqlite::Result<()> {
        if keep_history {
            let forget = "UPDATE groups SET member = 0, secret = NULL WHERE key = ?1";
            self.db.execute(forget, [key])?;
        } else {
            // Messages go with the row (ON DELETE CASCADE).
            self.db.execute("DELETE FROM groups WHERE key = ?1", [key])?;
        }
        self.db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Adds a message to the group's history, dropping the oldest past the limit; returns
    /// its seq.
    pub fn append(&self, key: GroupRow, entry: &Entry) -> rusqlite::Result<i64> {
        let tx = self.db.unchecked_transaction()?;
        let seq: i64 = tx.query_row(
            "UPDATE groups SET last_seq = last_seq + 1 WHERE key = ?1 RETURNING last_seq",
            [key],
            |row| row.get(0),
        )?;
        tx.prepare_cached(
            "INSERT INTO messages (group_key, seq, at, kind, text, sender, mark)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            key,
            seq,
            entry.at,
            kind_code(entry.kind),
            entry.text,
            entry.sender,
            entry.mark
        ])?;
        // Seqs count up without gaps, so "past the limit" is a range of the primary key.
        let oldest_kept = seq - self.limit as i64;
        if oldest_kept > 0 {
            tx.prepare_cached("DELETE FROM messages WHERE group_key = ?1 AND seq <= ?2")?
                .execute(params![key, oldest_kept])?;
        }
        tx.commit()?;
        Ok(seq)
    }

    /// Appends `entry` to the group's history and notes its seq in it.
    pub fn save(&self, key: GroupRow, entry: &mut Entry) -> rusqlite::Result<()> {
        entry.seq = Some(self.append(key, entry)?);
        Ok(())
    }

    /// Up to `count` messages of the group older than `before` (the newest when `None`),
    /// oldest first.
    pub fn page(
        &self,
        key: GroupRow,
        before: Option<i64>,
        count: usize,
    ) -> rusqlite::Result<Vec<Entry>> {
        let mut query = self.db.prepare_cached(
            "SELECT seq, at, kind, text, sender, mark FROM messages
             WHERE group_key = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows =
            query.query_map(params![key, before.unwrap_or(i64::MAX), count as i64], row_entry)?;
        let mut page = Vec::with_capacity(count);
        for row in rows {
            page.push(row?);
        }
        page.reverse();
        Ok(page)
    }

    /// How many messages the group has in the store.
    pub fn count(&self, key: GroupRow) -> rusqlite::Result<u64> {
        let count: i64 = self.db.query_row(
            "SELECT COUNT(*) FROM messages WHERE group_key = ?1",
            [key],
            |row| row.get(0),
        )?;
        Ok(count as u64)
    }

    /// The row of group `id` on `server`, if it has one.
    pub fn find(&self, server: &str, id: GroupId) -> rusqlite::Result<Option<GroupRow>> {
        self.db
            .query_row(
                "SELECT key FROM groups WHERE server = ?1 AND group_id = ?2",
                params![server, id.to_string()],
                |row| row.get(0),
            )
            .optional()
    }
}

/// Why the store at `path` cannot be used, in words.
fn describe(path: &Path, error: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseCorrupt, DatabaseLocked, NotADatabase};
    let shown = path.display();
    match error.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => {
            format!("{shown} is locked by another program")
        }
        Some(NotADatabase | DatabaseCorrupt) => format!("{shown} is damaged (not a database)"),
        _ => format!("{shown}: {error}"),
    }
}

/// Why a write failed, in words (history is then off for the rest of the run).
pub fn describe_write(error: &rusqlite::Error) -> String {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => "the disk is full".to_string(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            "the store is locked by another program".to_string()
        }
        _ => error.to_string(),
    }
}

/// An entry from a row of `seq, at, kind, text, sender, mark`.
fn row_entry(r: &Row) -> rusqlite::Result<Entry> {
    let entry = Entry::at(r.get(1)?, kind_from(r.get(2)?), r.get(3)?);
    Ok(Entry { seq: Some(r.get(0)?), sender: r.get(4)?, mark: r.get(5)?, ..entry })
}

fn kind_code(kind: EntryKind) -> i64 {
    match kind {
        EntryKind::Mine => 0,
        EntryKind::Theirs => 1,
        EntryKind::Event => 2,
        EntryKind::Error => 3,
    }
}

fn kind_from(code: i64) -> EntryKind {
    match code {
        0 => EntryKind::Mine,
        1 => EntryKind::Theirs,
        3 => EntryKind::Error,
        _ => EntryKind::Event,
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
