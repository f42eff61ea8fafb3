//! The hand-off, on the real sockets: a second launch reaches the window, and nothing else
//! gets what it says.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("udprelay-instance-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("history.sqlite3")
}

const INVITE: &str = "udprelay://[::1]:5000/ABCD1234#SECRET";

#[test]
fn a_second_launch_hands_its_groups_to_the_window() {
    let file = file_for(&scratch("hand"));
    assert!(file.ends_with("history.sqlite3-window"));
    assert!(!hand_off(&file, &["ABCD1234".into()]).unwrap(), "no window yet");
    let (woken_tx, woken) = unbounded();
    let (handed, served) = Listener::bind(&file).unwrap().serve(move || woken_tx.send(()).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o700);
    }
    assert!(hand_off(&file, &["ABCD1234".into(), INVITE.into()]).unwrap());
    assert_eq!(handed.recv_timeout(PATIENCE).unwrap(), ["ABCD1234".to_string(), INVITE.into()]);
    woken.recv_timeout(PATIENCE).unwrap();
    // From the menu, with nothing to join: the window only comes to the front.
    assert!(hand_off(&file, &[]).unwrap());
    assert!(handed.recv_timeout(PATIENCE).unwrap().is_empty());
    drop(served);
    assert!(!hand_off(&file, &[]).unwrap(), "the window's socket goes with it");
}

#[test]
fn a_client_that_trickles_holds_no_one_up_and_is_cut_off() {
    let file = file_for(&scratch("slow"));
    let (handed, _served) = Listener::bind(&file).unwrap().serve(|| {});
    #[cfg(unix)]
    let mut slow = std::os::unix::net::UnixStream::connect(file.join("socket")).unwrap();
    #[cfg(windows)]
    let mut slow = {
        let name = std::fs::read_to_string(&file).unwrap();
        std::fs::OpenOptions::new().read(true).write(true).open(name.trim()).unwrap()
    };
    slow.write_all(b"A").unwrap();
    // Meanwhile a launch is served at once.
    let start = Instant::now();
    assert!(hand_off(&file, &["ABCD1234".into()]).unwrap());
    assert_eq!(handed.recv_timeout(PATIENCE).unwrap(), ["ABCD1234".to_string()]);
    assert!(start.elapsed() < PATIENCE, "served beside the slow one");
    // The slow one, past its time, is closed without an answer, and hands nothing.
    #[cfg(unix)]
    slow.set_read_timeout(Some(PATIENCE * 3)).unwrap();
    let mut answer = Vec::new();
    assert!(slow.read_to_end(&mut answer).is_ok(), "closed by the window, not timed out here");
    assert!(answer.is_empty(), "{answer:?}");
    assert!(start.elapsed() < PATIENCE * 2, "cut off at its deadline");
    assert!(handed.recv_timeout(Duration::from_millis(100)).is_err());
}

#[cfg(unix)]
#[test]
fn a_stale_socket_is_replaced_and_a_folder_others_may_enter_is_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;
    let file = file_for(&scratch("stale"));
    // A window that crashed: its socket file stays, nobody accepts on it.
    std::fs::create_dir(&file).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o700)).unwrap();
    drop(UnixListener::bind(file.join("socket")).unwrap());
    assert!(!hand_off(&file, &[INVITE.into()]).unwrap(), "a dead socket is no window");
    let (handed, served) = Listener::bind(&file).unwrap().serve(|| {});
    assert!(hand_off(&file, &[INVITE.into()]).unwrap());
    assert_eq!(handed.recv_timeout(PATIENCE).unwrap(), [INVITE.to_string()]);
    drop(served);

    // A listener in a folder that is not its owner's alone (as another user's could be) is
    // never told anything.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let foreign = UnixListener::bind(file.join("socket")).unwrap();
    foreign.set_nonblocking(true).unwrap();
    assert!(!hand_off(&file, &[INVITE.into()]).unwrap());
    assert!(foreign.accept().is_err(), "not even connected to");
    // A window made there tightens the folder first.
    drop(foreign);
    let _window = Listener::bind(&file).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o700);
}

#[cfg(unix)]
#[test]
fn the_file_an_older_window_left_is_replaced() {
    let file = file_for(&scratch("older"));
    std::fs::write(&file, "40000 0123456789abcdef\n").unwrap();
    assert!(!hand_off(&file, &[]).unwrap());
    let (_handed, _served) = Listener::bind(&file).unwrap().serve(|| {});
    assert!(hand_off(&file, &[]).unwrap());
}

#[cfg(windows)]
#[test]
fn a_stale_file_is_no_window_and_a_pipe_another_user_serves_is_told_nothing() {
    let file = file_for(&scratch("pipe"));
    // A window that crashed left its file; its pipe went with it.
    let gone = format!("{}{}\n", r"\\.\pipe\udprelay-window-", "0".repeat(32));
    std::fs::write(&file, gone).unwrap();
    assert!(!hand_off(&file, &[INVITE.into()]).unwrap(), "a gone pipe is no window");
    let (handed, served) = Listener::bind(&file).unwrap().serve(|| {});
    assert!(hand_off(&file, &[INVITE.into()]).unwrap());
    assert_eq!(handed.recv_timeout(PATIENCE).unwrap(), [INVITE.to_string()]);
    // The same pipe, had its serving process run as another user: the launch says nothing.
    let said = format!("{INVITE}\n");
    assert!(!transport::hand_off_if_served_by(&file, &said, "S-1-5-21-1-2-3-1001").unwrap());
    assert!(handed.recv_timeout(Duration::from_millis(300)).is_err(), "nothing was handed");
    // A file that names no window's pipe is not followed.
    let elsewhere = file.with_file_name("elsewhere");
    std::fs::write(&elsewhere, r"\\.\pipe\somebody-elses").unwrap();
    assert!(!hand_off(&elsewhere, &[]).unwrap());
    drop(served);
    assert!(!file.exists(), "the window's file goes with it");
}
