//! CI's check of the benchmark: every scenario runs for about a second against our server and
//! the bare loop, and reports its figures. The figures themselves are not judged here (the
//! machines are shared and noisy); `docs/performance.md` has measured ones.

use std::process::Command;

#[test]
fn every_scenario_runs_against_ours_and_the_bare_loop() {
    let json =
        std::env::temp_dir().join(format!("udprelay-bench-smoke-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_udprelay-bench"))
        .arg("--smoke")
        .arg("--server-bin")
        .arg(udprelay_testkit::server_binary())
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run udprelay-bench");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}\n{}", String::from_utf8_lossy(&output.stderr));
    for scenario in ["relay", "pingpong", "many", "fanout"] {
        for target in ["ours", "bare", "ours/bare"] {
            let row = format!("{scenario:<8}  {target}");
            assert!(table.lines().any(|l| l.starts_with(&row)), "no row {row:?} in\n{table}");
        }
    }
    // Every run delivered something and measured the server's CPU.
    let results = std::fs::read_to_string(&json).expect("the JSON file");
    let _ = std::fs::remove_file(&json);
    assert_eq!(results.matches("\"scenario\"").count(), 10, "{results}");
    assert_eq!(
        results.matches("\"delivered_per_s\": null").count(),
        2,
        "only `many` has none: {results}"
    );
    assert!(!results.contains("\"delivered_per_s\": 0,"), "{results}");
    assert!(results.contains("\"bytes_per_member\""), "{results}");
    assert!(results.contains("\"p99_vs_quiet\""), "the sweeping scenario compares: {results}");
}

/// The cluster measurement runs through (three nats-server processes, three relays, the
/// terminal client) and prints every figure.
#[test]
fn the_cluster_measurement_runs() {
    let output = Command::new(env!("CARGO_BIN_EXE_udprelay-bench"))
        .arg("--server-bin")
        .arg(udprelay_testkit::server_binary())
        .args(["cluster", "--smoke", "--client-bin"])
        .arg(udprelay_testkit::client_binary())
        .output()
        .expect("run udprelay-bench cluster");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}\n{}", String::from_utf8_lossy(&output.stderr));
    for row in [
        "  loss %",
        "  CPU ns per delivery (all processes)",
        "joins/s, cap 4 enforced",
        "a node's death noticed",
        "a client moved, its node killed",
        "a client moved, its node silent",
    ] {
        assert!(table.lines().any(|l| l.starts_with(row)), "no row {row:?} in\n{table}");
    }
    assert!(!table.contains("never"), "every death was noticed and every client moved:\n{table}");
    assert!(table.contains("groups over / under cap"), "{table}");
    let caps = table.lines().find(|l| l.contains("groups over / under cap")).unwrap();
    assert!(caps.contains("; 0 / "), "no group over its cap: {caps}");
}

#[test]
fn the_client_library_measurement_runs() {
    let output = Command::new(env!("CARGO_BIN_EXE_udprelay-bench"))
        .arg("--server-bin")
        .arg(udprelay_testkit::server_binary())
        .args(["client", "--seconds", "0.3", "--round-trips", "100", "--repeat", "1"])
        .output()
        .expect("run udprelay-bench client");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}\n{}", String::from_utf8_lossy(&output.stderr));
    for row in ["bare recv loop", "udprelay-client ", "library/bare", "two raw sockets", "bot/raw"]
    {
        assert!(table.lines().any(|l| l.starts_with(row)), "no row {row:?} in\n{table}");
    }
    // Both received what was sent (6 000 messages on loopback): nearly all, as a busy machine
    // may overflow a socket's buffer now and then.
    for row in ["bare recv loop", "udprelay-client "] {
        let line = table.lines().find(|l| l.starts_with(row)).unwrap();
        let received: usize = line.split_whitespace().last().unwrap().parse().unwrap();
        assert!((5_700..=6_000).contains(&received), "{row}: {received} of 6000\n{table}");
    }
}
