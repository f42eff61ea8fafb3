//! The search panel, at the window's right (Ctrl+F or the top bar's Search; Escape closes
//! it): the words, where to look, how far indexing has got, and the results, each a button
//! that shows the message in its group's log (`crate::search`).

use egui::text::LayoutJob;
use egui::{Align, FontSelection, Panel, RichText, ScrollArea, TextEdit, TextFormat, Ui};

use crate::app::App;
use crate::search::{Hit, RESULTS, Scope};
use crate::theme::{FOUND, sender_colour};

pub fn search_panel(ui: &mut Ui, app: &mut App) {
    if !app.search.open {
        return;
    }
    let panel = Panel::right("search").resizable(true).default_size(320.0);
    panel.show(ui, |ui| crate::region::region(ui, "Search", |ui| search(ui, app)));
}

/// The panel's contents: the question, and what was found.
fn search(ui: &mut Ui, app: &mut App) {
    ui.horizontal(|ui| {
        ui.heading("Search");
        if ui.button("Close").on_hover_text("Escape").clicked() {
            app.close_search();
        }
    });
    let label = ui.label("Search for");
    let field = ui
        .add(
            TextEdit::singleline(&mut app.search.query)
                .hint_text("a word, or part of one")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    if std::mem::take(&mut app.search.focus) {
        field.request_focus();
    }
    ui.horizontal(|ui| {
        ui.radio_value(&mut app.search.scope, Scope::Shown, "This group");
        ui.radio_value(&mut app.search.scope, Scope::Every, "Every group");
    });
    app.run_search();
    if let Some(share) = app.indexed_share() {
        let text = format!("Indexing the history: {:.0} %", 100.0 * share);
        ui.add(egui::ProgressBar::new(share).text(text));
        ui.label(RichText::new("Older messages are found once it is done.").small().weak());
    }
    if !app.keeps_history() {
        ui.label(RichText::new("History is not kept: there is nothing to search.").weak());
    }
    ui.separator();
    results(ui, app);
}

fn results(ui: &mut Ui, app: &mut App) {
    let query = app.search.query.trim();
    if query.is_empty() {
        return;
    }
    if app.search.hits.is_empty() {
        ui.label(RichText::new(format!("Nothing found for “{query}”.")).weak());
        return;
    }
    let count = app.search.hits.len();
    let summary = if app.search.more {
        format!("The newest {RESULTS} messages found:")
    } else if count == 1 {
        "1 message found:".to_string()
    } else {
        format!("{count} messages found:")
    };
    ui.label(RichText::new(summary).weak());
    let mut chosen = None;
    ScrollArea::vertical().id_salt("search results").auto_shrink(false).show(ui, |ui| {
        for (index, hit) in app.search.hits.iter().enumerate() {
            if ui.add(egui::Button::new(hit_text(ui, hit)).wrap().frame(false)).clicked() {
                chosen = Some(index);
            }
            ui.separator();
        }
    });
    if let Some(index) = chosen {
        app.show_hit(index);
    }
}

/// A result: its group and time on one line, then the sender and the text, the words asked
/// for marked.
fn hit_text(ui: &Ui, hit: &Hit) -> LayoutJob {
    let mut job = LayoutJob::default();
    let style = ui.style();
    let place = format!("{} · {}\n", hit.group, hit.entry.time);
    RichText::new(place).small().weak().append_to(
        &mut job,
        style,
        FontSelection::Default,
        Align::Min,
    );
    let sender = match (&hit.entry.sender, hit.entry.kind) {
        (_, crate::app::EntryKind::Mine) => RichText::new("you: ").strong(),
        (Some(name), _) => RichText::new(format!("{name}: ")).strong().color(sender_colour(name)),
        (None, _) => RichText::new("someone: ").italics().weak(),
    };
    sender.append_to(&mut job, style, FontSelection::Default, Align::Min);
    let plain = TextFormat {
        font_id: egui::TextStyle::Body.resolve(style),
        color: ui.visuals().text_color(),
        ..TextFormat::default()
    };
    let marked = TextFormat { background: FOUND, color: egui::Color32::BLACK, ..plain.clone() };
    let mut at = 0;
    for mark in &hit.marks {
        job.append(&hit.excerpt[at..mark.start], 0.0, plain.clone());
        job.append(&hit.excerpt[mark.clone()], 0.0, marked.clone());
        at = mark.end;
    }
    job.append(&hit.excerpt[at..], 0.0, plain);
    job
}
