//! What the user has not seen yet: a count per group, a "New messages" line where a group's
//! unseen messages begin, the total in the window title, and a request for the user's
//! attention when a message comes while the window is in the background.

use crate::app::App;
use crate::net::LinkId;

impl App {
    /// A message arrived in group `link`, at position `at` of its log.
    pub(crate) fn arrived(&mut self, link: LinkId, at: usize) {
        let seen = self.focused && self.selected == Some(link);
        if let Some(group) = self.groups.iter_mut().find(|g| g.link == link)
            && !seen
        {
            group.unread += 1;
            group.log.unread_from.get_or_insert(at);
        }
        if !self.focused {
            self.attention = true;
        }
    }

    /// The window gained or lost the keyboard focus (the view tells, every frame).
    pub fn set_focused(&mut self, focused: bool) {
        self.focused = focused;
        if focused
            && let Some(link) = self.selected
            && let Some(group) = self.groups.iter_mut().find(|g| g.link == link)
        {
            group.unread = 0; // seen now; the line stays until the user moves on
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
            }
        }
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

    /// Whether to ask for the user's attention (once per request).
    pub fn take_attention(&mut self) -> bool {
        std::mem::take(&mut self.attention)
    }
}
