//! One window per history store. The first launch listens, and a later launch (a clicked
//! invite while the window is open) sends its groups there and exits; the window joins them and
//! comes to the front. What a launch sends can hold invites' secrets, so it goes only to the
//! store's owner's own window:
//!
//! - **Unix**: a Unix socket, `socket` in a folder beside the store (`history.sqlite3-window`)
//!   that is its owner's alone (0700): no other user can connect to it or put a socket of their
//!   own there. A launch checks the folder's owner and mode before it connects; a socket left
//!   by a window that crashed is found dead (nobody accepts) and replaced.
//! - **Windows**: a named pipe whose access list lets in the user (and the system account)
//!   alone, under a random name kept in the file `history.sqlite3-window` (the user's alone,
//!   in their own data folder). A launch checks that the process serving the pipe runs as its
//!   own user before it says anything: a pipe another user made under the name of a window
//!   that ended gets nothing.
//!
//! The exchange, one connection per launch (`>` from the launch, `<` from the window):
//!
//! ```text
//! Unix:     > (GROUP \n)*  EOF       < OK \n
//! Windows:  > (GROUP \n)*  \n        < OK \n      (a pipe's client cannot end its half alone)
//! GROUP: an id or an invite, as typed
//! ```
//!
//! Each connection is served on a thread of its own, at most [`AT_ONCE`] at a time, and has
//! [`PATIENCE`] in all to say what it has: a client that trickles a byte now and then is cut
//! off, and holds no one else up.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

#[cfg(windows)]
mod pipe;
#[cfg(unix)]
mod unix;

#[cfg(windows)]
use pipe as transport;
#[cfg(unix)]
use unix as transport;

/// How long a connection has, in all, before it is given up.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// The most connections served at once; past that, one is closed unanswered.
pub const AT_ONCE: usize = 8;

/// The most a launch may send: a few invites.
const MOST: usize = 64 * 1024;

/// What later launches asked for, one `Vec` per launch (empty: "come to the front").
pub type Handed = Receiver<Vec<String>>;

/// Where the window with the store at `store` can be found.
pub fn file_for(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push("-window");
    store.with_file_name(name)
}

/// The window's end: where later launches hand their groups over.
pub struct Listener(transport::Listener);

impl Listener {
    /// Listens where `file` (from [`file_for`]) says.
    pub fn bind(file: &Path) -> io::Result<Listener> {
        transport::Listener::bind(file).map(Listener)
    }

    /// Serves later launches on threads of their own: each one's groups go to the returned
    /// channel, and `wake` is called so the window looks. Ends when the window does.
    pub fn serve(self, wake: impl Fn() + Send + Sync + 'static) -> (Handed, Served) {
        let (tx, rx) = unbounded();
        let (served, listener) = self.0.split();
        let wake = Arc::new(wake);
        let busy = Arc::new(AtomicUsize::new(0));
        thread::spawn(move || {
            loop {
                let Ok(connection) = listener.accept() else {
                    // Out of descriptors, say: a pause keeps a lasting fault from spinning.
                    thread::sleep(Duration::from_millis(100));
                    continue;
                };
                if busy.fetch_add(1, Ordering::SeqCst) >= AT_ONCE {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    continue; // dropped: closed unanswered
                }
                let (tx, wake, busy) = (tx.clone(), Arc::clone(&wake), Arc::clone(&busy));
                thread::spawn(move || {
                    if connection.receive(&tx).is_ok() {
                        wake();
                    }
                    busy.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (rx, Served { _held: served })
    }
}

/// Takes the window's socket (or file) away when the window ends, if it is still this
/// window's.
pub struct Served {
    _held: transport::Served,
}

/// Hands `groups` to the window that has the store whose file is `file` open, if one is
/// running: `Ok(true)` when it took them, `Ok(false)` when there is no such window (nothing
/// there, nobody answering, or somebody who is not the window).
pub fn hand_off(file: &Path, groups: &[String]) -> io::Result<bool> {
    let mut said = String::new();
    for group in groups.iter().map(|group| group.trim()).filter(|group| !group.is_empty()) {
        said.push_str(group);
        said.push('\n');
    }
    transport::hand_off(file, &said)
}

/// The groups a launch sent, one a line, blanks skipped.
fn groups_in(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|group| !group.is_empty()).map(String::from).collect()
}

/// Passes a launch's groups on.
fn pass_on(text: &str, handed: &Sender<Vec<String>>) {
    let _ = handed.send(groups_in(text));
}

/// A stream whose reads and writes can be given a time limit.
trait Timed: Read + Write {
    fn limit(&self, left: Duration) -> io::Result<()>;
}

/// One read, with what is left of `deadline` as its limit.
fn read_within(stream: &mut impl Timed, buffer: &mut [u8], deadline: Instant) -> io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    stream.limit(left)?;
    stream.read(buffer)
}

/// Reads what comes until the other end stops writing, at most [`MOST`] bytes, within
/// `deadline`.
#[cfg(unix)]
fn read_all(stream: &mut impl Timed, deadline: Instant) -> io::Result<String> {
    let mut said = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match read_within(stream, &mut chunk, deadline)? {
            0 => break,
            n if said.len() + n > MOST => return Err(io::ErrorKind::InvalidData.into()),
            n => said.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8(said).map_err(|_| io::ErrorKind::InvalidData.into())
}

/// Reads one line (the Windows answer), within `deadline`.
#[cfg(windows)]
fn read_line(stream: &mut impl Timed, deadline: Instant) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 256 {
        match read_within(stream, &mut byte, deadline)? {
            0 => break,
            _ if byte[0] == b'\n' => {
                return String::from_utf8(line).map_err(|_| io::ErrorKind::InvalidData.into());
            }
            _ => line.push(byte[0]),
        }
    }
    Err(io::ErrorKind::InvalidData.into())
}

#[cfg(test)]
#[path = "instance_tests.rs"]
mod tests;
