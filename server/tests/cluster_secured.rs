//! `--cluster` on a NATS secured as docs/cluster.md says: three real nats-server processes
//! with TLS (a CA made by the test), routes that sign in, and per-node users allowed only their
//! own subjects; then what a NATS client that is no node, and one with a stolen node
//! credential, can do. Every wait is bounded.

use std::time::{Duration, Instant};

use async_nats::{ConnectErrorKind, ConnectOptions};
use udprelay_server::relay::cluster::Batch;
use udprelay_testkit::{NatsCluster, NatsSecrets, OTHER_PASSWORD, Peer, RelayCluster, poll_for};

/// Longest any NATS call of the test's own clients may take.
const NATS_WAIT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// `!WHO`'s count (payloads that arrive first are passed over).
fn who(peer: &Peer) -> usize {
    peer.send(b"!WHO");
    for _ in 0..100 {
        let reply = peer.recv_text();
        if let Some(count) = reply.strip_prefix("OK WHO ").and_then(|rest| rest.split(' ').nth(1)) {
            return count.parse().unwrap_or_else(|_| panic!("{reply}"));
        }
    }
    panic!("no OK WHO among 100 datagrams");
}

/// Everything `peer` receives until it has been quiet for `quiet`.
fn received_until_quiet(peer: &Peer, quiet: Duration) -> Vec<Vec<u8>> {
    peer.socket.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 8192];
    let mut got = Vec::new();
    while let Ok((n, _)) = peer.socket.recv_from(&mut buf) {
        got.push(buf[..n].to_vec());
        assert!(got.len() < 1000, "a flood: {} datagrams", got.len());
    }
    peer.socket.set_read_timeout(Some(udprelay_testkit::WAIT)).unwrap();
    got
}

/// What the relay's `/metrics` says now.
fn metrics(relay: &udprelay_testkit::ServerProcess) -> String {
    assert!(relay.wait_for_log("metrics at /metrics"), "{}", relay.log());
    let log = relay.log();
    let line = log.lines().find(|line| line.contains("metrics at /metrics")).unwrap();
    let addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap();
    let mut response = ureq::get(&format!("http://{addr}/metrics")).call().expect("metrics");
    response.body_mut().read_to_string().unwrap()
}

/// One counter's value in a metrics page.
fn metric(page: &str, name: &str) -> u64 {
    let line = page
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{page}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A member on relay 0 and one on relay 1 in a group made on relay 0, the cross-node join
/// answered within 2 s.
fn joined_across(cluster: &RelayCluster) -> (Peer, Peer, String) {
    let (a, b) = (Peer::new(cluster.addr(0)), Peer::new(cluster.addr(1)));
    let group = a.create();
    a.join(&group);
    let asked = Instant::now();
    b.send(format!("!JOIN {group}").as_bytes());
    assert_eq!(b.recv_text(), format!("OK JOINED {group}"));
    assert!(asked.elapsed() < Duration::from_secs(2), "a join took {:?}", asked.elapsed());
    (a, b, group)
}

#[test]
fn relays_chat_over_a_secured_nats_and_no_one_else_gets_in() {
    let secrets = NatsSecrets::new("udprelay", &["r1", "r2"]);
    let nats = NatsCluster::start_secured(3, &secrets);
    // r1 signs in with a password, r2 with an NKey; both trust the test's CA only. A slow
    // heartbeat, so that r2's goodbye below is told from its silence.
    let cluster = RelayCluster::start_on(nats, 2, |i| {
        let mut args = match i {
            0 => secrets.password_args("r1"),
            _ => secrets.nkey_args("r2"),
        };
        args.extend(["--cluster-heartbeat".into(), "5".into()]);
        args.extend(["--metrics".into(), "127.0.0.1:0".into()]);
        args
    });
    let log = cluster.relay(0).log();
    assert!(log.contains("sign-in=user:r1 tls=required"), "{log}");
    assert!(cluster.relay(1).log().contains("sign-in=nkey tls=required"));
    assert!(!log.contains(secrets.password("r1")), "the password is in the log:\n{log}");

    let (a, b, group) = joined_across(&cluster);
    a.send(b"over TLS");
    assert_eq!(b.recv(), b"over TLS");
    b.send(b"and back");
    assert_eq!(a.recv(), b"and back");

    let rt = runtime();
    let url = cluster.nats.url(1);
    let ca = secrets.ca.clone();
    let tls = || ConnectOptions::new().require_tls(true).add_root_certificates(ca.clone());
    let connect = |options: ConnectOptions| {
        rt.block_on(async {
            tokio::time::timeout(NATS_WAIT, options.connect(url.as_str()))
                .await
                .expect("NATS answers within the wait")
        })
    };

    // No credentials: not let in.
    let refused = connect(tls()).expect_err("a client without credentials is let in");
    assert_eq!(refused.kind(), ConnectErrorKind::AuthorizationViolation, "{refused}");

    // A user of another account sees nothing of the cluster while it chats.
    let other = connect(tls().user_and_password("other".into(), OTHER_PASSWORD.into()))
        .expect("the other account's user signs in");
    let mut everything = rt.block_on(other.subscribe(">")).expect("subscribe to everything");
    rt.block_on(other.flush()).unwrap();
    a.send(b"unseen");
    assert_eq!(b.recv(), b"unseen");
    let seen = rt.block_on(async {
        use futures_util::StreamExt;
        tokio::time::timeout(Duration::from_millis(500), everything.next()).await
    });
    assert!(seen.is_err(), "another account saw {seen:?}");

    // A stolen r1 credential: it may speak as r1 only, and only as the relays speak.
    let (told, mut refusals) = tokio::sync::mpsc::unbounded_channel();
    let stolen = tls().user_and_password("r1".into(), secrets.password("r1").into());
    let thief = connect(stolen.event_callback(move |event| {
        let _ = told.send(event.to_string());
        async {}
    }))
    .expect("the stolen credential signs in");
    let batch = |payloads: &[&[u8]]| {
        let mut batch = Batch::new();
        for payload in payloads {
            batch.push(group.parse().unwrap(), payload);
        }
        bytes::Bytes::from(batch.into_bytes())
    };
    let mut sniffed = rt.block_on(thief.subscribe("udprelay.node.r2.*")).unwrap();
    rt.block_on(async {
        // As r3, and as r2 telling the others it is leaving: refused by NATS.
        thief.publish("udprelay.node.r2.r3", batch(&[b"as r3"])).await.unwrap();
        thief.publish("udprelay.alive.r2", "{}".into()).await.unwrap();
        // As r1, what no member on r1 could send over UDP, one message each: refused by the
        // relay. (A frame is the group id, a 2-byte length and the payload; Batch never makes
        // an empty one or one this long.)
        thief.publish("udprelay.node.r2.r1", batch(&[b"!LEAVE x"])).await.unwrap();
        for len in [0u16, 4097] {
            let mut frame = batch(&[b"x"]).to_vec();
            frame.truncate(1); // the version byte
            frame.extend(group.as_bytes());
            frame.extend(len.to_be_bytes());
            frame.extend(vec![b'x'; usize::from(len)]);
            thief.publish("udprelay.node.r2.r1", frame.into()).await.unwrap();
        }
        thief.flush().await.unwrap();
    });
    a.send(b"the real one");
    let got = received_until_quiet(&b, Duration::from_millis(500));
    assert_eq!(got, [b"the real one".to_vec()], "b got forged payloads");
    let sniffed = rt.block_on(async {
        use futures_util::StreamExt;
        tokio::time::timeout(Duration::from_millis(300), sniffed.next()).await
    });
    assert!(sniffed.is_err(), "r1's credential read r2's payloads: {sniffed:?}");
    // NATS told the thief so, each time.
    let mut violations = String::new();
    while let Ok(event) = refusals.try_recv() {
        violations += &event;
        violations += "\n";
    }
    for refused in [
        "Subscription to \"udprelay.node.r2.*\"",
        "Publish to \"udprelay.node.r2.r3\"",
        "Publish to \"udprelay.alive.r2\"",
    ] {
        let told = format!("Permissions Violation for {refused}");
        assert!(violations.contains(&told), "NATS did not refuse {refused}:\n{violations}");
    }
    // r2 counted what it refused.
    let metrics = metrics(cluster.relay(1));
    let refused = metric(&metrics, "udprelay_cluster_refused_payloads_total");
    let damaged = metric(&metrics, "udprelay_cluster_damaged_messages_total");
    assert_eq!((refused, damaged), (1, 2), "the command; the empty and the long frames");
    // r2 is still counted on r1: the forged goodbye changed nothing.
    assert_eq!(who(&a), 2);
    // What the stolen credential can do, as docs/security.md says: post as r1 into a group
    // r1 has members in, within r1's budget.
    rt.block_on(async {
        thief.publish("udprelay.node.r2.r1", batch(&[b"posted as r1"])).await.unwrap();
        thief.flush().await.unwrap();
    });
    assert_eq!(b.recv(), b"posted as r1");

    // The permissions docs/cluster.md gives the nodes are all they needed.
    for i in 0..2 {
        let log = cluster.relay(i).log();
        assert!(!log.contains("Permissions Violation"), "r{} was refused:\n{log}", i + 1);
    }

    // A clean stop says goodbye: r1 counts b out at once, not after 2.5 heartbeats (12.5 s).
    let mut cluster = cluster;
    let stopped = Instant::now();
    assert!(cluster.relay_mut(1).terminate().success());
    assert!(poll_for(Duration::from_secs(5), || who(&a) == 1), "r2's goodbye was not heard");
    eprintln!("r2's goodbye heard on r1 after {:?}", stopped.elapsed());
}

#[test]
fn a_relay_with_wrong_credentials_says_so_and_is_busy() {
    let secrets = NatsSecrets::new("udprelay", &["r1"]);
    let nats = NatsCluster::start_secured(1, &secrets);
    let dir = udprelay_testkit::ScratchDir::new("wrong-password");
    let wrong = dir.join("password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let ca = secrets.ca.to_str().unwrap();
    let urls = nats.url(0);
    let args = [
        "--cluster",
        &urls,
        "--node-name",
        "r1",
        "--cluster-user",
        "r1",
        "--cluster-password-file",
        wrong.to_str().unwrap(),
        "--cluster-tls-ca",
        ca,
    ];
    let relay = udprelay_testkit::ServerProcess::start(&args);
    assert!(relay.wait_for_log("NATS refused this node"), "{}", relay.log());
    assert!(relay.log().contains("authorization violation"), "{}", relay.log());
    assert!(!relay.log().contains("not-the-password"));
    // It answers, and says it cannot create now, rather than hanging.
    let peer = Peer::new(relay.addr);
    assert_eq!(peer.ask("!CREATE"), "ERR BUSY TryAgain");
}

/// `--cluster-creds` against a nats-server in operator mode (JWTs, as `nsc` sets it up): two
/// relays sign in with their users' `.creds` files and chat across; a client with no
/// credentials is not let in.
#[test]
fn relays_sign_in_with_creds_files_to_a_nats_in_operator_mode() {
    let secrets = udprelay_testkit::OperatorSecrets::new(&["r1", "r2"]);
    let nats = NatsCluster::start_operator_mode(&secrets);
    let cluster = RelayCluster::start_on(nats, 2, |i| secrets.creds_args(&format!("r{}", i + 1)));
    assert!(cluster.relay(0).log().contains("sign-in=creds"), "{}", cluster.relay(0).log());
    let (a, b, _) = joined_across(&cluster);
    a.send(b"signed in with a JWT");
    assert_eq!(b.recv(), b"signed in with a JWT");

    let rt = runtime();
    let url = cluster.nats.url(0);
    let refused = rt.block_on(async {
        tokio::time::timeout(NATS_WAIT, ConnectOptions::new().connect(url.as_str())).await
    });
    let refused = refused.expect("NATS answers within the wait").expect_err("let in without creds");
    assert_eq!(refused.kind(), ConnectErrorKind::AuthorizationViolation, "{refused}");
}
