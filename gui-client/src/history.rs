//! Groups and their history across runs: the window rejoins the groups of its last run and
//! shows their newest messages; every message is written to the store as it is logged; older
//! pages come back as the user scrolls up. Without a store (or after a write fails), the
//! window says so once and carries on without history.

use udprelay_client::mention::Mentions;

use crate::app::{App, Entry, EntryKind, Place};
use crate::net::{LinkId, Order};
use crate::store::{PAGE, Store, describe_write};

impl App {
    /// A window that keeps its groups and history in `store` (or says why it cannot): the
    /// groups of the last run are rejoined, each showing its newest messages.
    pub fn with_history(
        server: impl Into<String>,
        name: impl Into<String>,
        store: Result<Store, String>,
    ) -> App {
        let mut app = App::new(server, name);
        match store {
            Ok(store) => {
                app.identity = Some(store.identity_path());
                app.store = Some(store);
                app.load_settings();
                app.restore();
            }
            Err(why) => app.history_off = Some(format!("History is not kept this time: {why}.")),
        }
        app
    }

    fn restore(&mut self) {
        let Some(saved) = self.with_store(Store::groups) else { return };
        let mut drafts = Vec::new();
        for saved in saved {
            let order = Order::Join { group: saved.id, secret: saved.secret.clone() };
            let Some(link) = self.open_link(Place::Join, saved.server, Some(saved.id), order)
            else {
                continue;
            };
            let page =
                self.with_store(|store| store.page(saved.key, None, PAGE)).unwrap_or_default();
            let page = marked(&self.mentions(), page);
            if let Some(group) = self.group_mut(link) {
                group.key = Some(saved.key);
                group.name = saved.name;
                group.cap = saved.cap;
                group.restored = true;
                group.kept_draft = saved.draft.clone();
                group.notify = saved.notify;
                drafts.push((link, saved.draft));
                group.log.older = page.len() == PAGE;
                group.log.prepend(page);
            }
        }
        // Each row was selected as it was opened (and the box's text moved on each time): the
        // drafts go in now, the shown group's into the box.
        for (link, draft) in drafts {
            if self.selected == Some(link) {
                self.draft = draft;
            } else if let Some(group) = self.group_mut(link) {
                group.draft = draft;
            }
        }
        if let Some(first) = self.groups.first().map(|g| g.link) {
            self.select(first);
        }
    }

    /// Writes each group's draft to the store where it changed since it was last written (the
    /// window calls this when it saves its settings: every 30 s and on closing).
    pub fn keep_drafts(&mut self) {
        let selected = self.selected;
        let mut changed = Vec::new();
        for group in &mut self.groups {
            let draft = if Some(group.link) == selected { &self.draft } else { &group.draft };
            if let Some(key) = group.key
                && *draft != group.kept_draft
            {
                group.kept_draft = draft.clone();
                changed.push((key, draft.clone()));
            }
        }
        for (key, draft) in changed {
            self.with_store(|store| store.set_draft(key, &draft));
        }
    }

    /// Group `link` is joined: it gets its row in the store (the old one, with its history,
    /// if the user left it keeping the history), and what it logged so far is written.
    pub(crate) fn remember(&mut self, link: LinkId) {
        let Some(group) = self.group_mut(link) else { return };
        let (Some(id), None) = (group.id, group.key) else { return };
        let (server, cap) = (group.server.clone(), group.cap);
        let secret = group.handle.invite().and_then(|invite| invite.secret);
        let Some(key) = self.with_store(|store| store.join(&server, id, cap)) else { return };
        self.with_store(|store| store.set_secret(key, secret.as_ref()));
        let page = self.with_store(|store| store.page(key, None, PAGE)).unwrap_or_default();
        let page = marked(&self.mentions(), page);
        let (Some(store), Some(group)) =
            (&self.store, self.groups.iter_mut().find(|g| g.link == link))
        else {
            return;
        };
        group.key = Some(key);
        group.log.older = page.len() == PAGE;
        group.log.prepend(page);
        // Stops at the first failure (history is then off).
        let failed =
            group.log.unsaved_mut().map(|entry| store.save(key, entry)).find_map(Result::err);
        if let Some(error) = failed {
            self.history_failed(&error);
        }
    }

    /// Logs a line in group `link` and writes it to the store; returns its place in the log.
    pub(crate) fn record(&mut self, link: LinkId, kind: EntryKind, text: String) -> Option<usize> {
        self.record_entry(link, Entry::now(kind, text))
    }

    /// [`App::record`] for an entry already made (a message, with its parts).
    pub(crate) fn record_entry(&mut self, link: LinkId, mut entry: Entry) -> Option<usize> {
        let group = self.groups.iter_mut().find(|g| g.link == link)?;
        let failed = match (&self.store, group.key) {
            (Some(store), Some(key)) => store.save(key, &mut entry).err(),
            _ => None,
        };
        let at = group.log.push(entry);
        if let Some(error) = failed {
            self.history_failed(&error);
        }
        Some(at)
    }

    /// Puts the page before the oldest line shown in group `link` in front of its log, if the
    /// store has one; returns how many lines came.
    pub fn load_older(&mut self, link: LinkId) -> usize {
        let mentions = self.mentions();
        let (Some(store), Some(group)) =
            (&self.store, self.groups.iter_mut().find(|g| g.link == link))
        else {
            return 0;
        };
        let (Some(key), true) = (group.key, group.log.older) else { return 0 };
        match store.page(key, group.log.first_seq(), PAGE) {
            Ok(page) => {
                let page = marked(&mentions, page);
                let count = page.len();
                group.log.older = count == PAGE;
                group.log.prepend(page);
                count
            }
            Err(error) => {
                self.history_failed(&error);
                0
            }
        }
    }

    /// Where the message stored as `seq` is in group `link`'s log, once the history older
    /// than what is held has been loaded down to it (`None`: not in the history).
    pub(crate) fn load_until(&mut self, link: LinkId, seq: i64) -> Option<usize> {
        let group = self.groups.iter().find(|g| g.link == link)?;
        if let Some(row) = group.log.row_of(seq) {
            return Some(row);
        }
        let (key, first) = (group.key?, group.log.first_seq());
        // What lies between, and half a page above it to read it in.
        let count = first.map_or(PAGE as i64, |first| first - seq) + PAGE as i64 / 2;
        if count <= 0 {
            return None;
        }
        let page = self.with_store(|store| store.page(key, first, count as usize))?;
        let page = marked(&self.mentions(), page);
        let group = self.group_mut(link)?;
        group.log.older = page.len() == count as usize;
        group.log.prepend(page);
        group.log.row_of(seq)
    }

    /// Runs a store operation; a failure turns history off for the rest of the run, and the
    /// window says why.
    pub(crate) fn with_store<T>(
        &mut self,
        operation: impl FnOnce(&Store) -> rusqlite::Result<T>,
    ) -> Option<T> {
        let result = operation(self.store.as_ref()?);
        result.map_err(|error| self.history_failed(&error)).ok()
    }

    fn history_failed(&mut self, error: &rusqlite::Error) {
        self.store = None;
        let why = describe_write(error);
        self.history_off = Some(format!("Stopped keeping history: {why}."));
    }

    /// Whether groups and messages are being kept.
    pub fn keeps_history(&self) -> bool {
        self.store.is_some()
    }
}

/// A page from the store, with the messages that name the user marked (by today's name).
fn marked(mentions: &Mentions, mut page: Vec<Entry>) -> Vec<Entry> {
    for entry in page.iter_mut().filter(|entry| entry.kind == EntryKind::Theirs) {
        entry.mention = mentions.matches(&entry.text);
    }
    page
}
