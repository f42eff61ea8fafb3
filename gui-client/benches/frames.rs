//! What a frame of the window costs with a hundred and with a hundred thousand messages in the
//! selected group, and what memory the process holds after a thousand and after a hundred
//! thousand: the real window (egui_kittest, no display) on the real server, the messages sent
//! by a plain UDP peer. Prints figures; asserts nothing about speed.
//!
//! `cargo bench -p udprelay-gui --bench frames` (a release build; takes about a minute).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use udprelay_gui::app::{App, EntryKind, Stage};
use udprelay_gui::view;
use udprelay_testkit::{Peer, ServerProcess};

/// Frames timed at each size (after a few to settle).
const FRAMES: usize = 300;
/// Messages sent at a time while filling.
const BURST: usize = 200;

fn main() {
    // The bot sends far above the default per-member payload rate: no limit here.
    let server = ServerProcess::start(&["--payload-rate", "0"]);
    let mut harness = Harness::builder().with_size([1000.0, 700.0]).build_ui_state(
        |ui, app: &mut App| view::show(ui, app),
        App::new(server.addr.to_string(), "ana"),
    );
    udprelay_gui::fonts::install(&harness.ctx);
    harness.state_mut().create();
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.state().groups.first().is_none_or(|g| g.stage != Stage::Joined) {
        assert!(Instant::now() < deadline, "the group was not created");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let id = harness.state().groups[0].id.unwrap().to_string();
    let bot = Peer::new(server.addr);
    bot.join(&id);

    let mut traffic = Traffic::default();
    let mut rows = Vec::new();
    for target in [100, 1_000, 100_000] {
        fill(&mut harness, &bot, &mut traffic, target);
        let frame = time_frames(&mut harness);
        let rss = rss_kib();
        let held = harness.state().groups[0].log.len();
        println!(
            "{:>7} messages received ({} sent): {:>6.1} µs a frame (mean of {FRAMES}), {held:>6} lines held in memory, RSS {:.1} MiB",
            traffic.received,
            traffic.sent,
            frame.as_secs_f64() * 1e6,
            rss as f64 / 1024.0
        );
        rows.push((target, frame, rss));
    }
    let (_, small, _) = rows[0];
    let (_, _, thousand) = rows[1];
    let (_, large, most) = rows[2];
    println!(
        "frame at 100 000 / frame at 100: {:.2}×   memory after 100 000 / after 1 000: {:.2}×",
        large.as_secs_f64() / small.as_secs_f64(),
        most as f64 / thousand as f64
    );
}

/// What the bot has sent and the window has received.
#[derive(Default)]
struct Traffic {
    sent: usize,
    received: usize,
    /// The number in the newest message counted.
    newest: Option<usize>,
}

impl Traffic {
    /// Counts the messages that came since the last look (each carries its number; the log
    /// holds far more than one burst, so none is missed).
    fn count(&mut self, app: &App) {
        let numbers =
            app.groups[0].log.iter().filter(|e| e.kind == EntryKind::Theirs).filter_map(|e| {
                e.text.split(' ').nth(1)?.trim_end_matches(',').parse::<usize>().ok()
            });
        let newest = self.newest;
        let new: Vec<usize> = numbers.filter(|&n| newest.is_none_or(|seen| n > seen)).collect();
        self.received += new.len();
        if let Some(&last) = new.last() {
            self.newest = Some(last);
        }
    }
}

/// Sends bursts until the window has received `target` messages, each burst waited for (a
/// little: a datagram the socket had no room for is made up for by the next burst).
fn fill(harness: &mut Harness<'static, App>, bot: &Peer, traffic: &mut Traffic, target: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while traffic.received < target {
        assert!(Instant::now() < deadline, "the window did not receive {target} messages");
        let burst = BURST.min(target - traffic.received);
        for _ in 0..burst {
            let n = traffic.sent;
            bot.send(format!("bot: message {n}, with a few words to wrap and show").as_bytes());
            traffic.sent += 1;
        }
        let waited = Instant::now() + Duration::from_millis(50);
        while traffic.newest != Some(traffic.sent - 1) && Instant::now() < waited {
            harness.step();
            traffic.count(harness.state());
        }
    }
    for _ in 0..10 {
        harness.step();
    }
}

fn time_frames(harness: &mut Harness<'static, App>) -> Duration {
    for _ in 0..20 {
        harness.step();
    }
    let start = Instant::now();
    for _ in 0..FRAMES {
        harness.step();
    }
    start.elapsed() / FRAMES as u32
}

/// The process's resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
