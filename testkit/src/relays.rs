//! Relays clustered over real nats-server processes: node `i` listens on 127.0.0.(i+1), all on
//! one port, so that a client can be given `127.0.0.2,127.0.0.3` as the nodes of a cluster
//! are named in docs/cluster.md.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{NatsCluster, Peer, ServerProcess, poll_for};

/// How long a relay may take to reach the cluster after it started (the NATS connection, the
/// directory's bucket, the watch).
pub const CONNECT_WAIT: Duration = Duration::from_secs(20);

/// A NATS cluster and relays on it; everything is killed when dropped.
pub struct RelayCluster {
    pub nats: NatsCluster,
    relays: Vec<Option<ServerProcess>>,
    port: u16,
}

impl RelayCluster {
    /// `nats` NATS servers, and `relays` relays with `args` (after the test kit's own), each
    /// connected to its own NATS server first; waits until every relay has the cluster.
    pub fn start(nats: usize, relays: usize, args: &[&str]) -> RelayCluster {
        RelayCluster::start_on(NatsCluster::start(nats), relays, |_| {
            args.iter().map(|arg| arg.to_string()).collect()
        })
    }

    /// Relays on `nats`, relay `i` with `args(i)` after the test kit's own (its credentials,
    /// on a secured NATS); waits until every relay has the cluster.
    pub fn start_on(
        nats: NatsCluster,
        relays: usize,
        args: impl Fn(usize) -> Vec<String>,
    ) -> RelayCluster {
        let mut cluster = RelayCluster { nats, relays: Vec::new(), port: 0 };
        for i in 0..relays {
            let args = args(i);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let relay = cluster.start_relay(i, &args);
            cluster.port = relay.addr.port();
            cluster.relays.push(Some(relay));
        }
        for i in 0..relays {
            cluster.wait_connected(i);
        }
        cluster.wait_writable();
        cluster
    }

    /// Waits, bounded, until the directory takes writes: a NATS cluster just formed may still
    /// be electing the leader of the directory's stream, and until then a create is answered
    /// `ERR BUSY TryAgain` (which a client sends again).
    pub fn wait_writable(&self) {
        let probe = Peer::new(self.addr(0));
        let mut last = String::new();
        let ready = poll_for(CONNECT_WAIT, || {
            last = probe.ask("!CREATE");
            last.starts_with("OK CREATED")
        });
        assert!(ready, "the directory takes no writes ({last}):\n{}", self.relay(0).log());
    }

    fn start_relay(&self, i: usize, args: &[&str]) -> ServerProcess {
        let urls = self.nats.urls_from(i);
        let name = format!("r{}", i + 1);
        let replicas = self.nats.len().min(3).to_string();
        let mut all = vec!["--cluster", &urls, "--node-name", &name, "--cluster-heartbeat", "1"];
        all.extend(["--cluster-replicas", &replicas]);
        all.extend_from_slice(args);
        ServerProcess::start_at(&format!("127.0.0.{}", i + 1), self.port, &all)
    }

    /// Relay `i`'s address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, i as u8 + 1], self.port))
    }

    pub fn relay(&self, i: usize) -> &ServerProcess {
        self.relays[i].as_ref().expect("a running relay")
    }

    pub fn relay_mut(&mut self, i: usize) -> &mut ServerProcess {
        self.relays[i].as_mut().expect("a running relay")
    }

    /// Waits, bounded, until relay `i` logs that it has the cluster (once more than it had).
    pub fn wait_connected(&self, i: usize) {
        let relay = self.relay(i);
        let connected = poll_for(CONNECT_WAIT, || relay.log().contains("connected to the cluster"));
        assert!(connected, "relay {i} did not reach the cluster:\n{}", relay.log());
    }

    /// Kills relay `i` (SIGKILL): no goodbye, as a machine that dies.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut relay) = self.relays[i].take() {
            let _ = relay.child.kill();
            let _ = relay.child.wait();
        }
    }
}
