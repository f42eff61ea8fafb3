//! Payloads through one node or through the cluster, the same load both ways: G groups of 5,
//! one sender each; in the cluster each group's sender and one receiver on its home node and
//! the other three receivers on the other nodes, so that every delivery but one per payload
//! crosses nodes. The CPU of every process involved (relays, and NATS servers) is summed.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::scenario::relay::send_paced;
use crate::scenario::{client, cpu_per, create, join, quantile_us, receive_all};
use crate::target::cpu_of;

/// Members per group: a sender and four receivers.
pub const MEMBERS: usize = 5;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub offered_per_s: f64,
    pub loss_pct: f64,
    pub cpu_ns_per_delivery: Option<f64>,
    /// The part of it spent in the NATS servers.
    pub nats_ns_per_delivery: Option<f64>,
    /// Latency of every delivery, and of those that crossed nodes (all, on one node).
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub remote_p50_us: Option<f64>,
    pub remote_p99_us: Option<f64>,
}

/// The groups, set up: each sender with the node it sends to, and the receivers on the
/// sender's node and on the others.
pub struct Groups {
    senders: Vec<(UdpSocket, SocketAddr)>,
    local: Vec<UdpSocket>,
    remote: Vec<UdpSocket>,
}

/// Makes `groups` groups over `nodes` (one address: everything on one node).
pub fn set_up(nodes: &[SocketAddr], groups: usize) -> io::Result<Groups> {
    let n = nodes.len();
    let (mut senders, mut local, mut remote) = (Vec::new(), Vec::new(), Vec::new());
    for g in 0..groups {
        let home = g % n;
        let id = create(&client()?, nodes[home])?;
        let sender = client()?;
        join(&sender, nodes[home], &id)?;
        senders.push((sender, nodes[home]));
        for m in 1..MEMBERS {
            // One receiver at home; the rest round the other nodes.
            let node = if m == 1 || n == 1 { home } else { (home + 1 + (m - 2) % (n - 1)) % n };
            let receiver = client()?;
            join(&receiver, nodes[node], &id)?;
            if node == home && m == 1 { local.push(receiver) } else { remote.push(receiver) }
        }
    }
    Ok(Groups { senders, local, remote })
}

/// Sends `rate` payloads a second of `bytes` bytes for `seconds`, and measures; `relays` and
/// `nats` are the pids whose CPU counts.
pub fn run(
    groups: Groups,
    rate: u64,
    bytes: usize,
    seconds: f64,
    relays: &[u32],
    nats: &[u32],
) -> io::Result<Measured> {
    let Groups { senders, local, remote } = groups;
    let stop = Arc::new(AtomicBool::new(false));
    let receiving = |sockets: Vec<UdpSocket>| {
        let stop = Arc::clone(&stop);
        thread::spawn(move || receive_all(&sockets, &stop))
    };
    let (local, remote) = (receiving(local), receiving(remote));
    let cpu = |pids: &[u32]| pids.iter().filter_map(|&pid| cpu_of(pid)).sum::<Duration>();
    let (relays_before, nats_before) = (cpu(relays), cpu(nats));
    let started = Instant::now();
    let sent = send_paced(&senders, rate, bytes, seconds)?;
    let sending_time = started.elapsed();
    thread::sleep(Duration::from_millis(500)); // what is in flight lands
    let nats_used = cpu(nats).saturating_sub(nats_before);
    let cpu_used = cpu(relays).saturating_sub(relays_before) + nats_used;
    stop.store(true, Ordering::Relaxed);
    let (local_count, mut ages) = local.join().expect("receiver thread")?;
    let (remote_count, mut remote_ages) = remote.join().expect("receiver thread")?;
    let delivered = local_count + remote_count;
    let expected = sent * (MEMBERS as u64 - 1);
    let remote_p50 = quantile_us(&mut remote_ages, 0.50);
    let remote_p99 = quantile_us(&mut remote_ages, 0.99);
    ages.append(&mut remote_ages);
    Ok(Measured {
        offered_per_s: sent as f64 / sending_time.as_secs_f64(),
        loss_pct: 100.0 * (1.0 - delivered as f64 / expected.max(1) as f64),
        cpu_ns_per_delivery: cpu_per(Some(cpu_used), delivered),
        nats_ns_per_delivery: cpu_per(Some(nats_used), delivered),
        p50_us: quantile_us(&mut ages, 0.50),
        p99_us: quantile_us(&mut ages, 0.99),
        remote_p50_us: remote_p50,
        remote_p99_us: remote_p99,
    })
}
