//! Running under a service manager: what the real binary tells `$NOTIFY_SOCKET` (here a socket
//! of the test's, standing in for systemd) when it is ready, reloading and stopping, and that
//! it feeds the watchdog.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use udprelay_testkit::ServerProcess as Server;

/// The next notification, waiting at most 5 s.
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("a notification within the wait");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Notifications until one starts with `prefix` (watchdog pings come in between).
fn until(socket: &UnixDatagram, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let message = next(socket);
        if message.starts_with(prefix) {
            return message;
        }
    }
    panic!("no {prefix} notification");
}

#[test]
fn ready_reloading_stopping_and_the_watchdog() {
    let path = std::env::temp_dir().join(format!("udprelay-notify-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let env = [("NOTIFY_SOCKET", path.to_str().unwrap()), ("WATCHDOG_USEC", "1000000")];
    let mut server = Server::start_with_env("127.0.0.1", 0, &[], &env);

    let ready = next(&socket);
    assert!(ready.starts_with("READY=1\nSTATUS=listening on 127.0.0.1:"), "{ready:?}");
    // WatchdogSec=1: fed every half second while every worker goes round its loop.
    assert_eq!(until(&socket, "WATCHDOG"), "WATCHDOG=1\n");
    assert_eq!(until(&socket, "WATCHDOG"), "WATCHDOG=1\n");

    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let reloading = until(&socket, "RELOADING");
    assert!(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{reloading:?}");
    assert_eq!(until(&socket, "READY"), "READY=1\nSTATUS=configuration reloaded\n");

    assert!(server.terminate().success());
    assert_eq!(until(&socket, "STOPPING"), "STOPPING=1\n");
    let _ = std::fs::remove_file(path);
}
