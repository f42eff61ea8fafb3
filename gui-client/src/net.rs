//! The window's network: each row in the left panel is a [`Client`] of its own (one group,
//! one socket), running on a runtime on a thread of its own. What a client reports is passed
//! to the UI over a channel, and wakes the window.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_channel::Sender;
use udprelay_client::e2e::{Invite, Secret};
use udprelay_client::{Client, Config, Error, Event, GroupId, Name, Server};

/// Which row an update is about.
pub type LinkId = u64;

/// How often the selected group's member count is asked for.
pub const MEMBERS_EVERY: Duration = Duration::from_secs(5);

/// What the UI asks a row's client to do first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Create a group (capped at `cap` members, end-to-end encrypted when `encrypted`) and
    /// join it.
    Create { cap: Option<u32>, encrypted: bool },
    /// Join a group (a private one with its secret).
    Join { group: GroupId, secret: Option<Secret> },
}

/// What a row's client tells the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The create or join it was opened for: the group joined, or why not.
    Answer(Result<GroupId, Error>),
    /// Something that happened since.
    Event(Event),
}

/// The UI's end of one row's client. Dropping it leaves the group.
pub struct LinkHandle {
    client: Client,
    group: Option<GroupId>,
}

impl LinkHandle {
    /// The group is joined: sends and member counts go to it from now on.
    pub fn joined(&mut self, group: GroupId) {
        self.group = Some(group);
    }

    /// Sends `text` as `name` (sealed in a private group); the UI checked it and membership
    /// first, so a refusal here has nothing new to say.
    pub fn send(&self, name: Option<Name>, text: String) {
        let (client, Some(group)) = (self.client.clone(), self.group) else { return };
        runtime().spawn(async move { client.send_as(group, name, &text).await });
    }

    /// The fingerprint of the identity this row's client signs with.
    pub fn identity_fingerprint(&self) -> Option<String> {
        self.client.identity().ok().map(|identity| identity.fingerprint())
    }

    /// The group's invite (with its secret, for a private group).
    pub fn invite(&self) -> Option<Invite> {
        self.client.invite(self.group?)
    }

    /// Asks for the member count every few seconds while `selected`.
    pub fn watch_members(&self, selected: bool) {
        if let Some(group) = self.group {
            let _ = self.client.watch_members(group, selected.then_some(MEMBERS_EVERY));
        }
    }
}

impl Drop for LinkHandle {
    fn drop(&mut self) {
        let client = self.client.clone();
        runtime().spawn(async move { client.close().await });
    }
}

/// The runtime every row's client runs on, started with the first.
fn runtime() -> &'static tokio::runtime::Handle {
    static RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the network");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("udprelay-network".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("a thread for the network");
        handle
    })
}

/// Starts a client for row `id` on `servers` that carries out `first` at once, signing in
/// private groups with the identity kept in `identity` (one made for it when `None`).
pub fn open(
    id: LinkId,
    servers: Vec<Server>,
    identity: Option<PathBuf>,
    first: Order,
    updates: Sender<(LinkId, Update)>,
    wake: impl Fn() + Send + Sync + 'static,
) -> LinkHandle {
    let runtime = runtime();
    let mut config = Config::with_servers(servers);
    if let Some(path) = identity {
        config = config.identity_file(path);
    }
    let (client, mut events) = runtime.block_on(config.connect()).expect("servers were given");
    let group = match first {
        Order::Join { group, .. } => Some(group),
        Order::Create { .. } => None,
    };
    let opening = client.clone();
    runtime.spawn(async move {
        let tell = |update| {
            let sent = updates.send((id, update)).is_ok();
            wake();
            sent
        };
        let answer = {
            // Owns its clone of the client, and goes at the end of this block: the events
            // end once the row's handle has gone too.
            let answer = async move {
                match first {
                    Order::Create { cap, encrypted: false } => opening.create_and_join(cap).await,
                    Order::Create { cap, encrypted: true } => {
                        opening.create_private(cap).await.map(|invite| invite.group)
                    }
                    Order::Join { group, secret } => {
                        let invite = Invite { server: String::new(), group, secret };
                        opening.join_invite(&invite).await.map(|()| group)
                    }
                }
            };
            let mut answer = std::pin::pin!(answer);
            loop {
                tokio::select! {
                    answer = &mut answer => break answer,
                    Some(event) = events.recv() => {
                        tell(Update::Event(event));
                    }
                }
            }
        };
        // What happened on the way (a move to another server) comes first.
        while let Some(event) = events.try_recv() {
            tell(Update::Event(event));
        }
        let joined = answer.is_ok();
        if !tell(Update::Answer(answer)) || !joined {
            return;
        }
        while let Some(event) = events.recv().await {
            if !tell(Update::Event(event)) {
                return; // the window is gone
            }
        }
    });
    LinkHandle { client, group }
}
