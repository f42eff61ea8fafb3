//! The selected group's message log. Only the rows in view are laid out: every row's height is
//! kept from its last layout (or estimated until it has been in view), so a frame costs the
//! same with a hundred messages as with a hundred thousand. Scrolling to the top brings the
//! previous page from the history store, without moving what the user is looking at.
//!
//! A row: the time, the sender (in its colour; "someone" without a `NAME:` prefix, "you" for
//! the user's own), then the message in a column of its own, wrapped at the log's right edge
//! (a word longer than the line breaks anywhere) so that its lines start under each other. A
//! message that names the user is bold on a band of the mention colour.

use std::sync::Arc;

use crate::app::{App, Entry, EntryKind};
use crate::log::Log;
use crate::theme::{FOUND, FOUND_BAND_ALPHA, LOST, MENTION, MENTION_BAND_ALPHA, sender_colour};
use egui::accesskit::Role;
use egui::text::{LayoutJob, TextWrapping};
use egui::{Align, FontSelection, Galley, Label, Rect, RichText, ScrollArea, Ui, UiBuilder};

/// Rows laid out on either side of a found row before scrolling to it, so that what is seen
/// around it is where it will stay.
const AROUND_FOUND: usize = 30;

/// Between the time, the sender and the message.
const GAP: f32 = 8.0;
/// A sender's name takes at most this share of the row; the message keeps the rest.
const SENDER_SHARE: f32 = 0.3;
/// What the time and a short name take of a row, for estimating rows not yet laid out.
const TIME_AND_NAME: f32 = 140.0;
/// The message column is never narrower than this (in a very narrow window).
const MIN_MESSAGE_WIDTH: f32 = 80.0;

/// Draws the selected group's log, or a hint when no group is selected.
pub fn message_log(ui: &mut Ui, app: &mut App) {
    let Some(link) = app.selected else {
        ui.centered_and_justified(|ui| {
            ui.label(RichText::new("Create a group, or join one with its id.").weak());
        });
        return;
    };
    let Some(group) = app.groups.iter_mut().find(|g| g.link == link) else { return };
    let log = &mut group.log;
    // Kept at the end while the newest is read (not when a search result was chosen above).
    let mut area = ScrollArea::vertical()
        .id_salt(("log", link))
        .stick_to_bottom(log.at_bottom)
        .auto_shrink(false);
    let width = ui.available_width() - ui.spacing().scroll.bar_width - ui.spacing().item_spacing.x;
    if (width - log.rows.width).abs() > 0.5 {
        log.rows.relayout(width);
    }
    let line = ui.text_style_height(&egui::TextStyle::Body);
    let char_width = 0.55 * line;
    let spacing = ui.spacing().item_spacing.y;
    if log.rows.marked != log.unread_from {
        // The row under the "New messages" line is taller by the line.
        for row in [log.rows.marked, log.unread_from].into_iter().flatten() {
            log.rows.set(row, None);
        }
        log.rows.marked = log.unread_from;
    }
    let estimated_height = |log: &Log, row: usize| {
        let unread = if log.unread_from == Some(row) { line + spacing } else { 0.0 };
        estimate(&log[row], width, line, char_width) + spacing + unread
    };
    let view_height = log.rows.view_height;
    if log.at_bottom {
        // Reading the newest: lay out the last rows first, enough to fill the view, so that
        // the end is known exactly and this frame already shows it (a new message is never
        // drawn cut off, waiting for another frame).
        let mut covered = 0.0;
        for row in (0..log.len()).rev() {
            if covered > view_height {
                break;
            }
            let height = lay_out(ui, &log[row], width, log.unread_from == Some(row)).height;
            log.rows.set(row, Some(height + spacing));
            covered += height + spacing;
        }
    }
    let reveal = log.found.filter(|_| std::mem::take(&mut log.rows.reveal));
    if let Some(found) = reveal {
        for row in found.saturating_sub(AROUND_FOUND)..(found + AROUND_FOUND).min(log.len()) {
            let height = lay_out(ui, &log[row], width, log.unread_from == Some(row)).height;
            log.rows.set(row, Some(height + spacing));
        }
    }
    let mut rows = std::mem::take(&mut log.rows);
    let total = rows.update_tops(|row| estimated_height(log, row));
    log.rows = rows;
    if let Some(found) = reveal {
        // A search result chosen: its message a third of the way down the view.
        let offset = log.rows.tops[found] - log.rows.view_height / 3.0;
        area = area.vertical_scroll_offset(offset.clamp(0.0, (total - view_height).max(0.0)));
        log.rows.prepended = 0;
    } else if log.rows.prepended > 0 {
        // Rows came in front: scroll down by their height, so the same rows stay in view.
        let added = log.rows.tops[log.rows.prepended];
        area = area.vertical_scroll_offset(log.rows.offset + added);
        log.rows.prepended = 0;
    } else if log.at_bottom {
        area = area.vertical_scroll_offset((total - view_height).max(0.0));
    }
    // The view is put at the end by the offset above, while the scroll area still knows the
    // content's last height: a rubber band would take that for overscrolling and spring back,
    // asking for a frame after frame while messages stream in.
    ui.spacing_mut().scroll.kinetic.rubber_band = false;
    // One list for a screen reader, a row per item (see `place`).
    let list = UiBuilder::new().accessibility_role(Role::List).accessibility_label("Messages");
    let output = ui.scope_builder(list, |ui| {
        area.show_viewport(ui, |ui, viewport| {
            ui.set_height(total);
            if log.is_empty() {
                return;
            }
            let top = ui.max_rect().top();
            let left = ui.max_rect().left();
            // Each row in view is laid out before it is placed, and the next goes below it: rows
            // laid out for the first time (their height was an estimate) push the rest down in
            // this frame already.
            let first = log.rows.row_at(viewport.min.y);
            let mut y = log.rows.tops[first];
            let mut row = first;
            while row < log.len() && y < viewport.max.y {
                let mut laid = lay_out(ui, &log[row], width, log.unread_from == Some(row));
                laid.found = log.found == Some(row);
                let height = laid.height;
                place(ui, row, laid, egui::pos2(left, top + y), width);
                log.rows.set(row, Some(height + spacing));
                y += height + spacing;
                row += 1;
            }
        })
    });
    let output = output.inner;
    let offset = output.state.clamped_offset().y;
    log.rows.offset = offset;
    log.rows.view_height = output.inner_rect.height();
    let bottom = output.content_size.y - output.inner_rect.height();
    log.at_bottom = offset >= bottom - 1.0;
    if offset <= 1.0 && log.older && app.load_older(link) > 0 {
        ui.ctx().request_repaint();
    }
}

/// A row's height before it has been laid out: its lines at the message column's width.
fn estimate(entry: &Entry, width: f32, line: f32, char_width: f32) -> f32 {
    let columns = ((width - TIME_AND_NAME).max(MIN_MESSAGE_WIDTH) / char_width).max(1.0);
    let lines: f32 = entry
        .text
        .split('\n')
        .map(|part| (part.chars().count() as f32 / columns).ceil().max(1.0))
        .sum();
    lines * line
}

/// A row laid out: its parts, ready to be placed.
struct Row {
    /// The "New messages" line above it.
    unread: Option<Arc<Galley>>,
    time: Arc<Galley>,
    sender: Option<Arc<Galley>>,
    message: Arc<Galley>,
    mine: bool,
    /// It names the user: drawn on a band of the mention colour.
    mention: bool,
    /// The message a search result showed: drawn on a band of its own.
    found: bool,
    height: f32,
    /// What a screen reader says of the row: `sender, time, text`.
    spoken: String,
}

/// Lays out one row at the log's `width` (egui keeps the layouts, so a row in view costs
/// little after its first frame).
fn lay_out(ui: &Ui, entry: &Entry, width: f32, unread: bool) -> Row {
    let unread = unread
        .then(|| galley(ui, RichText::new("New messages").small().color(LOST), f32::INFINITY));
    let time = galley(ui, RichText::new(&entry.time).weak().monospace(), f32::INFINITY);
    let (sender, text) = match entry.kind {
        EntryKind::Mine => {
            let accent = ui.visuals().hyperlink_color;
            let text = RichText::new(&entry.text).color(ui.visuals().strong_text_color());
            (Some(RichText::new("you").strong().color(accent)), text)
        }
        // A message without a `NAME: ` is anonymous.
        EntryKind::Theirs => {
            let who = match &entry.sender {
                Some(name) => RichText::new(name).strong().color(sender_colour(name)),
                None => RichText::new("someone").italics().weak(),
            };
            let text = RichText::new(format!("{}{}", entry.text, entry.mark));
            (Some(who), if entry.mention { text.strong() } else { text })
        }
        EntryKind::Event => (None, RichText::new(&entry.text).italics().weak()),
        EntryKind::Error => (None, RichText::new(&entry.text).italics().color(LOST)),
    };
    let sender = sender.map(|who| galley(ui, who, (width * SENDER_SHARE).max(40.0)));
    let used = time.size().x + GAP + sender.as_ref().map_or(0.0, |who| who.size().x + GAP);
    let message = galley(ui, text, (width - used).max(MIN_MESSAGE_WIDTH));
    let line_above =
        unread.as_ref().map_or(0.0, |line| line.size().y + ui.spacing().item_spacing.y);
    let tallest = [Some(&time), sender.as_ref(), Some(&message)]
        .into_iter()
        .flatten()
        .map(|g| g.size().y)
        .fold(0.0, f32::max);
    let mine = entry.kind == EntryKind::Mine;
    let mention = entry.mention;
    let height = line_above + tallest;
    let spoken = spoken(entry);
    Row { unread, time, sender, message, mine, mention, found: false, height, spoken }
}

/// A row as a screen reader reads it: `sender, time, text` (an event or error: `time, text`).
fn spoken(entry: &Entry) -> String {
    let (time, text, mark) = (&entry.time, &entry.text, &entry.mark);
    match (entry.kind, &entry.sender) {
        (EntryKind::Mine, _) => format!("you, {time}, {text}"),
        (EntryKind::Theirs, Some(name)) => format!("{name}, {time}, {text}{mark}"),
        (EntryKind::Theirs, None) => format!("someone, {time}, {text}{mark}"),
        (EntryKind::Event | EntryKind::Error, _) => format!("{time}, {text}"),
    }
}

/// Places a laid-out row (number `index` in the log) with its top left at `at`: one list
/// item for a screen reader, named as [`spoken`] says, holding the row's parts.
fn place(ui: &mut Ui, index: usize, row: Row, at: egui::Pos2, width: f32) {
    let whole = Rect::from_min_size(at, egui::vec2(width, row.height));
    let item = UiBuilder::new()
        .id_salt(("row", index))
        .max_rect(whole)
        .accessibility_role(Role::ListItem)
        .accessibility_label(row.spoken.clone());
    let mut item = ui.new_child(item);
    place_parts(&mut item, row, at, width);
}

fn place_parts(ui: &mut Ui, row: Row, at: egui::Pos2, width: f32) {
    let mut y = at.y;
    if let Some(label) = row.unread {
        y += unread_line(ui, label, egui::pos2(at.x, y), width);
    }
    let band = Rect::from_min_max(egui::pos2(at.x, y), egui::pos2(at.x + width, at.y + row.height));
    if row.found {
        let [r, g, b, _] = FOUND.to_array();
        let colour = egui::Color32::from_rgba_unmultiplied(r, g, b, FOUND_BAND_ALPHA);
        ui.painter().rect_filled(band.expand(1.0), 3.0, colour);
    } else if row.mine {
        // The user's own lines on a faint band of their own.
        ui.painter().rect_filled(band.expand(1.0), 3.0, ui.visuals().faint_bg_color);
    } else if row.mention {
        let [r, g, b, _] = MENTION.to_array();
        let colour = egui::Color32::from_rgba_unmultiplied(r, g, b, MENTION_BAND_ALPHA);
        ui.painter().rect_filled(band.expand(1.0), 3.0, colour);
    }
    let mut x = at.x;
    for part in [Some(row.time), row.sender].into_iter().flatten() {
        let size = part.size();
        ui.put(Rect::from_min_size(egui::pos2(x, y), size), Label::new(part));
        x += size.x + GAP;
    }
    let rect = Rect::from_min_size(egui::pos2(x, y), row.message.size());
    ui.put(rect, Label::new(row.message).selectable(true));
}

/// Lays out `text` wrapped at `width` (a word longer than that breaks anywhere).
fn galley(ui: &Ui, text: RichText, width: f32) -> Arc<Galley> {
    let mut job = LayoutJob::default();
    text.append_to(&mut job, ui.style(), FontSelection::Default, Align::Min);
    job.wrap = TextWrapping::wrap_at_width(width);
    ui.fonts_mut(|fonts| fonts.layout_job(job))
}

/// "New messages", across the row above the first message not yet seen; returns its height.
fn unread_line(ui: &mut Ui, label: Arc<Galley>, at: egui::Pos2, width: f32) -> f32 {
    let size = label.size();
    let middle = at.y + size.y / 2.0;
    let label_left = at.x + (width - size.x) / 2.0;
    let stroke = egui::Stroke::new(1.0, LOST);
    ui.painter().hline(at.x..=label_left - GAP, middle, stroke);
    ui.painter().hline(label_left + size.x + GAP..=at.x + width, middle, stroke);
    ui.put(Rect::from_min_size(egui::pos2(label_left, at.y), size), Label::new(label));
    size.y + ui.spacing().item_spacing.y
}
