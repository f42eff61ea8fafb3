//! The state flood: a million creates and a million joins from many addresses, and what the
//! server's memory does through it and after it expires.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::thread;
use std::time::Duration;

use super::attacks::own_group;
use super::forge::Forger;
use super::server::Server;
use super::{Finding, Options};

/// The address of the n-th sender in a plan of `per_ip` senders per IP, from 127.(base).0.0 on.
pub(super) fn sender(base: u8, n: u64, per_ip: u64) -> SocketAddrV4 {
    let ip = n / per_ip;
    let octets = [127, base.wrapping_add((ip >> 16) as u8), (ip >> 8) as u8, ip as u8];
    SocketAddrV4::new(Ipv4Addr::from(octets), 20000 + (n % per_ip) as u16)
}

/// Creates and joins from many addresses at a server with the limits: whether it says
/// SERVER_FULL, its peak memory, and its memory once everything has expired.
pub fn state_flood(bin: &Path, options: &Options) -> Result<Finding, String> {
    // The limits; a tenth of them (with a tenth of the datagrams) in a quick run.
    let (max_groups, max_members) =
        if options.quick { ("10000", "20000") } else { ("100000", "200000") };
    let flags = [
        "--max-groups",
        max_groups,
        "--max-members",
        max_members,
        "--heartbeat",
        "5",
        "--empty-ttl",
        "10",
        "--sweep",
        "1",
        "--cap",
        "none",
    ];
    let server = Server::start(bin, 0, &flags)?;
    let (baseline, _) = server.memory_kib();
    let (creates, joins) = if options.quick { (100_000, 100_000) } else { (1_000_000, 1_000_000) };
    let forger = options.forge.then(Forger::open).transpose().map_err(|e| e.to_string())?;
    let to = match server.addr {
        SocketAddr::V4(to) => to,
        SocketAddr::V6(_) => return Err("the server is on IPv6".into()),
    };
    // The group the joins go to, made before the flood fills the server.
    let (_owner, id) = own_group(server.addr)?;
    // Creates: 3 from each address (the per-address limit), 10 addresses an IP (30 < 32).
    for n in 0..creates / 3 {
        let from = sender(1, n, 10);
        for _ in 0..3 {
            send_as(&forger, from, to, b"!CREATE")?;
        }
        pace(n);
    }
    // Joins: the first 250 000 from sockets kept open (members that stay), the rest from
    // addresses where nothing listens; 16 an IP (the per-IP limit).
    let join = format!("!JOIN {id}");
    // Held members need a descriptor each: as many as the file limit allows (members forged
    // at closed loopback ports are removed at once, by the ICMP their join's reply draws).
    let held_count = joins.min(250_000).min(raise_file_limit(300_000).saturating_sub(1_000));
    let mut held = Vec::with_capacity(held_count as usize);
    for n in 0..held_count {
        let from = sender(64, n, 16);
        let socket = UdpSocket::bind(SocketAddr::V4(SocketAddrV4::new(*from.ip(), 0)))
            .map_err(|e| format!("socket {n}: {e}"))?;
        socket.send_to(join.as_bytes(), server.addr).map_err(|e| e.to_string())?;
        held.push(socket);
        if n % 1000 == 999 {
            thread::sleep(Duration::from_millis(2)); // let the server's queue drain a little
        }
    }
    for n in held_count..joins {
        send_as(&forger, sender(128, n, 16), to, join.as_bytes())?;
        pace(n);
    }
    thread::sleep(Duration::from_secs(2));
    let (_, peak) = server.memory_kib();
    drop(held);
    // Members silent for 15 s go, then their groups 10 s later; sweeps every second.
    let wait = Duration::from_secs(30);
    thread::sleep(wait);
    let (after, _) = server.memory_kib();
    let counters = server.stop();
    let full = counters.get("refused_server_full");
    let peak_mib = peak as f64 / 1024.0;
    let met = full > 0 && peak_mib <= 128.0 && after * 2 <= peak;
    Ok(Finding::judged(
        format!(
            "{creates} creates + {joins} joins{}",
            if options.forge { " (forged)" } else { "" }
        ),
        format!(
            "SERVER_FULL {full} times (creates {} made, joins {}, {held_count} members held by open sockets); RSS {:.1} MiB at start, peak {peak_mib:.1} MiB, {:.1} MiB after expiry ({:.0}% of peak)",
            counters.get("creates"),
            counters.get("joins"),
            baseline as f64 / 1024.0,
            after as f64 / 1024.0,
            100.0 * after as f64 / peak as f64,
        ),
        "SERVER_FULL given, peak <= 128 MiB, after expiry <= 50% of peak".into(),
        met,
    ))
}

/// Keeps a sender near 300 000 datagrams a second, about what one worker handles, so that the
/// server's state (not the kernel's queue) is what the flood fills.
fn pace(n: u64) {
    if n % 300 == 299 {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Sends from `from`: forged through the raw socket when there is one, otherwise from a real
/// socket bound there for the one datagram (the reply then finds the port closed).
fn send_as(
    forger: &Option<Forger>,
    from: SocketAddrV4,
    to: SocketAddrV4,
    datagram: &[u8],
) -> Result<(), String> {
    match forger {
        Some(forger) => forger.send(from, to, datagram).map_err(|e| e.to_string()),
        None => {
            let socket = UdpSocket::bind(from).map_err(|e| format!("bind {from}: {e}"))?;
            socket.send_to(datagram, to).map(|_| ()).map_err(|e| e.to_string())
        }
    }
}

/// Raises the open-file limit as far as allowed toward `wanted`; returns the limit in force.
fn raise_file_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: get/setrlimit with valid structs; a refused raise leaves the old limit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let raised = libc::rlimit { rlim_cur: wanted, rlim_max: wanted.max(limit.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}
