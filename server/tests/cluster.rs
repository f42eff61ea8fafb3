//! `--cluster`: three real relays on three real nats-server processes (clustered, JetStream
//! on, loopback only). Every wait is bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udprelay_testkit::{Peer, RelayCluster, ServerProcess, poll_for};

/// A peer of relay `i`.
fn peer(cluster: &RelayCluster, i: usize) -> Peer {
    Peer::new(cluster.addr(i))
}

/// `!WHO`'s count, as a number (payloads that arrive first are passed over).
fn who(peer: &Peer) -> usize {
    peer.send(b"!WHO");
    loop {
        let reply = peer.recv_text();
        if let Some(count) = reply.strip_prefix("OK WHO ").and_then(|rest| rest.split(' ').nth(1)) {
            return count.parse().unwrap_or_else(|_| panic!("{reply}"));
        }
    }
}

/// Waits (bounded) until `peer` counts `n` members.
fn wait_who(peer: &Peer, n: usize, within: Duration) -> Duration {
    let start = Instant::now();
    assert!(poll_for(within, || who(peer) == n), "!WHO never said {n} (last: {})", who(peer));
    start.elapsed()
}

#[test]
fn one_namespace_caps_and_expiry_over_three_nodes() {
    let cluster = RelayCluster::start(3, 3, &["--empty-ttl", "2", "--sweep", "0.5"]);
    let (a, b, c) = (peer(&cluster, 0), peer(&cluster, 1), peer(&cluster, 2));
    let group = a.create();
    a.join(&group);
    let lower = format!("!JOIN {}", group.to_lowercase());
    assert_eq!(b.ask_deciding(&lower), format!("OK JOINED {group}"));
    c.join(&group);
    // Every node counts every node's members: each learns of the others' joins from their
    // announcements, or, on a loaded host that took longer than 500 ms to answer one, from the
    // directory's change feed a moment later (docs/cluster.md).
    for p in [&a, &b, &c] {
        wait_who(p, 3, Duration::from_secs(5));
    }
    // Payloads cross nodes verbatim, once each.
    let payload = b"hello \x00\xff from a";
    a.send(payload);
    assert_eq!(b.recv(), payload);
    assert_eq!(c.recv(), payload);
    c.send(b"and from c");
    assert_eq!(a.recv(), b"and from c");
    assert_eq!(b.recv(), b"and from c");
    b.socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 64];
    assert!(b.socket.recv_from(&mut buf).is_err(), "nothing twice");
    // A leave on one node is seen on another within a second.
    assert_eq!(b.ask(&format!("!LEAVE {group}")), format!("OK LEFT {group}"));
    let took = wait_who(&a, 2, Duration::from_secs(1));
    eprintln!("a leave on r2 seen on r1 after {took:?}");

    // The cap holds over the nodes, even for joins racing on two of them.
    let capped = a.ask_deciding("!CREATE 1");
    let capped = capped.strip_prefix("OK CREATED ").unwrap().to_string();
    let (x, y) = (peer(&cluster, 1), peer(&cluster, 2));
    let join = format!("!JOIN {capped}");
    x.send(join.as_bytes());
    y.send(join.as_bytes());
    // Each until decided (a join the directory could not take just then is sent again).
    let decide = |p: &Peer, first: String| {
        if first == "ERR BUSY TryAgain" { p.ask_deciding(&join) } else { first }
    };
    let (first_x, first_y) = (x.recv_text(), y.recv_text());
    let mut replies = vec![decide(&x, first_x), decide(&y, first_y)];
    replies.sort();
    assert_eq!(replies, [format!("ERR GROUP_FULL {capped}"), format!("OK JOINED {capped}")]);

    // An empty group expires after --empty-ttl (2 s), whichever node made it and wherever its
    // last member left. (A join would restart its time, so the creator's log is watched.)
    let short = c.create();
    let z = peer(&cluster, 0);
    z.join(&short);
    assert_eq!(z.ask(&format!("!LEAVE {short}")), format!("OK LEFT {short}"));
    let left = Instant::now();
    let line = format!("expired group={short}");
    let gone = poll_for(Duration::from_secs(8), || cluster.relay(2).log().contains(&line));
    assert!(gone, "the empty group did not expire:\n{}", cluster.relay(2).log());
    let after = left.elapsed();
    eprintln!("the empty group expired {after:?} after its last member left");
    assert!(after >= Duration::from_secs(2), "{after:?}");
    assert_eq!(
        peer(&cluster, 1).ask_deciding(&format!("!JOIN {short}")),
        "ERR BAD_ARG NoSuchGroup"
    );
    // Its creator's slot on r3 is free again.
    for _ in 0..3 {
        c.create();
    }
    assert_eq!(c.ask_deciding("!CREATE"), "ERR CLIENT_LIMIT 3/3");
}

#[test]
fn a_relay_killed_is_counted_out_and_its_members_rejoin_elsewhere() {
    let mut cluster = RelayCluster::start(3, 3, &[]);
    let (a, b, c) = (peer(&cluster, 0), peer(&cluster, 1), peer(&cluster, 2));
    let group = a.create();
    for p in [&a, &b, &c] {
        p.join(&group);
    }
    assert_eq!(who(&a), 3);
    cluster.kill(2);
    let killed = Instant::now();
    // Within 3 × the node heartbeat (1 s here) the others count its member out.
    wait_who(&a, 2, Duration::from_secs(6));
    let noticed = killed.elapsed();
    eprintln!("r3's death noticed after {noticed:?}");
    assert!(noticed <= Duration::from_secs(4), "{noticed:?}");
    wait_who(&b, 2, Duration::from_secs(2));
    // The group lives on: c's user joins it again on another node, and chat goes on.
    let c2 = peer(&cluster, 1);
    c2.join(&group);
    a.send(b"still here");
    assert_eq!(b.recv(), b"still here");
    assert_eq!(c2.recv(), b"still here");
}

#[test]
fn a_nats_server_lost_chat_resumes() {
    let mut cluster = RelayCluster::start(3, 2, &[]);
    let (a, b) = (peer(&cluster, 0), peer(&cluster, 1));
    let group = a.create();
    a.join(&group);
    b.join(&group);
    // r2 is connected to the second NATS server first; kill that one.
    cluster.nats.kill(1);
    let killed = Instant::now();
    let noticed =
        poll_for(Duration::from_secs(5), || cluster.relay(1).log().contains("lost the connection"));
    assert!(noticed, "r2 did not notice:\n{}", cluster.relay(1).log());
    b.socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 64];
    let resumed = poll_for(Duration::from_secs(5), || {
        a.send(b"are you there");
        matches!(b.socket.recv_from(&mut buf), Ok((n, _)) if &buf[..n] == b"are you there")
    });
    assert!(resumed, "chat did not resume within 5 s:\n{}", cluster.relay(1).log());
    eprintln!("chat resumed {:?} after a NATS server was killed", killed.elapsed());
    // And joins work there again (a client retries ERR BUSY TryAgain every second): at once,
    // or, when the dead server led the directory's stream, once another leads it (about 5 s).
    let c = peer(&cluster, 1);
    let joined =
        poll_for(Duration::from_secs(15), || c.ask(&format!("!JOIN {group}")).starts_with("OK"));
    assert!(joined, "joins did not work again within 15 s:\n{}", cluster.relay(1).log());
    eprintln!("joins work {:?} after a NATS server was killed", killed.elapsed());
}

#[test]
fn with_nats_gone_a_relay_says_busy_keeps_relaying_and_catches_up() {
    let mut cluster = RelayCluster::start(3, 2, &["--metrics", "127.0.0.1:0"]);
    let (a, a2, b) = (peer(&cluster, 0), peer(&cluster, 0), peer(&cluster, 1));
    let group = a.create();
    for p in [&a, &a2, &b] {
        p.join(&group);
    }
    let health = format!("http://{}/healthz", metrics_addr(cluster.relay(0)));
    assert_eq!(get(&health).0, 200);
    for n in 0..3 {
        cluster.nats.kill(n);
    }
    let x = peer(&cluster, 0);
    let busy = poll_for(Duration::from_secs(5), || x.ask("!CREATE") == "ERR BUSY TryAgain");
    assert!(busy, "no ERR BUSY TryAgain with NATS gone");
    assert_eq!(x.ask(&format!("!JOIN {group}")), "ERR BUSY TryAgain");
    // Its own members still chat.
    a.send(b"local");
    assert_eq!(a2.recv(), b"local");
    let unhealthy = poll_for(Duration::from_secs(3), || get(&health).0 == 503);
    assert!(unhealthy, "/healthz did not say so");
    assert!(get(&health).1.contains("not connected to the cluster"));
    // NATS comes back: the relay catches up by itself.
    for n in 0..3 {
        cluster.nats.restart(n);
    }
    let restarted = Instant::now();
    let back =
        poll_for(Duration::from_secs(30), || x.ask(&format!("!JOIN {group}")).starts_with("OK"));
    eprintln!("joins work again {:?} after the NATS servers restarted", restarted.elapsed());
    assert!(back, "joins did not work again:\n{}", cluster.relay(0).log());
    wait_who(&b, 4, Duration::from_secs(10));
    assert_eq!(get(&health).0, 200);
    a.send(b"across again");
    assert_eq!(b.recv(), b"across again");
}

#[test]
fn the_state_file_keeps_a_nodes_members_across_a_restart() {
    let mut cluster = RelayCluster::start(3, 2, &[]);
    let dir = udprelay_testkit::ScratchDir::new("cluster-state");
    let state = dir.join("state");
    let state = state.to_str().unwrap();
    // Relay r2 again, now with a state file.
    cluster.kill(1);
    let urls = cluster.nats.urls_from(1);
    let args = [
        "--cluster",
        &urls,
        "--node-name",
        "r2",
        "--cluster-heartbeat",
        "1",
        "--state-file",
        state,
    ];
    let port = cluster.addr(1).port();
    let mut r2 = ServerProcess::start_at("127.0.0.2", port, &args);
    assert!(poll_for(Duration::from_secs(20), || r2.log().contains("connected to the cluster")));
    let (a, b) = (peer(&cluster, 0), Peer::new(SocketAddr::from(([127, 0, 0, 2], port))));
    let created = a.ask_deciding("!CREATE");
    let group = created
        .strip_prefix("OK CREATED ")
        .unwrap_or_else(|| panic!("{created}\nr1:\n{}\nr2:\n{}", cluster.relay(0).log(), r2.log()));
    a.join(group);
    b.join(group);
    assert!(r2.terminate().success());
    let mut r2 = ServerProcess::start_at("127.0.0.2", port, &args);
    assert!(poll_for(Duration::from_secs(20), || r2.log().contains("connected to the cluster")));
    // b never rejoined, yet it is still a member, and payloads reach it.
    a.send(b"after the restart");
    assert_eq!(b.recv(), b"after the restart");
    assert_eq!(who(&b), 2);
    let _ = r2.terminate();
}

#[test]
fn bad_cluster_flags_are_refused_with_a_reason() {
    for (args, why) in [
        (&["--cluster", "http//nowhere"][..], "not a NATS URL"),
        (&["--cluster", ""], "at least one NATS URL"),
        (&["--node-name", "r1"], "--cluster"),
        (&["--cluster", "nats://127.0.0.1:4222", "--node-name", "a.b"], "node name"),
        (&["--cluster", "nats://127.0.0.1:4222", "--cluster-replicas", "0"], "cluster-replicas"),
        (&["--cluster", "nats://127.0.0.1:4222", "--cluster-name", "x y"], "cluster-name"),
        // async-nats here has no WebSocket transport: refused, not tried as plain TCP.
        (
            &["--cluster", "wss://ana:hunter2@127.0.0.1:443"],
            "wss://***@127.0.0.1:443 is a WebSocket URL",
        ),
        (&["--cluster", "nats://ana:hunter2@"], "nats://***@ is not a NATS URL"),
        (
            &[
                "--cluster",
                "nats://ana:hunter2@h:1",
                "--cluster-user",
                "ana",
                "--cluster-password-file",
                "/dev/null",
            ],
            "is empty",
        ),
        (
            &[
                "--cluster",
                "nats://h:1",
                "--cluster-user",
                "ana",
                "--cluster-password-file",
                "/nonexistent",
            ],
            "--cluster-password-file: cannot read /nonexistent",
        ),
        (&["--cluster", "nats://h:1", "--cluster-user", "ana"], "--cluster-password-file"),
        (
            &["--cluster", "nats://h:1", "--cluster-nkey", "/dev/null"],
            "does not hold a user NKey seed",
        ),
        (&["--cluster", "nats://h:1", "--cluster-tls-cert", "/dev/null"], "--cluster-tls-key"),
        (&["--cluster", "nats://h:1", "--cluster-tls-ca", "/dev/null"], "holds no PEM CERTIFICATE"),
        (&["--cluster-tls-ca", "/dev/null"], "--cluster"),
    ] {
        let mut child = std::process::Command::new(udprelay_testkit::server_binary())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run the server");
        let status = udprelay_testkit::wait_bounded(&mut child);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "a password shown: {stderr}");
    }
}

/// The metrics address the server logged.
fn metrics_addr(server: &ServerProcess) -> String {
    assert!(server.wait_for_log("metrics at /metrics"), "{}", server.log());
    let log = server.log();
    let line = log.lines().find(|line| line.contains("metrics at /metrics")).unwrap();
    line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap().to_string()
}

/// The status and the body, whatever the status.
fn get(url: &str) -> (u16, String) {
    let call = ureq::get(url).config().http_status_as_error(false).build().call();
    let mut response = call.unwrap_or_else(|error| panic!("{url}: {error}"));
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}
