//! Joins through the cluster with caps enforced: groups capped at `cap`, `cap + 1` clients
//! joining each from the nodes in turn, a window at a time. Every group must end with exactly
//! `cap` members; the figure is joins answered per second over the cluster.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::scenario::{ask, client};

/// Joins in flight at once (a relay's receive buffer holds about 200 small datagrams).
const WINDOW: usize = 384;

#[derive(Debug, Clone, Default)]
pub struct Joins {
    pub per_s: f64,
    pub joined: u64,
    pub full: u64,
    /// `ERR BUSY TryAgain` (a client sends those again), or no reply at all.
    pub busy: u64,
    pub lost: u64,
    /// Groups that ended with more members than their cap (must be 0), and with fewer.
    pub over_cap: u64,
    pub under_cap: u64,
}

pub fn run(nodes: &[SocketAddr], groups: usize, cap: u32) -> io::Result<Joins> {
    let creator = client()?;
    let mut ids = Vec::with_capacity(groups);
    for g in 0..groups {
        let reply = ask(&creator, nodes[g % nodes.len()], &format!("!CREATE {cap}"))?;
        let id =
            reply.strip_prefix("OK CREATED ").ok_or_else(|| io::Error::other(reply.clone()))?;
        ids.push(id.to_string());
    }
    // Joiner k joins group k / (cap + 1) on node k % nodes.
    let per_group = cap as usize + 1;
    let total = groups * per_group;
    let mut joined_per_group = vec![0u32; groups];
    let mut joins = Joins::default();
    let started = Instant::now();
    let mut k = 0;
    while k < total {
        let wave: Vec<(usize, UdpSocket)> = (k..(k + WINDOW).min(total))
            .map(|k| client().map(|socket| (k, socket)))
            .collect::<io::Result<_>>()?;
        for (k, socket) in &wave {
            let group = &ids[k / per_group];
            socket.send_to(format!("!JOIN {group}").as_bytes(), nodes[k % nodes.len()])?;
        }
        for (k, socket) in &wave {
            socket.set_read_timeout(Some(Duration::from_secs(3)))?;
            let mut buf = [0u8; 128];
            match socket.recv(&mut buf) {
                Ok(n) if buf[..n].starts_with(b"OK JOINED") => {
                    joins.joined += 1;
                    joined_per_group[k / per_group] += 1;
                }
                Ok(n) if buf[..n].starts_with(b"ERR GROUP_FULL") => joins.full += 1,
                Ok(_) => joins.busy += 1,
                Err(_) => joins.lost += 1,
            }
        }
        k += wave.len();
    }
    let answered = joins.joined + joins.full + joins.busy;
    joins.per_s = answered as f64 / started.elapsed().as_secs_f64();
    joins.over_cap = joined_per_group.iter().filter(|&&n| n > cap).count() as u64;
    joins.under_cap = joined_per_group.iter().filter(|&&n| n < cap).count() as u64;
    Ok(joins)
}
