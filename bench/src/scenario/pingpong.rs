//! Scenario 2: one hop through the relay, closed loop. A sends, B answers as soon as the
//! message arrives, A sends again when the answer arrives; every hop's latency is recorded.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use super::{Outcome, age, client, cpu_per, create, join, quantile_us, stamp};
use crate::target::Target;

pub fn run(target: &Target, seconds: f64) -> io::Result<Outcome> {
    let server = target.addr;
    let id = create(&client()?, server)?;
    let (a, b) = (client()?, client()?);
    join(&a, server, &id)?;
    join(&b, server, &id)?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    // A silence this long means A has finished.
    b.set_read_timeout(Some(Duration::from_millis(200)))?;

    let echo = thread::spawn(move || -> Vec<u64> {
        let mut ages = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(len) = b.recv(&mut buf) {
            ages.extend(age(&buf[..len]).map(|a| a.as_nanos() as u64));
            stamp(&mut buf[..len]);
            if b.send_to(&buf[..len], server).is_err() {
                break;
            }
        }
        ages
    });

    let cpu_before = target.cpu();
    let started = Instant::now();
    let (mut ages, mut hops) = (Vec::new(), 0u64);
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        stamp(&mut buf[..16]);
        a.send_to(&buf[..16], server)?;
        let Ok(len) = a.recv(&mut buf) else { break };
        ages.extend(age(&buf[..len]).map(|a| a.as_nanos() as u64));
        hops += 2;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = target.cpu().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
    ages.extend(echo.join().expect("echo thread"));

    Ok(Outcome {
        scenario: "pingpong",
        target: target.label.clone(),
        delivered_per_s: Some(hops as f64 / elapsed),
        p50_us: quantile_us(&mut ages, 0.50),
        p99_us: quantile_us(&mut ages, 0.99),
        cpu_ns_per_delivery: cpu_per(cpu, hops),
        ..Outcome::default()
    })
}
