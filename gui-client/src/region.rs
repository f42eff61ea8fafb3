//! Named regions for screen readers: a panel's node in the accessibility tree has no name of
//! its own, so what a panel draws goes inside one that says what it is ("Groups").

use egui::Ui;

/// Draws `contents` as a region a screen reader names `name`.
pub fn region<R>(ui: &mut Ui, name: &str, contents: impl FnOnce(&mut Ui) -> R) -> R {
    let named = egui::UiBuilder::new()
        .accessibility_role(egui::accesskit::Role::Group)
        .accessibility_label(name);
    ui.scope_builder(named, contents).inner
}
