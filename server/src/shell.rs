//! The thin tokio shell: one socket, one receive loop, a sweep timer, and a clean stop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};
use udprelay_shared::limits::RECV_BUFFER;

use crate::relay::{Outgoing, Relay};

/// Serves until `shutdown` completes; returns the relay for its final numbers.
pub async fn serve(
    socket: UdpSocket,
    mut relay: Relay,
    sweep_every: Duration,
    shutdown: impl Future<Output = ()>,
) -> Relay {
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut sweeps =
        tokio::time::interval_at(tokio::time::Instant::now() + sweep_every, sweep_every);
    sweeps.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut unreachable: Vec<SocketAddr> = Vec::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => {
                    let now = Instant::now();
                    match relay.handle(now, from, &buf[..len]) {
                        Outgoing::Nothing => {}
                        Outgoing::Reply(reply) => {
                            send(&socket, &reply.to_bytes(), from, &mut unreachable).await;
                        }
                        Outgoing::Relay { payload, recipients } => {
                            for to in recipients {
                                send(&socket, payload, to, &mut unreachable).await;
                            }
                        }
                    }
                    for addr in unreachable.drain(..) {
                        relay.remove_unreachable(now, addr);
                    }
                }
                // An ICMP error from an earlier send (some platforms report these here) or
                // a transient fault: neither is a reason to stop serving everyone else.
                Err(error) => debug!(%error, "receive failed"),
            },
            _ = sweeps.tick() => {
                let started = Instant::now();
                let swept = relay.sweep(started);
                // Its own target, so a benchmark can turn on just this line.
                debug!(
                    target: "udprelay_server::sweep",
                    elapsed_us = started.elapsed().as_micros() as u64,
                    removed = swept.removed,
                    expired = swept.expired,
                    groups = relay.live_groups(),
                    members = relay.live_members(),
                    stats = %relay.stats(),
                    "sweep"
                );
            }
            () = &mut shutdown => break,
        }
    }
    relay
}

/// Sends one datagram; an address that cannot be sent to is noted for removal.
async fn send(
    socket: &UdpSocket,
    datagram: &[u8],
    to: SocketAddr,
    unreachable: &mut Vec<SocketAddr>,
) {
    if let Err(error) = socket.send_to(datagram, to).await {
        warn!(%to, %error, "send failed");
        if !matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) {
            unreachable.push(to);
        }
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot watch for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
}
