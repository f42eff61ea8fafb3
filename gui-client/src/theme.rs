//! The window's design tokens: every colour the view picks itself, and the text sizes, in one
//! place (as rerun's `re_ui` keeps its own). Mid-tones that read on the light and the dark
//! theme alike.

use egui::Color32;
use udprelay_client::text::name_hash;

/// A server that answers.
pub const GOOD: Color32 = Color32::from_rgb(60, 180, 75);
/// A server late with its answers.
pub const LATE: Color32 = Color32::from_rgb(230, 160, 30);
/// Gone, failed, not answering; the unread count and the "New messages" line.
pub const LOST: Color32 = Color32::from_rgb(220, 60, 50);
/// A message that names the user: its band in the log and the `@` badge.
pub const MENTION: Color32 = Color32::from_rgb(200, 140, 20);
/// The words a search asked for, in its results; the band of the message a result showed.
pub const FOUND: Color32 = Color32::from_rgb(250, 210, 60);
/// How strongly the found message's band shows behind its row (of 255).
pub const FOUND_BAND_ALPHA: u8 = 90;
/// How strongly a mention's band shows behind its row (of 255).
pub const MENTION_BAND_ALPHA: u8 = 48;

/// Text sizes offered, in percent of egui's (its zoom; `crate::settings` keeps the choice).
pub const TEXT_SIZES: std::ops::RangeInclusive<u16> = 50..=300;
/// The text size to begin with.
pub const TEXT_SIZE_DEFAULT: u16 = 100;

/// Senders' colours.
const SENDER_COLOURS: [Color32; 10] = [
    Color32::from_rgb(214, 93, 14),
    Color32::from_rgb(69, 133, 136),
    Color32::from_rgb(177, 98, 134),
    Color32::from_rgb(104, 157, 106),
    Color32::from_rgb(200, 140, 20),
    Color32::from_rgb(69, 133, 200),
    Color32::from_rgb(204, 36, 29),
    Color32::from_rgb(140, 140, 26),
    Color32::from_rgb(60, 160, 150),
    Color32::from_rgb(211, 110, 155),
];

/// A sender's colour: the same for a name everywhere (the terminal client hashes alike).
pub fn sender_colour(name: &str) -> Color32 {
    SENDER_COLOURS[name_hash(name) as usize % SENDER_COLOURS.len()]
}
