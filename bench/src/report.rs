//! One table for people, and JSON for tools. Where the bare loop ran a scenario, a ratio row
//! follows for every other target that ran it (e.g. ours / bare, python3 … / bare): machine
//! noise cancels in it.

use std::fmt::Write as _;

use crate::scenario::Outcome;

const HEADER: [&str; 8] = [
    "scenario",
    "target",
    "offered/s",
    "delivered/s",
    "loss %",
    "p50 µs",
    "p99 µs",
    "cpu ns/delivery",
];

/// Each figure's median over rounds that ran the same scenarios against the same targets, in
/// the same order. (With an even number of rounds, the upper of the two middle values.)
pub fn median(rounds: &[Vec<Outcome>]) -> Vec<Outcome> {
    let Some(first) = rounds.first() else { return Vec::new() };
    let middle = |mut values: Vec<f64>| -> Option<f64> {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let of = |n: usize, field: fn(&Outcome) -> Option<f64>| {
        middle(rounds.iter().filter_map(|round| field(&round[n])).collect())
    };
    first
        .iter()
        .enumerate()
        .map(|(n, outcome)| Outcome {
            scenario: outcome.scenario,
            target: outcome.target.clone(),
            offered_per_s: of(n, |o| o.offered_per_s),
            delivered_per_s: of(n, |o| o.delivered_per_s),
            loss_pct: of(n, |o| o.loss_pct),
            p50_us: of(n, |o| o.p50_us),
            p99_us: of(n, |o| o.p99_us),
            cpu_ns_per_delivery: of(n, |o| o.cpu_ns_per_delivery),
            extra: outcome
                .extra
                .iter()
                .filter_map(|&(name, _)| {
                    let values = rounds.iter().filter_map(|round| {
                        round[n].extra.iter().find(|(other, _)| *other == name).map(|(_, v)| *v)
                    });
                    Some((name, middle(values.collect())?))
                })
                .collect(),
        })
        .collect()
}

pub fn table(outcomes: &[Outcome]) -> String {
    let mut rows: Vec<Vec<String>> = vec![HEADER.iter().map(|h| h.to_string()).collect()];
    let mut scenarios: Vec<&str> = outcomes.iter().map(|o| o.scenario).collect();
    scenarios.dedup();
    for scenario in scenarios {
        let runs: Vec<&Outcome> = outcomes.iter().filter(|o| o.scenario == scenario).collect();
        for run in &runs {
            let mut row = vec![
                run.scenario.to_string(),
                run.target.clone(),
                figure(run.offered_per_s, 0),
                figure(run.delivered_per_s, 0),
                figure(run.loss_pct, 2),
                figure(run.p50_us, 1),
                figure(run.p99_us, 1),
                figure(run.cpu_ns_per_delivery, 0),
            ];
            row.extend(run.extra.iter().map(|(name, value)| format!("{name}={value:.1}")));
            rows.push(row);
        }
        if let Some(bare) = runs.iter().find(|o| o.target == "bare") {
            for other in runs.iter().filter(|o| o.target != "bare") {
                rows.push(ratio_row(other, bare));
            }
        }
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|column| {
            rows.iter().filter_map(|r| r.get(column)).map(|c| c.chars().count()).max().unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            let width = widths.get(column).copied().unwrap_or(0);
            let _ = write!(out, "{cell:<width$}  ");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}

fn ratio_row(other: &Outcome, bare: &Outcome) -> Vec<String> {
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    };
    let mut row = vec![
        other.scenario.to_string(),
        format!("{}/bare", other.target),
        ratio(other.offered_per_s, bare.offered_per_s),
        ratio(other.delivered_per_s, bare.delivered_per_s),
        String::new(),
        ratio(other.p50_us, bare.p50_us),
        ratio(other.p99_us, bare.p99_us),
        ratio(other.cpu_ns_per_delivery, bare.cpu_ns_per_delivery),
    ];
    for (name, value) in &other.extra {
        let theirs = bare.extra.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        row.push(format!("{name}={}", ratio(Some(*value), theirs)));
    }
    row
}

fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

pub fn json(outcomes: &[Outcome]) -> String {
    let number = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v}"));
    let runs: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let extra: Vec<String> = o.extra.iter().map(|(n, v)| format!("\"{n}\": {v}")).collect();
            format!(
                "  {{\"scenario\": \"{}\", \"target\": {:?}, \"offered_per_s\": {}, \"delivered_per_s\": {}, \
                 \"loss_pct\": {}, \"p50_us\": {}, \"p99_us\": {}, \"cpu_ns_per_delivery\": {}, \"extra\": {{{}}}}}",
                o.scenario,
                o.target,
                number(o.offered_per_s),
                number(o.delivered_per_s),
                number(o.loss_pct),
                number(o.p50_us),
                number(o.p99_us),
                number(o.cpu_ns_per_delivery),
                extra.join(", ")
            )
        })
        .collect();
    format!("[\n{}\n]\n", runs.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(cpu: f64, sweeps: f64) -> Vec<Outcome> {
        let outcome = Outcome {
            scenario: "relay",
            target: "ours".into(),
            cpu_ns_per_delivery: Some(cpu),
            extra: vec![("sweeps", sweeps)],
            ..Outcome::default()
        };
        vec![outcome]
    }

    #[test]
    fn the_median_is_taken_figure_by_figure() {
        let merged = median(&[round(3000.0, 1.0), round(1000.0, 9.0), round(2000.0, 5.0)]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].cpu_ns_per_delivery, Some(2000.0));
        assert_eq!(merged[0].extra, vec![("sweeps", 5.0)]);
        assert_eq!(merged[0].p99_us, None, "a figure no round measured stays unmeasured");
    }

    #[test]
    fn every_target_but_bare_gets_a_ratio_to_bare() {
        let run = |target: &str, cpu: f64| Outcome {
            scenario: "relay",
            target: target.into(),
            cpu_ns_per_delivery: Some(cpu),
            ..Outcome::default()
        };
        let text = table(&[
            run("ours", 1600.0),
            run("bare", 1600.0 / 1.25),
            run("python3 chat.py", 2560.0),
        ]);
        let ratio_of = |label: &str| {
            let line = text
                .lines()
                .find(|l| l.contains(label))
                .unwrap_or_else(|| panic!("{label} in\n{text}"));
            line.split_whitespace().last().unwrap().to_string()
        };
        assert_eq!(ratio_of("ours/bare"), "1.25x");
        assert_eq!(ratio_of("python3 chat.py/bare"), "2.00x");
        assert!(!text.contains("bare/bare"), "{text}");
    }
}
