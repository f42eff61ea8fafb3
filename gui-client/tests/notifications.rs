//! Desktop notifications from the real window (egui_kittest, with the desktop shell's
//! notifier) through a real notification service on a private session bus (testkit's, on a
//! `dbus-daemon` of the test's own), for messages a real peer sends through the real server.
//! One test in this file: the bus's address is this process's environment. Every wait is
//! bounded.

mod common;

use std::time::{Duration, Instant};

use common::{click, create};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use udprelay_gui::app::App;
use udprelay_gui::notifier::Notifier;
use udprelay_gui::notify::{Level, NOTIFY_EVERY};
use udprelay_gui::view;
use udprelay_testkit::{NotificationService, Notified, Peer, ServerProcess};

/// Runs frames until `done` holds; panics after a bounded wait (a burst waits its turn).
fn wait_for(
    harness: &mut Harness<'static, App>,
    service: &NotificationService,
    what: &str,
    done: impl Fn(&App, &[Notified]) -> bool,
) {
    let deadline = Instant::now() + NOTIFY_EVERY + Duration::from_secs(5);
    while !done(harness.state(), &service.notified()) {
        assert!(Instant::now() < deadline, "waited for {what}: {:#?}", service.notified());
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
}

/// Frames for a while, so that anything that would come has had its chance.
fn run_for(harness: &mut Harness<'static, App>, time: Duration) {
    let until = Instant::now() + time;
    while Instant::now() < until {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn set_level(harness: &mut Harness<'static, App>, group: usize, level: Option<Level>) {
    harness.state_mut().groups[group].notify = level;
}

#[test]
fn messages_notify_by_level_through_a_real_notification_service() {
    let mut service = NotificationService::start();
    // SAFETY: this file's one test sets it before the window, the notifier or any bus client
    // starts.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", service.address()) };
    let server = ServerProcess::start(&[]);
    let notifier = Notifier::start(|| {});
    let mut harness =
        Harness::builder().with_size([1000.0, 700.0]).with_step_dt(1.0 / 60.0).build_ui_state(
            move |ui, app: &mut App| {
                view::show(ui, app);
                notifier.pump(app, ui.ctx());
            },
            App::new(server.addr.to_string(), "ana"),
        );
    let family = create(&mut harness);
    let other = create(&mut harness); // shown: the family's messages are not seen as they come
    let ben = Peer::new(server.addr);
    ben.join(&family);

    // One per message: the group and `sender: text`, with a default action to click. The
    // service reads markup in a body, so a peer's is escaped (no bold, no image from it).
    ben.send(b"ben: dinner at <b>eight</b> & <img src=\"file:///etc/passwd\">");
    wait_for(&mut harness, &service, "the first", |_, got| got.len() == 1);
    let first = service.notified()[0].clone();
    let body =
        "ben: dinner at &lt;b&gt;eight&lt;/b&gt; &amp; &lt;img src=\"file:///etc/passwd\"&gt;";
    assert_eq!(
        (first.app.as_str(), first.summary.as_str(), first.body.as_str(), first.replaces),
        ("udprelay", family.as_str(), body, 0)
    );
    assert!(first.actions.contains(&"default".to_string()), "{:?}", first.actions);

    // A burst: the same notification, replaced once its few seconds are up, with the count.
    for n in 1..=5 {
        ben.send(format!("ben: burst {n}").as_bytes());
    }
    wait_for(&mut harness, &service, "the burst", |_, got| got.len() == 2);
    let burst = service.notified()[1].clone();
    assert_eq!((burst.id, burst.replaces), (first.id, first.id), "replaced, not stacked");
    assert_eq!(burst.summary, format!("{family} (5 new messages)"));
    assert_eq!(burst.body, "ben: burst 5");
    run_for(&mut harness, Duration::from_millis(500));
    assert_eq!(service.notified().len(), 2, "five messages, one notification");

    // Clicking it shows its group.
    service.click(burst.id);
    wait_for(&mut harness, &service, "the click", |app, _| {
        app.selected == Some(app.groups[0].link)
    });
    assert_eq!(harness.state().groups[0].unread, 0, "read now");

    // Muted: nothing. Mentions only: only what names ana (the muted and the chatter were
    // never counted).
    click(&mut harness, &other);
    set_level(&mut harness, 0, Some(Level::Muted));
    ben.send(b"ben: while muted");
    wait_for(&mut harness, &service, "the muted message", |app, _| app.groups[0].unread == 1);
    set_level(&mut harness, 0, Some(Level::Mentions));
    ben.send(b"ben: some chatter");
    ben.send(b"ben: Ana, are you coming?");
    wait_for(&mut harness, &service, "the mention", |_, got| got.len() == 3);
    let mention = service.notified()[2].clone();
    assert_eq!(
        (mention.summary.as_str(), mention.body.as_str()),
        (family.as_str(), "ben: Ana, are you coming?")
    );
    run_for(&mut harness, NOTIFY_EVERY);
    assert_eq!(service.notified().len(), 3);

    // The shown group's messages are no news while the window has the focus.
    set_level(&mut harness, 0, Some(Level::All));
    click(&mut harness, &family);
    ben.send(b"ben: seen as it comes");
    wait_for(&mut harness, &service, "a seen message", |app, _| {
        app.groups[0].log.iter().any(|e| e.text == "seen as it comes")
    });
    run_for(&mut harness, NOTIFY_EVERY);
    assert_eq!(service.notified().len(), 3);

    // No notification service: said once, in the window, which goes on working.
    service.stop_service();
    click(&mut harness, &other);
    ben.send(b"ben: anyone there?");
    wait_for(&mut harness, &service, "the window to say so", |app, _| {
        app.notifications_off.is_some()
    });
    let said = harness.state().notifications_off.clone().unwrap();
    assert!(said.starts_with("Desktop notifications are off: "), "{said}");
    harness.get_by_label(&said);
    assert_eq!(harness.state().groups[0].unread, 1);
}
