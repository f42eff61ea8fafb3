//! The window's settings in one place: notifications on or off, a private group's text left
//! out of them, the size above which a group notifies only for mentions, and the words besides
//! the user's name that make a mention. They are kept in the history store with the groups
//! (table `settings`), each group's notification level in its row; without a store they last
//! the run.

use crate::app::App;
use crate::net::LinkId;
use crate::notify::Level;

const NOTIFICATIONS: &str = "notifications";
const HIDE_PRIVATE_TEXT: &str = "hide_private_text";
const MENTIONS_ONLY_ABOVE: &str = "mentions_only_above";
const KEYWORDS: &str = "keywords";

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

impl App {
    /// Takes the settings kept in the store (those it lacks, or cannot read, keep their
    /// defaults).
    pub(crate) fn load_settings(&mut self) {
        let Some(kept) = self.with_store(|store| store.settings()) else { return };
        let settings = &mut self.notifications.settings;
        for (key, value) in kept {
            match key.as_str() {
                NOTIFICATIONS => settings.on = value != "off",
                HIDE_PRIVATE_TEXT => settings.hide_private_text = value != "off",
                MENTIONS_ONLY_ABOVE => {
                    if let Ok(size) = value.parse() {
                        settings.mentions_only_above = size;
                    }
                }
                KEYWORDS => self.keywords = keywords_in(&value),
                _ => {}
            }
        }
    }

    /// Keeps the settings as they are now (the settings panel calls this on each change).
    pub fn save_settings(&mut self) {
        let settings = self.notifications.settings.clone();
        let keywords = self.keywords.join("\n");
        self.with_store(|store| {
            store.set_setting(NOTIFICATIONS, on_off(settings.on))?;
            store.set_setting(HIDE_PRIVATE_TEXT, on_off(settings.hide_private_text))?;
            store.set_setting(MENTIONS_ONLY_ABOVE, &settings.mentions_only_above.to_string())?;
            store.set_setting(KEYWORDS, &keywords)
        });
    }

    /// Opens the settings panel, its fields showing what is kept.
    pub fn open_settings(&mut self) {
        self.keywords_text = self.keywords.join(", ");
        self.settings_open = true;
    }

    /// Sets the words besides the name that make a mention, from what the user typed (split at
    /// commas and new lines, blanks dropped), and keeps them.
    pub fn set_keywords(&mut self, typed: &str) {
        self.keywords = keywords_in(typed);
        self.save_settings();
    }

    /// Gives group `link` its own notification level (`None`: by its size), and keeps it.
    pub fn set_notify(&mut self, link: LinkId, level: Option<Level>) {
        let Some(group) = self.group_mut(link) else { return };
        group.notify = level;
        if let Some(key) = group.key {
            self.with_store(|store| store.set_notify(key, level));
        }
    }
}

/// Keywords from text: split at commas and new lines, trimmed, blanks dropped.
fn keywords_in(text: &str) -> Vec<String> {
    let words = text.split([',', '\n']).map(str::trim).filter(|word| !word.is_empty());
    words.map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_split_at_commas_and_lines() {
        assert_eq!(
            keywords_in(" release, deploy \n\n on-call ,"),
            ["release", "deploy", "on-call"]
        );
        assert!(keywords_in(" , \n").is_empty());
    }
}
