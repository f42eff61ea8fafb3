//! Each attack of issue 11's table, against a fresh server, with the figure it is judged by.
//! Every loop is bounded in count and time, and every datagram goes to 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::Finding;
use super::forge::Forger;
use super::server::{Server, kernel_drops};
use super::state::sender;

pub(super) fn socket_at(ip: Ipv4Addr) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddrV4::new(ip, 0))?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    Ok(socket)
}

/// Sends a command and waits for its reply, asking up to five times (after a flood, the
/// server's queue may still be full and drop the first).
pub(super) fn ask(socket: &UdpSocket, server: SocketAddr, command: &str) -> Result<String, String> {
    let mut buf = [0u8; 4200];
    let mut last = String::new();
    for _ in 0..5 {
        socket.send_to(command.as_bytes(), server).map_err(|e| e.to_string())?;
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => return Ok(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(error) => last = error.to_string(),
        }
    }
    Err(format!("{command}: no reply ({last})"))
}

/// A group created and joined by a fresh socket on 127.0.0.1.
pub(super) fn own_group(server: SocketAddr) -> Result<(UdpSocket, String), String> {
    let socket = socket_at(Ipv4Addr::LOCALHOST).map_err(|e| e.to_string())?;
    let reply = ask(&socket, server, "!CREATE")?;
    let id = reply.strip_prefix("OK CREATED ").ok_or(reply.clone())?.to_string();
    ask(&socket, server, &format!("!JOIN {id}"))?;
    Ok((socket, id))
}

/// Reads everything arriving on `sockets` until `stop`; returns the bytes.
fn count_bytes(sockets: Vec<UdpSocket>, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        for socket in &sockets {
            let _ = socket.set_nonblocking(true);
        }
        let (mut bytes, mut buf) = (0u64, vec![0u8; 4200]);
        while !stop.load(Ordering::Relaxed) {
            let mut idle = true;
            for socket in &sockets {
                while let Ok(n) = socket.recv(&mut buf) {
                    bytes += n as u64;
                    idle = false;
                }
            }
            if idle {
                thread::sleep(Duration::from_millis(1));
            }
        }
        bytes
    })
}

/// 128 members "joined" at one victim IP, then 4096-byte payloads into their group: how many
/// times the attacker's bytes reach the victim.
pub fn amplification(bin: &Path, label: &str, flags: &[&str]) -> Result<Finding, String> {
    let server = Server::start(bin, 0, flags)?;
    let (attacker, id) = own_group(server.addr)?;
    let victim_ip = Ipv4Addr::new(127, 0, 0, 66);
    let victims: Vec<UdpSocket> = (0..128)
        .map(|_| socket_at(victim_ip))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let join = format!("!JOIN {id}");
    let mut attacker_bytes = 0u64;
    // The forged joins (identical on the wire to joins sent from the victim's ports).
    for victim in &victims {
        victim.send_to(join.as_bytes(), server.addr).map_err(|e| e.to_string())?;
        attacker_bytes += join.len() as u64;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let received = count_bytes(victims, Arc::clone(&stop));
    let payload = vec![b'x'; 4096];
    for _ in 0..100 {
        attacker.send_to(&payload, server.addr).map_err(|e| e.to_string())?;
        attacker_bytes += payload.len() as u64;
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let victim_bytes = received.join().map_err(|_| "reader panicked")?;
    let ratio = victim_bytes as f64 / attacker_bytes as f64;
    let target = if flags.contains(&"--require-validation") { 3.0 } else { 16.0 };
    Ok(Finding::judged(
        format!("forged-join amplification ({label})"),
        format!("{ratio:.2}x ({victim_bytes} B reached the victim for {attacker_bytes} B sent)"),
        format!("<= {target}x"),
        ratio <= target,
    ))
}

/// Members at ports where nothing listens: the share removed one second after a payload.
pub fn closed_ports(bin: &Path) -> Result<Finding, String> {
    let server = Server::start(bin, 0, &[])?;
    let (attacker, id) = own_group(server.addr)?;
    let join = format!("!JOIN {id}");
    let mut joined = 0;
    for ip in 80..90 {
        for _ in 0..10 {
            let socket = socket_at(Ipv4Addr::new(127, 0, 0, ip)).map_err(|e| e.to_string())?;
            if ask(&socket, server.addr, &join)?.starts_with("OK JOINED") {
                joined += 1;
            }
        } // each socket closes here: its port is closed
    }
    attacker.send_to(b"anyone there?", server.addr).map_err(|e| e.to_string())?;
    thread::sleep(Duration::from_secs(1));
    let who = ask(&attacker, server.addr, "!WHO")?;
    let left: u64 = who.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let removed = joined - (left.saturating_sub(1));
    let share = 100.0 * removed as f64 / joined as f64;
    Ok(Finding::judged(
        "members at closed ports".into(),
        format!("{share:.0}% removed ({removed} of {joined}) 1 s after one payload"),
        ">= 90%".into(),
        share >= 90.0,
    ))
}

/// One forged datagram "from" relay B to relay A (then 100), and one from A's own address:
/// how many datagrams the relays exchange in all.
pub fn reply_loop(bin: &Path, forger: &Forger) -> Result<Vec<Finding>, String> {
    let mut findings = Vec::new();
    for (forged, target) in [(1u64, 100u64), (100, 10_000)] {
        let (a, b) = (Server::start(bin, 0, &[])?, Server::start(bin, 0, &[])?);
        let (SocketAddr::V4(a_addr), SocketAddr::V4(b_addr)) = (a.addr, b.addr) else {
            return Err("IPv6".into());
        };
        for _ in 0..forged {
            forger.send(b_addr, a_addr, b"hello").map_err(|e| e.to_string())?;
        }
        thread::sleep(Duration::from_secs(2));
        let total = a.stop().get("datagrams_in") + b.stop().get("datagrams_in");
        findings.push(Finding::judged(
            format!("reply loop, {forged} forged"),
            format!("{total} datagrams in all over 2 s, then silence"),
            format!("<= {target}"),
            total <= target,
        ));
    }
    let a = Server::start(bin, 0, &[])?;
    let SocketAddr::V4(a_addr) = a.addr else { return Err("IPv6".into()) };
    forger.send(a_addr, a_addr, b"hello").map_err(|e| e.to_string())?;
    thread::sleep(Duration::from_secs(1));
    let counters = a.stop();
    findings.push(Finding::judged(
        "forged from the relay's own address".into(),
        format!(
            "{} datagram(s) in, {} dropped as its own",
            counters.get("datagrams_in"),
            counters.get("dropped_own_address")
        ),
        "<= 1 (no reply to itself)".into(),
        counters.get("datagrams_in") <= 1,
    ));
    Ok(findings)
}

/// `!JOIN <random id>` from one socket as fast as it goes: answers a second.
pub fn guessing(bin: &Path, seconds: f64) -> Result<Finding, String> {
    let server = Server::start(bin, 0, &[])?;
    let socket = socket_at(Ipv4Addr::LOCALHOST).map_err(|e| e.to_string())?;
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let (start, mut answered, mut sent, mut buf) = (Instant::now(), 0u64, 0u64, [0u8; 256]);
    let alphabet = b"ABCDEFGHIJKLMNPQRSTUVWXYZ123456789";
    while start.elapsed().as_secs_f64() < seconds {
        let id: String =
            (0..8).map(|i| alphabet[(sent as usize / 34usize.pow(i)) % 34] as char).collect();
        if socket.send_to(format!("!JOIN {id}").as_bytes(), server.addr).is_ok() {
            sent += 1;
        }
        while socket.recv(&mut buf).is_ok() {
            answered += 1;
        }
    }
    thread::sleep(Duration::from_millis(200));
    while socket.recv(&mut buf).is_ok() {
        answered += 1;
    }
    let per_second = answered as f64 / seconds;
    Ok(Finding::judged(
        "id guessing from one IP".into(),
        format!("{per_second:.1} answered a second ({sent} guesses sent in {seconds} s)"),
        "<= 25 a second".into(),
        per_second <= 25.0,
    ))
}

/// Floods that make log lines: one socket switching groups, and creates from many IPs.
pub fn log_volume(
    bin: &Path,
    label: &str,
    flags: &[&str],
    seconds: f64,
) -> Result<Finding, String> {
    let server = Server::start(bin, 0, flags)?;
    let (socket, a) = own_group(server.addr)?;
    let b = ask(&socket, server.addr, "!CREATE")?.trim_start_matches("OK CREATED ").to_string();
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let before = server.log_bytes();
    let (start, mut n, mut buf) = (Instant::now(), 0u64, [0u8; 256]);
    while start.elapsed().as_secs_f64() < seconds {
        let id = if n % 2 == 0 { &a } else { &b };
        let _ = socket.send_to(format!("!JOIN {id}").as_bytes(), server.addr);
        // Creates from ever new addresses too.
        let from = sender(200, n, 3);
        if let Ok(other) = UdpSocket::bind(from) {
            let _ = other.send_to(b"!CREATE", server.addr);
        }
        while socket.recv(&mut buf).is_ok() {}
        n += 1;
    }
    thread::sleep(Duration::from_millis(1500)); // the "left out" summaries
    let rate = (server.log_bytes() - before) as f64 / start.elapsed().as_secs_f64();
    let counters = server.stop();
    Ok(Finding::judged(
        format!("log volume under a join/create flood ({label})"),
        format!(
            "{:.1} KB/s of log ({} joins, {} creates counted)",
            rate / 1000.0,
            counters.get("joins"),
            counters.get("creates")
        ),
        "<= 1 MB/s".into(),
        rate <= 1_000_000.0,
    ))
}

/// One member floods 64-byte payloads at full speed while ten pairs chat in other groups at
/// 100 messages a second: the worst pair's loss, and where datagrams were dropped.
pub fn member_flood(
    bin: &Path,
    label: &str,
    flags: &[&str],
    seconds: f64,
) -> Result<Finding, String> {
    let server = Server::start(bin, 0, flags)?;
    let port = server.addr.port();
    let (flooder, _flood_group) = own_group(server.addr)?;
    let mut pairs = Vec::new();
    for n in 0..10u8 {
        let speaker = socket_at(Ipv4Addr::new(127, 0, 1, n + 1)).map_err(|e| e.to_string())?;
        let listener = socket_at(Ipv4Addr::new(127, 0, 2, n + 1)).map_err(|e| e.to_string())?;
        let id =
            ask(&speaker, server.addr, "!CREATE")?.trim_start_matches("OK CREATED ").to_string();
        ask(&speaker, server.addr, &format!("!JOIN {id}"))?;
        ask(&listener, server.addr, &format!("!JOIN {id}"))?;
        pairs.push((speaker, listener));
    }
    let drops_before = kernel_drops(port);
    let stop = Arc::new(AtomicBool::new(false));
    let flooded = Arc::new(AtomicU64::new(0));
    let flood = {
        let (stop, flooded) = (Arc::clone(&stop), Arc::clone(&flooded));
        let socket = flooder.try_clone().map_err(|e| e.to_string())?;
        let server = server.addr;
        thread::spawn(move || {
            let payload = [b'f'; 64];
            while !stop.load(Ordering::Relaxed) {
                if socket.send_to(&payload, server).is_ok() {
                    flooded.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let listeners: Vec<UdpSocket> = pairs.iter().map(|(_, l)| l.try_clone().unwrap()).collect();
    let receiving = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut counts = vec![0u64; listeners.len()];
            for l in &listeners {
                let _ = l.set_nonblocking(true);
            }
            let mut buf = [0u8; 256];
            while !stop.load(Ordering::Relaxed) {
                for (i, l) in listeners.iter().enumerate() {
                    while l.recv(&mut buf).is_ok() {
                        counts[i] += 1;
                    }
                }
                thread::sleep(Duration::from_micros(200));
            }
            counts
        })
    };
    let per_pair = (100.0 * seconds) as u64;
    let start = Instant::now();
    for k in 0..per_pair {
        for (speaker, _) in &pairs {
            let _ = speaker.send_to(format!("chat {k}").as_bytes(), server.addr);
        }
        let due = start + Duration::from_millis(10 * (k + 1));
        thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let _ = flood.join();
    let counts = receiving.join().map_err(|_| "receiver panicked")?;
    let drops = kernel_drops(port) - drops_before;
    let counters = server.stop();
    let worst = counts.iter().map(|&got| 1.0 - got as f64 / per_pair as f64).fold(0.0, f64::max);
    Ok(Finding::judged(
        format!("member flood, 10 pairs chatting ({label})"),
        format!(
            "worst pair lost {:.1}%; flooder sent {} ({:.0}/s), {} cut by --payload-rate, {} dropped by the kernel's receive queues",
            100.0 * worst,
            flooded.load(Ordering::Relaxed),
            flooded.load(Ordering::Relaxed) as f64 / seconds,
            counters.get("dropped_payload_rate"),
            drops,
        ),
        "worst pair loses <= 10%".into(),
        worst <= 0.10,
    ))
}
