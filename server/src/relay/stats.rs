//! Counters the relay keeps for its logs: what it did, and everything it refused or dropped,
//! by reason.

use std::fmt;

/// What the relay has done since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams received, of any kind (empty and oversize included).
    pub datagrams_in: u64,
    /// Datagrams the relay asked to send: replies and relayed payloads.
    pub datagrams_out: u64,
    /// Bytes received, and bytes the relay asked to send.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Payloads relayed, counted once per recipient.
    pub deliveries: u64,
    /// Replies sent, by kind (see [`ReplyKind`]).
    pub replies: [u64; ReplyKind::COUNT],
    /// Datagrams over the size limit, answered `ERR TOO_LARGE` and dropped.
    pub oversize: u64,
    pub creates: u64,
    pub joins: u64,
    pub leaves: u64,
    /// Members removed because they went silent.
    pub removals: u64,
    /// Members removed because they could not be sent to (a failed send, or ICMP).
    pub unreachable: u64,
    /// Empty groups deleted after their time to live.
    pub expiries: u64,
    /// Addresses that echoed a token.
    pub validations: u64,
    /// Dropped without a reply: commands over `--command-rate` from one IP.
    pub dropped_command_rate: u64,
    /// Error replies not sent: over `--error-rate` to one IP.
    pub dropped_error_rate: u64,
    /// Payloads not relayed: over `--payload-rate` from one member.
    pub dropped_payload_rate: u64,
    /// Deliveries not made: past an unvalidated member's 3 × budget.
    pub dropped_budget: u64,
    /// Reply-shaped datagrams from non-members (a reply loop, or the start of one).
    pub dropped_loop: u64,
    /// Datagrams whose source was the server's own address.
    pub dropped_own_address: u64,
    /// Creates and joins refused by `--max-groups` / `--max-members`.
    pub refused_server_full: u64,
    /// Creates and joins refused by `--max-groups-per-ip` / `--max-members-per-ip`.
    pub refused_ip_limit: u64,
}

/// The kinds of reply, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    Created,
    Joined,
    Left,
    Pong,
    Who,
    Error,
}

impl ReplyKind {
    pub const COUNT: usize = 6;
    pub const ALL: [ReplyKind; ReplyKind::COUNT] = [
        ReplyKind::Created,
        ReplyKind::Joined,
        ReplyKind::Left,
        ReplyKind::Pong,
        ReplyKind::Who,
        ReplyKind::Error,
    ];

    pub fn of(reply: &udprelay_shared::Reply) -> ReplyKind {
        use udprelay_shared::Reply;
        match reply {
            Reply::Created(_) => ReplyKind::Created,
            Reply::Joined(_) => ReplyKind::Joined,
            Reply::Left(_) => ReplyKind::Left,
            Reply::Pong { .. } => ReplyKind::Pong,
            Reply::Who { .. } => ReplyKind::Who,
            Reply::Error(_) => ReplyKind::Error,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ReplyKind::Created => "created",
            ReplyKind::Joined => "joined",
            ReplyKind::Left => "left",
            ReplyKind::Pong => "pong",
            ReplyKind::Who => "who",
            ReplyKind::Error => "error",
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "datagrams_in={} datagrams_out={} bytes_in={} bytes_out={} deliveries={} oversize={} creates={} joins={} leaves={} \
             removals={} unreachable={} expiries={} validations={} dropped_command_rate={} \
             dropped_error_rate={} dropped_payload_rate={} dropped_budget={} dropped_loop={} \
             dropped_own_address={} refused_server_full={} refused_ip_limit={}",
            self.datagrams_in,
            self.datagrams_out,
            self.bytes_in,
            self.bytes_out,
            self.deliveries,
            self.oversize,
            self.creates,
            self.joins,
            self.leaves,
            self.removals,
            self.unreachable,
            self.expiries,
            self.validations,
            self.dropped_command_rate,
            self.dropped_error_rate,
            self.dropped_payload_rate,
            self.dropped_budget,
            self.dropped_loop,
            self.dropped_own_address,
            self.refused_server_full,
            self.refused_ip_limit,
        )
    }
}
