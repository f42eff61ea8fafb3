//! The measured scenarios, and what they share: protocol helpers, time-stamped payloads, and
//! receiving on many sockets from one thread.

pub mod many;
pub mod pingpong;
pub mod relay;
pub mod sweeping;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What one scenario measured against one target. Figures a scenario does not measure are
/// `None` and print as `-`.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub scenario: &'static str,
    pub target: String,
    pub offered_per_s: Option<f64>,
    pub delivered_per_s: Option<f64>,
    pub loss_pct: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub cpu_ns_per_delivery: Option<f64>,
    /// Scenario-specific figures, in order: (name, value).
    pub extra: Vec<(&'static str, f64)>,
}

const REPLY_WAIT: Duration = Duration::from_secs(2);

/// A client socket on loopback.
pub fn client() -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(REPLY_WAIT))?;
    Ok(socket)
}

/// Sends a command and waits for its reply; a cluster's `ERR BUSY TryAgain` (its directory
/// electing a leader) is sent again, as udprelay's clients do, up to 20 times.
pub fn ask(socket: &UdpSocket, server: SocketAddr, command: &str) -> io::Result<String> {
    let mut buf = [0u8; 512];
    let mut tries = 0;
    loop {
        socket.send_to(command.as_bytes(), server)?;
        let len = socket.recv(&mut buf)?;
        tries += 1;
        if &buf[..len] != b"ERR BUSY TryAgain" || tries == 20 {
            return Ok(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn create(socket: &UdpSocket, server: SocketAddr) -> io::Result<String> {
    let reply = ask(socket, server, "!CREATE")?;
    reply.strip_prefix("OK CREATED ").map(str::to_string).ok_or_else(|| refused(reply))
}

pub fn join(socket: &UdpSocket, server: SocketAddr, id: &str) -> io::Result<()> {
    let reply = ask(socket, server, &format!("!JOIN {id}"))?;
    if reply.starts_with("OK JOINED") { Ok(()) } else { Err(refused(reply)) }
}

/// The error for a refused setup command, saying what to do when a limit is in the way (the
/// bench turns ours off itself, but a `--target` command runs as given).
fn refused(reply: String) -> io::Error {
    let limit = reply.starts_with("ERR CLIENT_LIMIT") || reply.starts_with("ERR GROUP_FULL");
    io::Error::other(if limit { format!("{reply}: {LIMITS_OFF}") } else { reply })
}

const LIMITS_OFF: &str = "the server's limits are in the way of the load; start it with them \
     off (for the original: --heartbeat 100000 --empty-ttl 100000 --cap 1000000 \
     --max-groups-per-client 2000000000)";

fn epoch() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Fills `payload` (at least 9 bytes) with a marker and the time now; never starts with `!`.
pub fn stamp(payload: &mut [u8]) {
    payload[0] = b'P';
    let nanos = epoch().elapsed().as_nanos() as u64;
    payload[1..9].copy_from_slice(&nanos.to_le_bytes());
}

/// How long ago a stamped payload was sent.
pub fn age(payload: &[u8]) -> Option<Duration> {
    let nanos = u64::from_le_bytes(payload.get(1..9)?.try_into().ok()?);
    Some(epoch().elapsed().saturating_sub(Duration::from_nanos(nanos)))
}

/// Receives on all `sockets` from one thread until `stop` is set and nothing is left; returns
/// how many datagrams arrived and each one's age in nanoseconds.
pub fn receive_all(sockets: &[UdpSocket], stop: &Arc<AtomicBool>) -> io::Result<(u64, Vec<u64>)> {
    for socket in sockets {
        socket.set_nonblocking(true)?;
    }
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 })
        .collect();
    let (mut count, mut ages) = (0u64, Vec::new());
    let mut buf = vec![0u8; 4097];
    loop {
        // SAFETY: `fds` is a valid array of pollfd for the whole call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if ready <= 0 {
            if stop.load(Ordering::Relaxed) {
                return Ok((count, ages));
            }
            continue;
        }
        for (fd, socket) in fds.iter_mut().zip(sockets) {
            if fd.revents & libc::POLLIN == 0 {
                continue;
            }
            fd.revents = 0;
            while let Ok(len) = socket.recv(&mut buf) {
                count += 1;
                if let Some(age) = age(&buf[..len]) {
                    ages.push(age.as_nanos() as u64);
                }
            }
        }
    }
}

/// The `q`-quantile (0..=1) of `values`, in microseconds.
pub fn quantile_us(values: &mut [u64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let index = ((values.len() - 1) as f64 * q).round() as usize;
    Some(values[index] as f64 / 1000.0)
}

/// CPU nanoseconds per delivered datagram, when both are known.
pub fn cpu_per(cpu: Option<Duration>, delivered: u64) -> Option<f64> {
    (delivered > 0).then_some(cpu?.as_nanos() as f64 / delivered as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_by_a_limit_says_how_to_turn_limits_off() {
        let error = refused("ERR CLIENT_LIMIT 3/3".into()).to_string();
        assert!(error.starts_with("ERR CLIENT_LIMIT 3/3: "), "{error}");
        assert!(error.contains("--max-groups-per-client 2000000000"), "{error}");
        assert!(refused("ERR GROUP_FULL ABCD1234".into()).to_string().contains("--cap"));
        assert_eq!(
            refused("ERR BAD_ARG NoSuchGroup".into()).to_string(),
            "ERR BAD_ARG NoSuchGroup"
        );
    }
}
