//! [`Client`]: the async API. Each group the client is in has its own membership (a task with
//! its own sockets: the protocol gives an address one group); commands outside any group go
//! from a membership of their own, the lobby.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use udprelay_shared::{Command, ErrorReply, GroupId, Reply};

use crate::e2e::{Identity, Invite, Secret};
use crate::event::{Event, Status};
use crate::membership::{self, IdentitySource, Order, Outgoing, Registry, Shared, Slot};
use crate::message::Name;
use crate::{Error, Server, servers};

/// How many events wait for the program at most; past that they are dropped and counted
/// ([`Event::Lagged`]), so a flood cannot grow memory in a program that stopped reading.
pub const EVENT_CAPACITY: usize = 4096;

/// The port of a server named without one.
pub const DEFAULT_PORT: u16 = 5000;

/// How to reach the server, and what to be called.
#[derive(Debug, Clone)]
pub struct Config {
    servers: Servers,
    default_port: u16,
    name: Option<Name>,
    identity: Option<Identity>,
    identity_file: Option<std::path::PathBuf>,
}

/// The servers, as named or as found.
#[derive(Debug, Clone)]
enum Servers {
    Named(String),
    Found(Vec<Server>),
}

impl Config {
    /// `servers`: `HOST`, `HOST:PORT`, or several comma-separated (the nodes of a cluster:
    /// the first is used, the next when it stops answering). IPv6 addresses in brackets when
    /// a port follows.
    pub fn new(servers: impl Into<String>) -> Config {
        let servers = Servers::Named(servers.into());
        Config::with(servers)
    }

    fn with(servers: Servers) -> Config {
        let (name, identity, identity_file) = (None, None, None);
        Config { servers, default_port: DEFAULT_PORT, name, identity, identity_file }
    }

    /// Servers already found with [`crate::resolve`] (at least one).
    pub fn with_servers(servers: Vec<Server>) -> Config {
        Config::with(Servers::Found(servers))
    }

    /// The port for servers named without one (5000 unless set).
    pub fn default_port(mut self, port: u16) -> Config {
        self.default_port = port;
        self
    }

    /// Sends messages as `NAME: text`.
    pub fn name(mut self, name: Name) -> Config {
        self.name = Some(name);
        self
    }

    /// Signs messages in private groups as `identity` (keep it, so that peers recognise
    /// the client across runs; without one, the client makes a new one).
    pub fn identity(mut self, identity: Identity) -> Config {
        self.identity = Some(identity);
        self
    }

    /// Signs messages in private groups as the identity kept in `path`, made there the first
    /// time a private group needs one ([`Identity::load_or_create`]).
    pub fn identity_file(mut self, path: impl Into<std::path::PathBuf>) -> Config {
        self.identity_file = Some(path.into());
        self
    }

    /// Finds the servers and starts the client. Nothing is sent yet: UDP has no connection,
    /// so a server that is down shows when a command goes unanswered ([`Client::ping`]
    /// asks at once).
    pub async fn connect(self) -> Result<(Client, Events), Error> {
        let servers = match self.servers {
            Servers::Named(list) => {
                servers::resolve(&list, self.default_port).map_err(Error::Servers)?
            }
            Servers::Found(servers) if servers.is_empty() => {
                return Err(Error::Servers("no server given".into()));
            }
            Servers::Found(servers) => servers,
        };
        let (events_tx, events) = mpsc::channel(EVENT_CAPACITY);
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let shared = Shared {
            servers: servers.into(),
            events: events_tx,
            registry: Arc::new(Mutex::new(Registry::default())),
            identity: Arc::new(IdentitySource {
                given: self.identity,
                file: self.identity_file,
                loaded: std::sync::OnceLock::new(),
            }),
            started: started.map_or(0, |since| since.as_secs()),
        };
        let name = Arc::new(Mutex::new(self.name));
        Ok((Client { shared, name }, Events { events }))
    }
}

/// The stream of [`Event`]s from every group of one [`Client`], in the order they happened in
/// each group. It ends once the client is closed (or dropped) and its groups are gone.
pub struct Events {
    events: mpsc::Receiver<Event>,
}

impl Events {
    /// The next event; `None` once the client is closed.
    pub async fn recv(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    pub(crate) fn blocking_recv(&mut self) -> Option<Event> {
        self.events.blocking_recv()
    }
}

/// A udprelay client: in any number of groups on one server (or cluster) at once. Cheap to
/// clone; every clone is the same client. Dropping the last clone leaves every group (as
/// [`Client::close`] does, without waiting).
#[derive(Clone)]
pub struct Client {
    shared: Shared,
    name: Arc<Mutex<Option<Name>>>,
}

impl Client {
    /// [`Config::new`]`(servers).`[`connect`](Config::connect)`()`.
    pub async fn connect(servers: &str) -> Result<(Client, Events), Error> {
        Config::new(servers).connect().await
    }

    /// The servers, in the order they are tried.
    pub fn servers(&self) -> &[Server] {
        &self.shared.servers
    }

    /// The name messages are sent under.
    pub fn name(&self) -> Option<Name> {
        self.name.lock().expect("name").clone()
    }

    /// Changes the name messages are sent under (`None`: anonymous).
    pub fn set_name(&self, name: Option<Name>) {
        *self.name.lock().expect("name") = name;
    }

    /// The groups the client is in (or joining).
    pub fn groups(&self) -> Vec<GroupId> {
        let registry = self.shared.registry.lock().expect("registry");
        let mut groups: Vec<GroupId> = registry.groups.keys().copied().collect();
        groups.sort_by_key(|group| group.to_string());
        groups
    }

    /// Joins `group`. Its messages then come as [`Event::Message`]; the client keeps the
    /// membership alive (heartbeat, address validation, rejoining a server that forgot it)
    /// until [`Client::leave`].
    pub async fn join(&self, group: GroupId) -> Result<(), Error> {
        self.join_with(group, None).await
    }

    /// Joins the group of `invite`: a private group (with the invite's secret), or a plain
    /// one. The client's own servers are used (connect to `invite.server` for the invite's).
    pub async fn join_invite(&self, invite: &Invite) -> Result<(), Error> {
        self.join_with(invite.group, invite.secret.clone()).await
    }

    async fn join_with(&self, group: GroupId, secret: Option<Secret>) -> Result<(), Error> {
        let private = self.private(secret)?;
        let (done, answer) = oneshot::channel();
        let order = Order::Join { group, done };
        if membership::start(&self.shared, Slot::Group(group), private, Some(order)).is_none() {
            return Err(Error::AlreadyJoined(group));
        }
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Creates a private group (of at most `cap` members) and joins it: its messages are
    /// sealed so that only holders of its invite can read them (docs/protocol.md,
    /// "End-to-end encrypted payloads"). Returns the invite to share.
    pub async fn create_private(&self, cap: Option<u32>) -> Result<Invite, Error> {
        let secret = Secret::random();
        let group = self.create_with(cap, Some(secret.clone())).await?;
        Ok(Invite { server: self.invite_server(), group, secret: Some(secret) })
    }

    /// The invite to a group the client is in: with its secret, for a private group.
    pub fn invite(&self, group: GroupId) -> Option<Invite> {
        let registry = self.shared.registry.lock().expect("registry");
        let secret = registry.groups.get(&group)?.secret.clone();
        drop(registry);
        Some(Invite { server: self.invite_server(), group, secret })
    }

    /// The server in use, as an invite names it: `HOST:PORT`, without the address a name
    /// that stands for several is shown with.
    fn invite_server(&self) -> String {
        let status = self.status(None).map(|status| status.server);
        let label = status.unwrap_or_else(|| self.shared.servers[0].label.clone());
        label.split(" (").next().unwrap_or(&label).to_string()
    }

    /// The identity this client signs with in private groups (read or made now, when it
    /// comes from a file and no private group needed it yet).
    pub fn identity(&self) -> Result<Identity, Error> {
        self.shared.identity.get()
    }

    /// A private group's secret with the identity to sign with.
    fn private(&self, secret: Option<Secret>) -> Result<Option<(Secret, Identity)>, Error> {
        secret.map(|secret| Ok((secret, self.identity()?))).transpose()
    }

    /// Creates a group (of at most `cap` members; the server's default without one) and
    /// joins it; returns its id, to give to whoever should join.
    pub async fn create_and_join(&self, cap: Option<u32>) -> Result<GroupId, Error> {
        self.create_with(cap, None).await
    }

    async fn create_with(
        &self,
        cap: Option<u32>,
        secret: Option<Secret>,
    ) -> Result<GroupId, Error> {
        let private = self.private(secret)?;
        let (done, answer) = oneshot::channel();
        let order = Order::CreateAndJoin { cap, done };
        membership::start(&self.shared, Slot::Creating, private, Some(order));
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Creates a group without joining it.
    pub async fn create(&self, cap: Option<u32>) -> Result<GroupId, Error> {
        match self.request(None, Command::Create { cap }).await? {
            Reply::Created(group) => Ok(group),
            other => Err(refused(other)),
        }
    }

    /// Leaves `group`: `Ok` once the server says so. Whatever the answer (none, or an error),
    /// the client is out of the group afterwards.
    pub async fn leave(&self, group: GroupId) -> Result<(), Error> {
        match self.request(Some(group), Command::Leave(group)).await? {
            Reply::Left(_) => Ok(()),
            other => Err(refused(other)),
        }
    }

    /// How many members `group` has, this client included.
    pub async fn who(&self, group: GroupId) -> Result<usize, Error> {
        match self.request(Some(group), Command::Who).await? {
            Reply::Who { members, .. } => Ok(members),
            other => Err(refused(other)),
        }
    }

    /// Asks the server whether it is there: `Ok` once it answers (outside a group it answers
    /// `ERR NOT_IN_GROUP`, which is an answer too); [`Error::NoReply`] or
    /// [`Error::Unreachable`] when it does not.
    pub async fn ping(&self) -> Result<(), Error> {
        self.request(None, Command::Ping(None)).await.map(|_| ())
    }

    /// Sends `command` from the membership in group `on` (or, with `None`, from outside any
    /// group) and returns the server's reply as it came, errors included: for a tool that
    /// shows the server's own words. `!JOIN` has [`Client::join`] and
    /// [`Client::create_and_join`] instead.
    pub async fn request(&self, on: Option<GroupId>, command: Command) -> Result<Reply, Error> {
        if let Command::Join(_) = command {
            return Err(Error::Usage(command, "use join() or create_and_join()"));
        }
        let (done, answer) = oneshot::channel();
        self.order(on, Order::Request { command, done })?;
        answer.await.map_err(|_| on.map_or(Error::Closed, Error::NotJoined))?
    }

    /// Sends `text` to `group`, as `NAME: text` when the client has a name; sealed, in a
    /// private group.
    pub async fn send(&self, group: GroupId, text: &str) -> Result<(), Error> {
        self.send_as(group, self.name(), text).await
    }

    /// [`Client::send`] under `name` (for a program whose user changes it as they go).
    pub async fn send_as(
        &self,
        group: GroupId,
        name: Option<Name>,
        text: &str,
    ) -> Result<(), Error> {
        let outgoing = Outgoing::Text { name, text: text.to_string() };
        self.send_outgoing(group, outgoing).await
    }

    /// Sends `payload` to `group` as it is (no name put before it). It must not start with
    /// `!` (the relay would take it for a command) and fit one datagram (4096 bytes).
    pub async fn send_bytes(&self, group: GroupId, payload: &[u8]) -> Result<(), Error> {
        match payload.first() {
            None => Err(Error::EmptyMessage),
            Some(b'!') => Err(Error::LooksLikeCommand),
            Some(_) => self.send_outgoing(group, Outgoing::Bytes(payload.to_vec())).await,
        }
    }

    async fn send_outgoing(&self, group: GroupId, outgoing: Outgoing) -> Result<(), Error> {
        let (done, answer) = oneshot::channel();
        self.order(Some(group), Order::Send { outgoing, done })?;
        answer.await.map_err(|_| Error::NotJoined(group))?
    }

    /// Also asks `group`'s member count every `every` (at least a second; `None`: only after
    /// each heartbeat), reported as [`Event::Members`]: for a count shown to someone.
    pub fn watch_members(&self, group: GroupId, every: Option<Duration>) -> Result<(), Error> {
        self.order(Some(group), Order::WatchMembers(every))
    }

    /// The state of the membership in `group` (with `None`, of the lobby, where commands
    /// outside any group go; `None` before it was first used).
    pub fn status(&self, group: Option<GroupId>) -> Option<Status> {
        let registry = self.shared.registry.lock().expect("registry");
        let handle = match group {
            Some(group) => registry.groups.get(&group)?,
            None => registry.lobby.as_ref()?,
        };
        handle.status.lock().expect("status").clone()
    }

    /// Leaves every group (a `!LEAVE` each, without waiting for the replies) and stops.
    pub async fn close(self) {
        let handles = self.shared.registry.lock().expect("registry").drain();
        for handle in &handles {
            let _ = handle.orders.send(Order::Close);
        }
        for handle in handles {
            handle.ended().await;
        }
    }

    /// Hands `order` to the membership in group `on` (or the lobby, started if need be).
    fn order(&self, on: Option<GroupId>, order: Order) -> Result<(), Error> {
        if on.is_none() {
            membership::start(&self.shared, Slot::Lobby, None, None);
        }
        let registry = self.shared.registry.lock().expect("registry");
        let handle = match on {
            Some(group) => registry.groups.get(&group).ok_or(Error::NotJoined(group))?,
            None => registry.lobby.as_ref().ok_or(Error::Closed)?,
        };
        handle.orders.send(order).map_err(|_| on.map_or(Error::Closed, Error::NotJoined))
    }
}

/// A reply that is not the one asked for: the server's error, or (never from a server that
/// keeps the protocol) something else, said as the server's unknown command.
fn refused(reply: Reply) -> Error {
    match reply {
        Reply::Error(error) => Error::Refused(error),
        _ => Error::Refused(ErrorReply::UnknownCommand),
    }
}
