//! The real `udprelay-server` binary on 127.0.0.1 port 0, spoken to over real UDP.
//! Every wait is bounded by a socket read timeout or a counted loop.

use std::net::UdpSocket;
use std::process::Command;

use udprelay_testkit::{Peer, ServerProcess as Server, poll_until};

const BINARY: &str = env!("CARGO_BIN_EXE_udprelay-server");

#[test]
fn three_peers_create_join_relay_and_leave() {
    let server = Server::start(&[]);
    let (a, b, c) = (Peer::new(server.addr), Peer::new(server.addr), Peer::new(server.addr));
    let id = Peer::group_of(&[&a]);
    // Ids typed in lower case work; the reply names the id as it is.
    assert_eq!(b.ask(&format!("!JOIN {}", id.to_lowercase())), format!("OK JOINED {id}"));
    c.join(&id);
    assert_eq!(c.ask("!WHO"), format!("OK WHO {id} 3"));

    a.send(b"hello from A");
    assert_eq!(b.recv(), b"hello from A");
    assert_eq!(c.recv(), b"hello from A");
    c.send(b"hi from C");
    assert_eq!(a.recv(), b"hi from C");
    assert_eq!(b.recv(), b"hi from C");

    assert_eq!(b.ask(&format!("!LEAVE {id}")), format!("OK LEFT {id}"));
    a.send(b"B is gone");
    assert_eq!(c.recv(), b"B is gone");
    assert_eq!(b.ask("!WHO"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(a.ask("!WHO"), format!("OK WHO {id} 2"));
}

#[test]
fn a_4096_byte_binary_payload_arrives_verbatim() {
    let server = Server::start(&[]);
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    Peer::group_of(&[&a, &b]);
    // NULs, invalid UTF-8, a leading byte that is not '!', every byte value.
    let payload: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    assert_ne!(payload[0], b'!');
    assert!(std::str::from_utf8(&payload).is_err());
    a.send(&payload);
    assert_eq!(b.recv(), payload);
}

#[test]
fn a_4097_byte_datagram_is_refused_and_not_relayed() {
    let server = Server::start(&[]);
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    Peer::group_of(&[&a, &b]);
    a.send(&[b'x'; 4097]);
    assert_eq!(a.recv_text(), "ERR TOO_LARGE PayloadTooLarge");
    a.send(b"after");
    assert_eq!(b.recv(), b"after", "the oversize datagram was not relayed");
}

#[test]
fn the_sender_does_not_get_its_own_payload() {
    let server = Server::start(&[]);
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    let id = Peer::group_of(&[&a, &b]);
    a.send(b"no echo please");
    assert_eq!(b.recv(), b"no echo please");
    // Replies go out in order: an echo would have arrived before this answer.
    assert_eq!(a.ask("!WHO"), format!("OK WHO {id} 2"));
}

#[test]
fn pong_carries_the_configured_interval() {
    for (flag, expected) in
        [(None, "PONG 60.0"), (Some("0.5"), "PONG 0.5"), (Some("12.3456"), "PONG 12.346")]
    {
        let server = match flag {
            Some(seconds) => Server::start(&["--heartbeat", seconds]),
            None => Server::start(&[]),
        };
        let a = Peer::new(server.addr);
        a.join(&a.create());
        assert_eq!(a.ask("!PING"), expected);
    }
}

#[test]
fn errors_over_udp_have_the_exact_texts() {
    let server = Server::start(&["--max-groups-per-client", "1", "--cap", "1"]);
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    assert_eq!(a.ask("!PING"), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(a.ask("!ping"), "ERR BAD_CMD UnknownCommand");
    assert_eq!(a.ask("!JOIN"), "ERR BAD_ARG Usage:!JOIN <GROUPID>");
    assert_eq!(a.ask("!LEAVE"), "ERR BAD_ARG Usage:!LEAVE <GROUPID>");
    assert_eq!(a.ask("!JOIN ABCD1234"), "ERR BAD_ARG NoSuchGroup");
    let id = a.create();
    assert_eq!(a.ask("!CREATE"), "ERR CLIENT_LIMIT 1/1");
    a.join(&id);
    assert_eq!(b.ask(&format!("!JOIN {id}")), format!("ERR GROUP_FULL {id}"));
    assert_eq!(b.ask(&format!("!LEAVE {id}")), "ERR NOT_IN_GROUP NotInThatGroup");
    // A command typed into `nc -u` ends with a newline; the server takes it.
    assert_eq!(a.ask("!WHO\n"), format!("OK WHO {id} 1"));
}

#[test]
fn the_sweep_timer_removes_silent_members() {
    let server = Server::start(&["--heartbeat", "0.1", "--sweep", "0.05"]);
    let a = Peer::new(server.addr);
    Peer::group_of(&[&a]);
    // `!WHO` is not activity, so A goes silent, and a sweep soon drops it.
    let dropped = poll_until(|| a.ask("!WHO") == "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert!(dropped, "a silent member was never removed");
    assert!(server.wait_for_log("removed (inactive)"), "{}", server.log());
}

#[test]
fn ipv6_loopback_works() {
    let server = Server::start_on("::1", &[]);
    assert!(server.addr.is_ipv6());
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    Peer::group_of(&[&a, &b]);
    a.send(b"over IPv6");
    assert_eq!(b.recv(), b"over IPv6");
}

#[test]
fn bad_flags_exit_2_with_a_one_line_reason() {
    for (flag, value) in [
        ("--port", "70000"),
        ("--heartbeat", "0"),
        ("--sweep", "-1"),
        ("--empty-ttl", "soon"),
        ("--cap", "-3"),
        ("--max-groups-per-client", "many"),
        ("--threads", "0"),
        ("--threads", "all"),
        ("--spread", "sometimes"),
    ] {
        let output = Command::new(BINARY).args([flag, value]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: invalid value") && first.contains(flag), "{first}");
        assert!(output.stdout.is_empty(), "nothing was started");
    }
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output =
        Command::new(BINARY).args(["--host", "127.0.0.1", "--port", &port]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly_with_its_counters() {
    let mut server = Server::start(&[]);
    let a = Peer::new(server.addr);
    a.join(&a.create());
    a.send(&[0; 5000]);
    assert_eq!(a.recv_text(), "ERR TOO_LARGE PayloadTooLarge");

    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = server.wait();
    assert_eq!(status.code(), Some(0));
    // The log reader thread sees the last lines as the pipe closes.
    assert!(server.wait_for_log("shutting down"), "{}", server.log());
    let log = server.log();
    for counter in
        ["datagrams_in=3", "oversize=1", "creates=1", "joins=1", "live_groups=1", "live_members=1"]
    {
        assert!(log.contains(counter), "{counter} missing from:\n{log}");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_the_moment_the_address_is_printed_is_still_a_clean_stop() {
    // The handlers are in place before the address is announced, so a service manager that
    // stops the server at once never gets the default kill.
    for _ in 0..10 {
        let mut server = Server::start(&[]);
        let pid = server.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        assert_eq!(server.wait().code(), Some(0), "{}", server.log());
    }
}
