//! Scenario 5: does relaying slow down while the server sweeps? One server sweeping every
//! [`EVERY`] seconds carries the relay load twice: first with only the load's own members
//! (quiet), then after N idle members joined, so that every sweep runs over all of them. It
//! reports the second run, the quiet p99, their ratio, and the sweeps' own times.

use std::io;

use super::{Outcome, many, relay};
use crate::target::Target;

/// Seconds between sweeps: often, so that many fall inside the measured run.
pub const EVERY: f64 = 0.05;

pub fn run(
    target: &Target,
    load: relay::Load,
    clients: usize,
    group_size: usize,
) -> io::Result<Outcome> {
    let quiet = relay::run("sweeping", target, load)?;
    many::join_clients(target.addr, clients, group_size)?;
    let sweeps_before = target.logged("elapsed_us").len();
    let mut busy = relay::run("sweeping", target, load)?;

    let micros = |field| -> Vec<f64> {
        let times = target.logged(field);
        times.iter().skip(sweeps_before).map(|t| t.as_secs_f64() * 1e6).collect()
    };
    let (elapsed, holds) = (micros("elapsed_us"), micros("longest_hold_us"));
    if let (Some(quiet), Some(busy_p99)) = (quiet.p99_us, busy.p99_us) {
        busy.extra.push(("quiet_p99_us", quiet));
        busy.extra.push(("p99_vs_quiet", busy_p99 / quiet));
    }
    if !elapsed.is_empty() {
        busy.extra.push(("sweeps", elapsed.len() as f64));
        busy.extra.push(("sweep_max_us", elapsed.iter().copied().fold(0.0, f64::max)));
        busy.extra.push(("hold_max_us", holds.iter().copied().fold(0.0, f64::max)));
    }
    Ok(busy)
}
