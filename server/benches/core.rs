//! Micro-benchmarks of the relay core, without sockets: `cargo bench -p udprelay-server`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use udprelay_server::relay::limits::Limits;
use udprelay_server::relay::{Config, Outgoing, Relay};
use udprelay_server::shell::state_file;
use udprelay_shared::{GroupId, Incoming, Reply};

fn addr(n: u32) -> SocketAddr {
    let [a, b, c, d] = n.to_be_bytes();
    SocketAddr::from(([10 ^ a, b, c, d], 40000))
}

/// A relay with `groups` groups of `size` members, all created and joined at `now`.
fn populated(groups: u32, size: u32, now: Instant) -> (Relay, Vec<GroupId>) {
    // No abuse limits: one creator makes every group, as fast as it can.
    let config = Config {
        max_groups_per_client: u32::MAX,
        cap: None,
        limits: Limits::none(),
        ..Config::default()
    };
    let mut relay = Relay::new(config);
    let creator = addr(u32::MAX);
    let mut ids = Vec::new();
    for g in 0..groups {
        let Outgoing::Reply(Reply::Created(id)) = relay.handle(now, creator, b"!CREATE") else {
            panic!("create failed")
        };
        for m in 0..size {
            let join = format!("!JOIN {id}");
            relay.handle(now, addr(g * size + m), join.as_bytes());
        }
        ids.push(id);
    }
    (relay, ids)
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for datagram in [
        &b"!CREATE"[..],
        b"!CREATE 5",
        b"!JOIN abcd1234",
        b"!LEAVE ABCD1234",
        b"!PING",
        b"!WHO",
        b"!NOPE",
        b"a 64-byte chat payload ....................................end",
    ] {
        let name = String::from_utf8_lossy(&datagram[..datagram.len().min(14)]).into_owned();
        group.bench_function(name, |b| b.iter(|| black_box(Incoming::parse(black_box(datagram)))));
    }
    group.finish();
}

fn relaying(c: &mut Criterion) {
    let now = Instant::now();
    let payload = [b'x'; 64];
    for size in [5u32, 128] {
        let (mut relay, _) = populated(1, size, now);
        let sender = addr(0);
        c.bench_function(&format!("handle payload, group of {size}"), |b| {
            b.iter(|| match relay.handle(now, sender, black_box(&payload)) {
                // Walk the recipients, as the shell does, but send nothing.
                Outgoing::Relay { recipients, .. } => black_box(recipients.count()),
                _ => unreachable!(),
            })
        });
    }
}

fn sweeping(c: &mut Criterion) {
    let now = Instant::now();
    let (mut relay, _) = populated(20_000, 5, now);
    assert_eq!(relay.live_members(), 100_000);
    let later = now + Duration::from_secs(1); // nobody is due: the sweep changes nothing
    c.bench_function("sweep over 100 000 members, none due", |b| {
        b.iter(|| black_box(relay.sweep(later)))
    });

    // The worst case: everyone went silent at once, and one sweep removes them all.
    let mut group = c.benchmark_group("mass expiry");
    group.sample_size(10);
    let silent = now + Duration::from_secs(3600);
    group.bench_function("sweep removing 100 000 silent members", |b| {
        b.iter_batched(
            || populated(20_000, 5, now).0,
            |mut relay| black_box(relay.sweep(silent)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The state file's cost at 100 000 members: the copy taken under the relay's lock (the only
/// pause the workers see), then the encoding and the atomic write, off the lock.
fn snapshots(c: &mut Criterion) {
    let now = Instant::now();
    let (relay, _) = populated(20_000, 5, now);
    let wall = std::time::SystemTime::now();
    let mut group = c.benchmark_group("state of 100 000 members");
    group.sample_size(20);
    group
        .bench_function("copy under the lock", |b| b.iter(|| black_box(relay.snapshot(now, wall))));
    let snapshot = relay.snapshot(now, wall);
    group.bench_function("encode", |b| b.iter(|| black_box(snapshot.encode())));
    let path = std::env::temp_dir().join(format!("udprelay-bench-state-{}", std::process::id()));
    group.bench_function("write (fsync, rename)", |b| {
        b.iter(|| state_file::write(&path, &snapshot).unwrap())
    });
    group.finish();
    println!("state file for 100 000 members: {} bytes", snapshot.encode().len());
    let _ = std::fs::remove_file(path);
}

criterion_group!(benches, parsing, relaying, sweeping, snapshots);
criterion_main!(benches);
