//! What the caller may look at: the session's state, for a status line or an indicator.

use std::time::{Duration, Instant};

use udprelay_shared::GroupId;
use udprelay_shared::limits::MIN_PING_INTERVAL;

use super::{Health, Purpose, Reachability, Request, Session, SocketId};

impl Session {
    /// The group the session believes it is in.
    pub fn group(&self) -> Option<GroupId> {
        self.group
    }

    /// The socket that is (or will be) the member: a farewell `!LEAVE` goes from here.
    pub fn member_socket(&self) -> SocketId {
        self.member
    }

    /// The id of the last group this session created.
    pub fn last_created(&self) -> Option<GroupId> {
        self.last_created
    }

    /// The heartbeat interval, from the `PONG`s (60 s before the first).
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// When the next heartbeat `!PING` goes out (`None`: not in a group, or rejoining).
    pub fn next_ping(&self) -> Option<Instant> {
        match (self.group, self.last_ping) {
            (Some(_), Some(last)) if !self.rejoining() => Some(last + self.ping_wait()),
            _ => None,
        }
    }

    /// When the last `PONG` arrived.
    pub fn last_pong(&self) -> Option<Instant> {
        self.last_pong
    }

    /// Whether the server answers, as far as the session can tell.
    pub fn reachability(&self) -> Reachability {
        self.reachability
    }

    /// When the server last showed it still has us: the last `PONG`, or the join.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_pong.max(self.joined_at)
    }

    /// The heartbeat's health at `now` (`None` when not in a group).
    pub fn health(&self, now: Instant) -> Option<Health> {
        self.group?;
        let heard = self.last_heard()?;
        Some(Health::after(now.saturating_duration_since(heard), self.ping_interval()))
    }

    /// The interval between heartbeat pings: the server's, but at least a second.
    pub fn ping_interval(&self) -> Duration {
        self.heartbeat.max(MIN_PING_INTERVAL)
    }

    /// Whether a request the user made (or its follow-up join) still awaits its reply.
    pub fn awaiting_user_reply(&self) -> bool {
        let user = |purpose: Purpose| matches!(purpose, Purpose::User | Purpose::CreateAndJoin);
        self.pending.iter().any(|p| matches!(p.request, Request::Command(_)) && user(p.purpose))
            || self.retries.iter().any(|r| user(r.purpose))
    }
}
