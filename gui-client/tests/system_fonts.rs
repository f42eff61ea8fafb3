//! CJK text is drawn with a font of the system's (none is bundled: they are large), found
//! through the platform's own font lookup (fontconfig on Linux). The test puts a small CJK font
//! where fontconfig looks for a user's fonts ($XDG_DATA_HOME/fonts), so that it does not
//! depend on what the machine has installed. One test in this binary: it sets the environment.

use udprelay_testkit::ScratchDir;

#[test]
fn cjk_text_is_drawn_with_a_system_font() {
    let data = ScratchDir::new("gui-fonts");
    std::fs::create_dir_all(data.join("fonts")).unwrap();
    let font = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fonts/cjk-subset.ttf");
    std::fs::copy(font, data.join("fonts/cjk-subset.ttf")).unwrap();
    // SAFETY: the only test of this binary, set before anything reads the environment.
    unsafe { std::env::set_var("XDG_DATA_HOME", data.path()) };

    let mut harness = egui_kittest::Harness::new_ui(|_| {});
    udprelay_gui::fonts::install(&harness.ctx);
    harness.step();
    let font = egui::FontId::proportional(14.0);
    let covered = harness.ctx.fonts_mut(|f| f.has_glyphs(&font, "日本語中文한국어"));
    assert!(covered, "no CJK glyphs from the system's fonts");
}
