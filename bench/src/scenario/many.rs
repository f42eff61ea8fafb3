//! Scenario 3: many members. Joins N clients in groups of K and reports the server's memory
//! growth per member, the join rate, and how long its sweeps over them take.
//!
//! N is more than the sockets a process may hold open (here 20 000 descriptors), but a
//! membership outlives its socket: each client address (127.0.0.2-6, ports below the
//! ephemeral range) is bound, joins, and is closed again, a window at a time.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::{Outcome, client, create};
use crate::target::Target;

/// Joins in flight at once. More than the server's receive buffer holds (about 200 small
/// datagrams by default) would be dropped and have to be sent again.
const WINDOW: usize = 128;
const FIRST_PORT: u16 = 10_000;
const LAST_PORT: u16 = 31_999;
const HOSTS: u8 = 5;

pub fn run(target: &Target, clients: usize, group_size: usize) -> io::Result<Outcome> {
    let server = target.addr;
    thread::sleep(Duration::from_millis(200)); // let the server settle before the baseline
    let rss_before = target.rss();

    let join_time = join_clients(server, clients, group_size)?;

    // Wait (bounded) for two sweeps over the full membership.
    let sweeps_before = target.logged("elapsed_us").len();
    let deadline = Instant::now() + Duration::from_secs(5);
    while target.logged("elapsed_us").len() < sweeps_before + 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let sweep = target.logged("elapsed_us").into_iter().skip(sweeps_before).max();
    let rss_after = target.rss();

    let mut extra = vec![("joins_per_s", clients as f64 / join_time.as_secs_f64())];
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        extra.push(("bytes_per_member", after.saturating_sub(before) as f64 / clients as f64));
    }
    if let Some(sweep) = sweep {
        extra.push(("sweep_ms", sweep.as_secs_f64() * 1000.0));
    }
    Ok(Outcome { scenario: "many", target: target.label.clone(), extra, ..Outcome::default() })
}

/// Creates groups and joins `clients` members to them, `group_size` to a group; returns how
/// long the joins took.
pub fn join_clients(server: SocketAddr, clients: usize, group_size: usize) -> io::Result<Duration> {
    let creator = client()?;
    let groups: Vec<String> = (0..clients.div_ceil(group_size))
        .map(|_| create(&creator, server))
        .collect::<io::Result<_>>()?;

    let mut addresses = client_addresses();
    let started = Instant::now();
    let mut joined = 0usize;
    let mut buf = [0u8; 128];
    while joined < clients {
        let want = WINDOW.min(clients - joined);
        let mut window = Vec::with_capacity(want);
        while window.len() < want {
            let Some(addr) = addresses.next() else {
                return Err(io::Error::other("ran out of client addresses"));
            };
            let Ok(socket) = UdpSocket::bind(addr) else { continue }; // in use: skip it
            let group = &groups[(joined + window.len()) / group_size];
            socket.send_to(format!("!JOIN {group}").as_bytes(), server)?;
            window.push(socket);
        }
        for (offset, socket) in window.iter().enumerate() {
            let group = &groups[(joined + offset) / group_size];
            confirm_join(socket, server, group, &mut buf)?;
        }
        joined += window.len();
    }
    Ok(started.elapsed())
}

/// Waits for `OK JOINED`; a join lost on the way (UDP) is sent again, a bounded number of
/// times (joining twice is harmless).
fn confirm_join(
    socket: &UdpSocket,
    server: SocketAddr,
    group: &str,
    buf: &mut [u8],
) -> io::Result<()> {
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    for _ in 0..10 {
        match socket.recv(buf) {
            Ok(len) if buf[..len].starts_with(b"OK JOINED") => return Ok(()),
            Ok(len) => {
                return Err(io::Error::other(String::from_utf8_lossy(&buf[..len]).into_owned()));
            }
            Err(_) => {
                socket.send_to(format!("!JOIN {group}").as_bytes(), server)?;
            }
        }
    }
    Err(io::Error::other(format!("no answer to !JOIN {group} after 10 tries")))
}

/// Client addresses for the joins: 127.0.0.2..6, each with ports below the ephemeral range.
fn client_addresses() -> impl Iterator<Item = SocketAddr> {
    (FIRST_PORT..=LAST_PORT).flat_map(|port| {
        (2..2 + HOSTS).map(move |host| {
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, host), port))
        })
    })
}
