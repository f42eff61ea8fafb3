//! Our server as the abuse runs see it: started with the flags under test (and default limits
//! otherwise), its memory and log volume read while it runs, its final counters read from the
//! line it logs on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::target::proc_status_kib;

pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    log_bytes: Arc<AtomicU64>,
    /// The log's last lines (the final counters are among them).
    tail: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(bin: &Path, port: u16, flags: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(flags)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("unexpected first line {line:?}"))?;
        let (log_bytes, tail) = (Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(Vec::new())));
        let mut stderr = child.stderr.take().expect("piped");
        let (bytes, lines) = (Arc::clone(&log_bytes), Arc::clone(&tail));
        thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut partial = String::new();
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                partial.push_str(&String::from_utf8_lossy(&buf[..n]));
                let mut tail = lines.lock().unwrap();
                while let Some(end) = partial.find('\n') {
                    tail.push(partial[..end].to_string());
                    partial.drain(..=end);
                }
                let excess = tail.len().saturating_sub(200);
                tail.drain(..excess);
            }
        });
        Ok(Server { addr, child, log_bytes, tail })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Bytes the server has logged so far.
    pub fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::Relaxed)
    }

    /// (resident now, resident at peak), in KiB, from /proc.
    pub fn memory_kib(&self) -> (u64, u64) {
        let field = |name| proc_status_kib(self.pid(), name).unwrap_or(0);
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Stops the server with SIGTERM and returns its final counters, by name.
    pub fn stop(mut self) -> Counters {
        // SAFETY: a plain signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        thread::sleep(Duration::from_millis(100)); // the reader takes the last lines
        let tail = self.tail.lock().unwrap();
        let line = tail.iter().rev().find(|l| l.contains("shutting down")).cloned();
        Counters(line.unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `stats=` fields of the shutdown line.
pub struct Counters(String);

impl Counters {
    pub fn get(&self, name: &str) -> u64 {
        let key = format!("{name}=");
        self.0
            .split(|c: char| c.is_whitespace() || c == '"')
            .find_map(|word| word.trim_start_matches("stats=").strip_prefix(&key))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }
}

/// Datagrams the kernel dropped on the server's sockets (receive queue full), from
/// /proc/net/udp: the `drops` column of every socket on `port`.
pub fn kernel_drops(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    let port_hex = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            line.split_whitespace().nth(1).is_some_and(|local| local.ends_with(&port_hex))
        })
        .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}
