//! `udprelay-bench abuse`: the attacks of issue 11 against our server on loopback, each with
//! the figure it is judged by. Run by hand, in release, as root for forged sources:
//! `cargo build --release -p udprelay-server -p udprelay-bench && sudo target/release/udprelay-bench abuse`.
//! Without root it says so and measures what real sockets on many 127.x.y.z addresses can.

mod attacks;
mod forge;
mod server;
mod state;

use std::path::Path;

use clap::{Args, ValueEnum};

/// The attacks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Attack {
    /// Forged joins of 128 ports at one IP, then 4096-byte payloads
    Amplification,
    /// Members at ports where nothing listens
    ClosedPorts,
    /// A million creates and a million joins (needs root for forged sources to be quick)
    State,
    /// One forged datagram between two relays, and one from a relay's own address (root)
    Loop,
    /// !JOIN of random ids from one socket
    Guessing,
    /// Log bytes a second under join and create floods
    Logs,
    /// One member flooding while ten pairs chat
    Flood,
}

#[derive(Debug, Args)]
pub struct AbuseArgs {
    /// Attacks to run (default: all)
    #[arg(value_enum)]
    attacks: Vec<Attack>,

    /// Smaller numbers and shorter runs
    #[arg(long)]
    quick: bool,
}

pub struct Options {
    pub quick: bool,
    /// Raw sockets are available: sources can be forged.
    pub forge: bool,
}

/// One line of the report.
pub struct Finding {
    attack: String,
    figure: String,
    target: String,
    met: bool,
}

impl Finding {
    pub fn judged(attack: String, figure: String, target: String, met: bool) -> Finding {
        Finding { attack, figure, target, met }
    }
}

pub fn run(args: &AbuseArgs, server_bin: &Path) -> Result<(), String> {
    let forger = forge::Forger::open();
    if let Err(error) = &forger {
        println!(
            "note: no raw socket ({error}): forged sources need root (CAP_NET_RAW). Attacks that \
             only forged sources can show (loop) are skipped; the others use real sockets on \
             many 127.x.y.z addresses, which the server cannot tell from forged ones."
        );
    }
    let options = Options { quick: args.quick, forge: forger.is_ok() };
    let seconds = if args.quick { 2.0 } else { 5.0 };
    let attacks = if args.attacks.is_empty() {
        Attack::value_variants().to_vec()
    } else {
        args.attacks.clone()
    };
    let mut findings = Vec::new();
    for attack in attacks {
        eprintln!("running {attack:?} ...");
        let bin = server_bin;
        match attack {
            Attack::Amplification => {
                findings.push(attacks::amplification(bin, "default flags", &[])?);
                let validation = ["--require-validation"];
                findings.push(attacks::amplification(bin, "--require-validation", &validation)?);
                let off = ["--max-members-per-ip", "0", "--command-rate", "0", "--cap", "none"];
                let label = "limits off: --max-members-per-ip 0 --command-rate 0 --cap none";
                let mut unlimited = attacks::amplification(bin, label, &off)?;
                unlimited.target = "(for comparison)".into();
                unlimited.met = true;
                findings.push(unlimited);
            }
            Attack::ClosedPorts => findings.push(attacks::closed_ports(bin)?),
            Attack::State => findings.push(state::state_flood(bin, &options)?),
            Attack::Loop => match &forger {
                Ok(forger) => findings.extend(attacks::reply_loop(bin, forger)?),
                Err(_) => println!("skipped loop: it needs forged sources (root)"),
            },
            Attack::Guessing => findings.push(attacks::guessing(bin, seconds)?),
            Attack::Logs => {
                findings.push(attacks::log_volume(bin, "default flags", &[], seconds)?);
                let off = ["--command-rate", "0", "--error-rate", "0"];
                findings.push(attacks::log_volume(
                    bin,
                    "--command-rate 0 --error-rate 0",
                    &off,
                    seconds,
                )?);
            }
            Attack::Flood => {
                findings.push(attacks::member_flood(bin, "default flags", &[], seconds)?);
                let one = ["--threads", "1"];
                findings.push(attacks::member_flood(bin, "--threads 1", &one, seconds)?);
            }
        }
    }
    for finding in &findings {
        println!(
            "{:<4} {}\n     {}\n     target: {}",
            if finding.met { "ok" } else { "MISS" },
            finding.attack,
            finding.figure,
            finding.target
        );
    }
    Ok(())
}
