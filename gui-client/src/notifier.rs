//! The desktop's notifications, shown off the UI thread (a call to the notification service can
//! take a while): through D-Bus (`org.freedesktop.Notifications`) on Linux and toasts on
//! Windows, by notify-rust. Each group has one notification, replaced in place while it is up
//! (its id reused); clicking it brings the window up on its group, where the desktop supports
//! actions. Where no notification service runs, the window says so once and goes on without.
//! Which notifications, and how often, is the model's business (`crate::notify`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::app::App;
use crate::net::LinkId;
use crate::notify::Notification;

/// What the notifier reports back to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    /// The user clicked group `LinkId`'s notification.
    Clicked(LinkId),
    /// Notifications cannot be shown (said once), and why.
    Unavailable(String),
}

/// The window's end of the notifier thread.
pub struct Notifier {
    show: Sender<Notification>,
    reported: Receiver<Reported>,
}

impl Notifier {
    /// Starts the thread; `wake` is called after each report, so the window looks.
    pub fn start(wake: impl Fn() + Send + Sync + Clone + 'static) -> Notifier {
        let (show, shown) = unbounded::<Notification>();
        let (report, reported) = unbounded();
        thread::Builder::new()
            .name("notifications".into())
            .spawn(move || run(shown, report, wake))
            .expect("a thread for notifications");
        Notifier { show, reported }
    }

    pub fn show(&self, notification: Notification) {
        let _ = self.show.send(notification);
    }

    /// What happened since the last look.
    pub fn reports(&self) -> impl Iterator<Item = Reported> + '_ {
        self.reported.try_iter()
    }

    /// Once a frame: takes in what came of earlier notifications (a click shows its group
    /// and brings the window up), shows those that are due, and has the window look again
    /// when the next that waits may go.
    pub fn pump(&self, app: &mut App, ctx: &egui::Context) {
        for report in self.reports() {
            match report {
                Reported::Clicked(link) => {
                    app.notification_clicked(link);
                    ctx.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
                    ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
                }
                Reported::Unavailable(why) => app.notifications_off = Some(why),
            }
        }
        let now = Instant::now();
        let (due, next) = app.due_notifications(now);
        for notification in due {
            self.show(notification);
        }
        if let Some(next) = next {
            ctx.request_repaint_after(next.saturating_duration_since(now));
        }
    }
}

/// Which notification each group has up now (its id), shared with the threads that watch them.
type Shown = Arc<Mutex<HashMap<LinkId, u32>>>;

/// Shows each notification as it comes, until the window ends.
fn run(
    shown: Receiver<Notification>,
    report: Sender<Reported>,
    wake: impl Fn() + Send + Sync + Clone + 'static,
) {
    let ids: Shown = Arc::default();
    let mut said = false;
    let mut markup = None;
    for notification in shown {
        let link = notification.link;
        let up = lock(&ids).get(&link).copied();
        let asked = up.unwrap_or_else(|| new_id(link));
        let markup = *markup.get_or_insert_with(reads_markup);
        let body = if markup { escaped(&notification.body) } else { notification.body };
        let mut desktop = notify_rust::Notification::new();
        desktop
            .appname("udprelay")
            .summary(&notification.summary)
            .body(&body)
            .action("default", "Show")
            .id(asked);
        match desktop.show() {
            Ok(handle) => {
                let id = id_of(&handle, asked);
                lock(&ids).insert(link, id);
                if up != Some(id) {
                    watch(handle, link, id, Arc::clone(&ids), report.clone(), wake.clone());
                }
            }
            Err(error) if !said => {
                said = true;
                let why = format!("Desktop notifications are off: {error}.");
                let _ = report.send(Reported::Unavailable(why));
                wake();
            }
            Err(_) => {}
        }
    }
}

/// Whether the notification service reads markup in a body (its `body-markup` capability):
/// then a peer's `<`, `>` and `&` must be escaped, or a message could bold, link or pull in an
/// image. Toasts read none.
fn reads_markup() -> bool {
    #[cfg(all(unix, not(target_os = "macos")))]
    if let Ok(capabilities) = notify_rust::get_capabilities() {
        return capabilities.iter().any(|capability| capability == "body-markup");
    }
    false
}

/// `text` with the three characters that markup reads escaped.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn lock(ids: &Shown) -> std::sync::MutexGuard<'_, HashMap<LinkId, u32>> {
    ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The id to ask for a group's first notification: on D-Bus 0 (the service picks one); a toast
/// is replaced by its tag, so one per group.
fn new_id(link: LinkId) -> u32 {
    if cfg!(all(unix, not(target_os = "macos"))) { 0 } else { (link as u32).max(1) }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn id_of(handle: &notify_rust::NotificationHandle, _asked: u32) -> u32 {
    handle.id()
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn id_of(_handle: &notify_rust::NotificationHandle, asked: u32) -> u32 {
    asked
}

/// Waits, on a thread of its own until the notification is clicked or closed, for a click on
/// group `link`'s notification `id` (one thread a group: a replaced notification keeps its id).
/// Once it is gone, the group's next notification is a new one, with a new watch.
fn watch(
    handle: notify_rust::NotificationHandle,
    link: LinkId,
    id: u32,
    ids: Shown,
    report: Sender<Reported>,
    wake: impl Fn() + Send + 'static,
) {
    let _ = thread::Builder::new().name("notification".into()).spawn(move || {
        handle.wait_for_action(|action| {
            if action == "default" {
                let _ = report.send(Reported::Clicked(link));
                wake();
            }
        });
        let mut ids = lock(&ids);
        if ids.get(&link) == Some(&id) {
            ids.remove(&link);
        }
    });
}
