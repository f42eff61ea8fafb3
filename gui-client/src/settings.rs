//! The window's settings in one place: notifications on or off, a private group's text left
//! out of them, the size above which a group notifies only for mentions, the words besides
//! the user's name that make a mention, and the text size (kept inside `theme::TEXT_SIZES`;
//! egui's own zoom keys too, see [`App::follow_zoom`]). They are kept in the history store
//! with the groups (table `settings`), each group's notification level in its row; without a
//! store they last the run.

use crate::app::App;
use crate::net::LinkId;
use crate::notify::Level;
use crate::theme::TEXT_SIZES;

const NOTIFICATIONS: &str = "notifications";
const HIDE_PRIVATE_TEXT: &str = "hide_private_text";
const MENTIONS_ONLY_ABOVE: &str = "mentions_only_above";
const KEYWORDS: &str = "keywords";
const TEXT_SIZE: &str = "text_size";

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
                TEXT_SIZE => {
                    if let Ok(size) = value.parse::<u16>() {
                        self.text_size = size.clamp(*TEXT_SIZES.start(), *TEXT_SIZES.end());
                    }
                }
                _ => {}
            }
        }
    }

    /// Keeps the settings as they are now (the settings panel calls this on each change).
    pub fn save_settings(&mut self) {
        let settings = self.notifications.settings.clone();
        let keywords = self.keywords.join("\n");
        let text_size = self.text_size.to_string();
        self.with_store(|store| {
            store.set_setting(TEXT_SIZE, &text_size)?;
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

    /// Sets the text size (percent, kept inside [`TEXT_SIZES`]) and keeps it.
    pub fn set_text_size(&mut self, percent: u16) {
        self.text_size = percent.clamp(*TEXT_SIZES.start(), *TEXT_SIZES.end());
        self.save_settings();
    }

    /// Once a frame: gives egui the zoom the text size asks for, or, when egui's zoom moved
    /// since it was given (the user pressed Ctrl+Plus or Ctrl+Minus), takes that as the new
    /// size. Returns the zoom to give egui, if it is to change.
    pub fn follow_zoom(&mut self, zoom: f32) -> Option<f32> {
        if self.zoom_given.is_some_and(|given| (given - zoom).abs() > 0.001) {
            let percent = (zoom * 100.0).round().clamp(0.0, f32::from(u16::MAX)) as u16;
            self.set_text_size(percent);
        }
        let wanted = f32::from(self.text_size) / 100.0;
        self.zoom_given = Some(wanted);
        ((wanted - zoom).abs() > 0.001).then_some(wanted)
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
    fn the_text_size_follows_egui_s_zoom_keys_and_gives_egui_its_own() {
        let mut app = App::new("127.0.0.1:9", "ana");
        assert_eq!(app.follow_zoom(1.0), None, "100 %: nothing to change");
        app.set_text_size(150);
        assert_eq!(app.follow_zoom(1.0), Some(1.5), "the setting moved");
        assert_eq!(app.follow_zoom(1.5), None);
        // Ctrl+Plus: egui's zoom moved by itself.
        assert_eq!(app.follow_zoom(1.6), None);
        assert_eq!(app.text_size, 160);
        // Past the sizes offered, it is brought back inside them.
        assert_eq!(app.follow_zoom(4.0), Some(3.0));
        assert_eq!(app.text_size, 300);
        app.set_text_size(10);
        assert_eq!(app.text_size, 50);
    }

    #[test]
    fn keywords_are_split_at_commas_and_lines() {
        assert_eq!(
            keywords_in(" release, deploy \n\n on-call ,"),
            ["release", "deploy", "on-call"]
        );
        assert!(keywords_in(" , \n").is_empty());
    }
}
