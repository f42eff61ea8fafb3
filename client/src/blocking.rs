//! The same client for a program that does not use async: every method waits for its answer.
//! A small runtime on a thread of its own keeps the memberships alive (heartbeats, rejoins)
//! between calls.
//!
//! ```no_run
//! use udprelay_client::blocking::Client;
//!
//! let (client, mut events) = Client::connect("127.0.0.1:5000")?;
//! let group = client.create_and_join(None)?;
//! client.send(group, "hello")?;
//! if let Some(event) = events.recv() {
//!     println!("{event:?}");
//! }
//! # Ok::<(), udprelay_client::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use udprelay_shared::{Command, GroupId, Reply};

use crate::e2e::Invite;
use crate::event::{Event, Status};
use crate::message::Name;
use crate::{Config, Error, Server};

/// A [`crate::Client`] whose methods wait. Cheap to clone; dropping the last clone leaves
/// every group, as [`Client::close`] does.
#[derive(Clone)]
pub struct Client {
    client: crate::Client,
    runtime: tokio::runtime::Handle,
    _thread: Arc<RuntimeThread>,
}

/// The runtime's thread: when the last clone goes, the groups are left and the thread ends.
struct RuntimeThread {
    client: crate::Client,
    runtime: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        // Waiting is not allowed inside a runtime (a program that drops this in async code):
        // there the memberships still say goodbye as their orders close, if that runtime runs.
        if tokio::runtime::Handle::try_current().is_err() {
            self.runtime.block_on(self.client.clone().close());
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The client's events, waited for.
pub struct Events {
    events: crate::Events,
    runtime: tokio::runtime::Handle,
}

impl Events {
    /// The next event; `None` once the client is closed.
    pub fn recv(&mut self) -> Option<Event> {
        self.events.blocking_recv()
    }

    /// The next event, waiting at most `wait`.
    pub fn recv_timeout(&mut self, wait: Duration) -> Option<Event> {
        let events = &mut self.events;
        self.runtime.block_on(async { tokio::time::timeout(wait, events.recv()).await.ok()? })
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.events.try_recv()
    }
}

impl Client {
    /// [`crate::Client::connect`], waited for.
    pub fn connect(servers: &str) -> Result<(Client, Events), Error> {
        Client::with_config(Config::new(servers))
    }

    /// [`Config::connect`], waited for.
    pub fn with_config(config: Config) -> Result<(Client, Events), Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| Error::Io(error.to_string()))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("udprelay-client".into())
            .spawn(move || runtime.block_on(async { stopped.await.ok() }))
            .map_err(|error| Error::Io(error.to_string()))?;
        let (client, events) = handle.block_on(config.connect())?;
        let events = Events { events, runtime: handle.clone() };
        let thread =
            RuntimeThread { client: client.clone(), runtime: handle.clone(), stop: Some(stop) };
        Ok((Client { client, runtime: handle, _thread: Arc::new(thread) }, events))
    }

    /// The async client underneath.
    pub fn as_async(&self) -> &crate::Client {
        &self.client
    }

    /// See [`crate::Client::servers`].
    pub fn servers(&self) -> &[Server] {
        self.client.servers()
    }

    /// See [`crate::Client::set_name`].
    pub fn set_name(&self, name: Option<Name>) {
        self.client.set_name(name);
    }

    /// See [`crate::Client::groups`].
    pub fn groups(&self) -> Vec<GroupId> {
        self.client.groups()
    }

    /// See [`crate::Client::join`].
    pub fn join(&self, group: GroupId) -> Result<(), Error> {
        self.runtime.block_on(self.client.join(group))
    }

    /// See [`crate::Client::create_and_join`].
    pub fn create_and_join(&self, cap: Option<u32>) -> Result<GroupId, Error> {
        self.runtime.block_on(self.client.create_and_join(cap))
    }

    /// See [`crate::Client::create_private`].
    pub fn create_private(&self, cap: Option<u32>) -> Result<Invite, Error> {
        self.runtime.block_on(self.client.create_private(cap))
    }

    /// See [`crate::Client::join_invite`].
    pub fn join_invite(&self, invite: &Invite) -> Result<(), Error> {
        self.runtime.block_on(self.client.join_invite(invite))
    }

    /// See [`crate::Client::invite`].
    pub fn invite(&self, group: GroupId) -> Option<Invite> {
        self.client.invite(group)
    }

    /// See [`crate::Client::create`].
    pub fn create(&self, cap: Option<u32>) -> Result<GroupId, Error> {
        self.runtime.block_on(self.client.create(cap))
    }

    /// See [`crate::Client::leave`].
    pub fn leave(&self, group: GroupId) -> Result<(), Error> {
        self.runtime.block_on(self.client.leave(group))
    }

    /// See [`crate::Client::who`].
    pub fn who(&self, group: GroupId) -> Result<usize, Error> {
        self.runtime.block_on(self.client.who(group))
    }

    /// See [`crate::Client::ping`].
    pub fn ping(&self) -> Result<(), Error> {
        self.runtime.block_on(self.client.ping())
    }

    /// See [`crate::Client::request`].
    pub fn request(&self, on: Option<GroupId>, command: Command) -> Result<Reply, Error> {
        self.runtime.block_on(self.client.request(on, command))
    }

    /// See [`crate::Client::send`].
    pub fn send(&self, group: GroupId, text: &str) -> Result<(), Error> {
        self.runtime.block_on(self.client.send(group, text))
    }

    /// See [`crate::Client::send_as`].
    pub fn send_as(&self, group: GroupId, name: Option<Name>, text: &str) -> Result<(), Error> {
        self.runtime.block_on(self.client.send_as(group, name, text))
    }

    /// See [`crate::Client::send_bytes`].
    pub fn send_bytes(&self, group: GroupId, payload: &[u8]) -> Result<(), Error> {
        self.runtime.block_on(self.client.send_bytes(group, payload))
    }

    /// See [`crate::Client::watch_members`].
    pub fn watch_members(&self, group: GroupId, every: Option<Duration>) -> Result<(), Error> {
        self.client.watch_members(group, every)
    }

    /// See [`crate::Client::status`].
    pub fn status(&self, group: Option<GroupId>) -> Option<Status> {
        self.client.status(group)
    }

    /// See [`crate::Client::close`].
    pub fn close(self) {
        let Client { client, runtime, .. } = self;
        runtime.block_on(client.close());
    }
}
