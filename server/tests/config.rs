//! The configuration file with the real binary: precedence, --check-config, SIGHUP reloads
//! (and a bad file keeping the settings in force), and JSON logs.

use std::path::PathBuf;
use std::process::Command;

use udprelay_testkit::{Peer, ServerProcess as Server, poll_until};

const BINARY: &str = env!("CARGO_BIN_EXE_udprelay-server");

fn config_file(name: &str, text: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("udprelay-config-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn hangup(server: &Server) {
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
}

fn heartbeat(peer: &Peer) -> String {
    peer.ask("!PING")
}

#[test]
fn the_file_sets_the_flags_override_and_sighup_reloads() {
    let path = config_file("reload", "heartbeat = 2\ncap = 3\n");
    let file = path.to_str().unwrap();
    let server = Server::start(&["--config", file, "--cap", "5"]);
    let a = Peer::new(server.addr);
    Peer::group_of(&[&a]);
    assert_eq!(heartbeat(&a), "PONG 2.0", "from the file");

    std::fs::write(&path, "heartbeat = 3\ncap = 3\nthreads = 1\n").unwrap();
    hangup(&server);
    assert!(poll_until(|| heartbeat(&a) == "PONG 3.0"), "{}", server.log());
    assert!(server.wait_for_log("configuration reloaded"));
    assert!(
        server.log().contains("setting=\"threads\""),
        "a restart is needed for threads: {}",
        server.log()
    );

    // A file that does not parse keeps what is in force.
    std::fs::write(&path, "heartbeat = \"soon\"\n").unwrap();
    hangup(&server);
    assert!(server.wait_for_log("configuration not reloaded"), "{}", server.log());
    assert!(server.log().contains(":1:"), "the line is named: {}", server.log());
    assert_eq!(heartbeat(&a), "PONG 3.0");
    // The flag given at start still overrides the file: the cap is 5, not 3.
    let id = a.ask("!WHO").split(' ').nth(2).unwrap().to_string();
    for _ in 0..4 {
        Peer::new(server.addr).join(&id);
    }
    assert_eq!(Peer::new(server.addr).ask(&format!("!JOIN {id}")), format!("ERR GROUP_FULL {id}"));
    let _ = std::fs::remove_file(path);
}

#[test]
fn check_config_says_good_or_names_the_line() {
    let good =
        config_file("good", "heartbeat = 30\nmax-members-per-ip = 64\nrequire-validation = true\n");
    let output = Command::new(BINARY)
        .args(["--config", good.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("the configuration is good"));

    let bad = config_file("bad", "heartbeat = 30\n\nmax-members-per-ip = -4\n");
    let output = Command::new(BINARY)
        .args(["--config", bad.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with(&format!("error: {}:3: ", bad.display())), "{stderr}");
    assert!(stderr.contains("max-members-per-ip"), "{stderr}");
    for path in [good, bad] {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mut server = Server::start(&["--log-format", "json"]);
    let a = Peer::new(server.addr);
    Peer::group_of(&[&a]);
    assert!(server.terminate().success());
    let log = server.log();
    let mut messages = Vec::new();
    for line in log.lines().filter(|line| !line.is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        messages.push(value["fields"]["message"].as_str().unwrap_or_default().to_string());
    }
    for expected in ["relay started", "create", "join", "shutting down"] {
        assert!(messages.iter().any(|m| m == expected), "{expected} in {messages:?}");
    }
}

#[test]
fn the_example_configuration_is_good() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/server.toml");
    let output =
        Command::new(BINARY).args(["--config", example, "--check-config"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn it_prints_its_man_page_and_completions() {
    for (what, expected) in [
        ("man", ".TH udprelay-server 1"),
        ("bash", "--max-members-per-ip"),
        ("zsh", "--state-file"),
        ("fish", "-l metrics"),
    ] {
        let output = Command::new(BINARY).args(["--generate", what]).output().unwrap();
        assert!(output.status.success(), "{what}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains(expected), "{what}: {text}");
    }
}
