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
