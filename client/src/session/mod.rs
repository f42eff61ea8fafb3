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
mod events;
mod health;
#[cfg(test)]
mod hostile_tests;
mod matching;
mod moving;
mod sockets;
mod state;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use udprelay_shared::limits::{DEFAULT_HEARTBEAT, MAX_DATAGRAM, MIN_PING_INTERVAL, REPLY_TIMEOUT};
use udprelay_shared::{Command, GroupId, PingArg, Reply, Token};

pub use events::{Event, PayloadError, Purpose, Reachability, Request, SocketId, Transmit};
pub use health::Health;

/// Most of the user's recent payloads a move to another server sends again.
const RECENT_PAYLOADS: usize = 16;

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
    /// Payloads sent less than [`REPLY_TIMEOUT`] ago, oldest first: the one reply a payload
    /// can get is `ERR NOT_IN_GROUP`. Apart from the commands, so that a program sending
    /// thousands a second does not make every turn look through them all.
    payloads: VecDeque<Pending>,
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
            payloads: VecDeque::new(),
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
        if payload.first().is_none_or(|first| *first == b'!') {
            return Err(PayloadError::NotAPayload);
        }
        if self.group.is_none() {
            return Err(PayloadError::NotJoined);
        }
        let socket = self.member;
        self.transmits.push_back(Transmit::Send { socket, datagram: payload.to_vec() });
        let deadline = now + REPLY_TIMEOUT;
        let (request, purpose) = (Request::Payload, Purpose::User);
        self.payloads.push_back(Pending { socket, request, purpose, deadline, tries: 0 });
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
        self.forget_payloads(now);
        let answered = Reply::parse(datagram).and_then(|reply| {
            let answers =
                |p: &Pending| p.socket == socket && matching::answers(&p.request, &reply, group);
            let pending = match self.pending.iter().position(answers) {
                Some(index) => self.pending.remove(index),
                None => {
                    let index = self.payloads.iter().position(answers)?;
                    self.payloads.remove(index)
                }
            };
            Some((pending.expect("index from position"), reply))
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
        self.forget_payloads(now);
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

    // ---- Inside ----

    /// Payloads unanswered for [`REPLY_TIMEOUT`] were relayed: nothing more can answer them.
    fn forget_payloads(&mut self, now: Instant) {
        while self.payloads.front().is_some_and(|p| p.deadline <= now) {
            self.payloads.pop_front();
        }
    }

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
