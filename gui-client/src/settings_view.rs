//! The settings panel (opened from the top bar) and the selected group's notification level:
//! each change is kept at once (`crate::settings`).

use egui::{ComboBox, DragValue, RichText, TextEdit, Ui};

use crate::app::App;
use crate::notify::Level;
use crate::theme::TEXT_SIZES;

/// A level in words.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::All => "All messages",
        Level::Mentions => "Mentions only",
        Level::Muted => "Muted",
    }
}

/// "Notify: …" for the selected group: its own level, or the one its size gives.
pub fn notify_choice(ui: &mut Ui, app: &mut App) {
    let Some(group) = app.selected_group() else { return };
    let (link, own) = (group.link, group.notify);
    let by_size = app.notifications.level(None, group.members);
    let shown = match own {
        Some(level) => level_name(level).to_string(),
        None => format!("{} (by size)", level_name(by_size)),
    };
    let mut chosen = own;
    ui.horizontal(|ui| {
        let label = ui.label("Notify");
        ComboBox::from_id_salt("notify level")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, format!("By size: {}", level_name(by_size)));
                for level in [Level::All, Level::Mentions, Level::Muted] {
                    ui.selectable_value(&mut chosen, Some(level), level_name(level));
                }
            })
            .response
            .labelled_by(label.id);
    });
    if chosen != own {
        app.set_notify(link, chosen);
    }
}

/// The settings window, while it is open.
pub fn settings_window(ui: &mut Ui, app: &mut App) {
    let mut open = app.settings_open;
    let mut changed = false;
    egui::Window::new("Settings").open(&mut open).resizable(false).show(ui.ctx(), |ui| {
        let settings = &mut app.notifications.settings;
        ui.heading("Notifications");
        changed |= ui.checkbox(&mut settings.on, "Desktop notifications").changed();
        changed |= ui
            .checkbox(&mut settings.hide_private_text, "Leave private groups' text out of them")
            .changed();
        ui.horizontal(|ui| {
            let label = ui.label("Mentions only in groups of more than");
            changed |= ui
                .add(DragValue::new(&mut settings.mentions_only_above).range(1..=100_000))
                .labelled_by(label.id)
                .changed();
            ui.label("members (unless a group says otherwise)");
        });
        ui.separator();
        ui.heading("Text");
        let mut size = app.text_size;
        ui.horizontal(|ui| {
            let label = ui.label("Text size");
            let field = DragValue::new(&mut size).range(TEXT_SIZES).speed(1).suffix(" %");
            ui.add(field).labelled_by(label.id);
            ui.label(RichText::new("(Ctrl+Plus, Ctrl+Minus)").weak());
        });
        if size != app.text_size {
            app.set_text_size(size);
        }
        ui.separator();
        ui.heading("Mentions");
        ui.label(RichText::new("Your name is one; these words are too (commas between):").weak());
        let label = ui.label("Mention words");
        let field =
            ui.add(TextEdit::singleline(&mut app.keywords_text).hint_text("release, deploy"));
        let field = field.labelled_by(label.id);
        if field.changed() {
            let typed = app.keywords_text.clone();
            app.set_keywords(&typed);
        }
    });
    if changed {
        app.save_settings();
    }
    if open != app.settings_open {
        app.settings_open = open;
    }
}
