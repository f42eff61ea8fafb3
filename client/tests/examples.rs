//! Each example in `examples/`, run as a program against the real server. Every wait is
//! bounded.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use udprelay_testkit::{Peer, ServerProcess, WAIT, wait_bounded};

/// An example's binary: cargo builds them beside the test binaries for `cargo test`.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let path = deps.parent().unwrap().join("examples").join(name);
    assert!(path.exists(), "{} is built by cargo test", path.display());
    path
}

/// Kills the child when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `group` has `members` on the server.
fn wait_for_members(peer: &Peer, group: &str, members: usize) {
    let deadline = Instant::now() + WAIT;
    while peer.ask("!WHO") != format!("OK WHO {group} {members}") {
        assert!(Instant::now() < deadline, "{group} never had {members} members");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_echo_bot_answers_a_peer_and_never_an_echo() {
    let server = ServerProcess::start(&[]);
    let ana = Peer::new(server.addr);
    let group = ana.create();
    ana.join(&group);
    let addr = server.addr.to_string();
    let _bot = Running(
        Command::new(example("echo_bot"))
            .args(["--server", &addr, "--join", &group, "--name", "bot"])
            .spawn()
            .unwrap(),
    );
    wait_for_members(&ana, &group, 2);
    ana.send(b"ana: hello bot");
    assert_eq!(ana.recv_text(), "bot: echo: hello bot");
    // Another bot's echo is not answered: the next thing ana hears is the answer to this.
    ana.send(b"other: echo: hello");
    ana.send(b"anonymous");
    assert_eq!(ana.recv_text(), "bot: echo: anonymous");
}

#[test]
fn the_loggers_lines_are_json() {
    let server = ServerProcess::start(&[]);
    let ana = Peer::new(server.addr);
    let group = ana.create();
    ana.join(&group);
    let addr = server.addr.to_string();
    let mut logger = Running(
        Command::new(example("logger"))
            .args(["--server", &addr, "--join", &group])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = mpsc::channel();
    let stdout = logger.0.stdout.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    wait_for_members(&ana, &group, 2);
    ana.send(b"ana: hi \"there\"");
    ana.send(b"no name");
    let read = || -> serde_json::Value {
        serde_json::from_str(&lines.recv_timeout(WAIT).expect("a line")).expect("JSON")
    };
    let first = read();
    assert_eq!(first["group"], group.as_str());
    assert_eq!(first["from"], "ana");
    assert_eq!(first["text"], "hi \"there\"");
    let second = read();
    assert_eq!((second["from"].is_null(), second["text"].as_str()), (true, Some("no name")));
}

#[test]
fn send_sends_one_message_and_says_why_it_could_not() {
    let server = ServerProcess::start(&[]);
    let ana = Peer::new(server.addr);
    let group = ana.create();
    ana.join(&group);
    let addr = server.addr.to_string();
    let run = |args: &[&str]| {
        let mut child = Command::new(example("send"))
            .args(["--server", &addr])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_bounded(&mut child);
        let mut why = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut why).unwrap();
        (status, why)
    };
    let (status, _) = run(&["--join", &group, "--name", "cron", "backup done"]);
    assert!(status.success());
    assert_eq!(ana.recv_text(), "cron: backup done");
    assert_eq!(ana.ask("!WHO"), format!("OK WHO {group} 1"), "it left again");

    let (status, why) = run(&["--join", "ZZZZ9999", "hello"]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(why.trim(), "error: the server refused: no group has that id (it may have expired)");
}
