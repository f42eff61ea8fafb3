//! `udprelay-bench`: measures a udprelay server against the bare loop, scenario by scenario.
//! Run by hand, in release: `cargo run --release -p udprelay-bench -- --help`.

mod abuse;
mod bare;
mod client;
mod cluster;
mod report;
mod scenario;
mod seal;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use scenario::{Outcome, relay, sweeping};
use target::{Kind, Setup, Target};

/// Load generator for udprelay servers. Starts each target, runs each scenario against it in
/// turn, and prints one table with ours/bare ratios.
#[derive(Debug, Parser)]
#[command(name = "udprelay-bench", version)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,

    /// Scenarios to run (default: all)
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,

    /// Servers to measure: `ours` (with any server flags after it, e.g. "ours --threads 1
    /// --no-batching"), `bare`, or a command with `{port}` and the flags that turn its limits
    /// off, e.g. "python3 chat.py --server --port {port} --heartbeat 100000 --empty-ttl 100000
    /// --cap 1000000 --max-groups-per-client 2000000000" (default: ours and bare)
    #[arg(long = "target")]
    targets: Vec<String>,

    /// Seconds of load per relay, fan-out and ping-pong run
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,

    /// Relay load: groups, members per group, payloads per second (total), payload bytes
    #[arg(long, default_value_t = 10)]
    groups: usize,
    #[arg(long, default_value_t = 5)]
    members: usize,
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    #[arg(long, default_value_t = 64)]
    bytes: usize,

    /// Fan-out: members of the one group, and payloads per second from its one sender
    #[arg(long, default_value_t = 128)]
    fanout_members: usize,
    #[arg(long, default_value_t = 500)]
    fanout_rate: u64,

    /// Many clients: how many, in groups of how many
    #[arg(long, default_value_t = 100_000)]
    clients: usize,
    #[arg(long, default_value_t = 5)]
    group_size: usize,

    /// Run our server and the bare loop on these CPUs only (a `taskset -c` list, e.g. `1`);
    /// start the bench itself under `taskset -c` on the others to keep the load away from them
    #[arg(long, value_name = "CPUS")]
    server_cpus: Option<String>,

    /// Our server's binary (default: udprelay-server beside this one)
    #[arg(long)]
    server_bin: Option<PathBuf>,

    /// Also write the results as JSON to this file
    #[arg(long)]
    json: Option<PathBuf>,

    /// Run everything this many times, alternating the targets, and report each figure's
    /// median (the machine's noise is large next to the differences measured)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
    repeat: u32,

    /// A quick check that every scenario runs: 1 s each, small numbers
    #[arg(long)]
    smoke: bool,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Run the bare-loop baseline server (the bench starts it itself)
    #[command(hide = true)]
    BareLoop,
    /// Attack our server on loopback and judge each figure against its target (root for
    /// forged sources); see docs/security.md
    Abuse(abuse::AbuseArgs),
    /// Three NATS servers and three relays on loopback against one relay: CPU, loss, latency,
    /// joins and failover; see docs/performance.md, "Cluster"
    Cluster(cluster::ClusterArgs),
    /// The client library against a bare recv loop (CPU per message received) and raw
    /// sockets (an echo bot's round trip); see docs/performance.md, "Client library"
    Client(client::ClientArgs),
    /// Print envelopes of an encrypted group, one per line, for a load generator that cannot
    /// seal them itself (gui-client/benches/window_cpu.py)
    Seal(seal::SealArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Relay,
    Pingpong,
    Many,
    Fanout,
    /// The relay load while sweeps run every 50 ms, before and after `--clients` idle members
    /// joined
    Sweeping,
}

/// How a mode's run ends: its error on stderr, and the exit code.
fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if let Some(Mode::BareLoop) = args.mode {
        return match bare::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bare loop: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let server_bin = || args.server_bin.clone().unwrap_or_else(target::default_server_bin);
    match &args.mode {
        Some(Mode::Cluster(mode)) => return finish(cluster::run(mode, &server_bin())),
        Some(Mode::Client(mode)) => return finish(client::run(mode, &server_bin())),
        Some(Mode::Abuse(mode)) => return finish(abuse::run(mode, &server_bin())),
        Some(Mode::Seal(mode)) => return finish(seal::run(mode)),
        Some(Mode::BareLoop) | None => {}
    }
    if args.smoke {
        (args.seconds, args.rate, args.fanout_rate, args.clients) = (1.0, 2_000, 100, 1_000);
    }
    let scenarios = if args.scenarios.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        args.scenarios.clone()
    };
    let targets: Vec<Kind> = if args.targets.is_empty() {
        vec![Kind::Ours(Vec::new()), Kind::Bare]
    } else {
        args.targets.iter().map(|t| Kind::parse(t)).collect()
    };
    let server_bin = args.server_bin.clone().unwrap_or_else(target::default_server_bin);

    // Rounds alternate the targets, so that a slow spell of the machine hits all of them.
    let mut rounds: Vec<Vec<Outcome>> = Vec::new();
    for _ in 0..args.repeat {
        let mut outcomes = Vec::new();
        for &scenario in &scenarios {
            for kind in &targets {
                match run(scenario, kind, &server_bin, &args) {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(error) => {
                        eprintln!("error: {scenario:?} against {}: {error}", kind.label());
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
        rounds.push(outcomes);
    }
    let outcomes = report::median(&rounds);
    if args.repeat > 1 {
        println!("median of {} rounds", args.repeat);
    }
    print!("{}", report::table(&outcomes));
    if let Some(path) = &args.json
        && let Err(error) = std::fs::write(path, report::json(&outcomes))
    {
        eprintln!("error: cannot write {}: {error}", path.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One scenario against a fresh instance of one target.
fn run(
    scenario: Scenario,
    kind: &Kind,
    server_bin: &std::path::Path,
    args: &Args,
) -> Result<Outcome, String> {
    let sweep = match scenario {
        Scenario::Many => Some(1.0),
        Scenario::Sweeping => Some(sweeping::EVERY),
        _ => None,
    };
    let setup = Setup { sweep, server_cpus: args.server_cpus.clone() };
    let target = Target::start(kind, server_bin, setup)?;
    // The relay load the flags describe (the fan-out scenario has its own).
    let load = relay::Load {
        groups: args.groups,
        members: args.members,
        rate: args.rate,
        bytes: args.bytes,
        seconds: args.seconds,
    };
    let outcome = match scenario {
        Scenario::Relay => relay::run("relay", &target, load),
        Scenario::Fanout => relay::run(
            "fanout",
            &target,
            relay::Load {
                groups: 1,
                members: args.fanout_members,
                rate: args.fanout_rate,
                bytes: args.bytes,
                seconds: args.seconds,
            },
        ),
        Scenario::Pingpong => scenario::pingpong::run(&target, args.seconds),
        Scenario::Many => scenario::many::run(&target, args.clients, args.group_size),
        Scenario::Sweeping => sweeping::run(&target, load, args.clients, args.group_size),
    };
    outcome.map_err(|e| e.to_string())
}
