//! The window's fonts: egui's own, then Noto Color Emoji (bundled: every emoji, flags and
//! ZWJ families such as 👨‍👩‍👧 included, drawn in colour), then the system's fonts for any script
//! these lack (CJK among them), found through the platform's own fallback when one is
//! installed.

use std::sync::Arc;

use egui::{FontData, FontDefinitions, FontFamily};

/// Noto Color Emoji 2.042 (SIL Open Font License 1.1; see fonts/NotoColorEmoji-OFL.txt).
const EMOJI: &[u8] = include_bytes!("../fonts/NotoColorEmoji.ttf");
const EMOJI_NAME: &str = "NotoColorEmoji";

/// Gives the window its fonts (once, at start).
pub fn install(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::default();
    fonts.font_data.insert(EMOJI_NAME.into(), Arc::new(FontData::from_static(EMOJI)));
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        let list = fonts.families.entry(family).or_default();
        // Before egui's own emoji (monochrome, and without flags or families), after the
        // text fonts (so digits and '#' stay text).
        let at = list.iter().position(|name| name.contains("Emoji")).unwrap_or(list.len());
        list.insert(at, EMOJI_NAME.into());
    }
    ctx.set_fonts(fonts);
    ctx.add_font_provider(Arc::new(egui_system_font_provider::SystemFontProvider::new()));
}
