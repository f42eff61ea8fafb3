//! `udprelay-server`: parse flags, bind, print the address, serve until Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use udprelay_server::args::{Args, NatsSecurity, Spread};
use udprelay_server::config;
use udprelay_server::logging::{self, Logging};
use udprelay_server::relay::Relay;

use udprelay_server::shell::metrics::{self, Board};
use udprelay_server::shell::service;
use udprelay_server::shell::state_file::{self, Loaded};
use udprelay_server::shell::{self, Ending, Options, Reload};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    shell::tune_allocator();
    let argv: Vec<String> = std::env::args().collect();
    // A bad flag exits in here with clap's message and code 2; a bad file comes back.
    let args = match config::load(&argv) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(output) = args.generate {
        return udprelay_generate::print(output, <Args as clap::CommandFactory>::command());
    }
    // The NATS credentials and certificates are read now, so that a bad one is one line.
    let nats_security = match args.nats_security() {
        Ok(security) => security,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        match &args.config {
            Some(path) => println!("{}: the configuration is good", path.display()),
            None => println!("the flags are good (no --config file given)"),
        }
        return ExitCode::SUCCESS;
    }
    let logging = logging::init(&args.log_level, args.log_format);

    let shutdown = shell::shutdown_signal();
    let wanted = args.listen_addr();
    let threads = args.threads();
    let sockets = match shell::bind(wanted, threads) {
        Ok(sockets) => sockets,
        Err(error) => {
            eprintln!("error: cannot listen on {wanted}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let bound = sockets[0].local_addr().unwrap_or(wanted);
    // Scripts and tests read this line to learn the port when started with `--port 0`.
    println!("listening on {bound}");
    let _ = std::io::stdout().flush();
    service::ready(&format!("listening on {bound}"));

    let config = args.relay_config();
    let cluster = args.cluster_config(bound);
    let mut relay = match &cluster {
        Some(cluster) => Relay::clustered(config.clone(), cluster.clone()),
        None => Relay::new(config.clone()),
    };
    relay.set_own_addresses(shell::own_addresses(bound));
    if let Some(path) = &args.state_file {
        restore(path, &mut relay);
    }
    let batching = shell::CAN_BATCH && !args.no_batching;
    let balancing = cfg!(target_os = "linux") && args.spread == Spread::Auto;
    info!(
        address = %bound,
        heartbeat = ?config.heartbeat,
        empty_ttl = ?config.empty_ttl,
        sweep = ?args.sweep,
        cap = %config.cap.map_or("none".to_string(), |cap| cap.to_string()),
        max_groups_per_client = config.max_groups_per_client,
        limits = %limits_text(&args),
        threads,
        batching,
        spread = %if balancing { "auto" } else { "always" },
        cluster = %cluster_text(&args, cluster.as_ref(), nats_security.as_ref()),
        "relay started"
    );
    let snapshots = args.state_file.clone().zip(args.snapshot_interval());
    let board = args.metrics.map(|_| Arc::new(Board::default()));
    let _metrics = match (args.metrics, &board) {
        (Some(addr), Some(board)) => match metrics::start(addr, Arc::clone(board)) {
            Ok(server) => {
                info!(addr = %server.addr, "metrics at /metrics, health at /healthz");
                Some(server)
            }
            Err(error) => {
                eprintln!("error: cannot serve metrics on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let cluster_options = args.cluster.as_ref().zip(nats_security).map(|(urls, security)| {
        let counters = Arc::new(shell::cluster::Counters::default());
        if let Some(board) = &board {
            board.set_cluster(Arc::clone(&counters));
        }
        let options = shell::cluster::Options {
            urls: urls.bare(),
            security,
            name: args.cluster_name.clone(),
            replicas: usize::from(args.cluster_replicas),
            farewell: args.state_file.is_none(),
        };
        (options, counters)
    });
    let options = Options {
        sweep_every: args.sweep,
        batching,
        balancing,
        snapshots,
        metrics: board,
        cluster: cluster_options,
    };
    let (reload, reloads) = mpsc::unbounded_channel();
    tokio::spawn(reload_on_sighup(argv, args.clone(), logging, reload));
    let (relay, ending) = match shell::serve(sockets, relay, options, reloads, shutdown).await {
        Ok(served) => served,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };

    service::stopping();
    info!(
        stats = %relay.stats(),
        live_groups = relay.live_groups(),
        live_members = relay.live_members(),
        cluster = %relay.cluster_stats(),
        "shutting down"
    );
    if let Some(path) = &args.state_file {
        let state = relay.snapshot(Instant::now(), SystemTime::now());
        match state_file::write(path, &state) {
            Ok(bytes) => {
                info!(path = %path.display(), bytes, groups = state.groups.len(), members = state.members.len(), "state saved")
            }
            Err(error) => {
                error!(path = %path.display(), %error, "cannot save the state");
                return ExitCode::FAILURE;
            }
        }
    }
    if ending == Ending::WorkerStopped {
        eprintln!("error: a relay worker stopped (the log says why); the server has stopped");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The abuse limits as the flags spell them, for the start line.
fn limits_text(args: &Args) -> String {
    format!(
        "max-groups={} max-members={} max-groups-per-ip={} max-members-per-ip={} command-rate={} error-rate={} payload-rate={} require-validation={}",
        args.max_groups,
        args.max_members,
        args.max_groups_per_ip,
        args.max_members_per_ip,
        args.command_rate,
        args.error_rate,
        args.payload_rate,
        args.require_validation,
    )
}

/// The cluster part of the start line: `none`, or the node, its name and its NATS servers.
fn cluster_text(
    args: &Args,
    cluster: Option<&udprelay_server::relay::cluster::ClusterConfig>,
    security: Option<&NatsSecurity>,
) -> String {
    match (cluster, &args.cluster) {
        (Some(cluster), Some(urls)) => format!(
            "node={} cluster-name={} nats={} sign-in={} heartbeat={:?} replicas={}",
            cluster.node,
            args.cluster_name,
            urls.shown(),
            security.map_or_else(String::new, NatsSecurity::summary),
            cluster.heartbeat,
            args.cluster_replicas
        ),
        _ => "none".into(),
    }
}

/// Reads the state file into the relay; a file that cannot be used is moved aside, with the
/// reason in the log, and the relay starts empty.
fn restore(path: &Path, relay: &mut Relay) {
    match state_file::load(path, relay, Instant::now(), SystemTime::now()) {
        Ok(Loaded::Nothing) => info!(path = %path.display(), "no state file yet: starting empty"),
        Ok(Loaded::Restored(restored)) => info!(
            path = %path.display(),
            groups = restored.groups,
            members = restored.members,
            down_s = restored.downtime.as_secs_f64(),
            groups_only = restored.groups_only,
            "state restored"
        ),
        Ok(Loaded::MovedAside { why, to }) => warn!(
            path = %path.display(),
            moved_to = %to.display(),
            why,
            "the state file could not be used: moved aside, starting empty"
        ),
        Err(error) => {
            warn!(path = %path.display(), %error, "cannot read or move the state file: starting empty")
        }
    }
}

/// On each SIGHUP, reads the configuration again (the file under the same command line) and
/// applies what can change while running: limits, rates, heartbeat, empty-ttl, sweep, cap,
/// log level. What only a restart can change is named in the log. A file that does not parse
/// keeps the settings in force.
async fn reload_on_sighup(
    argv: Vec<String>,
    #[cfg_attr(not(unix), allow(unused_mut))] mut current: Args,
    logging: Logging,
    reload: mpsc::UnboundedSender<Reload>,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return warn!("cannot watch for SIGHUP: the configuration cannot be reloaded");
        };
        while hangups.recv().await.is_some() {
            service::reloading();
            let new = match config::load(&argv) {
                Ok(new) => new,
                Err(error) => {
                    warn!(%error, "configuration not reloaded: keeping the settings in force");
                    service::ready("configuration not reloaded: see the log");
                    continue;
                }
            };
            for name in new.needs_restart(&current) {
                warn!(
                    setting = name,
                    "changed in the configuration: takes effect at the next restart"
                );
            }
            logging.set_level(&new.log_level);
            let config = new.relay_config();
            info!(
                heartbeat = ?config.heartbeat,
                empty_ttl = ?config.empty_ttl,
                sweep = ?new.sweep,
                limits = %limits_text(&new),
                log_level = %new.log_level,
                "configuration reloaded"
            );
            if reload.send(Reload { config, sweep_every: new.sweep }).is_err() {
                return;
            }
            service::ready("configuration reloaded");
            current = new;
        }
    }
    // Windows has no SIGHUP: the configuration is read at start only.
    #[cfg(not(unix))]
    let _ = (argv, current, logging, reload);
}
