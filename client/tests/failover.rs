//! Against scripted servers over real loopback sockets: moving between servers when the first
//! goes silent (as a machine that dies without a word) after the client joined, and leaving a
//! server that has gone silent. Every wait is bounded.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use udprelay_client::{Client, Event, GroupId};

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

#[test]
fn a_server_gone_silent_is_left_for_the_next_and_the_group_rejoined_there() {
    let (first_silent, second_silent) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let (a, b) = (scripted_server(Arc::clone(&first_silent)), scripted_server(second_silent));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (client, mut events) = Client::connect(&format!("{a},{b}")).await.unwrap();
        let group: GroupId = "ABCD1234".parse().unwrap();
        client.join(group).await.unwrap();
        assert_eq!(client.status(Some(group)).unwrap().server, a.to_string());

        first_silent.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let mut seen = Vec::new();
        let moved = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(event) = events.recv().await {
                if let Event::Moved { .. } = event {
                    return event;
                }
                seen.push(event);
            }
            panic!("the events ended");
        });
        let moved = moved.await.unwrap_or_else(|_| panic!("no move within 10 s; saw {seen:#?}"));
        let took = started.elapsed();
        // The next ping within a second, its retry 2 s later, and 2 s for that one's answer.
        assert!(took <= Duration::from_secs(6), "{took:?}");
        let (from, to) = (a.to_string(), b.to_string());
        assert_eq!(moved, Event::Moved { group: Some(group), from, to });
        // One report for the move: the heartbeat's own silence is not reported besides it.
        assert!(!seen.iter().any(|e| matches!(e, Event::Silent { .. })), "{seen:#?}");
        assert_eq!(client.status(Some(group)).unwrap().server, b.to_string());
        assert_eq!(client.groups(), [group]);
    });
}

#[test]
fn a_leave_the_server_does_not_answer_still_leaves() {
    let silent = Arc::new(AtomicBool::new(false));
    let server = scripted_server(Arc::clone(&silent));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (client, _events) = Client::connect(&server.to_string()).await.unwrap();
        let group: GroupId = "ABCD1234".parse().unwrap();
        client.join(group).await.unwrap();
        silent.store(true, Ordering::Relaxed);
        let error = client.leave(group).await.unwrap_err();
        assert!(matches!(error, udprelay_client::Error::NoReply { .. }), "{error:?}");
        assert!(client.groups().is_empty(), "out of the group all the same");
        // Joining it again starts afresh.
        silent.store(false, Ordering::Relaxed);
        client.join(group).await.unwrap();
    });
}
