//! The hand-off on Unix: a Unix socket in a folder that is its owner's alone (instance.rs).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::{PATIENCE, Timed, pass_on, read_all};

impl Timed for UnixStream {
    fn limit(&self, left: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(left))?;
        self.set_write_timeout(Some(left))
    }
}

/// This process's user.
fn me() -> u32 {
    // SAFETY: geteuid has no arguments, touches no memory, and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether `folder` is a folder of this user's that no one else may enter.
fn ours_alone(folder: &Path) -> bool {
    let meta = fs::symlink_metadata(folder);
    meta.is_ok_and(|meta| meta.is_dir() && meta.uid() == me() && meta.mode() & 0o077 == 0)
}

/// Makes `folder` this user's alone: made 0700, or tightened to it (a file left there by an
/// older window, which kept its port in a file of that name, is removed).
fn make_ours_alone(folder: &Path) -> io::Result<()> {
    if fs::symlink_metadata(folder).is_ok_and(|meta| meta.is_file() && meta.uid() == me()) {
        fs::remove_file(folder)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(folder) {
        Err(error) if error.kind() != io::ErrorKind::AlreadyExists => return Err(error),
        _ => {}
    }
    let meta = fs::symlink_metadata(folder)?;
    if meta.is_dir() && meta.uid() == me() {
        fs::set_permissions(folder, fs::Permissions::from_mode(0o700))?;
    }
    if !ours_alone(folder) {
        let why = format!("{} is not a folder of yours alone", folder.display());
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    }
    Ok(())
}

pub struct Listener {
    socket: UnixListener,
    served: Served,
}

impl Listener {
    /// Listens on `socket` in `folder`; a socket left there by a window that is gone is
    /// replaced, a live window's is not (that window stays the one).
    pub fn bind(folder: &Path) -> io::Result<Listener> {
        make_ours_alone(folder)?;
        let path = folder.join("socket");
        let socket = match UnixListener::bind(&path) {
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => {
                if UnixStream::connect(&path).is_ok() {
                    return Err(error);
                }
                fs::remove_file(&path)?;
                UnixListener::bind(&path)?
            }
            bound => bound?,
        };
        let inode = fs::symlink_metadata(&path)?.ino();
        Ok(Listener { socket, served: Served { path, inode } })
    }

    pub fn split(self) -> (Served, Accepting) {
        (self.served, Accepting(self.socket))
    }
}

pub struct Accepting(UnixListener);

impl Accepting {
    pub fn accept(&self) -> io::Result<Connection> {
        self.0.accept().map(|(stream, _)| Connection(stream))
    }
}

pub struct Connection(UnixStream);

impl Connection {
    /// One launch: its groups passed on, `OK` answered, all within [`PATIENCE`].
    pub fn receive(mut self, handed: &Sender<Vec<String>>) -> io::Result<()> {
        let deadline = Instant::now() + PATIENCE;
        let said = read_all(&mut self.0, deadline)?;
        pass_on(&said, handed);
        self.0.limit(
            deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)),
        )?;
        self.0.write_all(b"OK\n")
    }
}

/// The socket, removed when the window ends if it is still this window's.
pub struct Served {
    path: PathBuf,
    inode: u64,
}

impl Drop for Served {
    fn drop(&mut self) {
        if fs::symlink_metadata(&self.path).is_ok_and(|meta| meta.ino() == self.inode) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Says `said` to the window listening in `folder`, if that folder is this user's alone.
pub fn hand_off(folder: &Path, said: &str) -> io::Result<bool> {
    if !ours_alone(folder) {
        return Ok(false); // nothing there, or a folder another user could have put a socket in
    }
    let Ok(mut stream) = UnixStream::connect(folder.join("socket")) else { return Ok(false) };
    let deadline = Instant::now() + PATIENCE;
    stream.limit(PATIENCE)?;
    stream.write_all(said.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    // Anything but OK (a window hanging): not a window that took them.
    Ok(read_all(&mut stream, deadline).is_ok_and(|answer| answer == "OK\n"))
}
