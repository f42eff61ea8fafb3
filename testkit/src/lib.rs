//! Test support shared by the workspace's integration tests: the real `udprelay-server`
//! binary started on a loopback port chosen by the kernel, and plain UDP peers to talk to it.
//! Every wait here is bounded.

#[cfg(all(feature = "desktop", target_os = "linux"))]
pub mod desktop;
mod nats;
#[cfg(feature = "notifications")]
mod notifications;
mod operator_nats;
mod proxy;
mod relays;
mod scratch;
mod secure_nats;
#[cfg(feature = "desktop")]
mod session_bus;

pub use nats::{NATS_VERSION, NatsCluster, free_tcp_port, nats_server_binary};
#[cfg(feature = "notifications")]
pub use notifications::{NotificationService, Notified};
pub use operator_nats::OperatorSecrets;
pub use proxy::DelayProxy;
pub use relays::RelayCluster;
pub use scratch::ScratchDir;
pub use secure_nats::{NatsSecrets, OTHER_PASSWORD, node_permissions};
#[cfg(feature = "desktop")]
pub use session_bus::SessionBus;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running `udprelay-server`, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

/// The per-IP limits turned off: every test client speaks from 127.0.0.1, one IP, many times
/// a second. [`ServerProcess::start`] puts these first; a test's own flags come after and win
/// (`--command-rate 5` sets that limit back on).
pub const ONE_IP_LIMITS: &[&str] = &[
    "--max-members-per-ip",
    "0",
    "--max-groups-per-ip",
    "0",
    "--command-rate",
    "0",
    "--error-rate",
    "0",
];

impl ServerProcess {
    /// Starts the server on 127.0.0.1 port 0 with [`ONE_IP_LIMITS`] and extra flags.
    pub fn start(args: &[&str]) -> ServerProcess {
        ServerProcess::start_on("127.0.0.1", args)
    }

    /// Starts the server on `host` port 0 with extra flags.
    pub fn start_on(host: &str, args: &[&str]) -> ServerProcess {
        ServerProcess::start_at(host, 0, args)
    }

    /// Starts the server on `host` and `port` (a port a test freed, to restart a server).
    pub fn start_at(host: &str, port: u16, args: &[&str]) -> ServerProcess {
        ServerProcess::start_with_env(host, port, args, &[])
    }

    /// Starts the server with extra environment variables (a service manager's, say).
    pub fn start_with_env(
        host: &str,
        port: u16,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let port = port.to_string();
        let mut child = Command::new(server_binary())
            .args(["--host", host, "--port", &port])
            .args(ONE_IP_LIMITS)
            .args(args)
            .envs(env.iter().copied())
            // `UDPRELAY_TEST_LOG=debug` (or any filter) for more, when a test needs looking into.
            .env("RUST_LOG", std::env::var("UDPRELAY_TEST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start udprelay-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let log = Arc::new(Mutex::new(String::new()));
        drain_into(child.stderr.take().expect("piped stderr"), Arc::clone(&log));
        let line = rx.recv_timeout(WAIT).expect("the server prints its address");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("a socket address");
        ServerProcess { child, addr, log }
    }

    /// Sends SIGTERM (a clean stop, as a service manager does) and waits, bounded, for the
    /// process to end.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        self.wait()
    }

    /// Waits, bounded, for the process to end.
    pub fn wait(&mut self) -> ExitStatus {
        wait_bounded(&mut self.child)
    }

    /// What the server logged to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Polls, bounded, until the log contains `text`.
    pub fn wait_for_log(&self, text: &str) -> bool {
        poll_until(|| self.log().contains(text))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a child's output into `sink` on a thread, so a full pipe never blocks the child.
pub fn drain_into(mut source: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = source.read(&mut buf) {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

/// Waits, bounded by [`WAIT`], for a child to exit.
pub fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("the process did not exit within {WAIT:?}");
}

/// Calls `done` every 20 ms until it is true or [`WAIT`] has passed; returns the last answer.
pub fn poll_until(done: impl FnMut() -> bool) -> bool {
    poll_for(WAIT, done)
}

/// Calls `done` every 20 ms until it is true or `limit` has passed; returns the last answer.
pub fn poll_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The `udprelay-server` binary beside the running test's own target directory, built first if
/// a narrower `cargo test -p` run did not build it.
pub fn server_binary() -> PathBuf {
    workspace_binary("udprelay-server", "udprelay-server")
}

/// The terminal client `udprelay`, likewise.
pub fn client_binary() -> PathBuf {
    workspace_binary("udprelay-cli", "udprelay")
}

fn workspace_binary(package: &str, bin: &str) -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test's path");
    // target/<profile>/deps/<test> -> target/<profile>/<bin>
    let dir = test_exe.parent().and_then(Path::parent).expect("target/<profile>");
    let path = dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", package, "--bin", bin]);
        if dir.file_name().is_some_and(|profile| profile == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p {package} failed");
    }
    path
}

/// A client socket on loopback, speaking to one server.
pub struct Peer {
    pub socket: UdpSocket,
    server: SocketAddr,
}

impl Peer {
    pub fn new(server: SocketAddr) -> Peer {
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => "127.0.0.1:0".parse().unwrap(),
            SocketAddr::V6(_) => "[::1]:0".parse().unwrap(),
        };
        let socket = UdpSocket::bind(local).expect("bind a loopback socket");
        socket.set_read_timeout(Some(WAIT)).unwrap();
        Peer { socket, server }
    }

    pub fn send(&self, datagram: &[u8]) {
        self.socket.send_to(datagram, self.server).expect("send");
    }

    /// The next datagram from the server; panics after [`WAIT`].
    pub fn recv(&self) -> Vec<u8> {
        let mut buf = [0u8; 8192];
        let (n, from) = self.socket.recv_from(&mut buf).expect("a datagram within the wait");
        assert_eq!(from, self.server, "datagrams come from the server");
        buf[..n].to_vec()
    }

    pub fn recv_text(&self) -> String {
        String::from_utf8(self.recv()).expect("UTF-8")
    }

    /// Sends a command and returns the reply as text.
    pub fn ask(&self, command: &str) -> String {
        self.send(command.as_bytes());
        self.recv_text()
    }

    /// Sends a command and returns the reply, sending it again (as udprelay's clients do, a
    /// bounded number of times) while a cluster's relay answers `ERR BUSY TryAgain`: its
    /// directory may be electing a leader. A relay on its own never says so.
    pub fn ask_deciding(&self, command: &str) -> String {
        let mut reply = self.ask(command);
        for _ in 0..20 {
            if reply != "ERR BUSY TryAgain" {
                break;
            }
            thread::sleep(Duration::from_millis(250));
            reply = self.ask(command);
        }
        reply
    }

    /// Creates a group; returns its id.
    pub fn create(&self) -> String {
        let reply = self.ask_deciding("!CREATE");
        let id = reply.strip_prefix("OK CREATED ").unwrap_or_else(|| panic!("{reply}"));
        assert_eq!(id.len(), 8, "{reply}");
        id.to_string()
    }

    /// Joins a group, checking the reply.
    pub fn join(&self, id: &str) {
        assert_eq!(self.ask_deciding(&format!("!JOIN {id}")), format!("OK JOINED {id}"));
    }

    /// Creates a group and puts every one of `peers` (the first is the creator) in it.
    pub fn group_of(peers: &[&Peer]) -> String {
        let id = peers[0].create();
        for peer in peers {
            peer.join(&id);
        }
        id
    }
}
