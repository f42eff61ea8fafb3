//! A node's death as the others and the clients see it: how long until another node's `!WHO`
//! no longer counts the dead node's member, and how long until a terminal client given two
//! nodes says it moved to the other, for a node killed (the kernel then answers with ICMP
//! port unreachable) and for one gone silent (SIGSTOP: nothing answers at all).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use crate::scenario::{ask, client, create, join};

/// How long a death may take to be noticed before the bench gives up on it.
const GIVE_UP: Duration = Duration::from_secs(30);

/// How long until `observer` (a member of a group with a member on the dying node) counts
/// `after` members, once `die` has run.
pub fn noticed(
    observer_node: SocketAddr,
    dying_node: SocketAddr,
    die: impl FnOnce(),
) -> std::io::Result<Option<Duration>> {
    let (observer, doomed) = (client()?, client()?);
    let id = create(&observer, observer_node)?;
    join(&observer, observer_node, &id)?;
    join(&doomed, dying_node, &id)?;
    die();
    let started = Instant::now();
    while started.elapsed() < GIVE_UP {
        if ask(&observer, observer_node, "!WHO")?.ends_with(" 1") {
            return Ok(Some(started.elapsed()));
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(None)
}

/// The terminal client in pipe mode, its output read line by line.
pub struct Cli {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Cli {
    /// The client `bin`, given `hosts` on `port`.
    pub fn start(bin: &std::path::Path, hosts: &str, port: u16) -> std::io::Result<Cli> {
        let mut child = Command::new(bin)
            .args(["--host", hosts, "--port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let stdin = child.stdin.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Cli { child, stdin, lines })
    }

    pub fn type_line(&mut self, line: &str) -> std::io::Result<()> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()
    }

    /// Waits for a line containing `text`; how long it took (`None`: not within the bound).
    pub fn wait_for(&self, text: &str) -> Option<Duration> {
        let started = Instant::now();
        while let Some(left) = GIVE_UP.checked_sub(started.elapsed()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return Some(started.elapsed()),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill only sends a signal to a process of ours.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}
