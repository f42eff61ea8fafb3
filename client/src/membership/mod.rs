//! One membership (one group, or none: the lobby, where commands outside any group go) as a
//! task: it owns a [`Session`] and its sockets ([`driver`]), carries out what the [`Client`]
//! orders, answers each order when the session has the answer, and reports the rest as
//! [`Event`]s.
//!
//! [`Client`]: crate::Client

mod driver;
mod registry;
mod report;
mod sockets;

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use udprelay_shared::{Command, GroupId, Reply};

use crate::Error;
use crate::e2e::{GroupKey, Identity, Pins, Reader, SealError, Secret};
use crate::event::{Event, Status};
use crate::message::{Name, compose};
use crate::session::{PayloadError, Session};
use driver::{Driver, Report};
pub(crate) use registry::{Handle, IdentitySource, Registry, Shared, Slot};

use report::StatusKey;

/// What the client asks of a membership.
pub(crate) enum Order {
    /// Join `group` (the first order of a membership made for it).
    Join { group: GroupId, done: oneshot::Sender<Result<(), Error>> },
    /// Create a group and join it (the first order of a membership made for it).
    CreateAndJoin { cap: Option<u32>, done: oneshot::Sender<Result<GroupId, Error>> },
    /// Send a command from the member socket; answered with the server's reply.
    Request { command: Command, done: oneshot::Sender<Result<Reply, Error>> },
    /// Send a message to the group.
    Send { outgoing: Outgoing, done: oneshot::Sender<Result<(), Error>> },
    /// Ask `!WHO` this often (`None`: only after each heartbeat).
    WatchMembers(Option<Duration>),
    /// Say `!LEAVE` if in a group, and end.
    Close,
}

/// What goes out: a text (sealed in a private group, `NAME: text` in a plain one), or bytes
/// as they are.
pub(crate) enum Outgoing {
    Text { name: Option<Name>, text: String },
    Bytes(Vec<u8>),
}

/// Starts a membership task in `slot` (of a private group with its secret, signing as the
/// identity, when `private` says so), with `first` as its first order; `None` when the slot
/// is taken (that group is already joined).
pub(crate) fn start(
    shared: &Shared,
    slot: Slot,
    private: Option<(Secret, Identity)>,
    first: Option<Order>,
) -> Option<()> {
    let mut registry = shared.registry.lock().expect("registry");
    let taken = match slot {
        Slot::Group(group) => registry.groups.contains_key(&group),
        Slot::Lobby => registry.lobby.is_some(),
        Slot::Creating => false,
    };
    if taken {
        return None;
    }
    let serial = registry.next_serial;
    registry.next_serial += 1;
    let (orders, inbox) = mpsc::unbounded_channel();
    if let Some(first) = first {
        let _ = orders.send(first);
    }
    let status = Arc::new(Mutex::new(None));
    let mut membership = Membership {
        driver: Driver::new(Arc::clone(&shared.servers), Session::with_member_refresh()),
        secret: private.clone(),
        private: None,
        identity_file: shared
            .identity
            .given
            .is_none()
            .then(|| shared.identity.file.clone())
            .flatten(),
        pins_file: None,
        started: shared.started,
        opening: None,
        waiting: Vec::new(),
        events: shared.events.clone(),
        missed: 0,
        registry: Arc::downgrade(&shared.registry),
        serial,
        slot,
        status: Arc::clone(&status),
        shown: None,
        reports: Vec::new(),
        network_refused: false,
        ended: false,
    };
    if let Slot::Group(group) = slot {
        membership.make_private(group);
    }
    let task = tokio::spawn(membership.run(inbox));
    let secret = private.map(|(secret, _)| secret);
    let handle = Handle { orders, status, secret, serial, task };
    match slot {
        Slot::Group(group) => registry.groups.insert(group, handle),
        Slot::Creating => registry.creating.insert(serial, handle),
        Slot::Lobby => registry.lobby.replace(handle),
    };
    Some(())
}

/// Now, in milliseconds since 1970: the time in and the time checked on envelopes.
fn unix_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |since| since.as_millis() as u64)
}

/// How long the loop sleeps when the session has nothing scheduled.
const IDLE: Duration = Duration::from_secs(3600);

/// The least time between two writes of a private group's pins (and at the end).
const KEEP_PINS_EVERY: Duration = Duration::from_secs(1);

/// Most datagrams taken in one turn of the loop.
const BATCH: usize = 64;

/// The join or create that opened a membership, until it is answered.
enum Opening {
    Join(oneshot::Sender<Result<(), Error>>),
    CreateAndJoin(oneshot::Sender<Result<GroupId, Error>>),
}

struct Membership {
    driver: Driver,
    /// A private group's secret and the identity to sign with; its reader once the group is
    /// known.
    secret: Option<(Secret, Identity)>,
    private: Option<Reader>,
    /// The identity file, beside which a private group's pins are kept (none for an identity
    /// given in memory); the pins' file once the group is known, and when it was last tried.
    identity_file: Option<std::path::PathBuf>,
    pins_file: Option<(std::path::PathBuf, Option<Instant>)>,
    started: u64,
    opening: Option<Opening>,
    /// Commands sent, awaiting their replies, in order.
    waiting: Vec<(Command, oneshot::Sender<Result<Reply, Error>>)>,
    events: mpsc::Sender<Event>,
    /// Events dropped because the program did not read them.
    missed: u64,
    /// Weak: the registry (with every membership's orders) goes with the last client, and
    /// then each membership says goodbye and ends.
    registry: Weak<Mutex<Registry>>,
    serial: u64,
    slot: Slot,
    status: Arc<Mutex<Option<Status>>>,
    /// What the status was last published from.
    shown: Option<StatusKey>,
    /// The driver's reports, between two flushes (kept for its allocation).
    reports: Vec<Report>,
    /// The network said the server's port is closed since the last reply: a command that then
    /// goes unanswered failed for that reason.
    network_refused: bool,
    ended: bool,
}

impl Membership {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Order>) {
        // One timer, moved when the session's next deadline moves (a new one each turn costs
        // more than the rest of a datagram's handling).
        let mut far = Instant::now() + IDLE;
        let timer = tokio::time::sleep_until(far.into());
        tokio::pin!(timer);
        loop {
            self.flush();
            if self.ended {
                self.farewell();
                break;
            }
            let now = Instant::now();
            if far <= now {
                far = now + IDLE;
            }
            let notice = self.private.as_ref().and_then(|reader| reader.next_notice(now));
            let notice = notice.into_iter().chain(self.pins_due(now));
            let deadline = self.driver.session.poll_timeout().into_iter().chain(notice).min();
            let deadline = deadline.unwrap_or(far);
            if timer.deadline() != deadline.into() {
                timer.as_mut().reset(deadline.into());
            }
            tokio::select! {
                biased;
                order = inbox.recv() => match order {
                    Some(Order::Close) | None => {
                        self.farewell();
                        break;
                    }
                    Some(order) => self.order(order),
                },
                (socket, received) = self.driver.sockets.recv() => {
                    if received.as_ref().is_err_and(|e| !sockets::is_unreachable(e)) {
                        // Unexpected; a pause keeps a persistent fault from spinning.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    self.driver.receive(Instant::now(), socket, received);
                    // What it brought goes out first (a bot's answer is waiting on it), then
                    // the datagrams behind it are taken in the same turn.
                    self.flush();
                    for _ in 1..BATCH {
                        let Some((socket, received)) = self.driver.sockets.try_recv() else {
                            break;
                        };
                        self.driver.receive(Instant::now(), socket, received);
                    }
                },
                () = &mut timer => {}
            }
            let now = Instant::now();
            self.driver.session.handle_timeout(now);
            self.say_notices(now);
            if self.pins_due(now).is_some_and(|due| due <= now) {
                self.keep_pins(now);
            }
        }
        self.keep_pins(Instant::now());
        self.deregister();
    }

    fn order(&mut self, order: Order) {
        let now = Instant::now();
        let session = &mut self.driver.session;
        match order {
            Order::Join { group, done } => {
                self.opening = Some(Opening::Join(done));
                session.command(now, Command::Join(group));
            }
            Order::CreateAndJoin { cap, done } => {
                self.opening = Some(Opening::CreateAndJoin(done));
                session.create_and_join(now, cap);
            }
            Order::Request { command, done } => {
                session.command(now, command);
                self.waiting.push((command, done));
            }
            Order::Send { outgoing, done } => {
                let payload = match self.seal(outgoing) {
                    Ok(payload) => payload,
                    Err(error) => {
                        let _ = done.send(Err(error));
                        return;
                    }
                };
                self.send(now, payload, done);
            }
            Order::WatchMembers(every) => session.watch_members(now, every),
            Order::Close => unreachable!("handled by the loop"),
        }
    }

    /// A message as it goes out: sealed in a private group, `NAME: text` in a plain one.
    fn seal(&mut self, outgoing: Outgoing) -> Result<Vec<u8>, Error> {
        match (outgoing, &mut self.private) {
            (Outgoing::Bytes(bytes), _) => Ok(bytes),
            (Outgoing::Text { name, text }, Some(reader)) => {
                let sealed = reader.seal(name.as_ref(), &text, unix_ms());
                sealed.map(String::into_bytes).map_err(|error| match error {
                    SealError::TooLong { len, max } => Error::TooLong { len, max },
                    SealError::Empty => Error::EmptyMessage,
                })
            }
            (Outgoing::Text { name, text }, None) => compose(name.as_ref(), &text),
        }
    }

    fn send(&mut self, now: Instant, payload: Vec<u8>, done: oneshot::Sender<Result<(), Error>>) {
        match self.driver.session.send_payload(now, &payload) {
            Ok(()) => {
                let _ = done.send(Ok(()));
            }
            Err(PayloadError::TooLong(len)) => {
                let max = udprelay_shared::limits::MAX_DATAGRAM;
                let _ = done.send(Err(Error::TooLong { len, max }));
            }
            Err(PayloadError::NotAPayload) => {
                let error = match payload.is_empty() {
                    true => Error::EmptyMessage,
                    false => Error::LooksLikeCommand,
                };
                let _ = done.send(Err(error));
            }
            Err(PayloadError::NotJoined) => {
                let _ = done.send(Err(self.group().map_or(Error::Closed, Error::NotJoined)));
            }
        }
    }

    /// The group is known: a private one gets its reader, which takes back the pins kept
    /// beside the identity file.
    fn make_private(&mut self, group: GroupId) {
        if let Some((secret, identity)) = &self.secret {
            let key = GroupKey::derive(secret, group);
            let mut reader = Reader::new(key, identity.clone(), self.started);
            if let Some(identity_file) = &self.identity_file {
                let path = Pins::path(identity_file, reader.key());
                reader.remember(Pins::load(&path), Instant::now());
                self.pins_file = Some((path, None));
            }
            self.private = Some(reader);
        }
    }

    /// When the pins are next to be written, at `now`: once they changed, at most every
    /// [`KEEP_PINS_EVERY`] (a time already past when they are due).
    fn pins_due(&self, now: Instant) -> Option<Instant> {
        let (Some(reader), Some((_, tried))) = (&self.private, &self.pins_file) else {
            return None;
        };
        reader.pins_changed().then(|| tried.map_or(now, |at| at + KEEP_PINS_EVERY))
    }

    /// Writes the pins, when they changed. A write that fails is tried again a
    /// [`KEEP_PINS_EVERY`] later, as the next change would be.
    fn keep_pins(&mut self, now: Instant) {
        let (Some(reader), Some((path, tried))) = (&mut self.private, &mut self.pins_file) else {
            return;
        };
        if reader.pins_changed() {
            if reader.pins().save(path).is_ok() {
                reader.pins_kept();
            }
            *tried = Some(now);
        }
    }

    /// Leaves the group, so that the others' count is right at once.
    fn farewell(&mut self) {
        if let Some(group) = self.driver.session.group() {
            self.driver.send_raw(&Command::Leave(group).to_bytes());
        }
    }

    /// The membership is over: it leaves the registry at once (the program, told in the same
    /// turn, may join the same group again), and its loop stops.
    fn end(&mut self) {
        self.ended = true;
        self.deregister();
    }

    fn deregister(&mut self) {
        let Some(registry) = self.registry.upgrade() else { return };
        let mut registry = registry.lock().expect("registry");
        let serial = self.serial;
        let ours = |handle: &Handle| handle.serial == serial;
        match self.slot {
            Slot::Group(group) => {
                if registry.groups.get(&group).is_some_and(ours) {
                    registry.groups.remove(&group);
                }
            }
            Slot::Creating => {
                registry.creating.remove(&serial);
            }
            Slot::Lobby => {
                if registry.lobby.as_ref().is_some_and(ours) {
                    registry.lobby = None;
                }
            }
        }
    }

    /// A created group is joined: its membership is found by the group from now on.
    fn created(&mut self, group: GroupId) {
        let serial = self.serial;
        self.slot = Slot::Group(group);
        self.make_private(group);
        let Some(registry) = self.registry.upgrade() else { return };
        let mut registry = registry.lock().expect("registry");
        if let Some(handle) = registry.creating.remove(&serial) {
            registry.groups.entry(group).or_insert(handle);
        }
    }

    /// The group: known from the start for a join, once created for a create; none for the
    /// lobby.
    fn group(&self) -> Option<GroupId> {
        match self.slot {
            Slot::Group(group) => Some(group),
            Slot::Creating | Slot::Lobby => None,
        }
    }

    /// Sends and reports what the session has queued.
    fn flush(&mut self) {
        // One buffer for the whole life of the membership: this runs once a datagram.
        let mut reports = std::mem::take(&mut self.reports);
        self.driver.flush(&mut reports);
        for report in reports.drain(..) {
            match report {
                Report::Session(event) => self.session_event(event),
                Report::Unreachable => {
                    self.network_refused = true;
                    let server = self.driver.server().label.clone();
                    self.emit(Event::Unreachable { group: self.group(), server });
                }
                Report::SendFailed(reason) => {
                    self.emit(Event::SendFailed { group: self.group(), reason })
                }
                Report::Moved { from, to, group } => self.emit(Event::Moved { group, from, to }),
            }
        }
        self.reports = reports;
        self.publish_status();
    }
}
