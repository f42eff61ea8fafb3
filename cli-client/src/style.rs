//! How a line looks on a terminal: the text is exactly what [`crate::display`] made (scripts
//! and tests read it), and on a colour terminal some of it is coloured, a peer's message part
//! by part (its [`Line::Payload`] is never parsed back out of text). Pure: the time and the
//! choices come in as values.

use udprelay_client::mention::Mentions;
use udprelay_client::text::name_hash;

use crate::display::Line;

/// What decorations are on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Style {
    /// Colour (a terminal, and `NO_COLOR` not set): senders' names, dimmed prefixes, mentions.
    pub colour: bool,
    /// `--timestamps`: `HH:MM ` before each line that came from the network.
    pub timestamps: bool,
    /// The user's `--name` and `--mention` words: a message that names one is highlighted and
    /// rings the bell.
    pub mentions: Mentions,
}

const DIM: &str = "\x1b[2m";
const UNDIM: &str = "\x1b[22m";
const REVERSE: &str = "\x1b[7m";
const UNREVERSE: &str = "\x1b[27m";
const DEFAULT_COLOUR: &str = "\x1b[39m";
const BELL: &str = "\x07";

/// Foreground colours for senders' names (SGR codes): readable on dark and light backgrounds.
const NAME_COLOURS: [u8; 10] = [31, 32, 33, 34, 35, 36, 91, 92, 94, 95];

impl Style {
    /// `line` as it is printed. `time` is the local `HH:MM` for a line from the network, and
    /// `None` for the client's own lines (help, status, refusals).
    pub fn render(&self, line: &Line, time: Option<&str>) -> String {
        let mut shown = String::with_capacity(64);
        if let (true, Some(time)) = (self.timestamps, time) {
            shown.push_str(time);
            shown.push(' ');
        }
        if !self.colour {
            shown.push_str(&line.text());
            return shown;
        }
        match line {
            Line::Payload { sender, text, mark } => {
                shown.push_str(&format!("{DIM}[payload]{UNDIM} "));
                if let Some(name) = sender {
                    shown.push_str(&format!("\x1b[{}m{name}{DEFAULT_COLOUR}: ", name_colour(name)));
                }
                if self.mentions.matches(text) {
                    shown.push_str(&format!("{REVERSE}{text}{mark}{UNREVERSE}{BELL}"));
                } else {
                    shown.push_str(text);
                    shown.push_str(mark);
                }
            }
            Line::Said(said) => match split_prefix(said) {
                Some((prefix, rest)) => shown.push_str(&format!("{DIM}{prefix}{UNDIM} {rest}")),
                None => shown.push_str(said),
            },
        }
        shown
    }
}

/// The client's and the server's lines: `[server] rest` → (`[server]`, `rest`).
fn split_prefix(line: &str) -> Option<(&str, &str)> {
    let (prefix, text) = line.split_once(' ')?;
    matches!(prefix, "[server]" | "[cli]").then_some((prefix, text))
}

/// A colour from the name, the same for everyone and every run (weechat's way: a hash of the
/// nick into a palette).
pub fn name_colour(name: &str) -> u8 {
    NAME_COLOURS[name_hash(name) as usize % NAME_COLOURS.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(line: &str) -> Line {
        Line::Said(line.to_string())
    }

    /// A peer's message as display.rs makes it.
    fn payload(sender: Option<&str>, text: &str) -> Line {
        let sender = sender.map(String::from);
        Line::Payload { sender, text: text.to_string(), mark: String::new() }
    }

    fn colour() -> Style {
        Style { colour: true, timestamps: false, mentions: Mentions::new(Some("ana"), &[]) }
    }

    #[test]
    fn without_colour_the_text_is_untouched() {
        let plain = Style::default();
        assert_eq!(plain.render(&payload(Some("ben"), "hi ana"), None), "[payload] ben: hi ana");
        for line in ["[server] OK JOINED ABCD1234", "[cli] x", "Goodbye."] {
            assert_eq!(plain.render(&said(line), Some("12:34")), line);
        }
        let stamped = Style { timestamps: true, ..Style::default() };
        assert_eq!(stamped.render(&payload(None, "hi"), Some("09:05")), "09:05 [payload] hi");
        assert_eq!(stamped.render(&said("[cli] usage"), None), "[cli] usage");
    }

    #[test]
    fn colour_keeps_the_text() {
        let strip = |s: &str| {
            let mut out = String::new();
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\x1b' => {
                        for c in chars.by_ref() {
                            if c == 'm' {
                                break;
                            }
                        }
                    }
                    '\x07' => {}
                    c => out.push(c),
                }
            }
            out
        };
        for line in
            [payload(Some("ben"), "hi ana"), payload(None, "no name"), said("[server] PONG")]
        {
            let shown = colour().render(&line, None);
            assert_ne!(shown, line.text());
            assert_eq!(strip(&shown), line.text());
        }
    }

    #[test]
    fn senders_get_a_stable_colour_and_mentions_ring() {
        let shown = colour().render(&payload(Some("ben"), "hi there"), None);
        let ben = name_colour("ben");
        assert_eq!(shown, format!("\x1b[2m[payload]\x1b[22m \x1b[{ben}mben\x1b[39m: hi there"));
        let distinct: std::collections::HashSet<u8> =
            ["ana", "ben", "cy", "dee", "eve", "fay", "gus"]
                .iter()
                .map(|n| name_colour(n))
                .collect();
        assert!(distinct.len() >= 4, "names spread over the palette: {distinct:?}");
        let mention = colour().render(&payload(Some("ben"), "hi ANA!"), None);
        assert!(mention.ends_with("\x1b[7mhi ANA!\x1b[27m\x07"), "{mention:?}");
        assert!(!colour().render(&payload(Some("ben"), "hi all"), None).contains('\x07'));
        // As a word only (udprelay_client::mention), and the sender's name is not the text.
        assert!(!colour().render(&payload(Some("ben"), "bananas"), None).contains('\x07'));
        assert!(!colour().render(&payload(Some("ana"), "hi all"), None).contains('\x07'));
        let keyword = Style { mentions: Mentions::new(None, &["deploy".into()]), ..colour() };
        assert!(keyword.render(&payload(Some("ben"), "Deploy now?"), None).ends_with('\x07'));
        // A text that looks like `name: text` is not split again: the name stays uncoloured.
        let nameless = colour().render(&payload(None, "carl: hi"), None);
        assert!(nameless.ends_with("\x1b[22m carl: hi"), "{nameless:?}");
    }
}
