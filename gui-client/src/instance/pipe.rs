//! The hand-off on Windows: a named pipe whose access list lets in its owner and the system
//! account alone, under a random name kept in the owner's own file (instance.rs). A launch
//! checks that the process serving the pipe runs as its own user before it says anything: a
//! pipe another user made under the name of a window that ended gets nothing.
//!
//! A pipe's client cannot close its writing half alone, so what a launch says ends with a
//! blank line rather than at the end of the stream.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use rand::Rng;
use udprelay_client::files::owner_only::{Descriptor, user_sid, user_sid_of};
use udprelay_client::files::private_file;
use windows_sys::Win32::Foundation::{
    ERROR_BROKEN_PIPE, ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, GENERIC_READ, GENERIC_WRITE,
    INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_FIRST_PIPE_INSTANCE, OPEN_EXISTING, PIPE_ACCESS_DUPLEX,
    SECURITY_IDENTIFICATION, SECURITY_SQOS_PRESENT,
};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, DisconnectNamedPipe, GetNamedPipeServerProcessId,
    PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES,
    PIPE_WAIT, PeekNamedPipe, WaitNamedPipeW,
};

use super::{MOST, PATIENCE, Timed, pass_on, read_line, read_within};

/// Every window's pipe is this and 32 hex digits.
const PREFIX: &str = r"\\.\pipe\udprelay-window-";

/// How often a read looks for what has come (a synchronous pipe read has no time limit).
const LOOK: Duration = Duration::from_millis(10);

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain([0]).collect()
}

/// One end of a connected pipe; reads wait at most until the limit last set.
struct Pipe {
    file: File,
    until: Cell<Instant>,
}

impl Pipe {
    fn new(handle: OwnedHandle) -> Pipe {
        Pipe { file: File::from(handle), until: Cell::new(Instant::now() + PATIENCE) }
    }
}

impl Timed for Pipe {
    fn limit(&self, left: Duration) -> io::Result<()> {
        self.until.set(Instant::now() + left);
        Ok(())
    }
}

impl Read for Pipe {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut waiting = 0u32;
            let null = std::ptr::null_mut();
            // SAFETY: the handle is live; only the count is written, to a live local.
            let peeked = unsafe {
                PeekNamedPipe(
                    self.file.as_raw_handle(),
                    null,
                    0,
                    null.cast(),
                    &mut waiting,
                    null.cast(),
                )
            };
            if peeked == 0 {
                let error = io::Error::last_os_error();
                let closed = error.raw_os_error() == Some(ERROR_BROKEN_PIPE as i32);
                return if closed { Ok(0) } else { Err(error) };
            }
            if waiting > 0 || buffer.is_empty() {
                let n = buffer.len().min(waiting as usize);
                return self.file.read(&mut buffer[..n]);
            }
            if Instant::now() >= self.until.get() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            thread::sleep(LOOK);
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.file.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A new instance of the pipe `name` (the first: none may exist yet), open to this user alone.
fn instance(name: &[u16], first: bool) -> io::Result<OwnedHandle> {
    let descriptor = Descriptor::new(false)?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.as_ptr(),
        bInheritHandle: 0,
    };
    let open = PIPE_ACCESS_DUPLEX | if first { FILE_FLAG_FIRST_PIPE_INSTANCE } else { 0 };
    let mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
    let size = MOST as u32;
    // SAFETY: the name is NUL-terminated, the attributes and descriptor live for the call.
    let handle = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            open,
            mode,
            PIPE_UNLIMITED_INSTANCES,
            size,
            size,
            0,
            &attributes,
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a handle just made, owned from here on.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

pub struct Listener {
    name: String,
    next: OwnedHandle,
    served: Served,
}

impl Listener {
    /// Makes a pipe under a new random name and says so in `file` (its owner's alone).
    pub fn bind(file: &Path) -> io::Result<Listener> {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let name = format!("{PREFIX}{hex}");
        let next = instance(&wide(&name), true)?;
        fs::write(file, "")?;
        private_file(file)?;
        fs::write(file, format!("{name}\n"))?;
        let served = Served { file: file.to_path_buf(), name: name.clone() };
        Ok(Listener { name, next, served })
    }

    pub fn split(self) -> (Served, Accepting) {
        let accepting = Accepting { name: wide(&self.name), next: Mutex::new(self.next) };
        (self.served, accepting)
    }
}

/// Always one instance waiting, so that the name is this window's while it runs.
pub struct Accepting {
    name: Vec<u16>,
    next: Mutex<OwnedHandle>,
}

impl Accepting {
    pub fn accept(&self) -> io::Result<Connection> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = next.as_raw_handle();
        // SAFETY: a live pipe handle, opened without overlapped I/O.
        let connected = unsafe { ConnectNamedPipe(handle, std::ptr::null_mut()) } != 0
            || io::Error::last_os_error().raw_os_error() == Some(ERROR_PIPE_CONNECTED as i32);
        let fresh = match instance(&self.name, false) {
            Ok(fresh) => fresh,
            Err(error) => {
                // SAFETY: as above; the instance waits for another client.
                unsafe { DisconnectNamedPipe(handle) };
                return Err(error);
            }
        };
        let taken = std::mem::replace(&mut *next, fresh);
        if !connected {
            return Err(io::Error::last_os_error());
        }
        Ok(Connection { pipe: Pipe::new(taken) })
    }
}

pub struct Connection {
    pipe: Pipe,
}

impl Connection {
    /// One launch: its groups passed on and `OK` answered within [`PATIENCE`]; then the window
    /// waits (within it) for the launch to close its end, so that it reads the answer.
    pub fn receive(mut self, handed: &Sender<Vec<String>>) -> io::Result<()> {
        let deadline = Instant::now() + PATIENCE;
        let said = read_said(&mut self.pipe, deadline)?;
        pass_on(&said, handed);
        self.pipe.write_all(b"OK\n")?;
        let mut rest = [0u8; 64];
        while read_within(&mut self.pipe, &mut rest, deadline)? > 0 {}
        Ok(())
    }
}

/// What a launch says: lines up to a blank one, at most [`MOST`] bytes. One that closes its
/// end before the blank line said nothing.
fn read_said(pipe: &mut Pipe, deadline: Instant) -> io::Result<String> {
    let mut said = Vec::new();
    let mut chunk = [0u8; 4096];
    while said != b"\n" && !said.ends_with(b"\n\n") {
        match read_within(pipe, &mut chunk, deadline)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n if said.len() + n > MOST => return Err(io::ErrorKind::InvalidData.into()),
            n => said.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8(said).map_err(|_| io::ErrorKind::InvalidData.into())
}

/// The file, removed when the window ends if it still names this window's pipe.
pub struct Served {
    file: PathBuf,
    name: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        if fs::read_to_string(&self.file).is_ok_and(|said| said.trim_end() == self.name) {
            let _ = fs::remove_file(&self.file);
        }
    }
}

/// The pipe `name`, opened as a client that lets the server know who it is but not act as it;
/// `None` when nobody serves it.
fn open(name: &[u16]) -> Option<OwnedHandle> {
    for _ in 0..2 {
        // SAFETY: the name is NUL-terminated; no attributes, no template.
        let handle = unsafe {
            CreateFileW(
                name.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                0,
                std::ptr::null(),
                OPEN_EXISTING,
                SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                std::ptr::null_mut(),
            )
        };
        if handle != INVALID_HANDLE_VALUE {
            // SAFETY: a handle just opened, owned from here on.
            return Some(unsafe { OwnedHandle::from_raw_handle(handle) });
        }
        if io::Error::last_os_error().raw_os_error() != Some(ERROR_PIPE_BUSY as i32) {
            return None;
        }
        // Every instance is taken: wait (a while) for one.
        // SAFETY: as above.
        unsafe { WaitNamedPipeW(name.as_ptr(), PATIENCE.as_millis() as u32) };
    }
    None
}

/// The user the process serving `pipe` runs as.
fn server_user(pipe: &OwnedHandle) -> io::Result<String> {
    let mut pid = 0u32;
    // SAFETY: a live pipe handle; the id is written to a live local.
    if unsafe { GetNamedPipeServerProcessId(pipe.as_raw_handle(), &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    user_sid_of(pid)
}

/// Says `said` to the window whose pipe `file` names, if the pipe is served by a process of
/// this user's.
pub fn hand_off(file: &Path, said: &str) -> io::Result<bool> {
    hand_off_if_served_by(file, said, &user_sid()?)
}

/// [`hand_off`], to a pipe served by a process that runs as `user` only.
pub(super) fn hand_off_if_served_by(file: &Path, said: &str, user: &str) -> io::Result<bool> {
    let Ok(text) = fs::read_to_string(file) else { return Ok(false) };
    let name = text.trim();
    let random = name.strip_prefix(PREFIX).unwrap_or_default();
    if random.len() != 32 || !random.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let Some(handle) = open(&wide(name)) else { return Ok(false) };
    if server_user(&handle).ok().as_deref() != Some(user) {
        return Ok(false);
    }
    let mut pipe = Pipe::new(handle);
    let deadline = Instant::now() + PATIENCE;
    pipe.write_all(format!("{said}\n").as_bytes())?;
    Ok(read_line(&mut pipe, deadline).is_ok_and(|answer| answer == "OK"))
}
