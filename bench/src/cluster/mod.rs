//! `udprelay-bench cluster`: three NATS servers and three relays on loopback, measured side by
//! side with one relay alone under the same load (docs/performance.md, "Cluster"):
//!
//! - 20 000 payloads/s × 4 deliveries, every delivery but one per payload crossing nodes:
//!   loss, and the CPU per delivery of every process (relays and NATS servers) against the
//!   one relay's;
//! - the relay latency at 5 000/s, of the deliveries that crossed nodes against one relay's;
//! - joins a second over the cluster with caps enforced;
//! - a node's death as the others see it, and a terminal client moving to another node, for
//!   a node killed and for one gone silent;
//! - with `--tls`, the two payload runs again on NATS secured as docs/cluster.md says (TLS,
//!   per-node users with their permissions), beside the plain cluster's.

mod failover;
mod joins;
mod load;
mod nats_alone;
mod report;

use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::Duration;

use udprelay_testkit::{NATS_VERSION, NatsCluster, NatsSecrets, poll_for};

use crate::scenario::{ask, client};
use crate::target::{Kind, Setup, Target};

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Seconds of load for each payload run
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,

    /// Payloads a second in the throughput run (each delivered to 4 members)
    #[arg(long, default_value_t = 20_000)]
    rate: u64,

    /// Payloads a second in the latency run
    #[arg(long, default_value_t = 5_000)]
    latency_rate: u64,

    /// Groups of 5 carrying the payloads
    #[arg(long, default_value_t = 60)]
    groups: usize,

    /// Payload size in bytes
    #[arg(long, default_value_t = 64)]
    bytes: usize,

    /// Groups in the join run, each capped at --cap and joined by cap + 1 clients
    #[arg(long, default_value_t = 1000)]
    join_groups: usize,

    #[arg(long, default_value_t = 4)]
    cap: u32,

    /// Heartbeat, seconds, of the nodes (to each other) and of the relays (to clients) in the
    /// failover runs
    #[arg(long, default_value_t = 2.0)]
    heartbeat: f64,

    /// Every relay prefers the same NATS server (by default each has its own, as on
    /// separate machines)
    #[arg(long)]
    shared_nats: bool,

    /// The terminal client for the failover runs [default: udprelay beside this binary]
    #[arg(long)]
    client_bin: Option<std::path::PathBuf>,

    /// A quick check that every part runs: 1 s of load, small numbers, a 1 s heartbeat
    #[arg(long)]
    smoke: bool,

    /// Also run the payload runs on a secured NATS (TLS, per-node users), to say what TLS
    /// costs
    #[arg(long)]
    tls: bool,
}

/// The relays of a cluster, node i on 127.0.0.(i+1), all on one port, each with its metrics.
struct Relays(Vec<(Target, SocketAddr)>);

impl Relays {
    /// Relay i prefers NATS server i, as on separate machines; or, `shared`, all prefer the
    /// first (no route between NATS servers on the way).
    fn start(
        nats: &NatsCluster,
        server_bin: &Path,
        name: &str,
        heartbeat: &str,
        shared: bool,
        secrets: Option<&NatsSecrets>,
    ) -> Result<Relays, String> {
        let mut relays: Vec<(Target, SocketAddr)> = Vec::new();
        for i in 0..3 {
            let port = relays.first().map_or(0, |first| first.0.addr.port()).to_string();
            let metrics = SocketAddr::from(([127, 0, 0, 1], udprelay_testkit::free_tcp_port()));
            let flags = [
                "--metrics",
                &metrics.to_string(),
                "--host",
                &format!("127.0.0.{}", i + 1),
                "--port",
                &port,
                "--cluster",
                &nats.urls_from(if shared { 0 } else { i }),
                "--node-name",
                &format!("r{}", i + 1),
                "--cluster-name",
                name,
                "--cluster-replicas",
                "3",
                "--heartbeat",
                heartbeat,
                "--cluster-heartbeat",
                heartbeat,
            ];
            let mut flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
            if let Some(secrets) = secrets {
                flags.extend(secrets.password_args(&format!("r{}", i + 1)));
            }
            let kind = Kind::Ours(flags);
            relays.push((Target::start(&kind, server_bin, Setup::default())?, metrics));
        }
        let relays = Relays(relays);
        // Until the directory takes writes, a create is answered ERR BUSY TryAgain.
        for node in relays.addrs() {
            let probe = client().map_err(|e| e.to_string())?;
            let ready = poll_for(Duration::from_secs(30), || {
                ask(&probe, node, "!CREATE").is_ok_and(|reply| reply.starts_with("OK CREATED"))
            });
            if !ready {
                return Err(format!("the relay on {node} never reached its cluster"));
            }
        }
        Ok(relays)
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        self.0.iter().map(|(relay, _)| relay.addr).collect()
    }

    fn pids(&self) -> Vec<u32> {
        self.0.iter().map(|(relay, _)| relay.pid()).collect()
    }

    /// A counter summed over the relays' /metrics (`udprelay_cluster_published_payloads_total`).
    fn counter(&self, name: &str) -> f64 {
        self.0.iter().filter_map(|(_, metrics)| scrape(*metrics, name)).sum()
    }
}

/// One sample of a relay's /metrics, by a plain HTTP/1.0 GET.
fn scrape(metrics: SocketAddr, name: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&metrics, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

pub fn run(args: &ClusterArgs, server_bin: &Path) -> Result<(), String> {
    let (seconds, rate, latency_rate, groups, join_groups, heartbeat) = if args.smoke {
        (1.0, 2_000, 1_000, 6, 30, 1.0)
    } else {
        (args.seconds, args.rate, args.latency_rate, args.groups, args.join_groups, args.heartbeat)
    };
    let client_bin = args.client_bin.clone().unwrap_or_else(|| {
        server_bin.with_file_name(format!("udprelay{}", std::env::consts::EXE_SUFFIX))
    });
    let io = |error: std::io::Error| error.to_string();

    eprintln!("one relay: {rate}/s, then {latency_rate}/s, {seconds} s each");
    let one = Target::start(&Kind::Ours(Vec::new()), server_bin, Setup::default())?;
    let node = [one.addr];
    let one_busy = load::run(
        load::set_up(&node, groups).map_err(io)?,
        rate,
        args.bytes,
        seconds,
        &[one.pid()],
        &[],
    )
    .map_err(io)?;
    let one_quiet = load::run(
        load::set_up(&node, groups).map_err(io)?,
        latency_rate,
        args.bytes,
        seconds,
        &[one.pid()],
        &[],
    )
    .map_err(io)?;
    drop(one);

    eprintln!("three nats-server {NATS_VERSION} and three relays");
    let nats = NatsCluster::start(3);
    let relays = Relays::start(&nats, server_bin, "bench", "100000", args.shared_nats, None)?;
    let nodes = relays.addrs();
    let (relay_pids, nats_pids): (Vec<u32>, Vec<u32>) =
        (relays.pids(), (0..3).filter_map(|i| nats.pid(i)).collect());
    eprintln!("cluster: {rate}/s, then {latency_rate}/s");
    let counters =
        ["udprelay_cluster_published_payloads_total", "udprelay_cluster_published_messages_total"];
    let before = counters.map(|name| relays.counter(name));
    let groups_busy = load::set_up(&nodes, groups).map_err(io)?;
    let busy =
        load::run(groups_busy, rate, args.bytes, seconds, &relay_pids, &nats_pids).map_err(io)?;
    thread::sleep(Duration::from_millis(1100)); // the metrics are read once a second
    let after = counters.map(|name| relays.counter(name));
    let batched = (after[0] - before[0]) / (after[1] - before[1]).max(1.0);
    let groups_quiet = load::set_up(&nodes, groups).map_err(io)?;
    let quiet = load::run(groups_quiet, latency_rate, args.bytes, seconds, &relay_pids, &nats_pids)
        .map_err(io)?;
    eprintln!("NATS alone: {latency_rate}/s from one server to another");
    let nats_p99_us = nats_alone::p99_us(&nats.url(0), &nats.url(1), latency_rate, seconds)?;
    eprintln!(
        "cluster: {} joins into groups capped at {}",
        join_groups * (args.cap as usize + 1),
        args.cap
    );
    let joins = joins::run(&nodes, join_groups, args.cap).map_err(io)?;
    drop(relays);
    let tls = if args.tls {
        let runs = Runs { rate, latency_rate, bytes: args.bytes, seconds, groups };
        Some(over_tls(server_bin, args.shared_nats, &runs)?)
    } else {
        None
    };

    eprintln!("failover, heartbeat {heartbeat} s");
    let heartbeat_text = heartbeat.to_string();
    let relays = Relays::start(&nats, server_bin, "failover", &heartbeat_text, false, None)?;
    let [r1, r2, r3] = [relays.addrs()[0], relays.addrs()[1], relays.addrs()[2]];
    let port = r1.port();
    let pids = relays.pids();
    // A client on r2 (then r3) while r2 goes silent; it comes back afterwards.
    let silent = client_moves(&client_bin, r1, "127.0.0.2,127.0.0.3", port, || {
        failover::signal(pids[1], libc::SIGSTOP)
    })?;
    failover::signal(pids[1], libc::SIGCONT);
    // A client on r3 (then r1) while r3 is killed.
    let killed = client_moves(&client_bin, r1, "127.0.0.3,127.0.0.1", port, || {
        failover::signal(pids[2], libc::SIGKILL)
    })?;
    // r2's death, as r1 sees it.
    let noticed =
        failover::noticed(r1, r2, || failover::signal(pids[1], libc::SIGKILL)).map_err(io)?;
    let _ = r3;

    let figures = report::Figures {
        seconds,
        rate,
        latency_rate,
        heartbeat,
        cap: args.cap,
        one_busy,
        busy,
        one_quiet,
        quiet,
        nats_p99_us,
        joins,
        noticed,
        killed,
        silent,
        batched,
        tls,
    };
    print!("{}", report::table(&figures));
    Ok(())
}

/// The payload runs' settings.
struct Runs {
    rate: u64,
    latency_rate: u64,
    bytes: usize,
    seconds: f64,
    groups: usize,
}

/// The two payload runs on three NATS servers secured as docs/cluster.md says.
fn over_tls(server_bin: &Path, shared: bool, runs: &Runs) -> Result<report::OverTls, String> {
    let io = |error: std::io::Error| error.to_string();
    let Runs { rate, latency_rate, bytes, seconds, groups } = *runs;
    eprintln!("three nats-server {NATS_VERSION} on TLS, per-node users, and three relays");
    let secrets = NatsSecrets::new("bench", &["r1", "r2", "r3"]);
    let nats = NatsCluster::start_secured(3, &secrets);
    let relays = Relays::start(&nats, server_bin, "bench", "100000", shared, Some(&secrets))?;
    let nodes = relays.addrs();
    let (relay_pids, nats_pids): (Vec<u32>, Vec<u32>) =
        (relays.pids(), (0..3).filter_map(|i| nats.pid(i)).collect());
    eprintln!("cluster on TLS: {rate}/s, then {latency_rate}/s");
    let at = |rate: u64| {
        let groups = load::set_up(&nodes, groups).map_err(io)?;
        load::run(groups, rate, bytes, seconds, &relay_pids, &nats_pids).map_err(io)
    };
    Ok(report::OverTls { busy: at(rate)?, quiet: at(latency_rate)? })
}

/// How long a terminal client given `hosts` takes to say it moved, once `die` ran on its node.
fn client_moves(
    client_bin: &Path,
    home: SocketAddr,
    hosts: &str,
    port: u16,
    die: impl FnOnce(),
) -> Result<Option<Duration>, String> {
    let io = |error: std::io::Error| error.to_string();
    let id = crate::scenario::create(&client().map_err(io)?, home).map_err(io)?;
    let mut cli = failover::Cli::start(client_bin, hosts, port).map_err(io)?;
    cli.type_line(&format!("join {id}")).map_err(io)?;
    cli.wait_for("OK JOINED").ok_or("the client did not join")?;
    die();
    Ok(cli.wait_for("moved to"))
}
