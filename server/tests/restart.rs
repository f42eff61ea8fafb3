//! The state file with the real binary: a SIGTERM and a restart on the same port keep every
//! group and member; a SIGKILL loses at most what came after the last snapshot; a file that
//! cannot be read is moved aside and the server starts anyway.

use std::path::PathBuf;
use std::time::Duration;

use udprelay_testkit::{Peer, ServerProcess as Server, poll_until};

fn state_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("udprelay-restart-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state")
}

#[test]
fn a_sigterm_restart_keeps_every_group_and_member() {
    let path = state_path("sigterm");
    let file = path.to_str().unwrap();
    let mut server = Server::start(&["--state-file", file]);
    let port = server.addr.port();
    let (a, b, c) = (Peer::new(server.addr), Peer::new(server.addr), Peer::new(server.addr));
    let first = Peer::group_of(&[&a, &b]);
    let second = Peer::group_of(&[&c]);
    assert!(server.terminate().success());
    assert!(server.log().contains("state saved"), "{}", server.log());

    let restarted = Server::start_at("127.0.0.1", port, &["--state-file", file]);
    assert!(restarted.wait_for_log("state restored"), "{}", restarted.log());
    assert!(restarted.log().contains("groups=2 members=3"), "{}", restarted.log());
    assert_eq!(a.ask("!WHO"), format!("OK WHO {first} 2"));
    assert_eq!(b.ask("!WHO"), format!("OK WHO {first} 2"));
    assert_eq!(c.ask("!WHO"), format!("OK WHO {second} 1"));
    a.send(b"still here?");
    assert_eq!(b.recv(), b"still here?");
    // The creators' counts came back too.
    for _ in 0..2 {
        a.create();
    }
    assert_eq!(a.ask("!CREATE"), "ERR CLIENT_LIMIT 3/3");
}

#[test]
fn after_a_sigkill_what_the_last_snapshot_held_survives() {
    let path = state_path("sigkill");
    let file = path.to_str().unwrap();
    let mut server = Server::start(&["--state-file", file, "--snapshot-every", "0.2"]);
    let port = server.addr.port();
    let (a, b) = (Peer::new(server.addr), Peer::new(server.addr));
    let id = Peer::group_of(&[&a, &b]);
    // Wait until a snapshot with both members is on disk, then kill without warning.
    assert!(poll_until(|| { std::fs::read(&path).is_ok_and(|bytes| bytes.len() > 60) }));
    std::thread::sleep(Duration::from_millis(500));
    server.child.kill().unwrap();
    server.wait();
    let restarted = Server::start_at("127.0.0.1", port, &["--state-file", file]);
    assert_eq!(a.ask("!WHO"), format!("OK WHO {id} 2"), "{}", restarted.log());
}

#[test]
fn a_state_file_that_cannot_be_read_is_moved_aside() {
    let path = state_path("bad");
    std::fs::write(&path, b"this is not a state").unwrap();
    let file = path.to_str().unwrap();
    let server = Server::start(&["--state-file", file]);
    assert!(server.wait_for_log("moved aside"), "{}", server.log());
    let aside: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("state.bad-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), b"this is not a state");
    // And it serves.
    let a = Peer::new(server.addr);
    Peer::group_of(&[&a]);
}
