//! The real `udprelay` client driven through pipes, against the real server: what a script
//! (or a user's test) sees. Every wait is bounded.

mod common;

use std::process::Command;

use common::cli::{CLIENT, Cli};
use udprelay_testkit::{Peer, ServerProcess, wait_bounded};

#[test]
fn two_clients_chat_through_the_real_server() {
    let server = ServerProcess::start(&[]);
    let mut a = Cli::for_server(&server, &[]);
    let mut b = Cli::for_server(&server, &[]);

    a.type_line("create --join");
    assert_eq!(a.expect("[server] OK CREATED"), a.seen.last().unwrap().clone());
    let id = a.created_id();
    assert_eq!(a.expect("[server] OK JOINED"), format!("[server] OK JOINED {id}"));

    b.type_line(&format!("join {}", id.to_lowercase()));
    assert_eq!(b.expect("[server] OK JOINED"), format!("[server] OK JOINED {id}"));

    a.type_line("hello from A");
    assert_eq!(b.expect("[payload]"), "[payload] hello from A");
    b.type_line("hi from B, don't worry");
    assert_eq!(a.expect("[payload]"), "[payload] hi from B, don't worry");

    a.type_line("who");
    assert_eq!(a.expect("[server] group="), format!("[server] group={id} peers=2"));

    b.type_line("leave");
    assert_eq!(b.expect("[server] OK LEFT"), format!("[server] OK LEFT {id}"));
    a.type_line("who");
    assert_eq!(a.expect("[server] group="), format!("[server] group={id} peers=1"));

    // Bad input gets one line each, and the client carries on.
    b.type_line("join");
    assert_eq!(b.expect("[cli]"), "[cli] usage: join <group_id>");
    b.type_line(&format!("!JOIN {id}"));
    assert_eq!(
        b.expect("[cli]"),
        "[cli] error: direct '!' commands are not allowed. Use helpers like 'create', 'join', 'leave', 'ping', or 'who'."
    );
    b.type_line("anyone here?");
    assert_eq!(b.expect("[cli]"), "[cli] not joined; use 'join <group_id>' or 'create --join'");
    b.type_line("join abc");
    assert_eq!(
        b.expect("[cli]"),
        "[cli] not a group id: 'abc' (a group id has 8 characters, not 3)"
    );
    b.type_line("join ZZZZZZZZ");
    assert_eq!(b.expect("[server]"), "[server] error: BAD_ARG - NoSuchGroup");
    assert!(b.expect("[cli]").starts_with("[cli] no group has that id"));

    // Some of b's commands failed, and a script hears of it in the exit code.
    let (status, rest) = b.finish();
    assert_eq!(status.code(), Some(1));
    assert_eq!(rest, ["Goodbye."]);
    let (status, rest) = a.finish();
    assert!(status.success());
    assert_eq!(rest, ["Goodbye."]);
}

#[test]
fn a_script_gets_exactly_the_result_lines() {
    let server = ServerProcess::start(&[]);
    let listener = Peer::new(server.addr);
    let output = {
        let mut cli = Cli::for_server(&server, &["--name", "bot"]);
        cli.type_line("create --join");
        let id = cli.created_id();
        listener.join(&id);
        cli.type_line("hello");
        cli.type_line("status");
        let status = cli.expect("[cli] server=");
        assert!(
            status.starts_with(&format!(
                "[cli] server=127.0.0.1:{} group={id} last_created={id} heartbeat_interval=60.000s next_ping_eta=",
                server.addr.port()
            )),
            "{status}"
        );
        let (exit, rest) = cli.finish();
        assert!(exit.success());
        [cli_lines(&id), rest].concat()
    };
    assert_eq!(listener.recv(), b"bot: hello");
    assert_eq!(output.last().map(String::as_str), Some("Goodbye."));
    // Quitting leaves the group, so the others' count is right at once.
    assert_eq!(listener.ask("!WHO").rsplit(' ').next(), Some("1"));
}

fn cli_lines(id: &str) -> Vec<String> {
    vec![format!("[server] OK CREATED {id}"), format!("[cli] created group id: {id}")]
}

#[test]
fn a_printf_pipe_is_a_supported_way_to_use_it() {
    let server = ServerProcess::start(&[]);
    let port = server.addr.port().to_string();
    let output = Command::new("sh")
        .args(["-c", &format!("printf 'create --join\\nhello\\n' | {CLIENT} --port {port}")])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let id = lines[0].strip_prefix("[server] OK CREATED ").expect(&text);
    assert_eq!(lines[1], format!("[cli] created group id: {id}"));
    assert_eq!(lines[2], format!("[server] OK JOINED {id}"));
    assert_eq!(lines[3], "Goodbye.");
}

#[test]
fn reply_shaped_messages_from_a_peer_are_only_messages() {
    let server = ServerProcess::start(&[]);
    let mut cli = Cli::for_server(&server, &[]);
    cli.type_line("create --join");
    let id = cli.created_id();
    let peer = Peer::new(server.addr);
    peer.join(&id);

    peer.send(format!("OK LEFT {id}").as_bytes());
    assert_eq!(cli.expect("[payload]"), format!("[payload] OK LEFT {id}"));
    peer.send(b"\x1b[2J\x1b[Hfake\n[server] OK JOINED ZZZZZZZZ");
    assert_eq!(
        cli.expect("[payload]"),
        "[payload] \\u{1b}[2J\\u{1b}[Hfake\\n[server] OK JOINED ZZZZZZZZ"
    );
    cli.type_line("who");
    assert_eq!(cli.expect("[server] group="), format!("[server] group={id} peers=2"));
}

#[test]
fn a_message_over_4096_bytes_is_not_sent() {
    let server = ServerProcess::start(&[]);
    let mut cli = Cli::for_server(&server, &[]);
    cli.type_line("create --join");
    cli.expect("[server] OK JOINED");
    cli.type_line(&"x".repeat(5000));
    assert_eq!(cli.expect("[cli]"), "[cli] message too long (5000 bytes, max 4096)");
}

#[test]
fn the_client_rejoins_when_the_server_forgot_it() {
    // Members silent for 0.6 s are dropped; the client pings every second at most.
    let server = ServerProcess::start(&["--heartbeat", "0.2", "--sweep", "0.05"]);
    let mut cli = Cli::for_server(&server, &[]);
    cli.type_line("create --join");
    let id = cli.created_id();
    assert_eq!(
        cli.expect("[cli] rejoined"),
        format!("[cli] rejoined {id} after the server forgot us")
    );
}

#[test]
fn after_a_server_restart_the_client_says_why_it_cannot_rejoin() {
    let server = ServerProcess::start(&["--heartbeat", "1"]);
    let port = server.addr.port();
    let mut cli = Cli::for_server(&server, &[]);
    let id = cli.create_group();
    // Once this PONG is in, so is the heartbeat's (sent first): the client pings every second.
    cli.type_line("ping");
    assert_eq!(cli.expect("[server] PONG"), "[server] PONG 1.0");
    drop(server);
    let _restarted = ServerProcess::start_at("127.0.0.1", port, &["--heartbeat", "1"]);
    assert_eq!(
        cli.expect("[cli] could not rejoin"),
        format!("[cli] could not rejoin {id}: no group has that id (it may have expired)")
    );
    cli.type_line("status");
    assert!(cli.expect("[cli] server=").contains(" group=<none> "));
}

#[test]
fn a_closed_port_and_a_silent_server_are_reported() {
    // A port nobody listens on: the kernel answers "port unreachable".
    let port = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let mut cli = Cli::start(port, &[]);
    cli.type_line("join ABCD1234");
    assert_eq!(cli.expect("[cli] server"), format!("[cli] server unreachable at 127.0.0.1:{port}"));
    assert_eq!(cli.expect("[cli] no reply"), "[cli] no reply from server for !JOIN ABCD1234");

    // A socket that receives but never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut cli = Cli::start(silent.local_addr().unwrap().port(), &[]);
    cli.type_line("create");
    assert_eq!(cli.expect("[cli]"), "[cli] create timed out");
}

#[cfg(unix)]
#[test]
fn ctrl_c_says_goodbye() {
    let server = ServerProcess::start(&[]);
    let mut cli = Cli::for_server(&server, &[]);
    cli.type_line("create --join");
    cli.expect("[server] OK JOINED");
    let pid = cli.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    assert_eq!(cli.expect("Goodbye."), "Goodbye.");
    assert!(wait_bounded(&mut cli.child).success());
}

#[test]
fn typos_and_helper_like_lines_never_reach_the_group() {
    let server = ServerProcess::start(&[]);
    let mut cli = Cli::for_server(&server, &[]);
    let id = cli.create_group();
    let peer = Peer::new(server.addr);
    peer.join(&id);

    cli.type_line("crate --join");
    assert_eq!(
        cli.expect("[cli]"),
        "[cli] 'crate' is not a command (did you mean 'create'?); to send it as a message, start the line with a space"
    );
    cli.type_line("Who");
    assert_eq!(cli.expect("[server] group="), format!("[server] group={id} peers=2"));
    cli.type_line("/WHO");
    assert_eq!(cli.expect("[server] group="), format!("[server] group={id} peers=2"));
    cli.type_line("QUIT now");
    assert!(cli.expect("[cli]").starts_with("[cli] 'QUIT' takes nothing after it"));
    cli.type_line(" crate of apples");
    cli.type_line("//shrug");
    cli.type_line("see you");
    // Only the three lines meant as messages arrived, in order.
    assert_eq!(peer.recv(), b"crate of apples");
    assert_eq!(peer.recv(), b"/shrug");
    assert_eq!(peer.recv(), b"see you");
    let (status, rest) = cli.finish();
    assert_eq!(status.code(), Some(1), "two lines were refused");
    assert_eq!(rest, ["Goodbye."]);
}

#[test]
fn under_require_validation_the_client_validates_and_receives_everything() {
    // One worker: datagrams are handled in the order they arrive.
    let server = ServerProcess::start(&["--require-validation", "--threads", "1"]);
    let mut cli = Cli::for_server(&server, &[]);
    let id = cli.create_group();
    let peer = Peer::new(server.addr);
    peer.join(&id);
    // The client echoes its token as soon as the PONG to its `!PING +` arrives, which is before
    // the reply to this later ping: once that is printed, the echo has reached the server.
    cli.type_line("ping");
    cli.expect("[server] PONG");
    let long = "x".repeat(1000);
    for n in 0..30 {
        peer.send(format!("{n} {long}").as_bytes());
        assert!(cli.expect("[payload]").starts_with(&format!("[payload] {n} ")));
    }
}

#[test]
fn chatting_goes_on_across_a_server_restart_with_a_state_file() {
    let dir = std::env::temp_dir().join(format!("udprelay-cli-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let flags = ["--state-file", state.to_str().unwrap(), "--heartbeat", "1"];
    let mut server = ServerProcess::start(&flags);
    let port = server.addr.port();
    let (mut ana, mut ben) = (Cli::for_server(&server, &[]), Cli::for_server(&server, &[]));
    let id = ana.create_group();
    ben.type_line(&format!("join {id}"));
    ben.expect("[server] OK JOINED");
    ana.type_line("before");
    assert_eq!(ben.expect("[payload]"), "[payload] before");

    assert!(server.terminate().success());
    let _restarted = ServerProcess::start_at("127.0.0.1", port, &flags);
    ana.type_line("after");
    assert_eq!(ben.expect("[payload]"), "[payload] after");
    // Three heartbeats later, still nobody had to rejoin.
    std::thread::sleep(std::time::Duration::from_secs(3));
    ben.type_line("and later");
    assert_eq!(ana.expect("[payload]"), "[payload] and later");
    for cli in [ana, ben] {
        let seen = cli.seen.clone();
        let (status, rest) = cli.finish();
        assert!(status.success());
        let all: Vec<String> = seen.into_iter().chain(rest).collect();
        assert!(!all.iter().any(|l| l.contains("rejoin") || l.contains("no reply")), "{all:#?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn it_prints_its_man_page_and_completions() {
    for (what, expected) in [("man", ".TH udprelay 1"), ("bash", "--timestamps"), ("zsh", "--name")]
    {
        let output = Command::new(CLIENT).args(["--generate", what]).output().unwrap();
        assert!(output.status.success(), "{what}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains(expected), "{what}: {text}");
    }
}
