//! Scenarios 1 and 4: steady load through the relay. G groups of M members, one sender each,
//! a total offered rate, time-stamped payloads; fan-out is the same with one big group.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Outcome, client, cpu_per, create, join, quantile_us, receive_all, stamp};
use crate::target::Target;

#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub groups: usize,
    pub members: usize,
    /// Payloads per second offered, over all senders.
    pub rate: u64,
    pub bytes: usize,
    pub seconds: f64,
}

pub fn run(name: &'static str, target: &Target, load: Load) -> io::Result<Outcome> {
    let server = target.addr;
    let (mut senders, mut receivers) = (Vec::new(), Vec::new());
    for _ in 0..load.groups {
        let id = create(&client()?, server)?;
        let sender = client()?;
        join(&sender, server, &id)?;
        senders.push((sender, server));
        for _ in 1..load.members {
            let receiver = client()?;
            join(&receiver, server, &id)?;
            receivers.push(receiver);
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let receiving = thread::spawn(move || receive_all(&receivers, &stopped));

    let cpu_before = target.cpu();
    let started = Instant::now();
    let sent = send_paced(&senders, load.rate, load.bytes, load.seconds)?;
    let sending_time = started.elapsed();
    thread::sleep(Duration::from_millis(300)); // let what is in flight land
    let cpu = target.cpu().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
    stop.store(true, Ordering::Relaxed);
    let (delivered, mut ages) = receiving.join().expect("receiver thread")?;

    let expected = sent * (load.members as u64 - 1);
    let seconds = sending_time.as_secs_f64();
    Ok(Outcome {
        scenario: name,
        target: target.label.clone(),
        offered_per_s: Some(sent as f64 / seconds),
        delivered_per_s: Some(delivered as f64 / seconds),
        loss_pct: Some(100.0 * (1.0 - delivered as f64 / expected.max(1) as f64)),
        p50_us: quantile_us(&mut ages, 0.50),
        p99_us: quantile_us(&mut ages, 0.99),
        cpu_ns_per_delivery: cpu_per(cpu, delivered),
        extra: Vec::new(),
    })
}

/// Sends round-robin from `senders` (each with where it sends to) at `rate` payloads a second
/// of `bytes` bytes for `seconds`, in 1 ms ticks; returns how many were sent.
pub fn send_paced(
    senders: &[(UdpSocket, SocketAddr)],
    rate: u64,
    bytes: usize,
    seconds: f64,
) -> io::Result<u64> {
    let mut payload = vec![b'x'; bytes.max(9)];
    let tick = Duration::from_millis(1);
    let per_tick = rate as f64 / 1000.0;
    let ticks = (seconds * 1000.0) as u64;
    let started = Instant::now();
    let (mut sent, mut owed) = (0u64, 0.0f64);
    for n in 0..ticks {
        owed += per_tick;
        while owed >= 1.0 {
            stamp(&mut payload);
            let (sender, to) = &senders[(sent as usize) % senders.len()];
            sender.send_to(&payload, to)?;
            sent += 1;
            owed -= 1.0;
        }
        let next = started + tick * (n as u32 + 1);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
    }
    Ok(sent)
}
