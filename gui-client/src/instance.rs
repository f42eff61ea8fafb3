//! One window per history store. The first launch listens on a loopback port and writes the
//! port, with a random token, into a file beside the store (`history.sqlite3-window`, its
//! owner's alone, as the store is); a later launch (a clicked invite while the window is open)
//! sends its groups to that window and exits, and the window joins them and comes to the front.
//!
//! TCP on 127.0.0.1 works the same on Linux and Windows; the token, which only the store's
//! owner can read, keeps other accounts on the machine from handing the window anything.
//!
//! The exchange, one connection per launch:
//!
//! ```text
//! launch → window:  TOKEN \n  (GROUP \n)*        GROUP: an id or an invite, as typed
//! window → launch:  OK \n
//! ```

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, unbounded};
use rand::Rng;
use udprelay_client::files::private_file;

/// How long either side waits for the other before giving up on a connection.
const PATIENCE: Duration = Duration::from_secs(2);

/// The most a launch may send: its token and a few invites.
const MOST: u64 = 64 * 1024;

/// Where the window with the store at `store` says it listens.
pub fn file_for(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push("-window");
    store.with_file_name(name)
}

/// The window's end: where later launches hand their groups over.
pub struct Listener {
    socket: TcpListener,
    token: String,
    file: PathBuf,
}

/// What later launches asked for, one `Vec` per launch (empty: "come to the front").
pub type Handed = Receiver<Vec<String>>;

impl Listener {
    /// Listens on a loopback port and says so in `file` (its owner's alone).
    pub fn bind(file: &Path) -> io::Result<Listener> {
        let socket = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let mut secret = [0u8; 16];
        rand::rng().fill_bytes(&mut secret);
        let token: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
        let port = socket.local_addr()?.port();
        // Written whole, then made private before the token is in it.
        fs::write(file, "")?;
        private_file(file)?;
        fs::write(file, format!("{port} {token}\n"))?;
        Ok(Listener { socket, token, file: file.to_path_buf() })
    }

    /// Serves later launches on a thread of its own: each one's groups go to the returned
    /// channel, and `wake` is called so the window looks. Ends when the window does.
    pub fn serve(self, wake: impl Fn() + Send + 'static) -> (Handed, Served) {
        let (tx, rx) = unbounded();
        let socket = self.socket.try_clone().expect("a listening socket clones");
        let token = self.token.clone();
        thread::spawn(move || {
            for stream in socket.incoming() {
                let Ok(stream) = stream else { continue };
                if receive(stream, &token, &tx).is_ok() {
                    wake();
                }
            }
        });
        (rx, Served { file: self.file, token: self.token })
    }
}

/// Removes the window's file when the window ends (if it is still this window's).
pub struct Served {
    file: PathBuf,
    token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        if fs::read_to_string(&self.file).is_ok_and(|said| said.trim_end().ends_with(&self.token)) {
            let _ = fs::remove_file(&self.file);
        }
    }
}

/// One launch's connection: its token checked, its groups passed on, `OK` answered.
fn receive(stream: TcpStream, token: &str, handed: &Sender<Vec<String>>) -> io::Result<()> {
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    let mut lines = BufReader::new((&stream).take(MOST)).lines();
    let given = lines.next().transpose()?.unwrap_or_default();
    if given != token {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, "wrong token"));
    }
    let groups = lines.collect::<io::Result<Vec<String>>>()?;
    let groups = groups.into_iter().map(|line| line.trim().to_string()).filter(|g| !g.is_empty());
    let _ = handed.send(groups.collect());
    (&stream).write_all(b"OK\n")
}

/// Hands `groups` to the window that has the store whose file is `file` open, if one is
/// running: `Ok(true)` when it took them, `Ok(false)` when there is no such window (no file,
/// or nobody answering as it says: a window that ended without removing it).
pub fn hand_off(file: &Path, groups: &[String]) -> io::Result<bool> {
    let Ok(said) = fs::read_to_string(file) else { return Ok(false) };
    let Some((port, token)) = said.trim().split_once(' ') else { return Ok(false) };
    let Ok(port) = port.parse::<u16>() else { return Ok(false) };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PATIENCE) else { return Ok(false) };
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    let mut said = format!("{token}\n");
    for group in groups {
        said.push_str(group.trim());
        said.push('\n');
    }
    stream.write_all(said.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = String::new();
    // Anything but OK (another program on a reused port, a window hanging): not a window.
    let _ = stream.take(16).read_to_string(&mut answer);
    Ok(answer == "OK\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("udprelay-instance-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("history.sqlite3")
    }

    #[test]
    fn a_second_launch_hands_its_groups_to_the_window() {
        let file = file_for(&scratch("hand"));
        assert!(file.ends_with("history.sqlite3-window"));
        assert!(!hand_off(&file, &["ABCD1234".into()]).unwrap(), "no window yet");
        let (woken_tx, woken) = unbounded();
        let (handed, served) =
            Listener::bind(&file).unwrap().serve(move || woken_tx.send(()).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let invite = "udprelay://[::1]:5000/ABCD1234#SECRET".to_string();
        assert!(hand_off(&file, &["ABCD1234".into(), invite.clone()]).unwrap());
        assert_eq!(handed.recv_timeout(PATIENCE).unwrap(), ["ABCD1234".to_string(), invite]);
        woken.recv_timeout(PATIENCE).unwrap();
        // From the menu, with nothing to join: the window only comes to the front.
        assert!(hand_off(&file, &[]).unwrap());
        assert!(handed.recv_timeout(PATIENCE).unwrap().is_empty());
        drop(served);
        assert!(!file.exists(), "the window's file goes with it");
    }

    #[test]
    fn a_wrong_token_or_a_stale_file_hands_nothing() {
        let file = file_for(&scratch("token"));
        let (handed, _served) = Listener::bind(&file).unwrap().serve(|| {});
        let said = fs::read_to_string(&file).unwrap();
        let (port, _) = said.trim().split_once(' ').unwrap();
        let forged = file.with_file_name("forged");
        fs::write(&forged, format!("{port} 0000\n")).unwrap();
        assert!(!hand_off(&forged, &["ABCD1234".into()]).unwrap());
        assert!(handed.recv_timeout(Duration::from_millis(200)).is_err());

        // A window that ended without removing its file: nobody listens on its port.
        let gone = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap();
        let stale = file.with_file_name("stale");
        fs::write(&stale, format!("{} abcd\n", gone.port())).unwrap();
        assert!(!hand_off(&stale, &[]).unwrap());
        fs::write(&stale, "not a window file").unwrap();
        assert!(!hand_off(&stale, &[]).unwrap());
    }
}
