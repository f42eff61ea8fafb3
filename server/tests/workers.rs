//! The server's ways of serving: several worker threads on one port, batched system calls
//! (Linux) and the portable one-datagram-per-call path. Real binary, real UDP, bounded waits.

use std::collections::HashSet;
use std::process::Command;

use udprelay_testkit::{Peer, ServerProcess as Server};

const BINARY: &str = env!("CARGO_BIN_EXE_udprelay-server");

/// Each way the shell can run. At these tests' light load, `--spread auto` (the default)
/// hands everything to one worker, so `always` is what makes several share the work.
const WAYS: [&[&str]; 5] = [
    &["--threads", "1"],
    &["--threads", "2"],
    &["--threads", "2", "--spread", "always"],
    &["--threads", "1", "--no-batching"],
    &["--threads", "3", "--no-batching", "--spread", "always"],
];

#[test]
fn every_member_gets_every_other_members_payloads() {
    for way in WAYS {
        let server = Server::start(way);
        // Eight sockets: their ports spread them over the workers' sockets.
        let peers: Vec<Peer> = (0..8).map(|_| Peer::new(server.addr)).collect();
        let id = Peer::group_of(&peers.iter().collect::<Vec<_>>());
        assert_eq!(peers[7].ask("!WHO"), format!("OK WHO {id} 8"), "{way:?}");
        for (n, peer) in peers.iter().enumerate() {
            peer.send(format!("from {n}").as_bytes());
        }
        for (n, peer) in peers.iter().enumerate() {
            let got: HashSet<String> =
                (0..7).map(|_| String::from_utf8(peer.recv()).unwrap()).collect();
            let expected: HashSet<String> =
                (0..8).filter(|&other| other != n).map(|other| format!("from {other}")).collect();
            assert_eq!(got, expected, "{way:?}: peer {n}");
        }
    }
}

#[test]
fn a_burst_arrives_whole_and_in_order() {
    for way in WAYS {
        let server = Server::start(way);
        let (a, b, c) = (Peer::new(server.addr), Peer::new(server.addr), Peer::new(server.addr));
        Peer::group_of(&[&a, &b, &c]);
        // Sent back to back, so the server finds many waiting at once (a full batch is 64).
        for n in 0..120u32 {
            a.send(format!("{n:04} {}", "x".repeat(60)).as_bytes());
        }
        for receiver in [&b, &c] {
            for n in 0..120u32 {
                let got = String::from_utf8(receiver.recv()).unwrap();
                assert_eq!(&got[..4], format!("{n:04}"), "{way:?}");
            }
        }
        // Commands in the same stream are still answered, in their place.
        a.send(b"last");
        assert_eq!(a.ask("!PING"), "PONG 60.0", "{way:?}");
        assert_eq!(b.recv(), b"last");
    }
}

#[test]
fn a_second_server_on_the_same_port_is_refused() {
    let first = Server::start(&["--threads", "2"]);
    let port = first.addr.port().to_string();
    let output = Command::new(BINARY)
        .args(["--host", "127.0.0.1", "--port", &port, "--threads", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
    // And the first still serves.
    let a = Peer::new(first.addr);
    a.join(&a.create());
    assert_eq!(a.ask("!PING"), "PONG 60.0");
}
