//! The abuse limits in the real binary, over real UDP on loopback: small limits set by flag,
//! the validation budget, and a member at a closed port removed through ICMP.

use std::net::UdpSocket;
use std::time::Duration;

use udprelay_testkit::{Peer, ServerProcess as Server, poll_until};

#[test]
fn server_full_and_ip_limit_come_from_the_flags() {
    let server = Server::start(&["--max-groups", "2", "--max-members-per-ip", "2"]);
    let (a, b, c) = (Peer::new(server.addr), Peer::new(server.addr), Peer::new(server.addr));
    let id = a.create();
    b.create();
    assert_eq!(c.ask("!CREATE"), "ERR SERVER_FULL TooManyGroups");
    a.join(&id);
    b.join(&id);
    assert_eq!(c.ask(&format!("!JOIN {id}")), "ERR IP_LIMIT 2/2", "all three are 127.0.0.1");
    assert_eq!(a.ask(&format!("!LEAVE {id}")), format!("OK LEFT {id}"));
    c.join(&id);
}

#[test]
fn too_many_members_on_the_server() {
    let server = Server::start(&["--max-members", "1"]);
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    let id = Peer::group_of(&[&a]);
    assert_eq!(b.ask(&format!("!JOIN {id}")), "ERR SERVER_FULL TooManyMembers");
}

#[test]
fn commands_over_the_rate_get_no_reply() {
    let server = Server::start(&["--command-rate", "5"]);
    let a = Peer::new(server.addr);
    a.socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    for _ in 0..30 {
        a.send(b"!WHO");
    }
    let mut buf = [0u8; 100];
    let answered = (0..30).take_while(|_| a.socket.recv_from(&mut buf).is_ok()).count();
    assert!(answered <= 10 + 2, "a burst of 10, and what refilled meanwhile: {answered}");
    assert!(answered >= 10, "{answered}");
}

/// Sends `count` 1000-byte payloads from `sender` and counts what `to` gets within a short
/// wait after the last.
fn received(sender: &Peer, to: &Peer, count: usize) -> usize {
    for _ in 0..count {
        sender.send(&[b'x'; 1000]);
        std::thread::sleep(Duration::from_millis(2)); // within --payload-rate and loopback's pace
    }
    to.socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 2000];
    let mut bytes = 0;
    while let Ok((n, _)) = to.socket.recv_from(&mut buf) {
        bytes += n;
    }
    bytes
}

#[test]
fn with_require_validation_only_a_validated_member_gets_past_the_budget() {
    let server = Server::start(&["--require-validation"]);
    let (sender, validated, plain) =
        (Peer::new(server.addr), Peer::new(server.addr), Peer::new(server.addr));
    let id = Peer::group_of(&[&sender, &validated, &plain]);
    let reply = validated.ask("!PING +");
    let token = reply.rsplit(' ').next().unwrap();
    assert!(reply.starts_with("PONG 60.0 ") && token.len() == 32, "{reply}");
    assert!(validated.ask(&format!("!PING {token}")).starts_with("PONG 60.0 "));

    let join = format!("!JOIN {id}").len() + "!CREATE".len();
    assert_eq!(received(&sender, &validated, 20), 20_000);
    // `plain` sent its join (and the group_of create went from `sender`): 3 × its bytes.
    let budget = 3 * format!("!JOIN {id}").len();
    assert!(received(&sender, &plain, 20) <= budget, "budget {budget} (join {join})");
    // Replies are not withheld from it.
    assert_eq!(plain.ask("!WHO"), format!("OK WHO {id} 3"));
}

#[test]
fn a_member_at_a_closed_port_is_removed_through_icmp() {
    // Each receive path, and one batched worker: recvmmsg hands back queued datagrams and
    // keeps a pending error to itself, so the batched worker must read the error queue when
    // the socket signals an error (it did not, and failed here 27 times in 30).
    for flags in [&[][..], &["--threads", "1"], &["--threads", "1", "--no-batching"]] {
        for _ in 0..5 {
            let server = Server::start(flags);
            let a = Peer::new(server.addr);
            let id = Peer::group_of(&[&a]);
            let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
            gone.send_to(format!("!JOIN {id}").as_bytes(), server.addr).unwrap();
            let mut buf = [0u8; 100];
            gone.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let n = gone.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], format!("OK JOINED {id}").as_bytes());
            assert_eq!(a.ask("!WHO"), format!("OK WHO {id} 2"));
            drop(gone); // the port is closed: the kernel answers ICMP port unreachable

            a.send(b"anyone?");
            assert!(
                poll_until(|| a.ask("!WHO") == format!("OK WHO {id} 1")),
                "{flags:?}: the closed port is removed; log:\n{}",
                server.log()
            );
            assert!(server.wait_for_log("removed (unreachable)"));
        }
    }
}

#[test]
fn an_icmp_error_never_removes_another_member() {
    // The kernel reports a pending ICMP error on whatever the socket does next, a send to a
    // healthy member included: only the error queue says whom it was about.
    for batching in [true, false] {
        let flags: &[&str] = if batching { &[] } else { &["--no-batching"] };
        let server = Server::start(flags);
        let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
        let id = Peer::group_of(&[&a, &b]);
        let closed: Vec<UdpSocket> =
            (0..5).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        for socket in &closed {
            socket.send_to(format!("!JOIN {id}").as_bytes(), server.addr).unwrap();
        }
        assert!(poll_until(|| a.ask("!WHO") == format!("OK WHO {id} 7")));
        drop(closed);
        for n in 0..50 {
            a.send(format!("message {n}").as_bytes());
            assert_eq!(b.recv_text(), format!("message {n}"), "batching={batching}");
        }
        assert!(poll_until(|| a.ask("!WHO") == format!("OK WHO {id} 2")), "batching={batching}");
        assert_eq!(b.ask("!WHO"), format!("OK WHO {id} 2"));
    }
}
