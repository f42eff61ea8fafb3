//! What the user has not seen yet: a count per group (and apart, of the messages that name the
//! user), a "New messages" line where a group's
//! unseen messages begin, the total in the window title, and a request for the user's
//! attention (once) when a message comes while the window is in the background.

use std::time::{Duration, Instant};

use crate::app::App;
use crate::net::LinkId;
use crate::notify::{Notification, Offer};

/// The shortest time between two changes of the window's title while unread messages come.
pub const TITLE_EVERY: Duration = Duration::from_secs(1);

/// What to do with the window's title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Title {
    Keep,
    Set(String),
    /// Changed, but shown at this time (not to draw a frame for each message).
    At(Instant),
}

impl App {
    /// A message arrived in group `link`, at position `at` of its log; `mention`: it names
    /// the user (counted apart, for the `@` badge).
    pub(crate) fn arrived(&mut self, link: LinkId, at: usize, mention: bool) {
        let seen = self.focused && self.selected == Some(link);
        if let Some(group) = self.groups.iter_mut().find(|g| g.link == link)
            && !seen
        {
            group.unread += 1;
            group.mentions += usize::from(mention);
            group.log.unread_from.get_or_insert(at);
            if let Some(entry) = group.log.get(at) {
                self.notifications.offer(Offer {
                    link,
                    group: &group.title(),
                    sender: entry.sender.as_deref(),
                    text: &entry.text,
                    mention,
                    level: group.notify,
                    members: group.members,
                    private: group.private,
                });
            }
        }
        if !self.focused && !self.attention_asked {
            self.attention = true;
            self.attention_asked = true;
        }
    }

    /// The window gained or lost the keyboard focus (the view tells, every frame).
    pub fn set_focused(&mut self, focused: bool) {
        self.focused = focused;
        if !focused {
            return;
        }
        self.attention_asked = false;
        if let Some(link) = self.selected
            && let Some(group) = self.groups.iter_mut().find(|g| g.link == link)
        {
            group.unread = 0; // seen now; the line stays until the user moves on
            group.mentions = 0;
            self.notifications.forget(link);
        }
    }

    /// The selection moves to `link`: the group left behind has been read, the new one is
    /// being read (its "New messages" line shows where to start).
    pub(crate) fn read_on_select(&mut self, link: LinkId) {
        let left = self.selected.filter(|&previous| previous != link);
        for group in &mut self.groups {
            if Some(group.link) == left {
                group.log.unread_from = None;
            }
            if group.link == link {
                group.unread = 0;
                group.mentions = 0;
            }
        }
        self.notifications.forget(link);
    }

    /// The user wrote in group `link`: everything before has been read.
    pub(crate) fn read_on_send(&mut self, link: LinkId) {
        if let Some(group) = self.groups.iter_mut().find(|g| g.link == link) {
            group.log.unread_from = None;
        }
    }

    /// The window's title: the unread count across every group, when there is any.
    pub fn title(&self) -> String {
        match self.groups.iter().map(|g| g.unread).sum::<usize>() {
            0 => "udprelay".to_string(),
            unread => format!("udprelay ({unread})"),
        }
    }

    /// What the window's title should do at `now`. A count that keeps changing is shown at most
    /// every [`TITLE_EVERY`] (each change of title costs a frame); going to or from no unread
    /// messages shows at once.
    pub fn title_change(&mut self, now: Instant) -> Title {
        self.title_change_to(self.title(), now)
    }

    fn title_change_to(&mut self, title: String, now: Instant) -> Title {
        let Some(shown) = &self.shown_title else { return self.set_title(title, now) };
        if *shown == title {
            return Title::Keep;
        }
        let either_read = [shown.as_str(), title.as_str()].contains(&"udprelay");
        match self.title_since.map(|since| since + TITLE_EVERY) {
            Some(due) if due > now && !either_read => Title::At(due),
            _ => self.set_title(title, now),
        }
    }

    fn set_title(&mut self, title: String, now: Instant) -> Title {
        self.shown_title = Some(title.clone());
        self.title_since = Some(now);
        Title::Set(title)
    }

    /// The desktop notifications to show at `now`, and when to look again for those that
    /// wait their turn (`crate::notify`).
    pub fn due_notifications(&mut self, now: Instant) -> (Vec<Notification>, Option<Instant>) {
        self.notifications.due(now)
    }

    /// A notification of group `link` was clicked: it is shown.
    pub fn notification_clicked(&mut self, link: LinkId) {
        self.select(link);
    }

    /// Whether to ask for the user's attention (once per request).
    pub fn take_attention(&mut self) -> bool {
        std::mem::take(&mut self.attention)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changing_count_reaches_the_title_at_most_once_a_second_and_reading_at_once() {
        let mut app = App::new("127.0.0.1:5000", "");
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let set = |title: &str| Title::Set(title.to_string());
        assert_eq!(app.title_change_to("udprelay".into(), at(0)), set("udprelay"), "the first");
        assert_eq!(app.title_change_to("udprelay".into(), at(1)), Title::Keep);
        // From nothing unread to some: at once.
        assert_eq!(app.title_change_to("udprelay (1)".into(), at(10)), set("udprelay (1)"));
        // Between two counts: not before a second has passed since the last change.
        let due = Title::At(at(10) + TITLE_EVERY);
        assert_eq!(app.title_change_to("udprelay (2)".into(), at(300)), due);
        assert_eq!(app.title_change_to("udprelay (9)".into(), at(900)), due);
        assert_eq!(app.title_change_to("udprelay (9)".into(), at(1010)), set("udprelay (9)"));
        // Read: at once, however recent the last change.
        assert_eq!(app.title_change_to("udprelay".into(), at(1020)), set("udprelay"));
    }
}
