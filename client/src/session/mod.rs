//! The client side of the protocol as a state machine, shared by both clients.
//!
//! Like the server's core it does no I/O and reads no clock: the caller feeds it what the
//! user asked for, the datagrams that arrived (with the socket they came on) and the time, and
//! takes out datagrams to send and sockets to close ([`Session::poll_transmit`]), things to
//! show ([`Session::poll_event`]) and when to call again ([`Session::poll_timeout`]).
//!
//! One session is one membership, so one group, but not one socket. The socket that is the
//! member (the *member socket*) can be reached by every peer in the group, through the relay,
//! from the server's own address: a peer can send it anything a server could. So membership
//! changes (create and join, join, rejoin) are made from a socket that is in no group; once
//! `OK JOINED` arrives there, that socket becomes the member and the old one leaves. The
//! caller opens a socket the first time a [`Transmit`] names it.

mod apply;
mod health;
#[cfg(test)]
mod hostile_tests;
mod matching;
mod moving;
mod sockets;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use udprelay_shared::limits::{DEFAULT_HEARTBEAT, MAX_DATAGRAM, MIN_PING_INTERVAL, REPLY_TIMEOUT};
use udprelay_shared::{Command, ErrorReply, GroupId, PingArg, Reply, Token};

pub use health::Health;

/// Most of the user's recent payloads a move to another server sends again.
const RECENT_PAYLOADS: usize = 16;

/// Why a request was sent; decides what its reply does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Asked for by the user.
    User,
    /// The user's `create --join`: the new group is joined as soon as its id arrives.
    CreateAndJoin,
    /// The automatic heartbeat (and the member-count refresh that may follow it).
    Heartbeat,
    /// The automatic rejoin after the server forgot our membership.
    Rejoin,
}

/// What a request was: a command, or a payload (which has no reply unless it fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A command, answered by a reply.
    Command(Command),
    /// A chat payload.
    Payload,
}

/// One of the session's sockets, numbered from 0 (the first member socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// What the session wants done with its sockets, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send a datagram to the server from `socket` (opening it, if it is new).
    Send {
        /// The socket it goes from.
        socket: SocketId,
        /// What to send.
        datagram: Vec<u8>,
    },
    /// Close `socket`: nothing more is sent from it or expected on it.
    Close(SocketId),
}

/// Whether the server answers, as far as the client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reachability {
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
    Reply {
        /// The command answered.
        request: Command,
        /// The server's answer.
        reply: Reply,
        /// Why the command was sent.
        purpose: Purpose,
    },
    /// The server refused a payload the user sent.
    PayloadRefused(ErrorReply),
    /// A datagram that answers nothing outstanding: a peer's message.
    Payload(Vec<u8>),
    /// A command got no reply within [`REPLY_TIMEOUT`].
    NoReply {
        /// The command that went unanswered.
        request: Command,
        /// Why it was sent.
        purpose: Purpose,
    },
    /// The server had forgotten our membership, and we joined the group again.
    Rejoined(GroupId),
    /// ... and joining again failed: with the server's error, or `None` for no reply.
    RejoinFailed {
        /// The group that could not be joined again.
        group: GroupId,
        /// The server's refusal, or `None` for no reply.
        error: Option<ErrorReply>,
    },
    /// [`Session::reachability`] changed.
    Reachability(Reachability),
    /// A cluster's relay answered `ERR BUSY TryAgain` to a create or join: it is sent again
    /// every second, for a while, and this says so once.
    Retrying(Command),
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
    socket: SocketId,
    request: Request,
    purpose: Purpose,
    deadline: Instant,
    /// How many times this request was sent again after `ERR BUSY TryAgain`.
    tries: u32,
}

/// A create or join to send again once `due` (after `ERR BUSY TryAgain`).
#[derive(Debug)]
struct Retry {
    due: Instant,
    socket: SocketId,
    command: Command,
    purpose: Purpose,
    tries: u32,
}

/// One client's protocol state.
#[derive(Debug)]
pub struct Session {
    group: Option<GroupId>,
    last_created: Option<GroupId>,
    /// The heartbeat interval: the smallest any `PONG` has named (60 s before the first). A
    /// peer can answer our ping with a forged `PONG`; taking the smallest means it can make us
    /// ping more often (at most once a second), never so rarely that the server drops us.
    heartbeat: Duration,
    /// The socket that is our member address (or will be, for the first join).
    member: SocketId,
    /// No `!JOIN` was ever sent from the member socket, so no group relays to it and a reply
    /// there is the server's.
    member_clean: bool,
    /// A fresh socket with a create or join under way, while the member socket is in a group.
    attempt: Option<SocketId>,
    next_socket: u32,
    /// The latest address-validation token the server gave the member socket.
    token: Option<Token>,
    /// A `PONG` answered our request for a token since the join (with one, or, from the
    /// original server, without): until then, heartbeat pings ask again.
    token_answered: bool,
    /// When the last heartbeat `!PING` went out: the next is due an interval after it.
    last_ping: Option<Instant>,
    last_pong: Option<Instant>,
    /// Heartbeat pings in a row that got no reply: each makes the next one come sooner.
    unanswered_pings: u32,
    /// When the current group was joined (the heartbeat's health counts from here until the
    /// first `PONG`).
    joined_at: Option<Instant>,
    /// Also ask `!WHO` after each heartbeat `PONG`, to keep a member count fresh.
    refresh_members: bool,
    /// Also ask `!WHO` this often while in a group ([`Session::watch_members`]).
    members_every: Option<Duration>,
    /// When that `!WHO` is next due.
    next_who: Option<Instant>,
    reachability: Reachability,
    pending: VecDeque<Pending>,
    retries: Vec<Retry>,
    /// The user's last payloads, sent less than [`REPLY_TIMEOUT`] ago and since the member
    /// socket last heard from the server: a move to another server sends them again, since the
    /// server that stopped answering may never have had them.
    recent: VecDeque<(Instant, Vec<u8>)>,
    /// Payloads to send again once a rejoin on another server succeeds.
    resend: Vec<Vec<u8>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
}

impl Session {
    /// A session in no group, with no socket open yet.
    pub fn new() -> Session {
        Session {
            group: None,
            last_created: None,
            heartbeat: DEFAULT_HEARTBEAT,
            member: SocketId(0),
            member_clean: true,
            attempt: None,
            next_socket: 1,
            token: None,
            token_answered: false,
            last_ping: None,
            last_pong: None,
            unanswered_pings: 0,
            joined_at: None,
            refresh_members: false,
            members_every: None,
            next_who: None,
            reachability: Reachability::Unknown,
            pending: VecDeque::new(),
            retries: Vec::new(),
            recent: VecDeque::new(),
            resend: Vec::new(),
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

    /// Sends a command for the user. `!CREATE` and `!JOIN` go out on a socket in no group.
    pub fn command(&mut self, now: Instant, command: Command) {
        let socket = match command {
            Command::Create { .. } | Command::Join(_) => self.socket_for_membership(),
            Command::Leave(_) | Command::Ping(_) | Command::Who => self.member,
        };
        self.request(now, socket, Request::Command(command), Purpose::User);
    }

    /// Creates a group and, once its id arrives, joins it (from the same socket).
    pub fn create_and_join(&mut self, now: Instant, cap: Option<u32>) {
        let socket = self.socket_for_membership();
        let create = Request::Command(Command::Create { cap });
        self.request(now, socket, create, Purpose::CreateAndJoin);
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
        let socket = self.member;
        self.transmits.push_back(Transmit::Send { socket, datagram: payload.to_vec() });
        let deadline = now + REPLY_TIMEOUT;
        let (request, purpose) = (Request::Payload, Purpose::User);
        self.pending.push_back(Pending { socket, request, purpose, deadline, tries: 0 });
        self.recent.retain(|(sent, _)| now.saturating_duration_since(*sent) < REPLY_TIMEOUT);
        if self.recent.len() == RECENT_PAYLOADS {
            self.recent.pop_front();
        }
        self.recent.push_back((now, payload.to_vec()));
        Ok(())
    }

    // ---- What the network brings ----

    /// Takes in a datagram that came from the server's address on `socket`: a reply if it
    /// answers a request outstanding on that socket, otherwise a peer's payload.
    pub fn handle_datagram(&mut self, now: Instant, socket: SocketId, datagram: &[u8]) {
        if socket == self.member {
            // The server was alive after the payloads sent before now: a move need not send
            // those again.
            self.recent.clear();
        }
        let group = self.group;
        let answered = Reply::parse(datagram).and_then(|reply| {
            let index = self
                .pending
                .iter()
                .position(|p| p.socket == socket && matching::answers(&p.request, &reply, group))?;
            Some((self.pending.remove(index).expect("index from position"), reply))
        });
        match answered {
            Some((pending, reply)) => {
                self.set_reachability(Reachability::Reachable);
                self.apply(now, pending, reply);
            }
            None if datagram.is_empty() => {}
            // Only the member socket is in a group; anything else on another socket is no
            // one's message (a late reply to a request given up on).
            None if socket == self.member => {
                self.events.push_back(Event::Payload(datagram.to_vec()))
            }
            None => {}
        }
    }

    /// The network reported the server's port closed (ICMP port unreachable). Reported (and
    /// `true` returned) while the user waits for a reply; otherwise only a heartbeat was in
    /// flight, and its own silence will be reported if it lasts (a server that restarts is
    /// briefly closed, and that is no news).
    pub fn handle_unreachable(&mut self) -> bool {
        if !self.awaiting_user_reply() {
            return false;
        }
        self.set_reachability(Reachability::Unreachable);
        true
    }

    /// Runs what is due at `now`: reply deadlines, retries and the heartbeat.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(index) = self.pending.iter().position(|p| p.deadline <= now) {
            let pending = self.pending.remove(index).expect("index from position");
            self.expire(pending);
        }
        self.send_retries(now);
        if self.next_ping().is_some_and(|due| due <= now) {
            self.ping(now, self.ping_argument());
        }
        if let (Some(every), Some(due)) = (self.members_every, self.due_who())
            && due <= now
        {
            self.next_who = Some(now + every);
            let who = Request::Command(Command::Who);
            self.request(now, self.member, who, Purpose::Heartbeat);
        }
    }

    /// Also asks `!WHO` every `every` (at least a second) while in a group, starting at once,
    /// so that a member count is never older than that; `None` stops it. The replies come as
    /// heartbeat [`Event::Reply`]s.
    pub fn watch_members(&mut self, now: Instant, every: Option<Duration>) {
        self.members_every = every.map(|every| every.max(MIN_PING_INTERVAL));
        self.next_who = every.map(|_| now);
    }

    // ---- What to do next ----

    /// The next datagram to send or socket to close.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next thing to report.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deadlines = self.pending.iter().map(|p| p.deadline);
        let retries = self.retries.iter().map(|r| r.due);
        deadlines.chain(retries).chain(self.next_ping()).chain(self.due_who()).min()
    }

    // ---- What the user may look at ----

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

    // ---- Inside ----

    /// A rejoin is under way (or waits to be sent again).
    fn rejoining(&self) -> bool {
        self.pending.iter().any(|p| p.purpose == Purpose::Rejoin)
            || self.retries.iter().any(|r| r.purpose == Purpose::Rejoin)
    }

    /// When the next watched `!WHO` is due: only in a group, and not while rejoining.
    fn due_who(&self) -> Option<Instant> {
        self.group?;
        self.next_who.filter(|_| !self.rejoining())
    }

    /// How long after the last ping the next one goes. After an unanswered one, sooner:
    /// 2 s, 4 s, 8 s… (never later than the interval), so that one lost `PONG`, above all the
    /// first, which tells the interval, does not leave us silent until the server drops us.
    fn ping_wait(&self) -> Duration {
        let interval = self.ping_interval();
        match self.unanswered_pings {
            0 => interval,
            n => REPLY_TIMEOUT.saturating_mul(1 << (n - 1).min(16)).min(interval),
        }
    }

    /// What a heartbeat ping carries: the latest token; a request for one until the server
    /// has answered such a request; nothing for a server that gives none.
    fn ping_argument(&self) -> Option<PingArg> {
        match (self.token, self.token_answered) {
            (Some(token), _) => Some(PingArg::Token(token)),
            (None, false) => Some(PingArg::Request),
            (None, true) => None,
        }
    }

    fn request(&mut self, now: Instant, socket: SocketId, request: Request, purpose: Purpose) {
        self.send_request(now, socket, request, purpose, 0);
    }

    fn send_request(
        &mut self,
        now: Instant,
        socket: SocketId,
        request: Request,
        purpose: Purpose,
        tries: u32,
    ) {
        if let Request::Command(command) = request {
            if matches!(command, Command::Join(_)) && socket == self.member {
                self.member_clean = false;
            }
            self.transmits.push_back(Transmit::Send { socket, datagram: command.to_bytes() });
        }
        let deadline = now + REPLY_TIMEOUT;
        self.pending.push_back(Pending { socket, request, purpose, deadline, tries });
    }

    /// A heartbeat ping from the member socket. Chatting does not postpone it: a relayed
    /// payload is never acknowledged, so only a `PONG` shows the server still has us.
    fn ping(&mut self, now: Instant, argument: Option<PingArg>) {
        self.last_ping = Some(now);
        let ping = Request::Command(Command::Ping(argument));
        self.request(now, self.member, ping, Purpose::Heartbeat);
    }

    fn set_reachability(&mut self, reachability: Reachability) {
        if self.reachability != reachability {
            self.reachability = reachability;
            self.events.push_back(Event::Reachability(reachability));
        }
    }
}
