//! Sizes and defaults fixed by the protocol (docs/protocol.md), in one place.

use std::time::Duration;

/// Largest datagram the relay accepts, commands and payloads alike.
pub const MAX_DATAGRAM: usize = 4096;

/// Receive buffer size: one byte more than [`MAX_DATAGRAM`], so an oversize datagram is
/// seen as oversize instead of being silently truncated to a valid length.
pub const RECV_BUFFER: usize = MAX_DATAGRAM + 1;

/// Longest command token (`CREATE`); a longer token is an unknown command.
pub const MAX_TOKEN_LEN: usize = 6;

/// Heartbeat interval a client assumes until a `PONG` tells it the server's.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(60);

/// A member silent for this many heartbeat intervals is removed.
pub const MISSED_HEARTBEATS: u32 = 3;

/// Server default: how long an empty group lives before it is deleted.
pub const DEFAULT_EMPTY_TTL: Duration = Duration::from_secs(300);

/// Server default: how often cleanup runs.
pub const DEFAULT_SWEEP: Duration = Duration::from_secs(30);

/// Server default: the largest group size.
pub const DEFAULT_GROUP_CAP: u32 = 128;

/// Server default: how many live groups one address may have created.
pub const DEFAULT_MAX_GROUPS_PER_CLIENT: u32 = 3;

/// How long a client waits for the reply to a command before saying there was none.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// A client never pings more often than this, whatever the server suggests.
pub const MIN_PING_INTERVAL: Duration = Duration::from_secs(1);
