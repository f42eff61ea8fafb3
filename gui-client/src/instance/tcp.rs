//! The hand-off on Windows: TCP on 127.0.0.1, with a token only the store's owner can read,
//! which each side proves it knows before the other says anything of worth (instance.rs).
//! (Built for the tests on every system, so that the exchange is tested where they run.)

use std::fs;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use rand::Rng;
use sha2::{Digest, Sha256};
use udprelay_client::files::private_file;

use super::{PATIENCE, Timed, pass_on, read_all, read_line};

impl Timed for TcpStream {
    fn limit(&self, left: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(left))?;
        self.set_write_timeout(Some(left))
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What the window answers to `nonce`: proof that it knows `token`, which gives nothing away.
fn proof(token: &str, nonce: &str) -> String {
    let digest = Sha256::new().chain_update(token).chain_update(b"|").chain_update(nonce);
    digest.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

pub struct Listener {
    socket: TcpListener,
    token: String,
    served: Served,
}

impl Listener {
    /// Listens on a loopback port and says so, with a new token, in `file` (its owner's alone).
    pub fn bind(file: &Path) -> io::Result<Listener> {
        let socket = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let token = random_hex();
        let port = socket.local_addr()?.port();
        // Written whole, then made private before the token is in it.
        fs::write(file, "")?;
        private_file(file)?;
        fs::write(file, format!("{port} {token}\n"))?;
        let served = Served { file: file.to_path_buf(), token: token.clone() };
        Ok(Listener { socket, token, served })
    }

    pub fn split(self) -> (Served, Accepting) {
        (self.served, Accepting { socket: self.socket, token: self.token })
    }
}

pub struct Accepting {
    socket: TcpListener,
    token: String,
}

impl Accepting {
    pub fn accept(&self) -> io::Result<Connection> {
        let (stream, _) = self.socket.accept()?;
        Ok(Connection { stream, token: self.token.clone() })
    }
}

pub struct Connection {
    stream: TcpStream,
    token: String,
}

impl Connection {
    /// One launch: the window's proof given, the launch's token checked, its groups passed
    /// on, `OK` answered, all within [`PATIENCE`].
    pub fn receive(mut self, handed: &Sender<Vec<String>>) -> io::Result<()> {
        let deadline = Instant::now() + PATIENCE;
        let nonce = read_line(&mut self.stream, deadline)?;
        self.stream.write_all(format!("{}\n", proof(&self.token, &nonce)).as_bytes())?;
        let said = read_all(&mut self.stream, deadline)?;
        let Some((_, groups)) = said.split_once('\n').filter(|(t, _)| *t == self.token) else {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "wrong token"));
        };
        pass_on(groups, handed);
        self.stream.write_all(b"OK\n")
    }
}

/// The file, removed when the window ends if it is still this window's.
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

/// Says `said` to the window whose port and token are in `file`, once it has shown it knows
/// the token.
pub fn hand_off(file: &Path, said: &str) -> io::Result<bool> {
    let Ok(text) = fs::read_to_string(file) else { return Ok(false) };
    let Some((port, token)) = text.trim().split_once(' ') else { return Ok(false) };
    let Ok(port) = port.parse::<u16>() else { return Ok(false) };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PATIENCE) else { return Ok(false) };
    let deadline = Instant::now() + PATIENCE;
    stream.limit(PATIENCE)?;
    let nonce = random_hex();
    stream.write_all(format!("{nonce}\n").as_bytes())?;
    // Whoever took the port of a window that ended does not know the token: it gets nothing.
    if read_line(&mut stream, deadline).ok() != Some(proof(token, &nonce)) {
        return Ok(false);
    }
    stream.write_all(format!("{token}\n{said}").as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    Ok(read_all(&mut stream, deadline).is_ok_and(|answer| answer == "OK\n"))
}
