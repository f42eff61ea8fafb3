//! Counters the relay keeps for its logs.

use std::fmt;

/// What the relay has done since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams received, of any kind (empty and oversize included).
    pub datagrams_in: u64,
    /// Datagrams the relay asked to send: replies and relayed payloads.
    pub datagrams_out: u64,
    /// Datagrams over the size limit, answered `ERR TOO_LARGE` and dropped.
    pub oversize: u64,
    pub creates: u64,
    pub joins: u64,
    pub leaves: u64,
    /// Members removed because they went silent or could not be sent to.
    pub removals: u64,
    /// Empty groups deleted after their time to live.
    pub expiries: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "datagrams_in={} datagrams_out={} oversize={} creates={} joins={} leaves={} \
             removals={} expiries={}",
            self.datagrams_in,
            self.datagrams_out,
            self.oversize,
            self.creates,
            self.joins,
            self.leaves,
            self.removals,
            self.expiries
        )
    }
}
