//! Text from the network made safe to show, for the apps (and any program that prints what
//! peers send). Payloads and error texts come from anyone; a
//! terminal obeys escape sequences in what it prints, and invisible format characters can hide
//! or reverse text in a window as well as in a terminal.

use unicode_general_category::{GeneralCategory, get_general_category};

/// A datagram as safe text: invalid UTF-8 replaced, and every control character (`\n`,
/// escape sequences), format character (Unicode category Cf: zero-width characters, bidi
/// overrides, byte-order marks) and line or paragraph separator shown escaped, as
/// `\u{1b}`, `\n` or `\u{200b}`. Nothing is left that moves the cursor, changes the terminal
/// or hides text, so a peer cannot forge a line that looks like the client's own.
pub fn printable(bytes: &[u8]) -> String {
    escaped(bytes, false)
}

/// [`printable`] for a window, which draws line breaks itself: a message's own lines (`\n`,
/// `\r\n`) are kept; everything else is escaped as there.
pub fn printable_lines(bytes: &[u8]) -> String {
    escaped(bytes, true)
}

/// "1 message", "2 messages": a count as the apps say it.
pub fn messages(count: u64) -> String {
    if count == 1 { "1 message".into() } else { format!("{count} messages") }
}

fn escaped(bytes: &[u8], keep_lines: bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = if keep_lines { text.replace("\r\n", "\n").into() } else { text };
    let mut shown = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        let joins_emoji = c == ZERO_WIDTH_JOINER
            && previous.is_some_and(is_pictograph)
            && chars.peek().copied().is_some_and(is_pictograph);
        previous = Some(c);
        if keep_lines && c == '\n' {
            shown.push(c);
        } else if c.is_control() {
            shown.extend(c.escape_debug());
        } else if is_invisible(c) && !joins_emoji {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    shown
}

const ZERO_WIDTH_JOINER: char = '\u{200d}';

/// Emoji and the variation selector that asks for emoji style: a zero-width joiner between two
/// of these builds one emoji (👨‍👩‍👧) and hides nothing, so it is kept.
fn is_pictograph(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27bf}' | '\u{1f000}'..='\u{1faff}' | '\u{fe0f}')
}

/// Format characters and the line and paragraph separators: they draw nothing, or break the
/// line, or reorder what follows.
fn is_invisible(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// A number from a name, the same on every machine and in every version (djb2; std's hasher
/// promises neither), for giving each sender a stable colour as weechat does.
pub fn name_hash(name: &str) -> u32 {
    name.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_is_said_without_an_s() {
        assert_eq!(
            [messages(0), messages(1), messages(2)],
            ["0 messages", "1 message", "2 messages"]
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable(b"\x1b[2J\x1b[Hgotcha"), "\\u{1b}[2J\\u{1b}[Hgotcha");
        assert_eq!(printable(b"one\n[server] OK LEFT X"), "one\\n[server] OK LEFT X");
        assert_eq!(printable(b"tab\there\r\x07"), "tab\\there\\r\\u{7}");
        assert_eq!(printable(b"\x1b]52;c;aGk=\x07"), "\\u{1b}]52;c;aGk=\\u{7}");
        assert_eq!(printable("c1 \u{9b}31m".as_bytes()), "c1 \\u{9b}31m");
    }

    #[test]
    fn format_characters_are_escaped() {
        for (c, shown) in [
            ('\u{200b}', "\\u{200b}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{00ad}', "\\u{ad}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{e0041}', "\\u{e0041}"),
        ] {
            assert_eq!(printable(format!("a{c}b").as_bytes()), format!("a{shown}b"), "{c:?}");
        }
    }

    #[test]
    fn ordinary_text_is_untouched() {
        assert_eq!(printable(b"bad \xff utf8"), "bad \u{fffd} utf8");
        assert_eq!(printable("héllo, 世界 🙂 ❤️ 🇩🇪".as_bytes()), "héllo, 世界 🙂 ❤️ 🇩🇪");
        assert_eq!(printable("עברית".as_bytes()), "עברית");
        // A joiner inside an emoji sequence builds the emoji; anywhere else it is escaped.
        assert_eq!(printable("👨‍👩‍👧".as_bytes()), "👨\u{200d}👩\u{200d}👧");
        assert_eq!(printable("a\u{200d}👩".as_bytes()), "a\\u{200d}👩");
        assert_eq!(printable("👩\u{200d}".as_bytes()), "👩\\u{200d}");
    }

    #[test]
    fn a_window_keeps_the_lines_and_nothing_else() {
        assert_eq!(printable_lines(b"one\ntwo\r\nthree"), "one\ntwo\nthree");
        assert_eq!(printable_lines(b"a\rb\x1b[2Jc\t"), "a\\rb\\u{1b}[2Jc\\t");
        assert_eq!(printable_lines("x\u{202e}y".as_bytes()), "x\\u{202e}y");
    }

    #[test]
    fn a_names_hash_is_pinned() {
        // djb2, pinned: the same colour for a name on every machine and in every version.
        assert_eq!(name_hash("ben"), 193_415_020);
        assert_ne!(name_hash("ben"), name_hash("ana"));
    }
}
