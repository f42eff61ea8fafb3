//! NATS alone, for the floor under the cluster's latency: one client publishing on one NATS
//! server, one subscribed on another, time-stamped 64-byte messages at the latency run's rate,
//! as the relays' payloads cross between nodes (but without the relays).

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::scenario::quantile_us;

/// The p99 (µs) of `rate` messages a second for `seconds`, published to `from` and received
/// from `to`.
pub fn p99_us(from: &str, to: &str, rate: u64, seconds: f64) -> Result<Option<f64>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let publisher = async_nats::connect(from).await.map_err(|e| e.to_string())?;
        let subscriber = async_nats::connect(to).await.map_err(|e| e.to_string())?;
        let mut messages =
            subscriber.subscribe("bench.latency").await.map_err(|e| e.to_string())?;
        subscriber.flush().await.map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(500)).await; // the interest reaches `from`
        let epoch = Instant::now();
        let count = (rate as f64 * seconds) as u64;
        let receiving = tokio::spawn(async move {
            let mut ages = Vec::with_capacity(count as usize);
            let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds + 2.0);
            while ages.len() < count as usize {
                match tokio::time::timeout_at(deadline, messages.next()).await {
                    Ok(Some(message)) => {
                        let sent = u64::from_le_bytes(message.payload[..8].try_into().unwrap());
                        let now = epoch.elapsed().as_nanos() as u64;
                        ages.push(now.saturating_sub(sent));
                    }
                    _ => break,
                }
            }
            ages
        });
        let mut ticks = tokio::time::interval(Duration::from_millis(1));
        let per_tick = rate as f64 / 1000.0;
        let (mut sent, mut owed) = (0u64, 0.0f64);
        while sent < count {
            ticks.tick().await;
            owed += per_tick;
            while owed >= 1.0 && sent < count {
                let mut payload = vec![b'x'; 64];
                payload[..8].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
                publisher
                    .publish("bench.latency", payload.into())
                    .await
                    .map_err(|e| e.to_string())?;
                sent += 1;
                owed -= 1.0;
            }
        }
        publisher.flush().await.map_err(|e| e.to_string())?;
        let mut ages = receiving.await.map_err(|e| e.to_string())?;
        Ok(quantile_us(&mut ages, 0.99))
    })
}
