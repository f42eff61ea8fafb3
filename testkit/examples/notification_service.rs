//! The tests' notification service as a program, for the window's CPU benchmark
//! (gui-client/benches/window_cpu.py): starts a session bus of its own with the service on it,
//! prints the bus's address, then one line per notification it is asked to show, until its
//! standard input closes.
//!
//! `cargo run --release -p udprelay-testkit --features notifications --example notification_service`

use std::io::{Read, Write};
use std::time::Duration;

use udprelay_testkit::NotificationService;

fn main() {
    let service = NotificationService::start();
    println!("{}", service.address());
    std::io::stdout().flush().unwrap();
    let printer = std::thread::spawn({
        let notified = service.notifier_log();
        move || {
            let mut shown = 0;
            loop {
                let all = notified();
                for got in &all[shown..] {
                    println!(
                        "notified id={} replaces={} summary={:?}",
                        got.id, got.replaces, got.summary
                    );
                }
                shown = all.len();
                std::io::stdout().flush().unwrap();
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    });
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(printer);
}
