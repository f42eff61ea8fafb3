//! The client side of the protocol as a state machine, shared by both clients.
//!
//! Like the server's core it does no I/O and reads no clock: the caller feeds it what the
//! user asked for, the datagrams that arrived and the time, and takes out datagrams to send
//! ([`Session::poll_transmit`]), things to show ([`Session::poll_event`]) and when to call
//! again ([`Session::poll_timeout`]). One session is one client address, so one group.

mod matching;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::limits::{
    DEFAULT_HEARTBEAT, MAX_DATAGRAM, MIN_PING_INTERVAL, MISSED_HEARTBEATS, REPLY_TIMEOUT,
};
use crate::{Command, ErrorReply, GroupId, Reply};

/// Why a request was sent; decides what its reply does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Asked for by the user.
    User,
    /// The user's `create --join`: the new group is joined as soon as its id arrives.
    CreateAndJoin,
    /// The automatic heartbeat.
    Heartbeat,
    /// The automatic rejoin after the server forgot our membership.
    Rejoin,
}

/// What a request was: a command, or a payload (which has no reply unless it fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Command(Command),
    Payload,
}

/// Whether the server answers, as far as the client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Nothing known yet.
    Unknown,
    /// The last request was answered.
    Reachable,
    /// A request went unanswered, or the network reported the server's port closed.
    Unreachable,
}

/// Something for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server answered a command (rejoins are reported as [`Event::Rejoined`] instead).
    Reply { request: Command, reply: Reply, purpose: Purpose },
    /// The server refused a payload the user sent.
    PayloadRefused(ErrorReply),
    /// A datagram that answers nothing outstanding: a peer's message.
    Payload(Vec<u8>),
    /// A command got no reply within [`REPLY_TIMEOUT`].
    NoReply { request: Command, purpose: Purpose },
    /// The server had forgotten our membership, and we joined the group again.
    Rejoined(GroupId),
    /// ... and joining again failed: with the server's error, or `None` for no reply.
    RejoinFailed { group: GroupId, error: Option<ErrorReply> },
    /// [`Session::connection`] changed.
    Connection(Connection),
}

/// How the heartbeat is doing, for an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// A `PONG` came within the interval (allowing for the reply's trip).
    Good,
    /// The last `PONG` is older than that: one is late.
    Late,
    /// No `PONG` for more than 3 × the interval: the server has likely dropped us.
    Lost,
}

impl Health {
    /// The health when the server was last heard `since` ago, pinging every `interval`.
    pub fn after(since: Duration, interval: Duration) -> Health {
        if since <= interval + REPLY_TIMEOUT {
            Health::Good
        } else if since <= interval * MISSED_HEARTBEATS {
            Health::Late
        } else {
            Health::Lost
        }
    }
}

/// Why a payload was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The session is in no group, so the server would refuse it.
    NotJoined,
    /// Over [`MAX_DATAGRAM`] bytes (the size given).
    TooLong(usize),
}

#[derive(Debug)]
struct Pending {
    request: Request,
    purpose: Purpose,
    deadline: Instant,
}

/// One client's protocol state.
#[derive(Debug)]
pub struct Session {
    group: Option<GroupId>,
    last_created: Option<GroupId>,
    heartbeat: Duration,
    /// When the user or the heartbeat last sent anything: the next ping is due an interval
    /// after it.
    last_sent: Option<Instant>,
    last_pong: Option<Instant>,
    /// Heartbeat pings in a row that got no reply: each makes the next one come sooner.
    unanswered_pings: u32,
    /// When the current group was joined (the heartbeat's health counts from here until the
    /// first `PONG`).
    joined_at: Option<Instant>,
    /// Also ask `!WHO` after each heartbeat `PONG`, to keep a member count fresh.
    refresh_members: bool,
    connection: Connection,
    pending: VecDeque<Pending>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
}

impl Session {
    pub fn new() -> Session {
        Session {
            group: None,
            last_created: None,
            heartbeat: DEFAULT_HEARTBEAT,
            last_sent: None,
            last_pong: None,
            unanswered_pings: 0,
            joined_at: None,
            refresh_members: false,
            connection: Connection::Unknown,
            pending: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// A session that also asks `!WHO` after each heartbeat `PONG` (the desktop client shows
    /// member counts). The replies come as heartbeat [`Event::Reply`]s.
    pub fn with_member_refresh() -> Session {
        Session { refresh_members: true, ..Session::new() }
    }

    // ---- What the user asks for ----

    /// Sends a command for the user.
    pub fn command(&mut self, now: Instant, command: Command) {
        self.user_sent(now);
        self.request(now, Request::Command(command), Purpose::User);
    }

    /// Creates a group and, once its id arrives, joins it.
    pub fn create_and_join(&mut self, now: Instant, cap: Option<u32>) {
        self.user_sent(now);
        self.request(now, Request::Command(Command::Create { cap }), Purpose::CreateAndJoin);
    }

    /// Sends a chat payload to the current group.
    pub fn send_payload(&mut self, now: Instant, payload: &[u8]) -> Result<(), PayloadError> {
        if payload.len() > MAX_DATAGRAM {
            return Err(PayloadError::TooLong(payload.len()));
        }
        if self.group.is_none() {
            return Err(PayloadError::NotJoined);
        }
        debug_assert!(!payload.is_empty() && payload[0] != b'!', "not a payload");
        self.user_sent(now);
        self.transmits.push_back(payload.to_vec());
        self.pending.push_back(Pending {
            request: Request::Payload,
            purpose: Purpose::User,
            deadline: now + REPLY_TIMEOUT,
        });
        Ok(())
    }

    // ---- What the network brings ----

    /// Takes in a datagram from the server's address: a reply if it answers an outstanding
    /// request, otherwise a peer's payload.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let answered = Reply::parse(datagram).and_then(|reply| {
            let index = self.pending.iter().position(|p| matching::answers(&p.request, &reply))?;
            Some((self.pending.remove(index).expect("index from position"), reply))
        });
        match answered {
            Some((pending, reply)) => {
                self.set_connection(Connection::Reachable);
                self.apply(now, pending, reply);
            }
            None if datagram.is_empty() => {}
            None => self.events.push_back(Event::Payload(datagram.to_vec())),
        }
    }

    /// The network reported the server's port closed (ICMP port unreachable).
    pub fn handle_unreachable(&mut self) {
        self.set_connection(Connection::Unreachable);
    }

    /// Runs what is due at `now`: reply deadlines and the heartbeat.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(index) = self.pending.iter().position(|p| p.deadline <= now) {
            let pending = self.pending.remove(index).expect("index from position");
            self.expire(pending);
        }
        if self.next_ping().is_some_and(|due| due <= now) {
            self.ping(now);
        }
    }

    // ---- What to do next ----

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deadlines = self.pending.iter().map(|p| p.deadline);
        deadlines.chain(self.next_ping()).min()
    }

    // ---- What the user may look at ----

    /// The group the session believes it is in.
    pub fn group(&self) -> Option<GroupId> {
        self.group
    }

    /// The id of the last group this session created.
    pub fn last_created(&self) -> Option<GroupId> {
        self.last_created
    }

    /// The heartbeat interval, from the last `PONG` (60 s before the first).
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// When the next heartbeat `!PING` goes out (`None`: not in a group, or rejoining).
    pub fn next_ping(&self) -> Option<Instant> {
        let rejoining = self.pending.iter().any(|p| p.purpose == Purpose::Rejoin);
        match (self.group, self.last_sent) {
            (Some(_), Some(last)) if !rejoining => Some(last + self.ping_wait()),
            _ => None,
        }
    }

    /// When the last `PONG` arrived.
    pub fn last_pong(&self) -> Option<Instant> {
        self.last_pong
    }

    pub fn connection(&self) -> Connection {
        self.connection
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
        self.pending.iter().any(|p| {
            matches!(p.request, Request::Command(_))
                && matches!(p.purpose, Purpose::User | Purpose::CreateAndJoin)
        })
    }

    // ---- Inside ----

    /// How long after the last thing sent the next ping goes. After an unanswered one, sooner:
    /// 2 s, 4 s, 8 s… (never later than the interval), so that one lost `PONG`, above all the
    /// first, which tells the interval, does not leave us silent until the server drops us.
    fn ping_wait(&self) -> Duration {
        let interval = self.ping_interval();
        match self.unanswered_pings {
            0 => interval,
            n => REPLY_TIMEOUT.saturating_mul(1 << (n - 1).min(16)).min(interval),
        }
    }

    fn request(&mut self, now: Instant, request: Request, purpose: Purpose) {
        if let Request::Command(command) = request {
            self.transmits.push_back(command.to_bytes());
        }
        self.pending.push_back(Pending { request, purpose, deadline: now + REPLY_TIMEOUT });
    }

    fn ping(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.request(now, Request::Command(Command::Ping), Purpose::Heartbeat);
    }

    /// Anything the user sends is activity, so the heartbeat can wait a full interval.
    fn user_sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
    }

    fn set_connection(&mut self, connection: Connection) {
        if self.connection != connection {
            self.connection = connection;
            self.events.push_back(Event::Connection(connection));
        }
    }

    fn apply(&mut self, now: Instant, pending: Pending, reply: Reply) {
        let Pending { request, purpose, .. } = pending;
        let Request::Command(command) = request else {
            if let Reply::Error(error) = reply {
                self.forgotten_if(&error, now);
                self.events.push_back(Event::PayloadRefused(error));
            }
            return;
        };
        if let (Purpose::Rejoin, Command::Join(group)) = (purpose, command) {
            if let Reply::Error(error) = reply {
                if self.group == Some(group) {
                    self.group = None;
                }
                self.events.push_back(Event::RejoinFailed { group, error: Some(error) });
            } else {
                // Matching lets only `OK JOINED <group>` or an error answer a join.
                self.joined(now, group);
                self.events.push_back(Event::Rejoined(group));
            }
            return;
        }
        match &reply {
            Reply::Created(id) => {
                self.last_created = Some(*id);
                if purpose == Purpose::CreateAndJoin {
                    self.request(now, Request::Command(Command::Join(*id)), Purpose::User);
                }
            }
            Reply::Joined(id) => self.joined(now, *id),
            Reply::Left(id) if self.group == Some(*id) => self.group = None,
            Reply::Pong(interval) => {
                self.heartbeat = *interval;
                self.last_pong = Some(now);
                self.unanswered_pings = 0;
                if self.refresh_members && purpose == Purpose::Heartbeat {
                    self.request(now, Request::Command(Command::Who), Purpose::Heartbeat);
                }
            }
            Reply::Error(error) => self.forgotten_if(error, now),
            _ => {}
        }
        self.events.push_back(Event::Reply { request: command, reply, purpose });
    }

    fn joined(&mut self, now: Instant, group: GroupId) {
        self.group = Some(group);
        self.joined_at = Some(now);
        self.unanswered_pings = 0;
        // Ping at once, to learn the server's interval before its deadline can pass.
        self.ping(now);
    }

    /// `ERR NOT_IN_GROUP JoinFirstUseJOIN` while we think we are in a group: the server
    /// forgot us (it restarted, or we were silent too long). Join again, once.
    fn forgotten_if(&mut self, error: &ErrorReply, now: Instant) {
        let Some(group) = self.group else { return };
        if *error != ErrorReply::JoinFirst {
            return;
        }
        let rejoining = self.pending.iter().any(|p| p.purpose == Purpose::Rejoin);
        if !rejoining {
            self.request(now, Request::Command(Command::Join(group)), Purpose::Rejoin);
        }
    }

    fn expire(&mut self, pending: Pending) {
        let Request::Command(command) = pending.request else {
            return; // a payload's silence means it was relayed
        };
        self.set_connection(Connection::Unreachable);
        match (pending.purpose, command) {
            (Purpose::Rejoin, Command::Join(group)) => {
                if self.group == Some(group) {
                    self.group = None;
                }
                self.events.push_back(Event::RejoinFailed { group, error: None });
            }
            (Purpose::Heartbeat, Command::Ping) => {
                self.unanswered_pings = self.unanswered_pings.saturating_add(1);
                // One report per silence, not one per retry.
                if self.unanswered_pings == 1 {
                    let (request, purpose) = (Command::Ping, Purpose::Heartbeat);
                    self.events.push_back(Event::NoReply { request, purpose });
                }
            }
            (purpose, request) => self.events.push_back(Event::NoReply { request, purpose }),
        }
    }
}
