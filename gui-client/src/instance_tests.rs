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
        let said = std::fs::read_to_string(&file).unwrap();
        let port: u16 = said.split(' ').next().unwrap().parse().unwrap();
        std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)).unwrap()
    };
    slow.write_all(b"A").unwrap();
    // Meanwhile a launch is served at once.
    let start = Instant::now();
    assert!(hand_off(&file, &["ABCD1234".into()]).unwrap());
    assert_eq!(handed.recv_timeout(PATIENCE).unwrap(), ["ABCD1234".to_string()]);
    assert!(start.elapsed() < PATIENCE, "served beside the slow one");
    // The slow one, past its time, is closed without an answer, and hands nothing.
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

/// The Windows exchange, run here too.
mod tcp_exchange {
    use std::net::{Ipv4Addr, TcpListener};

    use super::super::tcp;
    use super::*;

    fn serve(file: &Path) -> (Handed, tcp::Served) {
        let (served, accepting) = tcp::Listener::bind(file).unwrap().split();
        let (tx, rx) = unbounded();
        std::thread::spawn(move || {
            while let Ok(connection) = accepting.accept() {
                let _ = connection.receive(&tx);
            }
        });
        (rx, served)
    }

    #[test]
    fn the_window_and_the_launch_each_prove_the_token() {
        let file = file_for(&scratch("tcp"));
        let (handed, served) = serve(&file);
        assert!(tcp::hand_off(&file, &format!("ABCD1234\n{INVITE}\n")).unwrap());
        assert_eq!(handed.recv_timeout(PATIENCE).unwrap(), ["ABCD1234".to_string(), INVITE.into()]);

        // A launch that does not know the token: the window answers its nonce, and takes
        // nothing from it.
        let said = std::fs::read_to_string(&file).unwrap();
        let (port, _) = said.trim().split_once(' ').unwrap();
        let forged = file.with_file_name("forged");
        std::fs::write(&forged, format!("{port} 0000\n")).unwrap();
        assert!(!tcp::hand_off(&forged, "ABCD1234\n").unwrap());
        assert!(handed.recv_timeout(Duration::from_millis(200)).is_err());
        drop(served);
        assert!(!file.exists(), "the window's file goes with it");
    }

    #[test]
    fn whoever_took_a_gone_windows_port_gets_no_invite() {
        let file = file_for(&scratch("taken"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let foreign = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = foreign.local_addr().unwrap().port();
        std::fs::write(&file, format!("{port} 0123456789abcdef\n")).unwrap();
        let heard = std::thread::spawn(move || {
            let (mut stream, _) = foreign.accept().unwrap();
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            stream.write_all(b"OK\n").unwrap(); // as if it were a window
            let mut heard = Vec::new();
            let _ = stream.read_to_end(&mut heard);
            String::from_utf8_lossy(&heard).to_string()
        });
        assert!(!tcp::hand_off(&file, &format!("{INVITE}\n")).unwrap());
        let heard = heard.join().unwrap();
        assert!(!heard.contains("SECRET") && !heard.contains("0123456789abcdef"), "{heard}");
        std::fs::write(&file, "not a window file").unwrap();
        assert!(!tcp::hand_off(&file, "").unwrap());
    }
}
