//! The cluster measurement's table: each figure for one relay and for the cluster, their
//! ratio, and the target.

use std::time::Duration;

use super::{joins, load};

/// Everything one run measured.
pub struct Figures {
    pub seconds: f64,
    pub rate: u64,
    pub latency_rate: u64,
    pub heartbeat: f64,
    pub cap: u32,
    pub one_busy: load::Measured,
    pub busy: load::Measured,
    pub one_quiet: load::Measured,
    pub quiet: load::Measured,
    /// NATS alone, one server to another, at the latency run's rate.
    pub nats_p99_us: Option<f64>,
    pub joins: joins::Joins,
    pub noticed: Option<Duration>,
    pub killed: Option<Duration>,
    pub silent: Option<Duration>,
    /// Payloads per NATS message in the throughput run.
    pub batched: f64,
    /// The payload runs again on a secured NATS (`--tls`).
    pub tls: Option<OverTls>,
}

/// The throughput and latency runs on NATS with TLS and per-node users.
pub struct OverTls {
    pub busy: load::Measured,
    pub quiet: load::Measured,
}

pub fn table(figures: &Figures) -> String {
    let Figures {
        seconds,
        rate,
        latency_rate,
        heartbeat,
        cap,
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
    } = figures;
    let (noticed, killed, silent) = (*noticed, *killed, *silent);
    let number = |value: Option<f64>, decimals: usize| {
        value.map_or("-".to_string(), |v| format!("{v:.decimals$}"))
    };
    let ratio = |cluster: Option<f64>, one: Option<f64>| match (cluster, one) {
        (Some(c), Some(o)) if o > 0.0 => format!("{:.2} ×", c / o),
        _ => "-".into(),
    };
    let secs = |d: Option<Duration>| {
        d.map_or("never".to_string(), |d| format!("{:.2} s", d.as_secs_f64()))
    };
    let h = *heartbeat;
    let rows = vec![
        [
            "figure".to_string(),
            "one relay".into(),
            "cluster".into(),
            "cluster / one".into(),
            "target".into(),
        ],
        [
            format!("{rate}/s × 4, {seconds} s: offered/s"),
            number(Some(one_busy.offered_per_s), 0),
            number(Some(busy.offered_per_s), 0),
            "".into(),
            "".into(),
        ],
        [
            "  loss %".into(),
            number(Some(one_busy.loss_pct), 3),
            number(Some(busy.loss_pct), 3),
            "".into(),
            "0".into(),
        ],
        [
            "  CPU ns per delivery (all processes)".into(),
            number(one_busy.cpu_ns_per_delivery, 0),
            number(busy.cpu_ns_per_delivery, 0),
            ratio(busy.cpu_ns_per_delivery, one_busy.cpu_ns_per_delivery),
            "≤ 3 ×".into(),
        ],
        [
            "  of which the NATS servers".into(),
            "".into(),
            number(busy.nats_ns_per_delivery, 0),
            "".into(),
            "".into(),
        ],
        [
            "  payloads per NATS message".into(),
            "".into(),
            number(Some(*batched), 1),
            "".into(),
            "".into(),
        ],
        [
            "  p50 / p99 µs".into(),
            format!("{} / {}", number(one_busy.p50_us, 0), number(one_busy.p99_us, 0)),
            format!("{} / {}", number(busy.p50_us, 0), number(busy.p99_us, 0)),
            "".into(),
            "".into(),
        ],
        [
            format!("{latency_rate}/s: p99 µs (cluster: across nodes)"),
            number(one_quiet.p99_us, 0),
            number(quiet.remote_p99_us, 0),
            ratio(quiet.remote_p99_us, one_quiet.p99_us),
            "≤ 3 ×".into(),
        ],
        [
            "  p50 µs (cluster: across nodes)".into(),
            number(one_quiet.p50_us, 0),
            number(quiet.remote_p50_us, 0),
            ratio(quiet.remote_p50_us, one_quiet.p50_us),
            "".into(),
        ],
        [
            "  loss %".into(),
            number(Some(one_quiet.loss_pct), 3),
            number(Some(quiet.loss_pct), 3),
            "".into(),
            "".into(),
        ],
        [
            "  NATS alone, one server to another: p99 µs".into(),
            "".into(),
            number(*nats_p99_us, 0),
            ratio(*nats_p99_us, one_quiet.p99_us),
            "".into(),
        ],
        [
            format!("joins/s, cap {cap} enforced"),
            "".into(),
            number(Some(joins.per_s), 0),
            "".into(),
            "≥ 2000".into(),
        ],
        [
            "  joined / full / busy / lost; groups over / under cap".into(),
            "".into(),
            format!(
                "{} / {} / {} / {}; {} / {}",
                joins.joined, joins.full, joins.busy, joins.lost, joins.over_cap, joins.under_cap
            ),
            "".into(),
            "over cap: 0".into(),
        ],
        [
            format!("a node's death noticed (heartbeat {h} s)"),
            "".into(),
            secs(noticed),
            "".into(),
            format!("≤ {:.0} s", 3.0 * h),
        ],
        [
            "a client moved, its node killed".into(),
            "".into(),
            secs(killed),
            "".into(),
            format!("≤ {:.0} s", 3.0 * h + 2.0),
        ],
        [
            "a client moved, its node silent".into(),
            "".into(),
            secs(silent),
            "".into(),
            format!("≤ {:.0} s", 3.0 * h + 2.0),
        ],
    ];
    let mut text = aligned(rows);
    if let Some(OverTls { busy: tls_busy, quiet: tls_quiet }) = tls {
        let rows = vec![
            [
                "figure".to_string(),
                "cluster".into(),
                "cluster on TLS".into(),
                "TLS / plain".into(),
                "TLS / one relay (target ≤ 3 ×)".into(),
            ],
            [
                format!("{rate}/s × 4: loss %"),
                number(Some(busy.loss_pct), 3),
                number(Some(tls_busy.loss_pct), 3),
                "".into(),
                "".into(),
            ],
            [
                "  CPU ns per delivery (all processes)".into(),
                number(busy.cpu_ns_per_delivery, 0),
                number(tls_busy.cpu_ns_per_delivery, 0),
                ratio(tls_busy.cpu_ns_per_delivery, busy.cpu_ns_per_delivery),
                ratio(tls_busy.cpu_ns_per_delivery, one_busy.cpu_ns_per_delivery),
            ],
            [
                "  of which the NATS servers".into(),
                number(busy.nats_ns_per_delivery, 0),
                number(tls_busy.nats_ns_per_delivery, 0),
                ratio(tls_busy.nats_ns_per_delivery, busy.nats_ns_per_delivery),
                "".into(),
            ],
            [
                format!("{latency_rate}/s: p99 µs across nodes"),
                number(quiet.remote_p99_us, 0),
                number(tls_quiet.remote_p99_us, 0),
                ratio(tls_quiet.remote_p99_us, quiet.remote_p99_us),
                ratio(tls_quiet.remote_p99_us, one_quiet.p99_us),
            ],
            [
                "  p50 µs across nodes".into(),
                number(quiet.remote_p50_us, 0),
                number(tls_quiet.remote_p50_us, 0),
                ratio(tls_quiet.remote_p50_us, quiet.remote_p50_us),
                "".into(),
            ],
        ];
        text.push('\n');
        text.push_str(&aligned(rows));
    }
    text
}

/// Rows of five cells, in columns as wide as their widest cell.
fn aligned(mut rows: Vec<[String; 5]>) -> String {
    let widths: Vec<usize> =
        (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in rows.drain(..) {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}
