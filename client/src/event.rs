//! What a [`crate::Client`] reports on its one stream of events, and the state of each
//! membership for an indicator.

use std::time::{Duration, Instant};

use udprelay_shared::{Command, ErrorReply, GroupId};

use crate::message::Message;
use crate::session::{Health, Reachability};

/// Something that happened in one of the client's groups (or, with no group, while a group is
/// being created or a command is asked outside any group). Replies to the client's own
/// commands are not here: each method returns its own.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A peer's message.
    Message(Message),
    /// How many members a group has, as the server last said (after each heartbeat, and as
    /// often as [`crate::Client::watch_members`] asks).
    Members {
        /// The group counted.
        group: GroupId,
        /// Its members, this client included.
        count: usize,
    },
    /// The server had forgotten this client in `group` (it restarted, or heard nothing for too
    /// long), and the client joined again by itself.
    Rejoined {
        /// The group joined again.
        group: GroupId,
    },
    /// The server forgot this client in `group` and joining again failed: the client is no
    /// longer in it. `error` is the server's refusal, or `None` when it did not answer.
    Lost {
        /// The group lost.
        group: GroupId,
        /// Why.
        error: Option<ErrorReply>,
    },
    /// The server in use stopped answering and the client moved to the next of its servers
    /// (the nodes of a cluster), joining `group` again there.
    Moved {
        /// The group rejoined there, if the client was in one.
        group: Option<GroupId>,
        /// The server left.
        from: String,
        /// The server now in use.
        to: String,
    },
    /// The heartbeat in `group` went unanswered twice: the server may be gone.
    Silent {
        /// The group whose heartbeat was not answered.
        group: GroupId,
    },
    /// The network said the server cannot be reached (its port is closed).
    Unreachable {
        /// The group the client was in (or joining) there.
        group: Option<GroupId>,
        /// The server.
        server: String,
    },
    /// A cluster's relay could not reach the rest of its cluster (`ERR BUSY TryAgain`): the
    /// create or join is sent again every second, for a while.
    Retrying {
        /// The group being joined (`None` for a create).
        group: Option<GroupId>,
        /// The command being retried.
        command: Command,
    },
    /// The server refused a message because it does not have this client in the group; the
    /// client joins again at once ([`Event::Rejoined`] or [`Event::Lost`] follows).
    Refused {
        /// The group the message was for.
        group: GroupId,
        /// The server's error.
        error: ErrorReply,
    },
    /// Whether the server answers changed.
    Reachability {
        /// The group it is about.
        group: Option<GroupId>,
        /// How it is now.
        reachability: Reachability,
    },
    /// A group's [`Status`] changed (for an indicator that shows the heartbeat).
    Status {
        /// The group.
        group: GroupId,
        /// Its status now.
        status: Status,
    },
    /// A socket could not be opened, or a send failed.
    SendFailed {
        /// The group it was for.
        group: Option<GroupId>,
        /// What the system said.
        reason: String,
    },
    /// In a private group, this many payloads could not be decrypted (another key, tampered
    /// with, damaged): never shown as text, said at most every 10 s. Whoever sent them needs
    /// the invite link.
    Undecryptable {
        /// The group.
        group: GroupId,
        /// How many since the last time this was said.
        count: u64,
    },
    /// In a private group, this many messages from `from` did not arrive (the sender's
    /// counter skipped them, and 2 s passed), said at most every 10 s per sender.
    Missed {
        /// The group.
        group: GroupId,
        /// The sender's name, or its key's fingerprint.
        from: String,
        /// How many.
        count: u64,
    },
    /// The program did not read events fast enough and `missed` were dropped.
    Lagged {
        /// How many.
        missed: u64,
    },
}

impl Event {
    /// The group the event is about, if any.
    pub fn group(&self) -> Option<GroupId> {
        match self {
            Event::Message(message) => Some(message.group),
            Event::Members { group, .. }
            | Event::Rejoined { group }
            | Event::Lost { group, .. }
            | Event::Silent { group }
            | Event::Refused { group, .. }
            | Event::Undecryptable { group, .. }
            | Event::Missed { group, .. }
            | Event::Status { group, .. } => Some(*group),
            Event::Moved { group, .. }
            | Event::Unreachable { group, .. }
            | Event::Retrying { group, .. }
            | Event::Reachability { group, .. }
            | Event::SendFailed { group, .. } => *group,
            Event::Lagged { .. } => None,
        }
    }
}

/// One membership's state, for a status line or an indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The server in use, as the user named it.
    pub server: String,
    /// Whether it answers.
    pub reachability: Reachability,
    /// A private group's key fingerprint (the same for everyone with the same invite).
    pub private: Option<String>,
    /// When the server last showed it still has this client in the group (the last `PONG`,
    /// or the join).
    pub heard_at: Option<Instant>,
    /// The heartbeat interval the server asked for (60 s until it says).
    pub heartbeat: Duration,
    /// How often the client pings: the heartbeat, but at least every second.
    pub ping_interval: Duration,
    /// When the next heartbeat goes out.
    pub next_ping: Option<Instant>,
}

impl Status {
    /// The heartbeat indicator at `now`: green, amber, red.
    pub fn health(&self, now: Instant) -> Option<Health> {
        let heard = self.heard_at?;
        Some(Health::after(now.saturating_duration_since(heard), self.ping_interval))
    }

    /// When [`Status::health`] next changes by time alone (a window repaints then).
    pub fn health_changes_at(&self, now: Instant) -> Option<Instant> {
        let since = now.saturating_duration_since(self.heard_at?);
        Health::changes_in(since, self.ping_interval).map(|wait| now + wait)
    }
}
