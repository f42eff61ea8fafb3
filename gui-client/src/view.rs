//! The window, drawn from [`App`] each frame. User actions call `App`'s methods; nothing here
//! keeps state of its own.

use std::time::Instant;

use egui::{
    Align, CentralPanel, Color32, Key, Label, Layout, Panel, RichText, ScrollArea, TextEdit, Ui,
};
use udprelay_client::{Health, Reachability};

use crate::app::{App, Group, Place, Stage};
pub use crate::theme::sender_colour;
use crate::theme::{GOOD, LATE, LOST, MENTION};
use crate::unread::Title;

/// Draws the whole window and takes in what the network brought since the last frame.
pub fn show(ui: &mut Ui, app: &mut App) {
    app.attach(ui.ctx());
    app.poll();
    let now = Instant::now();
    if let Some(goes) = app.expire_notices(now) {
        ui.ctx().request_repaint_after(goes.saturating_duration_since(now));
    }
    app.set_focused(ui.input(|i| i.focused));
    match app.title_change(now) {
        Title::Keep => {}
        Title::Set(title) => ui.ctx().send_viewport_cmd(egui::ViewportCommand::Title(title)),
        Title::At(due) => ui.ctx().request_repaint_after(due.saturating_duration_since(now)),
    }
    if app.take_attention() {
        let informational = egui::UserAttentionType::Informational;
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(informational));
    }
    keys(ui, app);
    if let Some(zoom) = app.follow_zoom(ui.ctx().zoom_factor()) {
        ui.ctx().set_zoom_factor(zoom);
    }
    // A store made before the search index is indexed a batch a frame.
    if app.index_history() {
        ui.ctx().request_repaint();
    }
    use crate::region::region;
    Panel::top("server").show(ui, |ui| region(ui, "Server", |ui| top_bar(ui, app)));
    Panel::bottom("composer").show(ui, |ui| region(ui, "Writing", |ui| composer(ui, app)));
    Panel::left("groups")
        .resizable(true)
        .default_size(280.0)
        .show(ui, |ui| region(ui, "Groups", |ui| groups(ui, app, now)));
    crate::search_view::search_panel(ui, app);
    CentralPanel::default().show(ui, |ui| crate::log_view::message_log(ui, app));
    leave_dialog(ui, app);
    crate::settings_view::settings_window(ui, app);
    // Heartbeat dots change colour with time alone: wake when the next one will, not on a tick
    // (an idle window then costs next to nothing).
    let next_change =
        app.groups.iter().filter_map(|g| g.state.as_ref()?.health_changes_at(now)).min();
    if let Some(at) = next_change {
        ui.ctx().request_repaint_after(at.saturating_duration_since(now));
    }
}

fn top_bar(ui: &mut Ui, app: &mut App) {
    ui.horizontal(|ui| {
        let label = ui.label("Server");
        ui.add(TextEdit::singleline(&mut app.server).desired_width(180.0)).labelled_by(label.id);
        let label = ui.label("Name");
        ui.add(TextEdit::singleline(&mut app.name).hint_text("optional").desired_width(120.0))
            .labelled_by(label.id);
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.button("Settings").clicked() {
                app.open_settings();
            }
            if ui.button("Search").on_hover_text("Ctrl+F").clicked() {
                app.open_search();
            }
            let (text, color) = match app.field_reachability() {
                Reachability::Unknown => {
                    ("Server: not contacted yet", ui.visuals().weak_text_color())
                }
                Reachability::Reachable => ("Server: answering", GOOD),
                Reachability::Unreachable => ("Server: not answering", LOST),
            };
            ui.label(RichText::new(text).color(color));
        });
    });
    notice(ui, app, Place::Server);
    if let Some(why) = &app.history_off {
        ui.label(RichText::new(why).color(LATE));
    }
    if let Some(why) = &app.notifications_off {
        ui.label(RichText::new(why).weak());
    }
}

fn groups(ui: &mut Ui, app: &mut App, now: Instant) {
    ui.heading("Groups");
    ui.horizontal(|ui| {
        if ui.button("Create").clicked() {
            app.create();
        }
        let label = ui.label("Size limit");
        ui.add(TextEdit::singleline(&mut app.cap_text).hint_text("none").desired_width(50.0))
            .labelled_by(label.id);
    });
    ui.checkbox(&mut app.encrypted, "End-to-end encrypted").on_hover_text(
        "only those you give its invite can read it; not even the server's operator",
    );
    notice(ui, app, Place::Create);
    ui.horizontal(|ui| {
        let label = ui.label("Group id");
        let field = ui
            .add(
                TextEdit::singleline(&mut app.join_text).hint_text("ABCD1234").desired_width(100.0),
            )
            .labelled_by(label.id);
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        if ui.button("Join").clicked() || entered {
            app.join();
        }
    });
    notice(ui, app, Place::Join);
    ui.separator();

    let mut clicked = None;
    let mut double_clicked = false;
    let mut rename = None;
    let show_server = app.servers_differ();
    ScrollArea::vertical().id_salt("group list").show(ui, |ui| {
        for group in &app.groups {
            if let Some((link, text)) = &mut app.renaming
                && *link == group.link
            {
                rename = Some(rename_field(ui, text));
                continue;
            }
            let row = group_row(ui, group, app.selected == Some(group.link), show_server, now);
            if row.clicked() {
                clicked = Some(group.link);
            }
            double_clicked |= row.double_clicked();
        }
    });
    if let Some(link) = clicked {
        app.select(link);
    }
    if double_clicked {
        app.start_rename(); // the group its first click selected
    }
    match rename {
        Some(Rename::Done) => app.finish_rename(),
        Some(Rename::Cancel) => app.cancel_rename(),
        Some(Rename::Typing) | None => {}
    }

    ui.separator();
    let selected_id = app.selected_group().and_then(|g| g.id);
    ui.horizontal(|ui| {
        if ui.add_enabled(app.selected.is_some(), egui::Button::new("Leave")).clicked() {
            app.ask_leave();
        }
        if ui.add_enabled(selected_id.is_some(), egui::Button::new("Copy id")).clicked()
            && let Some(id) = app.copy_id()
        {
            ui.ctx().copy_text(id.to_string());
        }
        if ui.add_enabled(selected_id.is_some(), egui::Button::new("Rename")).clicked() {
            app.start_rename();
        }
        if ui.add_enabled(selected_id.is_some(), egui::Button::new("Copy invite")).clicked()
            && let Some(invite) = app.copy_invite()
        {
            ui.ctx().copy_text(invite);
        }
    });
    crate::settings_view::notify_choice(ui, app);
    if let Some(key) = app.selected_group().and_then(|g| g.state.as_ref()?.private.clone()) {
        let me = app.identity_fingerprint().map(|me| format!("; you: {me}")).unwrap_or_default();
        ui.label(RichText::new(format!("🔒 end-to-end encrypted, key {key}{me}")).small().weak());
    }
    notice(ui, app, Place::Group);
}

/// What happened in the rename field.
enum Rename {
    Typing,
    Done,
    Cancel,
}

/// The field that takes a group's new name: Enter keeps it, Escape keeps the old one.
fn rename_field(ui: &mut Ui, text: &mut String) -> Rename {
    ui.horizontal(|ui| {
        let label = ui.label("Group name");
        let field = ui
            .add(TextEdit::singleline(text).hint_text("a name of your own").desired_width(150.0))
            .labelled_by(label.id);
        field.request_focus();
        if ui.input(|i| i.key_pressed(Key::Escape)) {
            Rename::Cancel
        } else if field.lost_focus() || ui.input(|i| i.key_pressed(Key::Enter)) {
            Rename::Done
        } else {
            Rename::Typing
        }
    })
    .inner
}

/// One row: heartbeat dot, name or id, server (when there are several), member count, unread
/// badge. Returns the name's response (a click selects, a double-click renames).
fn group_row(
    ui: &mut Ui,
    group: &Group,
    selected: bool,
    show_server: bool,
    now: Instant,
) -> egui::Response {
    ui.horizontal(|ui| {
        let (color, meaning) = match (group.stage, group.state.as_ref().and_then(|s| s.health(now)))
        {
            (Stage::Lost, _) | (_, Some(Health::Lost)) => {
                (LOST, "no answer for 3 heartbeats: the server has likely dropped us")
            }
            (_, Some(Health::Late)) => (LATE, "a heartbeat answer is late"),
            (_, Some(Health::Good)) => (GOOD, "the server answers the heartbeat"),
            (_, None) => (ui.visuals().weak_text_color(), "not joined yet"),
        };
        let (rect, dot) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter().circle_filled(rect.center(), 5.0, color);
        dot.on_hover_text(meaning);

        if group.private {
            ui.label("🔒").on_hover_text("end-to-end encrypted");
        }
        let title = match (&group.name, group.id) {
            (Some(name), _) => RichText::new(name),
            (None, Some(id)) => RichText::new(id.to_string()).monospace(),
            (None, None) => RichText::new("creating…"),
        };
        let response = ui.selectable_label(selected, title);
        let response = match (&group.name, group.id) {
            (Some(_), Some(id)) => {
                response.on_hover_text(format!("group {id}; double-click to rename"))
            }
            (None, Some(_)) => response.on_hover_text("double-click to rename"),
            (_, None) => response,
        };
        if show_server {
            ui.label(RichText::new(&group.server).small().weak());
        }
        let members = match (group.stage, group.members) {
            (Stage::Joining, _) => "joining…".to_string(),
            (Stage::Lost, _) => "lost".to_string(),
            (_, Some(1)) => "1 member".to_string(),
            (_, Some(n)) => format!("{n} members"),
            (_, None) => String::new(),
        };
        ui.label(RichText::new(members).weak());
        if group.mentions > 0 {
            badge(ui, format!("@{}", group.mentions), MENTION, "messages that name you");
        }
        if group.unread > 0 {
            badge(ui, group.unread.to_string(), LOST, "unread messages");
        }
        response
    })
    .inner
}

/// The window's own keys: Ctrl+Tab and Ctrl+Shift+Tab (or Ctrl+K and Ctrl+Shift+K) show the
/// next and the previous group; Ctrl+F opens the search; Escape closes the settings, or else
/// the search.
fn keys(ui: &mut Ui, app: &mut App) {
    use egui::{KeyboardShortcut, Modifiers};
    let back = Modifiers::CTRL | Modifiers::SHIFT;
    let step = ui.input_mut(|input| {
        let mut pressed =
            |modifiers, key| input.consume_shortcut(&KeyboardShortcut::new(modifiers, key));
        // The one with Shift first: Ctrl alone would match it too.
        if pressed(back, Key::Tab) || pressed(back, Key::K) {
            -1
        } else if pressed(Modifiers::CTRL, Key::Tab) || pressed(Modifiers::CTRL, Key::K) {
            1
        } else {
            0
        }
    });
    if step != 0 {
        app.select_next(step);
    }
    if ui.input_mut(|input| input.consume_shortcut(&KeyboardShortcut::new(Modifiers::CTRL, Key::F)))
    {
        app.open_search();
    }
    if ui.input(|input| input.key_pressed(Key::Escape)) {
        if app.settings_open {
            app.settings_open = false;
        } else if app.search.open && app.renaming.is_none() {
            app.close_search();
        }
    }
}

/// A count on a coloured ground, beside a group's name.
fn badge(ui: &mut Ui, count: String, colour: Color32, meaning: &str) {
    let text = RichText::new(format!(" {count} ")).strong().color(Color32::WHITE);
    ui.label(text.background_color(colour)).on_hover_text(meaning);
}

fn composer(ui: &mut Ui, app: &mut App) {
    notice(ui, app, Place::Message);
    ui.horizontal(|ui| {
        let label = ui.label("Message");
        let width = ui.available_width() - 70.0;
        // Enter sends; Shift+Enter starts a new line of the same message.
        let new_line = egui::KeyboardShortcut::new(egui::Modifiers::SHIFT, Key::Enter);
        // A long draft scrolls inside the box instead of pushing the window around.
        let most = 6.0 * ui.text_style_height(&egui::TextStyle::Body);
        let field = ScrollArea::vertical()
            .id_salt("draft")
            .max_height(most)
            .show(ui, |ui| {
                ui.add(
                    TextEdit::multiline(&mut app.draft)
                        .hint_text("Type, then Enter (Shift+Enter: a new line)")
                        .desired_rows(1)
                        .desired_width(width)
                        .return_key(new_line),
                )
                .labelled_by(label.id)
            })
            .inner;
        // Enter without Shift (egui's key matching ignores Shift, so it is looked at here).
        let entered = field.has_focus()
            && ui.input(|i| {
                i.events.iter().any(|event| {
                matches!(event, egui::Event::Key { key: Key::Enter, pressed: true, modifiers, .. }
                        if !modifiers.shift)
            })
            });
        if ui.button("Send").clicked() || entered {
            app.send_draft();
            field.request_focus(); // keep typing
        }
    });
}

/// Leave asks first: what to do with the group's history (kept for a later join, or deleted).
fn leave_dialog(ui: &mut Ui, app: &mut App) {
    let Some(group) = app.leaving.and_then(|link| app.groups.iter().find(|g| g.link == link))
    else {
        return;
    };
    let what = match (&group.name, group.id) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (None, Some(id)) => id.to_string(),
        (_, None) => "this group".to_string(),
    };
    let keeps = app.keeps_history();
    let modal = egui::Modal::new(egui::Id::unique("leave")).show(ui.ctx(), |ui| {
        ui.heading(format!("Leave {what}?"));
        ui.label("Its messages stop coming, and it is not rejoined at the next start.");
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if keeps {
                if ui.button("Leave, keep history").clicked() {
                    app.leave(true);
                }
                if ui.button("Leave, delete history").clicked() {
                    app.leave(false);
                }
            } else if ui.button("Yes, leave").clicked() {
                app.leave(false);
            }
            if ui.button("Cancel").clicked() {
                app.cancel_leave();
            }
        });
    });
    if modal.should_close() {
        app.cancel_leave();
    }
}

/// The notice for `place`, in a space that is kept whether or not there is one, so that a
/// notice coming or going moves nothing else.
fn notice(ui: &mut Ui, app: &App, place: Place) {
    let height = 2.0 * ui.text_style_height(&egui::TextStyle::Body);
    let width = ui.available_width();
    ui.allocate_ui_with_layout(egui::vec2(width, height), Layout::top_down(Align::Min), |ui| {
        ui.set_min_size(egui::vec2(width, height));
        if let Some(notice) = &app.notice
            && notice.place == place
        {
            ui.add(Label::new(RichText::new(&notice.text).color(LOST)).wrap());
        }
    });
}
