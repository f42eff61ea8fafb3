//! The client library's own cost, beside the least a client can do (`udprelay-bench client`):
//! the CPU per message received at 20 000 messages/s into one member, the library against a
//! bare `recv` loop on the same load; and an echo bot's round trip through the relay, the
//! library's bot against two raw sockets. Both run against our server on loopback, one after
//! the other, and print the figures side by side. See docs/performance.md, "Client library".

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use udprelay_client::{Client, Event, Events, GroupId};
use udprelay_testkit::Peer;

use crate::target::{Kind, Setup, Target};

#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Seconds of load into the one member
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Messages per second into the one member
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Round trips per echo measurement
    #[arg(long, default_value_t = 2_000)]
    round_trips: usize,
    /// Receive this many times each, bare and library in turns, and report the medians (one
    /// run's ratio moves by 10-20 % on a shared machine)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
    repeat: u32,
}

pub fn run(args: &ClientArgs, server_bin: &Path) -> Result<(), String> {
    let server = Target::start(&Kind::parse("ours"), server_bin, Setup::default())?;
    let addr = server.addr;
    let expected = (args.seconds * args.rate as f64) as usize;
    println!("client library: {} messages/s for {} s into one member", args.rate, args.seconds);
    let (mut bare, mut library) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat {
        bare.push(receive(addr, args, expected, bare_receiver)?);
        library.push(receive(addr, args, expected, library_receiver)?);
    }
    let runs = args.repeat;
    println!("{:<28}{:>14}{:>12}", "receiving", "CPU/message", "received");
    println!("{:<28}{:>14}{:>12}", format!("(median of {runs})"), "", "(least)");
    let bare = median_per_message(&bare);
    let library = median_per_message(&library);
    for (label, (cpu, got)) in [("bare recv loop", bare), ("udprelay-client", library)] {
        println!("{label:<28}{cpu:>12.2}µs{got:>12}");
    }
    println!("{:<28}{:>13.2}×", "library/bare", library.0 / bare.0);

    let (raw, bot) = round_trips(addr, args.round_trips)?;
    println!("{:<28}{:>14}", "echo round trip", "median");
    println!("{:<28}{:>12.1}µs", "two raw sockets", micros(raw));
    println!("{:<28}{:>12.1}µs", "udprelay-client echo bot", micros(bot));
    println!("{:<28}{:>13.2}×", "bot/raw", micros(bot) / micros(raw));

    let (seal, open) = seal_and_open(args.round_trips.max(100) * 5);
    println!("{:<28}{:>14}", "encrypted group (e2e)", "median");
    println!("{:<28}{seal:>12.1}µs", "seal 100 bytes");
    println!("{:<28}{open:>12.1}µs", "open 100 bytes");
    println!("{:<28}{:>12.1}µs", "seal + open", seal + open);
    let (sign, verify) = ed25519_alone(args.round_trips.max(100) * 5);
    println!("{:<28}{sign:>12.1}µs", "Ed25519 sign alone");
    println!("{:<28}{verify:>12.1}µs", "Ed25519 verify_strict alone");
    println!("{:<28}{:>13.2}×", "(seal + open)/Ed25519", (seal + open) / (sign + verify));
    Ok(())
}

/// The median time to seal, and to open, a 100-byte message with a name, `count` times each
/// (XChaCha20-Poly1305 and an Ed25519 signature and check, docs/protocol.md).
fn seal_and_open(count: usize) -> (f64, f64) {
    use udprelay_client::e2e::{GroupKey, Identity, Secret, open, seal};
    let key = GroupKey::derive(&Secret::random(), "ABCD1234".parse().expect("an id"));
    let (identity, name) = (Identity::generate(), "ana".parse().expect("a name"));
    let text = "x".repeat(100);
    let now = 1_780_000_000_000;
    let (mut sealing, mut opening) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for counter in 0..count as u64 {
        let started = Instant::now();
        let envelope = seal(&key, &identity, Some(&name), &text, counter, now).expect("fits");
        sealing.push(started.elapsed());
        let started = Instant::now();
        let opened = open(&key, envelope.as_bytes(), now).expect("opens");
        opening.push(started.elapsed());
        assert_eq!(opened.counter, counter);
    }
    (median(sealing), median(opening))
}

/// The median time of an Ed25519 signature, and of its strict check, over the same bytes as
/// a sealed 100-byte message signs: the floor under [`seal_and_open`] (docs/performance.md).
fn ed25519_alone(count: usize) -> (f64, f64) {
    use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();
    let message = [0x5a; 200];
    let (mut signing, mut verifying) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for _ in 0..count {
        let started = Instant::now();
        let signature = key.sign(&message);
        signing.push(started.elapsed());
        let started = Instant::now();
        // As `open` does: the signer's key arrives as bytes in each message.
        let checked = VerifyingKey::from_bytes(&public)
            .and_then(|signer| signer.verify_strict(&message, &signature));
        verifying.push(started.elapsed());
        assert!(checked.is_ok());
    }
    (median(signing), median(verifying))
}

/// The median of some durations, in microseconds.
fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    micros(times[times.len() / 2])
}

/// The median CPU per message (µs) of several runs, and the fewest messages a run received.
fn median_per_message(runs: &[(Duration, usize)]) -> (f64, usize) {
    let mut each: Vec<f64> =
        runs.iter().map(|(cpu, got)| cpu.as_secs_f64() * 1e6 / (*got).max(1) as f64).collect();
    each.sort_by(f64::total_cmp);
    (each[each.len() / 2], runs.iter().map(|(_, got)| *got).min().unwrap_or(0))
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// The CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A plain socket in a new group (or `group`): the group's id and the socket, which sends to
/// the server with `send`.
fn member(server: SocketAddr, group: Option<&str>) -> (String, UdpSocket) {
    let peer = Peer::new(server);
    let id = group.map_or_else(|| peer.create(), str::to_string);
    peer.join(&id);
    peer.socket.connect(server).expect("connect to the server");
    (id, peer.socket)
}

type Receiver =
    fn(SocketAddr, String, usize, f64, mpsc::Sender<()>) -> Result<(Duration, usize), String>;

/// Runs `receiver` in a group of its own while a peer sends it the load; returns its CPU and
/// how many messages it received.
fn receive(
    server: SocketAddr,
    args: &ClientArgs,
    expected: usize,
    receiver: Receiver,
) -> Result<(Duration, usize), String> {
    let (group, sender) = member(server, None);
    let (ready_tx, ready) = mpsc::channel();
    let seconds = args.seconds;
    let receiving = thread::Builder::new()
        .name("receiver".into())
        .spawn(move || receiver(server, group, expected, seconds, ready_tx))
        .map_err(|e| e.to_string())?;
    ready.recv_timeout(Duration::from_secs(5)).map_err(|_| "the receiver never joined")?;
    let payload = [b'x'; 64];
    let start = Instant::now();
    let per_ms = (args.rate / 1000).max(1) as usize;
    for batch in 0..expected.div_ceil(per_ms) {
        let due = start + Duration::from_millis(batch as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        for _ in 0..per_ms {
            let _ = sender.send(&payload);
        }
    }
    receiving.join().map_err(|_| "the receiver panicked")?
}

fn bare_receiver(
    server: SocketAddr,
    group: String,
    expected: usize,
    _seconds: f64,
    ready: mpsc::Sender<()>,
) -> Result<(Duration, usize), String> {
    let (_, socket) = member(server, Some(&group));
    socket.set_read_timeout(Some(Duration::from_millis(500))).map_err(|e| e.to_string())?;
    let _ = ready.send(());
    let start = thread_cpu();
    let (mut buf, mut got) = ([0u8; 4097], 0);
    while got < expected && socket.recv(&mut buf).is_ok() {
        got += 1;
    }
    Ok((thread_cpu() - start, got))
}

fn library_receiver(
    server: SocketAddr,
    group: String,
    expected: usize,
    seconds: f64,
    ready: mpsc::Sender<()>,
) -> Result<(Duration, usize), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let runtime = runtime.map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (_client, mut events) = joined(server, &group).await?; // kept: dropped, it leaves
        let _ = ready.send(());
        let start = thread_cpu();
        let mut got = 0;
        // The program's loop is the plain one a bot has; one timeout around all of it (the
        // load's length and a second) ends it if messages were lost, and is looked at only
        // when no event is waiting.
        let counting = async {
            while got < expected {
                match events.recv().await {
                    Some(Event::Message(_)) => got += 1,
                    Some(_) => {}
                    None => break,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs_f64(seconds + 1.0), counting).await;
        Ok((thread_cpu() - start, got))
    })
}

/// The library's client in `group`.
async fn joined(server: SocketAddr, group: &str) -> Result<(Client, Events), String> {
    let (client, events) = Client::connect(&server.to_string()).await.map_err(|e| e.to_string())?;
    let group: GroupId = group.parse().map_err(|e| format!("{e}"))?;
    client.join(group).await.map_err(|e| e.to_string())?;
    Ok((client, events))
}

type Echo = fn(SocketAddr, String, mpsc::Sender<()>, mpsc::Receiver<()>) -> Result<(), String>;

/// One echo of `echo`'s kind in a group of its own, and the plain socket that asks it.
struct Echoing {
    asker: UdpSocket,
    stop: mpsc::Sender<()>,
    thread: thread::JoinHandle<Result<(), String>>,
    times: Vec<Duration>,
}

impl Echoing {
    fn start(server: SocketAddr, echo: Echo) -> Result<Echoing, String> {
        let (group, asker) = member(server, None);
        let (ready_tx, ready) = mpsc::channel();
        let (stop, stopped) = mpsc::channel();
        let thread = thread::spawn(move || echo(server, group, ready_tx, stopped));
        ready.recv_timeout(Duration::from_secs(5)).map_err(|_| "the echo never joined")?;
        Ok(Echoing { asker, stop, thread, times: Vec::new() })
    }

    fn ask(&mut self, count: usize) -> Result<(), String> {
        let mut buf = [0u8; 256];
        for _ in 0..count {
            let i = self.times.len();
            let started = Instant::now();
            self.asker.send(format!("n{i}").as_bytes()).map_err(|e| e.to_string())?;
            self.asker.recv(&mut buf).map_err(|e| format!("round trip {i}: {e}"))?;
            self.times.push(started.elapsed());
        }
        Ok(())
    }

    /// Stops the echo; the median round trip.
    fn median(mut self) -> Result<Duration, String> {
        let _ = self.stop.send(());
        let _ = self.asker.send(b"last");
        self.thread.join().map_err(|_| "the echo panicked")??;
        self.times.sort();
        Ok(self.times[self.times.len() / 2])
    }
}

/// The median round trips to a raw echo and to the library's echo bot, asked in turns, one
/// each, so that the machine's drift (large on a shared machine: which cores the threads
/// land on) falls on both alike.
fn round_trips(server: SocketAddr, count: usize) -> Result<(Duration, Duration), String> {
    let mut raw = Echoing::start(server, raw_echo)?;
    let mut bot = Echoing::start(server, library_echo)?;
    for _ in 0..count {
        raw.ask(1)?;
        bot.ask(1)?;
    }
    Ok((raw.median()?, bot.median()?))
}

fn raw_echo(
    server: SocketAddr,
    group: String,
    ready: mpsc::Sender<()>,
    stop: mpsc::Receiver<()>,
) -> Result<(), String> {
    let (_, socket) = member(server, Some(&group));
    let _ = ready.send(());
    let mut buf = [0u8; 4097];
    // The asker sends one last message after `stop`, so this wakes to see it.
    while stop.try_recv().is_err() {
        let Ok(len) = socket.recv(&mut buf) else { continue };
        let mut answer = b"echo: ".to_vec();
        answer.extend_from_slice(&buf[..len]);
        let _ = socket.send(&answer);
    }
    Ok(())
}

fn library_echo(
    server: SocketAddr,
    group: String,
    ready: mpsc::Sender<()>,
    stop: mpsc::Receiver<()>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let runtime = runtime.map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (client, mut events) = joined(server, &group).await?;
        let _ = ready.send(());
        // The asker sends one last message after `stop`, so this wakes to see it.
        while stop.try_recv().is_err() {
            match events.recv().await {
                Some(Event::Message(message)) => {
                    let _ = client.send(message.group, &format!("echo: {}", message.text)).await;
                }
                Some(_) => {}
                None => break,
            }
        }
        client.close().await;
        Ok(())
    })
}
