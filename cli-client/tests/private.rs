//! Private groups in the terminal client, through pipes, against the real server: two
//! clients chat sealed, and a member with only the group id reads nothing. Every wait is
//! bounded.

mod common;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::cli::{CLIENT, Cli};
use udprelay_client::Name;
use udprelay_client::e2e::{GroupKey, Identity, Invite, Pins, Reader};
use udprelay_testkit::{Peer, ServerProcess};

fn key_file(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("udprelay-cli-private-{}", std::process::id()));
    dir.join(format!("{name}.key")).to_string_lossy().into_owned()
}

#[test]
fn two_terminals_chat_sealed_and_the_id_alone_reads_nothing() {
    let server = ServerProcess::start(&[]);
    let ana_key = key_file("ana");
    let mut ana = Cli::for_server(&server, &["--name", "ana", "--identity", &ana_key]);
    ana.type_line("create --join --encrypted");
    let id = ana.created_id();
    ana.expect("[server] OK JOINED");
    let invite = ana.expect("[cli] invite: ").trim_start_matches("[cli] invite: ").to_string();
    assert!(invite.starts_with(&format!("udprelay://127.0.0.1:{}/{id}#", server.addr.port())));
    ana.type_line("invite");
    assert_eq!(ana.expect("[cli] invite: "), format!("[cli] invite: {invite}"));

    // Ben is started with the invite, as a clicked link does; eve knows only the id.
    let ben_key = key_file("ben");
    let mut ben =
        Cli::start_at("127.0.0.9", 1, &["--name", "ben", "--identity", &ben_key, &invite]);
    assert_eq!(ben.expect("[server] OK JOINED"), format!("[server] OK JOINED {id}"));
    let eve = Peer::new(server.addr);
    eve.join(&id);

    ana.type_line("hello ben");
    assert_eq!(ben.expect("[payload]"), "[payload] ana: hello ben");
    let seen = eve.recv_text();
    assert!(seen.starts_with("~E2 ") && !seen.contains("hello") && !seen.contains("ana"), "{seen}");

    eve.send(b"eve: hi all");
    assert_eq!(ben.expect("[payload]"), "[payload] eve: hi all (not encrypted)");
    eve.send(b"~E2 AAAA");
    let said = ben.expect("[cli] 1 message in this group");
    assert!(said.contains("could not be decrypted") && said.contains("invite"), "{said}");

    ana.type_line("status");
    let ana_status = ana.expect("[cli] server=");
    ben.type_line("status");
    let ben_status = ben.expect("[cli] server=");
    let key = |status: &str| status.split(" key=").nth(1).map(|rest| rest[..24].to_string());
    assert!(ana_status.contains(" encrypted=yes key="), "{ana_status}");
    assert_eq!(key(&ana_status), key(&ben_status));
    assert_ne!(ana_status.split(" me=").nth(1), ben_status.split(" me=").nth(1));
    let (status, _) = ana.finish();
    assert!(status.success());
    let (status, _) = ben.finish();
    assert!(status.success());
}

#[test]
fn lost_messages_and_a_known_name_with_another_key_are_said() {
    let server = ServerProcess::start(&[]);
    let mut ben = Cli::for_server(&server, &["--name", "ben", "--identity", &key_file("ben2")]);
    ben.type_line("create --join --encrypted");
    let id = ben.created_id();
    let invite = ben.expect("[cli] invite: ");
    let invite: Invite = invite.trim_start_matches("[cli] invite: ").parse().unwrap();

    // Ana seals her own messages (as her client would) and sends them from a member socket;
    // her second and third are lost on the way.
    let key = GroupKey::derive(invite.secret.as_ref().unwrap(), invite.group);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let now_ms = now.as_millis() as u64;
    let name: Name = "ana".parse().unwrap();
    let mut ana = Reader::new(key.clone(), Identity::generate(), now.as_secs());
    let sealed: Vec<String> =
        (1..=4).map(|n| ana.seal(Some(&name), &format!("message {n}"), now_ms).unwrap()).collect();
    let member = Peer::new(server.addr);
    member.join(&id);
    member.send(sealed[0].as_bytes());
    assert_eq!(ben.expect("[payload]"), "[payload] ana: message 1");
    member.send(sealed[3].as_bytes());
    assert_eq!(ben.expect("[payload]"), "[payload] ana: message 4");
    assert_eq!(ben.expect("[cli] 2"), "[cli] 2 messages from ana did not arrive");
    // A replay of what arrived is dropped without a word: the next line is the next message.
    member.send(sealed[0].as_bytes());

    // Someone else, with the invite, calls themselves ana: the name's key is not the one
    // it first came with.
    let mut other = Reader::new(key, Identity::generate(), now.as_secs());
    member.send(other.seal(Some(&name), "it is me, ana", now_ms).unwrap().as_bytes());
    assert_eq!(ben.expect("[payload]"), "[payload] ana: it is me, ana (new key)");
    let (status, _) = ben.finish();
    assert!(status.success());
}

#[test]
fn names_and_counters_are_remembered_across_a_restart() {
    let server = ServerProcess::start(&[]);
    let ben_key = key_file("ben3");
    let mut ben = Cli::for_server(&server, &["--name", "ben", "--identity", &ben_key]);
    ben.type_line("create --join --encrypted");
    let id = ben.created_id();
    let link = ben.expect("[cli] invite: ").trim_start_matches("[cli] invite: ").to_string();
    let invite: Invite = link.parse().unwrap();
    let key = GroupKey::derive(invite.secret.as_ref().unwrap(), invite.group);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let now_ms = now.as_millis() as u64;
    let name: Name = "ana".parse().unwrap();
    let mut ana = Reader::new(key.clone(), Identity::generate(), now.as_secs());
    let hello = ana.seal(Some(&name), "hello", now_ms).unwrap();
    let member = Peer::new(server.addr);
    member.join(&id);
    member.send(hello.as_bytes());
    assert_eq!(ben.expect("[payload]"), "[payload] ana: hello");
    let (status, _) = ben.finish();
    assert!(status.success());

    // Ben starts again (from the link, as a click would). The relay, or anyone in the path,
    // sends ana's message again; then someone else calls themselves ana, and then "аna".
    let mut ben = Cli::for_server(&server, &["--name", "ben", "--identity", &ben_key, &link]);
    ben.expect("[server] OK JOINED");
    member.send(hello.as_bytes());
    let mut other = Reader::new(key.clone(), Identity::generate(), now.as_secs());
    member.send(other.seal(Some(&name), "it is me, ana", now_ms).unwrap().as_bytes());
    assert_eq!(ben.expect("[payload]"), "[payload] ana: it is me, ana (new key)", "no replay");
    let alike: Name = "\u{430}na".parse().unwrap();
    member.send(other.seal(Some(&alike), "really", now_ms).unwrap().as_bytes());
    assert_eq!(ben.expect("[payload]"), "[payload] \u{430}na: really (looks like ana)");
    member.send(ana.seal(Some(&name), "that was not me", now_ms).unwrap().as_bytes());
    assert_eq!(ben.expect("[payload]"), "[payload] ana: that was not me");
    let (status, _) = ben.finish();
    assert!(status.success());
    let kept = Pins::path(std::path::Path::new(&ben_key), &key);
    assert!(Pins::load(&kept).names.iter().any(|(name, _)| name == "ana"), "{}", kept.display());
}

#[test]
fn an_invite_leaves_the_command_line_or_never_enters_it() {
    let server = ServerProcess::start(&[]);
    let mut ana = Cli::for_server(&server, &["--name", "ana", "--identity", &key_file("ana4")]);
    ana.type_line("create --join --encrypted");
    ana.created_id();
    let link = ana.expect("[cli] invite: ").trim_start_matches("[cli] invite: ").to_string();
    let secret = link.split_once('#').unwrap().1.to_string();

    // Given as an argument, as a clicked link gives it: joined, and gone from what other
    // users can read of the process (on Linux, /proc/PID/cmdline: `ps`).
    let mut clicked = Cli::spawn({
        let mut command = Command::new(CLIENT);
        command.args(["--name", "ben", "--identity", &key_file("ben4"), &link]);
        command
    });
    clicked.expect("[server] OK JOINED");
    #[cfg(target_os = "linux")]
    {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", clicked.child.id())).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(!cmdline.contains(&secret) && cmdline.contains("ben"), "{cmdline:?}");
    }
    ana.type_line("hello");
    assert_eq!(clicked.expect("[payload]"), "[payload] ana: hello", "and reads the group");

    // In the environment, or in a file: never in the command line.
    let file = std::path::Path::new(&key_file("x")).with_file_name("invite.txt");
    std::fs::write(&file, format!("\n{link}\n")).unwrap();
    for how in ["env", "file"] {
        let mut command = Command::new(CLIENT);
        command.args(["--identity", &key_file("cy")]);
        match how {
            "env" => command.env("UDPRELAY_INVITE", &link),
            _ => command.arg("--invite-file").arg(&file),
        };
        let mut cy = Cli::spawn(command);
        cy.expect("[server] OK JOINED");
        ana.type_line(how);
        assert_eq!(cy.expect("[payload]"), format!("[payload] ana: {how}"));
        assert!(cy.finish().0.success());
    }
    let output =
        Command::new(CLIENT).args(["--invite-file", "/nonexistent/invite"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: cannot read /nonexistent/invite: "), "{stderr}");
    assert!(clicked.finish().0.success());
    assert!(ana.finish().0.success());
}

/// An argument that is not UTF-8 is looked at for invites too: it is clap's to refuse (exit 2),
/// not a panic.
#[cfg(unix)]
#[test]
fn an_argument_that_is_not_utf8_is_refused_not_a_crash() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"x\xff");
    let output = Command::new(CLIENT).arg(bad).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: invalid UTF-8 was detected"), "{stderr}");
}

#[test]
fn a_broken_invite_at_start_is_one_line_and_exit_2() {
    let output =
        Command::new(CLIENT).arg("udprelay://127.0.0.1:5000/ABCD1234#TOOSHORT").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "error: invalid invite: the invite's secret is damaged (copy the whole link)"
        ),
        "{stderr}"
    );
}
