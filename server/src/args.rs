//! Command-line flags. Every value is checked while parsing, so a bad one stops the server
//! with clap's one-line error and exit code 2 before anything is bound.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::Parser;

mod nats;

pub use nats::{NatsFlags, NatsSecurity, Secret, SignIn, Tls, redacted, split_credentials};

use crate::relay::Config;
use crate::relay::cluster::NodeId;
use crate::relay::limits::{
    DEFAULT_COMMAND_RATE, DEFAULT_ERROR_RATE, DEFAULT_MAX_GROUPS, DEFAULT_MAX_GROUPS_PER_IP,
    DEFAULT_MAX_MEMBERS, DEFAULT_MAX_MEMBERS_PER_IP, DEFAULT_PAYLOAD_RATE, Limits, Rate,
};

/// Longest interval accepted, in seconds (about 31 years): far beyond any use, and small enough
/// that 3 × heartbeat never overflows a clock and `PONG` never needs an exponent.
const MAX_SECONDS: f64 = 1e9;

/// How often the state file is written while running, unless told otherwise.
const DEFAULT_SNAPSHOT_EVERY: Duration = Duration::from_secs(10);

/// Most worker threads: far more than a relay can use, few enough to be a typo guard.
const MAX_THREADS: usize = 1024;

/// udprelay relay server: hands out group ids and relays each member's datagrams to the rest
/// of its group. Wire-compatible with the original Python UDPRelay.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "udprelay-server",
    version,
    allow_negative_numbers = true,
    args_override_self = true
)]
pub struct Args {
    /// Read settings from this TOML file (keys are the flags' names: `heartbeat = 60`); flags
    /// given here override it; SIGHUP reads it again
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

    /// Check the configuration (the file and the flags) and exit: 0 if it is good, 2 with the
    /// line and the reason if not
    #[arg(long)]
    pub check_config: bool,

    /// Print a man page or a shell completion script, and exit
    #[arg(long, hide = true, value_name = "WHAT")]
    pub generate: Option<udprelay_generate::Output>,

    /// Address to listen on: IPv4 (`0.0.0.0`), IPv6 (`::`) or a host name
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0", value_parser = parse_host)]
    pub host: IpAddr,

    /// UDP port to listen on; 0 picks a free one (the address is printed at start)
    #[arg(long, default_value_t = 5000)]
    pub port: u16,

    /// Seconds an empty group lives before it is deleted
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_seconds)]
    pub empty_ttl: Duration,

    /// Seconds between cleanup sweeps
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub sweep: Duration,

    /// Suggested heartbeat interval in seconds, sent in PONG; members silent for 3 × this
    /// are removed
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub heartbeat: Duration,

    /// Largest group size; `0` or `none` for no limit
    #[arg(long, value_name = "MEMBERS", default_value = "128", value_parser = parse_cap)]
    pub cap: GroupCap,

    /// Live groups one client address may have created at a time
    #[arg(long, value_name = "GROUPS", default_value_t = 3)]
    pub max_groups_per_client: u32,

    /// Worker threads receiving and relaying on the port at once [default: the number of
    /// cores]
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// One system call per datagram instead of batches (the path other platforms take; for
    /// measurements)
    #[arg(long)]
    pub no_batching: bool,

    /// Live groups on the server at most; 0 for no limit
    #[arg(long, value_name = "GROUPS", default_value_t = DEFAULT_MAX_GROUPS)]
    pub max_groups: u32,

    /// Live members on the server at most; 0 for no limit
    #[arg(long, value_name = "MEMBERS", default_value_t = DEFAULT_MAX_MEMBERS)]
    pub max_members: u32,

    /// Live groups created from one IP (IPv4 address or IPv6 /64) at most; 0 for no limit
    #[arg(long, value_name = "GROUPS", default_value_t = DEFAULT_MAX_GROUPS_PER_IP)]
    pub max_groups_per_ip: u32,

    /// Live members at one IP (IPv4 address or IPv6 /64) at most; an office behind one NAT
    /// needs one per person; 0 for no limit
    #[arg(long, value_name = "MEMBERS", default_value_t = DEFAULT_MAX_MEMBERS_PER_IP)]
    pub max_members_per_ip: u32,

    /// Commands a second from one IP (bursts of twice that); more are dropped without a
    /// reply; 0 for no limit
    #[arg(long, value_name = "PER_SECOND", default_value_t = DEFAULT_COMMAND_RATE)]
    pub command_rate: u32,

    /// Error replies a second to one IP (bursts of twice that); more are not sent; 0 for no
    /// limit
    #[arg(long, value_name = "PER_SECOND", default_value_t = DEFAULT_ERROR_RATE)]
    pub error_rate: u32,

    /// Payloads a second from one member (bursts of twice that); more are not relayed; 0 for
    /// no limit
    #[arg(long, value_name = "PER_SECOND", default_value_t = DEFAULT_PAYLOAD_RATE)]
    pub payload_rate: u32,

    /// Relay to a member that has not echoed a validation token at most 3 × the bytes it
    /// sent, so that a forged source address cannot turn the relay into an amplifier
    /// (original clients never echo one)
    #[arg(long)]
    pub require_validation: bool,

    /// Keep the groups and members in this file across restarts: written on SIGTERM and Ctrl-C
    /// (and every --snapshot-every seconds), read at start
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<std::path::PathBuf>,

    /// Seconds between state-file writes while running, so that a crash loses at most that
    /// much; 0 writes only on shutdown [default: 10 with --state-file]
    #[arg(long, value_name = "SECONDS", requires = "state_file", value_parser = parse_seconds_or_zero)]
    pub snapshot_every: Option<Duration>,

    /// Serve Prometheus metrics at http://ADDR/metrics and a health check at /healthz (keep
    /// it on loopback or a private network: anyone who reaches it reads the numbers)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// Log level: error, warn, info or debug, or a filter such as
    /// `info,udprelay_server::sweep=debug` (RUST_LOG, when set, wins)
    #[arg(long, value_name = "FILTER", default_value = "info", value_parser = parse_log_level)]
    pub log_level: String,

    /// Log lines as text, or as one JSON object per line
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Be one node of a cluster of relays on NATS serving one namespace of groups: the URL of
    /// every NATS server, comma-separated (`nats://10.0.0.1:4222,nats://10.0.0.2:4222`), so
    /// that the node survives the loss of one; see docs/cluster.md
    #[arg(long, value_name = "URLS", value_parser = parse_cluster_urls)]
    pub cluster: Option<ClusterUrls>,

    /// This node's name in the cluster, unique among its nodes (1 to 64 of A-Z a-z 0-9 _ -)
    /// [default: the host name and the listening address]
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub node_name: Option<NodeId>,

    /// The cluster's name, shared by its nodes: the first token of its NATS subjects and the
    /// name of its directory (`NAME-groups`)
    #[arg(long, value_name = "NAME", default_value = "udprelay", value_parser = parse_cluster_name)]
    pub cluster_name: String,

    /// Seconds between a node's heartbeats to the others; a node silent for 2.5 × this is
    /// counted dead and its members out (so within 3 × this of its death)
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_seconds)]
    pub cluster_heartbeat: Duration,

    /// Copies of the directory the NATS servers keep (at most their number)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub cluster_replicas: u8,

    #[command(flatten)]
    pub nats: NatsFlags,

    /// With several threads, when to spread the load over them: `auto` hands every datagram
    /// to one worker while it keeps up (less CPU) and spreads senders over all of them when it
    /// gets busy (Linux; elsewhere always); `always` spreads from the start
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = Spread::Auto)]
    pub spread: Spread,
}

/// The `--log-format` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_log_level(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(text)
        .map(|_| text.to_string())
        .map_err(|error| format!("not a log filter ({error})"))
}

/// The `--spread` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Spread {
    Auto,
    Always,
}

/// The `--cluster` value: NATS server URLs, as given (credentials in them included, so it
/// never prints them: see [`ClusterUrls::shown`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterUrls(pub Vec<String>);

impl ClusterUrls {
    /// The URLs to connect to, without credentials (those go to the client apart).
    pub fn bare(&self) -> Vec<String> {
        self.0.iter().map(|url| split_credentials(url).0).collect()
    }

    /// The URLs as they may be shown: credentials replaced by `***`.
    pub fn shown(&self) -> String {
        self.0.iter().map(|url| redacted(url)).collect::<Vec<_>>().join(",")
    }
}

impl std::fmt::Debug for ClusterUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClusterUrls({})", self.shown())
    }
}

/// Splits `--cluster` into URLs; they are checked by [`ClusterUrls::check`], after parsing,
/// because clap's own errors repeat the value, and a URL may carry a password.
fn parse_cluster_urls(text: &str) -> Result<ClusterUrls, String> {
    let urls: Vec<String> =
        text.split(',').map(str::trim).filter(|url| !url.is_empty()).map(str::to_string).collect();
    if urls.is_empty() {
        return Err("give at least one NATS URL, e.g. nats://127.0.0.1:4222".into());
    }
    Ok(ClusterUrls(urls))
}

impl ClusterUrls {
    /// That every URL is a NATS one; the error shows them without credentials.
    fn check(&self) -> Result<(), String> {
        for url in &self.0 {
            if url.starts_with("ws://") || url.starts_with("wss://") {
                return Err(format!(
                    "--cluster: {} is a WebSocket URL: use the NATS port, nats:// or tls://",
                    redacted(url)
                ));
            }
            let scheme = ["nats://", "tls://"].iter().any(|s| url.starts_with(s));
            let bare = split_credentials(url).0;
            let host = bare.split_once("://").map_or("", |(_, rest)| rest);
            let has_host = !host.is_empty() && !host.starts_with(':') && !host.starts_with('/');
            if !scheme || !has_host || bare.parse::<async_nats::ServerAddr>().is_err() {
                return Err(format!(
                    "--cluster: {} is not a NATS URL, such as nats://127.0.0.1:4222",
                    redacted(url)
                ));
            }
        }
        Ok(())
    }
}

fn parse_cluster_name(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 32
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(text.to_string())
    } else {
        Err("1 to 32 of the characters A-Z a-z 0-9 _ -".into())
    }
}

/// The `--cap` value: a limit, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCap(pub Option<u32>);

impl Args {
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// How often the state file is written while running (`None`: only on shutdown, or no
    /// state file).
    pub fn snapshot_interval(&self) -> Option<Duration> {
        self.state_file.as_ref()?;
        match self.snapshot_every {
            Some(Duration::ZERO) => None,
            Some(every) => Some(every),
            None => Some(DEFAULT_SNAPSHOT_EVERY),
        }
    }

    /// What differs from `other` among the settings that only a restart can change (the
    /// address, the workers, the files, the log format), as flag names.
    pub fn needs_restart(&self, other: &Args) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let mut check = |name, differs: bool| {
            if differs {
                changed.push(name);
            }
        };
        check("host", self.host != other.host);
        check("port", self.port != other.port);
        check("threads", self.threads != other.threads);
        check("no-batching", self.no_batching != other.no_batching);
        check("spread", self.spread != other.spread);
        check("state-file", self.state_file != other.state_file);
        check("snapshot-every", self.snapshot_every != other.snapshot_every);
        check("log-format", self.log_format != other.log_format);
        check("metrics", self.metrics != other.metrics);
        check("cluster", self.cluster != other.cluster);
        check("node-name", self.node_name != other.node_name);
        check("cluster-name", self.cluster_name != other.cluster_name);
        check("cluster-heartbeat", self.cluster_heartbeat != other.cluster_heartbeat);
        check("cluster-replicas", self.cluster_replicas != other.cluster_replicas);
        check("cluster-creds", self.nats.cluster_creds != other.nats.cluster_creds);
        check("cluster-nkey", self.nats.cluster_nkey != other.nats.cluster_nkey);
        check("cluster-user", self.nats.cluster_user != other.nats.cluster_user);
        let password_file = self.nats.cluster_password_file != other.nats.cluster_password_file;
        check("cluster-password-file", password_file);
        check("cluster-tls-ca", self.nats.cluster_tls_ca != other.nats.cluster_tls_ca);
        check("cluster-tls-cert", self.nats.cluster_tls_cert != other.nats.cluster_tls_cert);
        check("cluster-tls-key", self.nats.cluster_tls_key != other.nats.cluster_tls_key);
        changed
    }

    /// How this node takes part in its cluster, once it knows the address it listens on
    /// (`None` without `--cluster`).
    pub fn cluster_config(
        &self,
        bound: SocketAddr,
    ) -> Option<crate::relay::cluster::ClusterConfig> {
        self.cluster.as_ref()?;
        let node = self.node_name.clone().unwrap_or_else(|| {
            NodeId::sanitized(&format!("{}-{}-{}", host_name(), bound.ip(), bound.port()))
        });
        Some(crate::relay::cluster::ClusterConfig { node, heartbeat: self.cluster_heartbeat })
    }

    /// How the node signs in to NATS and which servers it trusts, read from the files the
    /// flags name (`None` without `--cluster`); the error is one line, for exit 2.
    pub fn nats_security(&self) -> Result<Option<NatsSecurity>, String> {
        let Some(urls) = &self.cluster else { return Ok(None) };
        urls.check()?;
        self.nats.read(&urls.0).map(Some)
    }

    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |cores| cores.get()).min(MAX_THREADS)
        })
    }

    pub fn relay_config(&self) -> Config {
        Config {
            heartbeat: self.heartbeat,
            empty_ttl: self.empty_ttl,
            cap: self.cap.0,
            max_groups_per_client: self.max_groups_per_client,
            limits: self.limits(),
        }
    }

    fn limits(&self) -> Limits {
        let count = |n: u32| (n > 0).then_some(n);
        Limits {
            max_groups: count(self.max_groups),
            max_members: count(self.max_members),
            max_groups_per_ip: count(self.max_groups_per_ip),
            max_members_per_ip: count(self.max_members_per_ip),
            command_rate: Rate::per_second(self.command_rate),
            error_rate: Rate::per_second(self.error_rate),
            payload_rate: Rate::per_second(self.payload_rate),
            require_validation: self.require_validation,
        }
    }
}

/// This machine's name, for the default node name.
fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer and its length; gethostname writes at most that much.
        let done = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        if done == 0 && end > 0 {
            return String::from_utf8_lossy(&buffer[..end]).into_owned();
        }
    }
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "relay".into())
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| "not a number of seconds".to_string())?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err("must be more than 0 seconds".into());
    }
    if seconds > MAX_SECONDS {
        return Err(format!("must be at most {MAX_SECONDS} seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_seconds_or_zero(text: &str) -> Result<Duration, String> {
    if text.trim().parse::<f64>() == Ok(0.0) {
        return Ok(Duration::ZERO);
    }
    parse_seconds(text)
}

fn parse_threads(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(threads @ 1..=MAX_THREADS) => Ok(threads),
        _ => Err(format!("must be a whole number from 1 to {MAX_THREADS}")),
    }
}

fn parse_cap(text: &str) -> Result<GroupCap, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(GroupCap(None));
    }
    match text.trim().parse::<u32>() {
        Ok(0) => Ok(GroupCap(None)),
        Ok(n) => Ok(GroupCap(Some(n))),
        Err(_) => Err("must be a whole number of members, or `none`".into()),
    }
}

fn parse_host(text: &str) -> Result<IpAddr, String> {
    let bare = text.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    (bare, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host name: {e}"))?
        .next()
        .map(|addr| addr.ip())
        .ok_or_else(|| "the host name has no address".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("udprelay-server").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_the_protocol_defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.listen_addr(), "0.0.0.0:5000".parse().unwrap());
        assert_eq!(args.relay_config(), Config::default());
        assert_eq!(args.sweep, Duration::from_secs(30));
    }

    #[test]
    fn values_are_read() {
        let args = parse(&[
            "--host",
            "::",
            "--port",
            "0",
            "--heartbeat",
            "0.5",
            "--empty-ttl",
            "2.25",
            "--sweep",
            "0.1",
            "--cap",
            "none",
            "--max-groups-per-client",
            "7",
        ])
        .unwrap();
        assert_eq!(args.listen_addr(), "[::]:0".parse().unwrap());
        assert_eq!(args.heartbeat, Duration::from_millis(500));
        assert_eq!(args.empty_ttl, Duration::from_millis(2250));
        assert_eq!(args.sweep, Duration::from_millis(100));
        assert_eq!(args.cap, GroupCap(None));
        assert_eq!(args.max_groups_per_client, 7);
        assert_eq!(parse(&["--cap", "0"]).unwrap().cap, GroupCap(None));
        assert_eq!(parse(&["--cap", "5"]).unwrap().cap, GroupCap(Some(5)));
        assert_eq!(parse(&["--host", "[::1]"]).unwrap().host, "::1".parse::<IpAddr>().unwrap());
        assert!(parse(&["--host", "localhost"]).unwrap().host.is_loopback());
    }

    #[test]
    fn abuse_limits_are_read_and_zero_turns_one_off() {
        let limits = parse(&[
            "--max-groups",
            "10",
            "--max-members",
            "0",
            "--max-groups-per-ip",
            "3",
            "--max-members-per-ip",
            "64",
            "--command-rate",
            "0",
            "--error-rate",
            "5",
            "--payload-rate",
            "100",
            "--require-validation",
        ])
        .unwrap()
        .relay_config()
        .limits;
        assert_eq!(limits.max_groups, Some(10));
        assert_eq!(limits.max_members, None);
        assert_eq!(limits.max_groups_per_ip, Some(3));
        assert_eq!(limits.max_members_per_ip, Some(64));
        assert_eq!(limits.command_rate, None);
        assert_eq!(limits.error_rate, Rate::per_second(5));
        assert_eq!(limits.payload_rate, Rate::per_second(100));
        assert!(limits.require_validation);
        // The last of a flag given twice wins (tests and config files rely on it).
        let twice = parse(&["--command-rate", "0", "--command-rate", "7"]).unwrap();
        assert_eq!(twice.relay_config().limits.command_rate, Rate::per_second(7));
        for bad in
            [&["--max-groups", "-1"][..], &["--command-rate", "fast"], &["--payload-rate", "1.5"]]
        {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["--port", "70000"][..],
            &["--port", "-1"],
            &["--heartbeat", "0"],
            &["--heartbeat", "-5"],
            &["--heartbeat", "soon"],
            &["--heartbeat", "NaN"],
            &["--heartbeat", "inf"],
            &["--sweep", "1e10"],
            &["--empty-ttl", ""],
            &["--sweep", "-1"],
            &["--cap", "-1"],
            &["--cap", "lots"],
            &["--max-groups-per-client", "-1"],
            &["--host", "no such host.invalid"],
            &["--colour", "red"],
        ] {
            let error = parse(args).expect_err(&format!("{args:?} was accepted"));
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }
}
