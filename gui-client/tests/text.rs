//! How messages are drawn: long words wrap inside the log, every line of a message starts in
//! its column, and emoji have glyphs (CJK: `system_fonts.rs`). The real window (egui_kittest) on the real
//! server; every wait is bounded.

mod common;

use common::{chat, wait_until};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use udprelay_gui::app::EntryKind;

#[test]
fn a_long_unbreakable_word_wraps_inside_the_log() {
    let (_server, mut harness, _id, ben) = chat("ana");
    let url = format!("https://example.com/{}", "a".repeat(600));
    ben.send(format!("ben: {url}").as_bytes());
    wait_until(&mut harness, "the long message", |app| {
        app.groups[0].log.texts(EntryKind::Theirs).len() == 1
    });
    harness.step();
    let window_width = 1000.0;
    let groups = harness.get_by_role_and_label(Role::Label, "Groups").rect(); // its heading
    let sender = harness.get_by_label("ben").rect();
    let message = harness.get_by_label(&url).rect();
    assert!(sender.left() > groups.right(), "the log is right of the group list");
    assert!(message.left() >= sender.right(), "{message:?} starts left of {sender:?}");
    assert!(message.right() <= window_width, "{message:?} goes past the window's edge");
    let line = harness.get_by_label("ben").rect().height();
    assert!(message.height() > 3.0 * line, "{message:?} was not wrapped");
}

#[test]
fn the_lines_of_a_message_start_in_its_column() {
    let (_server, mut harness, _id, ben) = chat("ana");
    ben.send(b"ben: one\ntwo\nthree");
    ben.send(b"ben: after");
    wait_until(&mut harness, "both messages", |app| {
        app.groups[0].log.texts(EntryKind::Theirs).len() == 2
    });
    harness.step();
    let multi = harness.get_by_label("one\ntwo\nthree").rect();
    let after = harness.get_by_label("after").rect();
    let senders: Vec<_> = harness.get_all_by_label("ben").map(|n| n.rect()).collect();
    assert_eq!(senders.len(), 2);
    assert!(multi.left() >= senders[0].right(), "the lines start right of the sender");
    assert!(multi.height() >= 2.5 * senders[0].height(), "three lines, kept");
    assert!(after.top() >= multi.bottom(), "the next message starts below all three lines");
}

/// A context with the window's fonts (set at the start of a frame, so one is run).
fn with_fonts() -> egui::Context {
    let mut harness = egui_kittest::Harness::new_ui(|_| {});
    udprelay_gui::fonts::install(&harness.ctx);
    harness.step();
    harness.ctx.clone()
}

/// Visible glyphs laid out for `text` with the window's fonts, and whether a font has each of its
/// characters (joiners and variation selectors aside: they have no picture of their own).
fn glyphs(ctx: &egui::Context, text: &str) -> (usize, bool) {
    let font = egui::FontId::proportional(14.0);
    let galley =
        ctx.fonts_mut(|f| f.layout_no_wrap(text.into(), font.clone(), egui::Color32::WHITE));
    // Glyphs that take space: a variation selector shaped on its own takes none.
    let count =
        galley.rows.iter().flat_map(|row| &row.glyphs).filter(|g| g.advance_width > 0.0).count();
    let pictured: String = text.chars().filter(|c| !matches!(c, '\u{200d}' | '\u{fe0f}')).collect();
    let covered = ctx.fonts_mut(|f| f.has_glyphs(&font, &pictured));
    (count, covered)
}

#[test]
fn emoji_have_glyphs_and_families_and_flags_are_one_glyph_each() {
    let ctx = with_fonts();
    for emoji in ["🎉", "👍", "❤️", "😀", "🦀"] {
        assert_eq!(glyphs(&ctx, emoji), (1, true), "{emoji}");
    }
    // A ZWJ family and a flag are one picture each, not their parts side by side.
    assert_eq!(glyphs(&ctx, "👨\u{200d}👩\u{200d}👧"), (1, true), "family");
    assert_eq!(glyphs(&ctx, "🇩🇪"), (1, true), "flag");
}
