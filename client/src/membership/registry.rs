//! Where a client keeps its memberships: by group, those whose group is still being created,
//! and the lobby (commands outside any group).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use udprelay_shared::GroupId;

use super::Order;
use crate::Error;
use crate::Server;
use crate::e2e::{Identity, Secret};
use crate::event::{Event, Status};

/// The client's end of a membership.
pub(crate) struct Handle {
    pub(crate) orders: mpsc::UnboundedSender<Order>,
    pub(crate) status: Arc<Mutex<Option<Status>>>,
    /// A private group's secret, for its invite.
    pub(crate) secret: Option<Secret>,
    pub(super) serial: u64,
    pub(super) task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Waits for the task to end (after [`Order::Close`]), at most a second.
    pub(crate) async fn ended(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.task).await;
    }
}

/// Every membership of one client: by group, those whose group is still being created, and
/// the lobby.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) groups: HashMap<GroupId, Handle>,
    pub(super) creating: HashMap<u64, Handle>,
    pub(crate) lobby: Option<Handle>,
    pub(super) next_serial: u64,
}

impl Registry {
    /// Every handle, taken out (the client is closing).
    pub(crate) fn drain(&mut self) -> Vec<Handle> {
        let groups = self.groups.drain().map(|(_, handle)| handle);
        groups.chain(self.creating.drain().map(|(_, h)| h)).chain(self.lobby.take()).collect()
    }
}

/// Where a membership is kept in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Group(GroupId),
    Creating,
    Lobby,
}

/// What the memberships share: the servers, the events' way out, the registry.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) servers: Arc<[Server]>,
    pub(crate) events: mpsc::Sender<Event>,
    /// What this client signs its messages in private groups with.
    pub(crate) identity: Arc<IdentitySource>,
    /// When it started (seconds since 1970): the start of its counters in private groups.
    pub(crate) started: u64,
    pub(crate) registry: Arc<Mutex<Registry>>,
}

/// Where a client's identity comes from: given, from a file (read or made the first time a
/// private group needs it, so that a client that never uses one touches no file), or made
/// for this run.
pub(crate) struct IdentitySource {
    pub(crate) given: Option<Identity>,
    pub(crate) file: Option<std::path::PathBuf>,
    pub(crate) loaded: std::sync::OnceLock<Result<Identity, String>>,
}

impl IdentitySource {
    pub(crate) fn get(&self) -> Result<Identity, Error> {
        if let Some(identity) = &self.given {
            return Ok(identity.clone());
        }
        let loaded = self.loaded.get_or_init(|| match &self.file {
            Some(path) => Identity::load_or_create(path).map_err(|error| {
                format!("cannot use the identity file {}: {error}", path.display())
            }),
            None => Ok(Identity::generate()),
        });
        loaded.clone().map_err(Error::Io)
    }
}
