//! The terminal client given several servers (the nodes of a cluster on real nats-server
//! processes, on 127.0.0.1-3): it uses the first that answers, and when that one dies it
//! moves to the next and rejoins its group there, saying so in one line.

mod common;

use std::time::{Duration, Instant};

use common::cli::Cli;
use udprelay_testkit::{Peer, RelayCluster};

#[test]
fn a_relay_killed_while_chatting_and_the_client_moves_to_the_next() {
    // The relays ask for a heartbeat every second, so a silent server is noticed quickly.
    let mut cluster = RelayCluster::start(3, 3, &["--heartbeat", "1"]);
    let port = cluster.addr(0).port();
    let ben = Peer::new(cluster.addr(0));
    let group = ben.create();
    ben.join(&group);
    let mut ana = Cli::start_at("127.0.0.2,127.0.0.3", port, &["--name", "ana"]);
    ana.type_line(&format!("join {group}"));
    ana.expect("[server] OK JOINED");
    ana.type_line("hello from r2");
    assert_eq!(ben.recv_text(), "ana: hello from r2");

    cluster.kill(1);
    let killed = Instant::now();
    // What she types as her relay dies reaches ben all the same, through r3.
    ana.type_line("as r2 dies");
    let moved = ana.expect("[cli] 127.0.0.2:");
    let took = killed.elapsed();
    assert_eq!(
        moved,
        format!(
            "[cli] 127.0.0.2:{port} is not answering; moved to 127.0.0.3:{port} and rejoined {group}"
        )
    );
    eprintln!("the client moved {took:?} after its relay was killed");
    // Within 3 × the heartbeat (1 s) and 2 s (her message's ICMP error says it at once).
    assert!(took <= Duration::from_secs(5), "{took:?}");
    // (Her message before it may come again: nothing came back from r2 after it, so the client
    // cannot know r2 had it.)
    let mut again = ben.recv_text();
    if again == "ana: hello from r2" {
        again = ben.recv_text();
    }
    assert_eq!(again, "ana: as r2 dies");
    // Chat goes on, both ways, through r3.
    ana.type_line("hello from r3");
    assert_eq!(ben.recv_text(), "ana: hello from r3");
    ben.send(b"ben: welcome back");
    ana.expect("[payload] ben: welcome back");
    // The dead relay's count of ana goes within 3 heartbeats of the nodes (1 s each).
    let alone = format!("[server] group={group} peers=2");
    let counted_out = (0..10).any(|_| {
        std::thread::sleep(Duration::from_millis(500));
        ana.type_line("who");
        ana.expect("[server] group=") == alone
    });
    assert!(counted_out, "{:#?}", ana.seen);
    let (status, _) = ana.finish();
    assert!(status.success());
}

#[test]
fn the_first_server_that_answers_is_used() {
    let cluster = RelayCluster::start(1, 2, &[]);
    let port = cluster.addr(0).port();
    // Nothing listens on 127.0.0.9: the client moves on, and its join is made on r2.
    let mut cli = Cli::start_at("127.0.0.9,127.0.0.2", port, &[]);
    cli.type_line("create --join");
    let moved = cli.expect("[cli] 127.0.0.9:");
    assert_eq!(
        moved,
        format!("[cli] 127.0.0.9:{port} is not answering; moved to 127.0.0.2:{port}")
    );
    let group = cli.created_id();
    cli.expect(&format!("[server] OK JOINED {group}"));
    // The group is the cluster's: it can be joined on r1.
    Peer::new(cluster.addr(0)).join(&group);
    let (status, _) = cli.finish();
    assert!(status.success(), "every command worked");
}
