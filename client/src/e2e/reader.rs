//! One private group as a member sees it, without I/O and with the time given: what goes out
//! is sealed with the member's identity and counter; what comes in is opened, checked against
//! each signer's replay window and the names already seen, and turned into something to show
//! ([`Reading`]) or to say later ([`Notice`]: messages that could not be decrypted, messages
//! that did not arrive), at most once per [`NOTICE_EVERY`]. What it remembers of the signers
//! is given out and taken back as [`Pins`], to be kept across runs.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::pins::{MAX_PINS, MAX_SIGNERS};
use super::{
    Arrival, GroupKey, Identity, OpenError, Pins, ReplayWindow, SealError, Sequence, open,
    public_fingerprint, seal,
};
use crate::message::Name;

/// The least time between two notices of one kind (per sender, for lost messages).
pub const NOTICE_EVERY: Duration = Duration::from_secs(10);

/// How long a gap may wait for its messages to come late before they count as lost.
pub const LATE_GRACE: Duration = Duration::from_secs(2);

/// What an incoming payload is, in a private group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A message to show.
    Message {
        /// The sender's name, if given.
        from: Option<String>,
        /// The text.
        text: String,
        /// The sender's key, as a fingerprint.
        signer: String,
        /// Why the name may not be who it seems, if it may not: say so beside it.
        doubt: Option<Doubt>,
    },
    /// Not an envelope: a payload someone sent in the clear (show it marked as such).
    Plain,
    /// Nothing to show: a duplicate, a replay, or from too long ago. Dropped silently.
    Dropped,
    /// It could not be decrypted (another key, tampered, damaged); counted for a [`Notice`].
    Undecryptable,
}

/// Why a signed message's name may not be who it seems (the signature says only which key
/// sent it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doubt {
    /// The name came before with another key in this group.
    NewKey,
    /// The name looks like this other name, which another key uses in this group (their
    /// Unicode TR39 skeletons, case folded, are the same: Cyrillic "аna" beside Latin "ana").
    LooksLike(String),
    /// The name breaks the name rule (a `:`, a control character, over 32 characters):
    /// shown escaped, and never pinned.
    BadName,
}

/// Something to say about the group now and then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// This many payloads could not be decrypted since the last notice.
    Undecryptable {
        /// How many.
        count: u64,
    },
    /// This many messages from `from` did not arrive.
    Missed {
        /// The sender's name (or key fingerprint, without one).
        from: String,
        /// How many.
        count: u64,
    },
}

/// What is known of one signer.
#[derive(Debug)]
struct Signer {
    window: ReplayWindow,
    /// The name it last used (or its fingerprint), for notices.
    shown_as: String,
    last_seen: Instant,
    /// Counted missing, waiting [`LATE_GRACE`] for latecomers: how many, and since when.
    waiting: Option<(u64, Instant)>,
    /// Missing for good, not yet said.
    lost: u64,
    last_notice: Option<Instant>,
}

/// One private group, as one member reads and writes it.
#[derive(Debug)]
pub struct Reader {
    key: GroupKey,
    identity: Identity,
    sequence: Sequence,
    signers: HashMap<[u8; 32], Signer>,
    /// The key each name first came with (at most [`MAX_PINS`]).
    names: HashMap<String, [u8; 32]>,
    /// The pinned names, first pinned first: kept in this order, so that the first of two
    /// look-alikes stays the first after a restart.
    pinned: Vec<String>,
    /// The pinned names by their skeleton, to find look-alikes.
    skeletons: HashMap<String, Vec<String>>,
    /// Pins or counters changed since they were last kept ([`Reader::pins_kept`]).
    changed: bool,
    undecryptable: u64,
    last_undecryptable_notice: Option<Instant>,
}

impl Reader {
    /// A member of the group of `key`, signing as `identity`, its client started at
    /// `unix_seconds` (the start of its counters).
    pub fn new(key: GroupKey, identity: Identity, unix_seconds: u64) -> Reader {
        Reader {
            key,
            identity,
            sequence: Sequence::starting(unix_seconds),
            signers: HashMap::new(),
            names: HashMap::new(),
            pinned: Vec::new(),
            skeletons: HashMap::new(),
            changed: false,
            undecryptable: 0,
            last_undecryptable_notice: None,
        }
    }

    /// The group's key.
    pub fn key(&self) -> &GroupKey {
        &self.key
    }

    /// Takes back what was remembered of the group's signers (kept from an earlier run), at
    /// `now`: their names stay theirs, and nothing older than their newest counters is taken.
    pub fn remember(&mut self, pins: Pins, now: Instant) {
        for (name, key) in pins.names {
            if !self.names.contains_key(&name) {
                self.pin(name, key);
            }
        }
        for (key, newest) in pins.newest.into_iter().take(MAX_SIGNERS) {
            self.signer(key, now).window = ReplayWindow::after(newest);
        }
        self.changed = false;
    }

    /// Whether names were pinned or counters moved since they were last kept.
    pub fn pins_changed(&self) -> bool {
        self.changed
    }

    /// They were kept: [`Reader::pins_changed`] is false until they change again.
    pub fn pins_kept(&mut self) {
        self.changed = false;
    }

    /// What to keep of the group's signers, to [`Reader::remember`] in a later run.
    pub fn pins(&self) -> Pins {
        let names = self.pinned.iter().map(|name| (name.clone(), self.names[name])).collect();
        let newest = self.signers.iter();
        let newest = newest.filter_map(|(key, signer)| Some((*key, signer.window.newest()?)));
        Pins { names, newest: newest.collect() }
    }

    /// Seals `text` as this member's next message, sent as `name`, at `now_ms`. The name is
    /// pinned to this member's key, when no one has it yet.
    pub fn seal(
        &mut self,
        name: Option<&Name>,
        text: &str,
        now_ms: u64,
    ) -> Result<String, SealError> {
        let counter = self.sequence.next_counter();
        let sealed = seal(&self.key, &self.identity, name, text, counter, now_ms)?;
        if let Some(name) = name.filter(|name| !self.names.contains_key(name.as_str())) {
            self.pin(name.to_string(), self.identity.public_key());
        }
        Ok(sealed)
    }

    /// Reads one payload that arrived at `now` (`now_ms`: the same moment since 1970).
    pub fn read(&mut self, payload: &[u8], now: Instant, now_ms: u64) -> Reading {
        let opened = match open(&self.key, payload, now_ms) {
            Ok(opened) => opened,
            Err(OpenError::NotAnEnvelope) => return Reading::Plain,
            Err(OpenError::Stale) => return Reading::Dropped,
            // Counted with what does not decrypt: the notice says an older client may be why.
            Err(_) => {
                self.undecryptable += 1;
                return Reading::Undecryptable;
            }
        };
        // Our own, sent back by someone: never shown as another's. (The same identity in
        // another client, the window beside the terminal, has counters of another start.)
        if opened.signer == self.identity.public_key() && self.sequence.started(opened.counter) {
            return Reading::Dropped;
        }
        let fingerprint = public_fingerprint(&opened.signer);
        let shown_as = opened.name.clone().unwrap_or_else(|| fingerprint.clone());
        let signer = self.signer(opened.signer, now);
        signer.shown_as = shown_as;
        match signer.window.accept(opened.counter) {
            Arrival::Duplicate | Arrival::TooOld => return Reading::Dropped,
            Arrival::Late => {
                if let Some((waiting, _)) = &mut signer.waiting {
                    *waiting = waiting.saturating_sub(1);
                }
            }
            Arrival::New { missed } if missed > 0 => {
                let waiting = signer.waiting.map_or(0, |(count, _)| count);
                let since = signer.waiting.map_or(now, |(_, since)| since);
                signer.waiting = Some((waiting + missed, since));
            }
            Arrival::New { .. } => {}
        }
        self.changed = true;
        let doubt = opened.name.as_deref().and_then(|name| self.doubt(name, opened.signer));
        Reading::Message { from: opened.name, text: opened.text, signer: fingerprint, doubt }
    }

    /// What to doubt about `name` from `key`; a valid name no one has is pinned to `key`.
    fn doubt(&mut self, name: &str, key: [u8; 32]) -> Option<Doubt> {
        if Name::exactly(name).is_none() {
            return Some(Doubt::BadName);
        }
        match self.names.get(name) {
            Some(pinned) if *pinned != key => return Some(Doubt::NewKey),
            Some(_) => {}
            None => self.pin(name.to_string(), key),
        }
        // The first of the look-alikes pinned is the one the others look like.
        let first = self.skeletons.get(&skeleton(name))?.first()?;
        (first != name && self.names[first] != key).then(|| Doubt::LooksLike(first.clone()))
    }

    /// Pins `name` to `key`, while there is room.
    fn pin(&mut self, name: String, key: [u8; 32]) {
        if self.names.len() >= MAX_PINS {
            return;
        }
        self.skeletons.entry(skeleton(&name)).or_default().push(name.clone());
        self.pinned.push(name.clone());
        self.names.insert(name, key);
        self.changed = true;
    }

    /// What there is to say at `now`: each kind at most once per [`NOTICE_EVERY`].
    pub fn notices(&mut self, now: Instant) -> Vec<Notice> {
        let mut notices = Vec::new();
        let due = |last: Option<Instant>| last.is_none_or(|last| now >= last + NOTICE_EVERY);
        if self.undecryptable > 0 && due(self.last_undecryptable_notice) {
            notices.push(Notice::Undecryptable { count: self.undecryptable });
            self.undecryptable = 0;
            self.last_undecryptable_notice = Some(now);
        }
        for signer in self.signers.values_mut() {
            if let Some((count, since)) = signer.waiting
                && now >= since + LATE_GRACE
            {
                signer.lost += count;
                signer.waiting = None;
            }
            if signer.lost > 0 && due(signer.last_notice) {
                let (from, count) = (signer.shown_as.clone(), signer.lost);
                notices.push(Notice::Missed { from, count });
                signer.lost = 0;
                signer.last_notice = Some(now);
            }
        }
        notices
    }

    /// When [`Reader::notices`] next has something to say, from `now` on.
    pub fn next_notice(&self, now: Instant) -> Option<Instant> {
        let after = |last: Option<Instant>| last.map_or(now, |last| (last + NOTICE_EVERY).max(now));
        let undecryptable = (self.undecryptable > 0).then(|| after(self.last_undecryptable_notice));
        let signers = self.signers.values().filter_map(|signer| {
            let lost = (signer.lost > 0).then(|| after(signer.last_notice));
            let waiting = signer.waiting.map(|(_, since)| (since + LATE_GRACE).max(now));
            lost.into_iter().chain(waiting).min()
        });
        undecryptable.into_iter().chain(signers).min()
    }

    /// The signer `key`, remembered from now on (when there are too many, the one heard from
    /// longest ago that holds no pin goes: a member could make up keys without end, and must
    /// not push a named member's window out to replay her).
    fn signer(&mut self, key: [u8; 32], now: Instant) -> &mut Signer {
        if !self.signers.contains_key(&key) && self.signers.len() >= MAX_SIGNERS {
            let pinned: HashSet<&[u8; 32]> = self.names.values().collect();
            let unpinned = self.signers.iter().filter(|(key, _)| !pinned.contains(key));
            let oldest = unpinned.min_by_key(|(_, signer)| signer.last_seen).map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.signers.remove(&oldest);
            }
        }
        let signer = self.signers.entry(key).or_insert_with(|| Signer {
            window: ReplayWindow::new(),
            shown_as: String::new(),
            last_seen: now,
            waiting: None,
            lost: 0,
            last_notice: None,
        });
        signer.last_seen = now;
        signer
    }
}

/// What `name` looks like: its TR39 skeleton, case folded (so "Ana", "ana" and "аna" are one).
fn skeleton(name: &str) -> String {
    unicode_security::skeleton(&name.to_lowercase()).collect::<String>().to_lowercase()
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
