//! `--metrics`: a real HTTP client scrapes the real binary after real traffic.

use udprelay_testkit::{Peer, ServerProcess as Server, poll_until};

/// The metrics address the server logged.
fn metrics_addr(server: &Server) -> String {
    assert!(server.wait_for_log("metrics at /metrics"), "{}", server.log());
    let log = server.log();
    let line = log.lines().find(|line| line.contains("metrics at /metrics")).unwrap();
    let addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap();
    addr.to_string()
}

fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(mut response) => {
            (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
        }
        Err(ureq::Error::StatusCode(code)) => (code, String::new()),
        Err(error) => panic!("{url}: {error}"),
    }
}

/// The value of one sample line, e.g. `udprelay_joins_total` or `udprelay_replies_total{kind="created"}`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn counters_and_gauges_move_with_traffic() {
    let server = Server::start(&["--metrics", "127.0.0.1:0"]);
    let base = format!("http://{}", metrics_addr(&server));
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    Peer::group_of(&[&a, &b]);
    a.send(b"hello");
    assert_eq!(b.recv(), b"hello");
    assert_eq!(Peer::new(server.addr).ask("!NOPE"), "ERR BAD_CMD UnknownCommand");

    // The numbers are copied once a second.
    let mut text = String::new();
    assert!(
        poll_until(|| {
            text = get(&format!("{base}/metrics")).1;
            sample(&text, "udprelay_deliveries_total") == Some(1.0)
        }),
        "{text}"
    );
    for (name, value) in [
        ("udprelay_creates_total", 1.0),
        ("udprelay_joins_total", 2.0),
        ("udprelay_replies_total{kind=\"created\"}", 1.0),
        ("udprelay_replies_total{kind=\"joined\"}", 2.0),
        ("udprelay_replies_total{kind=\"error\"}", 1.0),
        ("udprelay_dropped_total{reason=\"loop\"}", 0.0),
        ("udprelay_groups", 1.0),
        ("udprelay_members", 2.0),
        ("udprelay_validated_members", 0.0),
        ("udprelay_datagrams_received_total", 5.0),
    ] {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    assert!(text.contains("# TYPE udprelay_dropped counter"), "{text}");
    assert!(sample(&text, "udprelay_bytes_received_total").unwrap() > 0.0);
    assert_eq!(get(&format!("{base}/healthz")), (200, "ok\n".into()));
    assert_eq!(get(&format!("{base}/nothing")).0, 404);
}
