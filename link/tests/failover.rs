//! Moving between servers over real loopback sockets: two scripted servers, the first of which
//! goes silent (as a machine that dies without a word) after the client joined. Every wait is
//! bounded.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use udprelay_link::{Connection, Report, Server};
use udprelay_shared::session::Event;
use udprelay_shared::{Command, GroupId};

/// A server that answers joins and pings (with a 1 s heartbeat) until `silent` is set.
fn scripted_server(silent: Arc<AtomicBool>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 4097];
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Ok((n, from)) = socket.recv_from(&mut buf) else { continue };
            if silent.load(Ordering::Relaxed) {
                continue;
            }
            let text = String::from_utf8_lossy(&buf[..n]);
            let reply = if let Some(id) = text.strip_prefix("!JOIN ") {
                format!("OK JOINED {id}")
            } else if text.starts_with("!PING") {
                "PONG 1.0".to_string()
            } else {
                continue;
            };
            let _ = socket.send_to(reply.as_bytes(), from);
        }
    });
    addr
}

/// Runs the connection's loop until `done` says so about a report, for at most `limit`.
fn run_until(
    connection: &mut Connection,
    limit: Duration,
    done: impl Fn(&Report) -> bool,
) -> Vec<Report> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        for report in connection.flush() {
            let stop = done(&report);
            seen.push(report);
            if stop {
                return seen;
            }
        }
        let wait = connection.deadline().map_or(Duration::from_millis(100), |at| {
            at.saturating_duration_since(Instant::now()).min(Duration::from_millis(100))
        });
        if let Ok(message) = connection.network().recv_timeout(wait) {
            connection.receive(Instant::now(), message);
        }
        connection.tick(Instant::now());
    }
    panic!("not within {limit:?}; saw {seen:#?}");
}

#[test]
fn a_server_gone_silent_is_left_for_the_next_and_the_group_rejoined_there() {
    let (first_silent, second_silent) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let (a, b) = (scripted_server(Arc::clone(&first_silent)), scripted_server(second_silent));
    let mut connection = Connection::open(vec![Server::at(a), Server::at(b)]).unwrap();
    let group: GroupId = "ABCD1234".parse().unwrap();
    connection.session_mut().command(Instant::now(), Command::Join(group));
    run_until(&mut connection, Duration::from_secs(5), |report| {
        matches!(report, Report::Session(Event::Reply { request: Command::Ping(_), .. }))
    });
    assert_eq!(connection.server().addr, a);

    first_silent.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let seen = run_until(&mut connection, Duration::from_secs(10), |report| {
        matches!(report, Report::Moved { .. })
    });
    let took = started.elapsed();
    // The next ping within a second, its retry 2 s later, and 2 s for that one's answer.
    assert!(took <= Duration::from_secs(6), "{took:?}");
    let moved = Report::Moved { from: a.to_string(), to: b.to_string(), group: Some(group) };
    assert_eq!(seen.last(), Some(&moved));
    // One line for the move: the heartbeat's own "no reply" is not reported besides it.
    assert!(!seen.iter().any(|r| matches!(r, Report::Session(Event::NoReply { .. }))), "{seen:#?}");
    assert_eq!(connection.server().addr, b);
    assert_eq!(connection.session().group(), Some(group));
}
