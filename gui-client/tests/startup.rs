//! The `udprelay-gui` binary at start, as a person or a package sees it.

use std::process::Command;

const GUI: &str = env!("CARGO_BIN_EXE_udprelay-gui");

#[test]
fn without_a_display_it_says_so_in_one_line() {
    let output = Command::new(GUI)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("needs a graphical desktop"), "{stderr}");
}

#[test]
fn it_prints_its_man_page_and_completions() {
    for (what, expected) in
        [("man", ".TH udprelay-gui 1"), ("bash", "udprelay-gui"), ("fish", "-l port")]
    {
        let output = Command::new(GUI).args(["--generate", what]).output().unwrap();
        assert!(output.status.success(), "{what}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains(expected), "{what}: {text}");
    }
}

#[test]
fn a_bad_join_id_is_refused_with_the_reason() {
    let output = Command::new(GUI).args(["--join", "nosuch"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("invalid value 'nosuch' for '--join <ID>': not a group id"),
        "{stderr}"
    );
}

#[test]
fn a_history_limit_below_one_is_refused_with_the_reason() {
    for bad in ["0", "many", "1.5"] {
        let output = Command::new(GUI).args(["--history-limit", bad]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("for '--history-limit <N>'"), "{bad}: {stderr}");
    }
}

/// A clicked private invite while the window is open: the launch hands it over, and while it
/// does, the secret is in no command line another user can read (`ps`).
#[cfg(target_os = "linux")]
#[test]
fn a_clicked_invite_goes_to_the_open_window_and_not_into_ps() {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;
    let dir = std::env::temp_dir().join(format!("udprelay-gui-startup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("history.sqlite3");
    // The open window's end, as instance.rs makes it, played by the test.
    let folder = udprelay_gui::instance::file_for(&store);
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let window = UnixListener::bind(folder.join("socket")).unwrap();
    let secret = "A4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQ";
    let link = format!("udprelay://127.0.0.1:5000/ABCD1234#{secret}");
    let mut launch = Command::new(GUI)
        .env("DISPLAY", ":99") // never opened: the window that is open takes the link
        .arg("--history")
        .arg(&store)
        .arg(&link)
        .spawn()
        .unwrap();
    let (mut stream, _) = window.accept().unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let mut said = String::new();
    stream.read_to_string(&mut said).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", launch.id())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).to_string();
    stream.write_all(b"OK\n").unwrap();
    drop(stream);
    assert_eq!(said, format!("{link}\n"));
    assert!(!cmdline.contains(secret) && cmdline.contains("--history"), "{cmdline:?}");
    assert!(launch.wait().unwrap().success());
    std::fs::remove_dir_all(&dir).unwrap();
}
