//! When the window tells the desktop that a message came (the model's part: which messages, and
//! how often; `notifier` shows them). A message notifies when it is not seen as it comes (the
//! window is in the background, or another group is shown), by its group's level:
//!
//! - **All**: every message; **Mentions**: only those that name the user
//!   (`udprelay_client::mention`); **Muted**: none. A group without a level of its own has
//!   Mentions when it has more than [`NotifySettings::mentions_only_above`] members, else All.
//! - A group has one notification at a time: a burst replaces it (the desktop shows the newest,
//!   with how many came) rather than stacking one per message, and it is shown anew at most
//!   every [`NOTIFY_EVERY`]; what comes between waits, newest kept.
//! - In a private group the text can be left out (sender and group only).
//!
//! Own messages, history loaded from the store, joins and errors never notify: only
//! [`crate::app::App`]'s arrivals of others' messages are offered here.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::net::LinkId;

/// The shortest time between two showings of one group's notification.
pub const NOTIFY_EVERY: Duration = Duration::from_secs(3);

/// A notification's text is cut to this many characters (with `…`).
pub const SHORTEN_TO: usize = 120;

/// What a group's messages do while not seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    All,
    Mentions,
    Muted,
}

impl Level {
    /// As the store keeps it.
    pub fn code(self) -> &'static str {
        match self {
            Level::All => "all",
            Level::Mentions => "mentions",
            Level::Muted => "muted",
        }
    }

    pub fn from_code(code: &str) -> Option<Level> {
        [Level::All, Level::Mentions, Level::Muted].into_iter().find(|level| level.code() == code)
    }
}

/// The user's choices about notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// Notifications at all.
    pub on: bool,
    /// In private groups, the sender and the group only, not the text.
    pub hide_private_text: bool,
    /// Groups with more members than this default to [`Level::Mentions`].
    pub mentions_only_above: usize,
}

impl Default for NotifySettings {
    fn default() -> NotifySettings {
        NotifySettings { on: true, hide_private_text: true, mentions_only_above: 20 }
    }
}

/// One group's notification, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub link: LinkId,
    /// The group's name (or id), and how many messages came when more than one.
    pub summary: String,
    /// `sender: text`, shortened; the sender alone when the text is hidden.
    pub body: String,
}

/// A message offered for notifying.
#[derive(Debug, Clone)]
pub struct Offer<'a> {
    pub link: LinkId,
    pub group: &'a str,
    pub sender: Option<&'a str>,
    pub text: &'a str,
    pub mention: bool,
    /// The group's own level, if it has one.
    pub level: Option<Level>,
    pub members: Option<usize>,
    pub private: bool,
}

/// Waiting notifications, and when each group's was last shown.
#[derive(Debug, Default)]
pub struct Notifications {
    pub settings: NotifySettings,
    /// The newest message of each group not shown yet, and how many it stands for.
    waiting: BTreeMap<LinkId, (Notification, usize)>,
    shown: HashMap<LinkId, Instant>,
}

impl Notifications {
    /// The level a group has: its own, or the default for its size.
    pub fn level(&self, own: Option<Level>, members: Option<usize>) -> Level {
        own.unwrap_or(match members {
            Some(n) if n > self.settings.mentions_only_above => Level::Mentions,
            _ => Level::All,
        })
    }

    /// A message that was not seen as it came; kept to show if its group's level wants it.
    pub fn offer(&mut self, offer: Offer<'_>) {
        let wanted = match self.level(offer.level, offer.members) {
            Level::All => true,
            Level::Mentions => offer.mention,
            Level::Muted => false,
        };
        if !self.settings.on || !wanted {
            return;
        }
        let who = offer.sender.unwrap_or("someone");
        let body = if offer.private && self.settings.hide_private_text {
            who.to_string()
        } else {
            shortened(&format!("{who}: {}", offer.text))
        };
        let count = self.waiting.get(&offer.link).map_or(0, |(_, count)| *count) + 1;
        let summary = match count {
            1 => offer.group.to_string(),
            n => format!("{} ({n} new messages)", offer.group),
        };
        self.waiting.insert(offer.link, (Notification { link: offer.link, summary, body }, count));
    }

    /// The group was read (or left): what waits for it goes.
    pub fn forget(&mut self, link: LinkId) {
        self.waiting.remove(&link);
    }

    /// The notifications to show at `now`, and when the next that waits may be shown.
    pub fn due(&mut self, now: Instant) -> (Vec<Notification>, Option<Instant>) {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        let links: Vec<LinkId> = self.waiting.keys().copied().collect();
        for link in links {
            let at = self.shown.get(&link).map_or(now, |last| *last + NOTIFY_EVERY);
            if at <= now {
                if let Some((notification, _)) = self.waiting.remove(&link) {
                    due.push(notification);
                }
                self.shown.insert(link, now);
            } else {
                next = Some(next.map_or(at, |next| next.min(at)));
            }
        }
        (due, next)
    }
}

/// `text` cut to [`SHORTEN_TO`] characters, lines joined.
fn shortened(text: &str) -> String {
    let flat = text.split('\n').collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= SHORTEN_TO {
        return flat;
    }
    let mut cut: String = flat.chars().take(SHORTEN_TO - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(link: LinkId, text: &str) -> Offer<'_> {
        Offer {
            link,
            group: "Family",
            sender: Some("ben"),
            text,
            mention: false,
            level: None,
            members: Some(3),
            private: false,
        }
    }

    #[test]
    fn a_burst_in_one_group_is_one_notification_at_most_every_few_seconds() {
        let start = Instant::now();
        let mut notifications = Notifications::default();
        notifications.offer(offer(1, "one"));
        let (due, next) = notifications.due(start);
        assert_eq!(
            due,
            [Notification { link: 1, summary: "Family".into(), body: "ben: one".into() }]
        );
        assert_eq!(next, None);
        for text in ["two", "three", "four"] {
            notifications.offer(offer(1, text));
        }
        notifications.offer(offer(2, "elsewhere"));
        // Another group's goes at once; this one's waits its turn, newest kept.
        let (due, next) = notifications.due(start + Duration::from_secs(1));
        assert_eq!(due.iter().map(|n| n.link).collect::<Vec<_>>(), [2]);
        assert_eq!(next, Some(start + NOTIFY_EVERY));
        assert!(notifications.due(start + Duration::from_secs(2)).0.is_empty());
        let (due, _) = notifications.due(start + NOTIFY_EVERY);
        assert_eq!(due[0].summary, "Family (3 new messages)");
        assert_eq!(due[0].body, "ben: four");
    }

    #[test]
    fn levels_decide_and_big_groups_default_to_mentions() {
        let now = Instant::now();
        let mut notifications = Notifications::default();
        let muted = Offer { level: Some(Level::Muted), mention: true, ..offer(1, "hi ana") };
        notifications.offer(muted);
        let big = Offer { members: Some(21), ..offer(2, "chatter") };
        notifications.offer(big.clone());
        assert!(notifications.due(now).0.is_empty(), "muted, and a big group's chatter");
        notifications.offer(Offer { mention: true, ..big });
        notifications.offer(Offer { level: Some(Level::All), members: Some(500), ..offer(3, "x") });
        let links: Vec<LinkId> = notifications.due(now).0.iter().map(|n| n.link).collect();
        assert_eq!(links, [2, 3], "a mention in a big group; a big group set to All");
        notifications.settings.on = false;
        notifications.offer(offer(4, "off"));
        assert!(notifications.due(now).0.is_empty());
        assert_eq!(Level::from_code(Level::Mentions.code()), Some(Level::Mentions));
    }

    #[test]
    fn private_text_is_hidden_long_text_shortened_and_read_groups_forgotten() {
        let now = Instant::now();
        let mut notifications = Notifications::default();
        notifications.offer(Offer { private: true, ..offer(1, "the secret plan") });
        let long = "word ".repeat(100);
        notifications.offer(offer(2, &long));
        notifications.offer(offer(3, "read already"));
        notifications.forget(3);
        let due = notifications.due(now).0;
        assert_eq!(due[0].body, "ben", "sender and group only");
        assert_eq!(due[1].body.chars().count(), SHORTEN_TO);
        assert!(due[1].body.ends_with('…'));
        assert_eq!(due.len(), 2);
        notifications.settings.hide_private_text = false;
        notifications.offer(Offer { private: true, ..offer(4, "two\nlines") });
        assert_eq!(notifications.due(now).0[0].body, "ben: two lines");
    }
}
