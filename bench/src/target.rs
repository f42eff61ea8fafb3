//! The servers under test, each a separate process so that its CPU time and memory can be
//! read from /proc: our server, the bare loop (this binary, `bare-loop`), or any command.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Which server to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `udprelay-server` (release build beside this binary, or `--server-bin`), with any
    /// extra flags, e.g. `ours --threads 1 --no-batching`.
    Ours(Vec<String>),
    /// The bare loop: receive, look up the group, send to each member; nothing else.
    Bare,
    /// A command line with `{port}` where the port goes, e.g. `python3 chat.py --server --port {port}`.
    Command(String),
}

impl Kind {
    pub fn parse(text: &str) -> Kind {
        let mut words = text.split_whitespace();
        match words.next() {
            Some("ours") => Kind::Ours(words.map(str::to_string).collect()),
            Some("bare") if words.next().is_none() => Kind::Bare,
            _ => Kind::Command(text.to_string()),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Kind::Ours(flags) => {
                ["ours".to_string()].iter().chain(flags).cloned().collect::<Vec<_>>().join(" ")
            }
            Kind::Bare => "bare".into(),
            Kind::Command(command) => {
                command.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
            }
        }
    }
}

/// A running server process, killed when dropped.
pub struct Target {
    pub label: String,
    pub addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<String>>,
}

/// How a scenario wants the server set up.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Sweep interval for our server, in seconds (`None`: its default).
    pub sweep: Option<f64>,
    /// CPUs our server and the bare loop may run on (`taskset -c` list; `None`: any).
    pub server_cpus: Option<String>,
}

/// Every abuse limit on, and higher than any scenario goes.
const LIMITS_ABOVE_THE_LOAD: &[&str] = &[
    "--max-groups",
    "4000000000",
    "--max-members",
    "4000000000",
    "--max-groups-per-ip",
    "4000000000",
    "--max-members-per-ip",
    "4000000000",
    "--command-rate",
    "100000000",
    "--error-rate",
    "100000000",
    "--payload-rate",
    "100000000",
];

impl Target {
    pub fn start(kind: &Kind, server_bin: &Path, setup: Setup) -> Result<Target, String> {
        let mut port = 0;
        let mut command = match kind {
            Kind::Ours(flags) => {
                let mut command = pinned(server_bin, &setup);
                // No limits or timers in the way of the measurement: nobody expires.
                command.args(["--host", "127.0.0.1", "--port", "0", "--heartbeat", "100000"]);
                command.args(["--empty-ttl", "100000", "--cap", "none"]);
                command.args(["--max-groups-per-client", "4000000000"]);
                // The abuse limits stay on (their checks are part of the cost measured), set
                // above the load: every simulated client is on 127.0.0.1.
                command.args(LIMITS_ABOVE_THE_LOAD);
                if let Some(sweep) = setup.sweep {
                    command.args(["--sweep", &sweep.to_string()]);
                }
                command.args(flags);
                command.env("RUST_LOG", "warn,udprelay_server::sweep=debug");
                command
            }
            Kind::Bare => {
                let mut command =
                    pinned(&std::env::current_exe().map_err(|e| e.to_string())?, &setup);
                command.arg("bare-loop");
                command
            }
            Kind::Command(line) => {
                port = free_port()?;
                let line = line.replace("{port}", &port.to_string());
                let mut words = line.split_whitespace();
                let mut command = Command::new(words.next().ok_or("an empty --target command")?);
                command.args(words);
                command
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", kind.label()))?;
        let log = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take().expect("piped"), Arc::clone(&log));
        let stdout = child.stdout.take().expect("piped");
        let addr = if let Kind::Command(_) = kind {
            drain(stdout, Arc::clone(&log));
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            wait_until_answering(addr)?;
            addr
        } else {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
            line.trim()
                .strip_prefix("listening on ")
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| format!("{} said {line:?}", kind.label()))?
        };
        Ok(Target { label: kind.label(), addr, child, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu(&self) -> Option<Duration> {
        cpu_of(self.child.id())
    }

    /// Resident memory, in bytes.
    pub fn rss(&self) -> Option<u64> {
        Some(proc_status_kib(self.child.id(), "VmRSS:")? * 1024)
    }

    /// Each value our server's sweep lines have logged so far for `field` (in microseconds):
    /// `elapsed_us` (a whole sweep) or `longest_hold_us` (its longest step).
    pub fn logged(&self, field: &str) -> Vec<Duration> {
        let log = self.log.lock().unwrap();
        let prefix = format!(" {field}=");
        log.lines()
            .filter_map(|line| line.split(prefix.as_str()).nth(1))
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .map(Duration::from_micros)
            .collect()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) process `pid` has used so far.
pub fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
}

/// A command for `program`, under `taskset -c` when the setup pins servers to some CPUs
/// (taskset execs the program, so the process measured is still the server).
fn pinned(program: &Path, setup: &Setup) -> Command {
    match &setup.server_cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpus]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// A size field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The release `udprelay-server` beside this binary.
pub fn default_server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name(format!("udprelay-server{}", std::env::consts::EXE_SUFFIX))
}

/// Probes with `!PING` (any answer will do) until the server is up, for at most 5 s.
fn wait_until_answering(addr: SocketAddr) -> Result<(), String> {
    let probe = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    probe.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 256];
    for _ in 0..50 {
        let _ = probe.send_to(b"!PING", addr);
        if probe.recv_from(&mut buf).is_ok() {
            return Ok(());
        }
    }
    Err(format!("nothing answered on {addr}"))
}

fn free_port() -> Result<u16, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(socket.local_addr().map_err(|e| e.to_string())?.port())
}

fn drain(mut source: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = source.read(&mut buf) {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}
