//! A real notification service for tests: a private D-Bus session bus ([`SessionBus`]) and on
//! it a small `org.freedesktop.Notifications` that keeps every `Notify` call and can click a
//! notification (its `ActionInvoked` signal), as a desktop would. It says it reads markup in
//! bodies (`body-markup`), as GNOME's and KDE's do. Point the program under test at
//! [`NotificationService::address`] with `DBUS_SESSION_BUS_ADDRESS`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use zbus::object_server::SignalEmitter;

use crate::SessionBus;
use zbus::zvariant::OwnedValue;

const PATH: &str = "/org/freedesktop/Notifications";

/// One `Notify` call, as the service got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    /// The id the service gave it (the one it replaced, when it replaced one).
    pub id: u32,
    pub replaces: u32,
    pub app: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

#[derive(Default)]
struct Server {
    got: Arc<Mutex<Vec<Notified>>>,
    next: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            self.next += 1;
            self.next
        };
        let notified =
            Notified { id, replaces: replaces_id, app: app_name, summary, body, actions };
        self.got.lock().unwrap_or_else(PoisonError::into_inner).push(notified);
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into(), "body-markup".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("udprelay-testkit".into(), "udprelay".into(), "0".into(), "1.2".into())
    }

    fn close_notification(&self, _id: u32) {}

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

/// The bus and the service on it; both end when this is dropped.
pub struct NotificationService {
    connection: Option<zbus::blocking::Connection>,
    got: Arc<Mutex<Vec<Notified>>>,
    /// Last: dropped after the connection.
    bus: SessionBus,
}

impl NotificationService {
    /// Starts a session bus of its own (Debian's `dbus-daemon`) and the service on it.
    pub fn start() -> NotificationService {
        // A bus of its own: nothing started on demand, so a stopped service stays stopped.
        let bus = SessionBus::start();
        let address = bus.address().to_string();
        let got: Arc<Mutex<Vec<Notified>>> = Arc::default();
        let server = Server { got: Arc::clone(&got), next: 0 };
        let connection = zbus::blocking::connection::Builder::address(address.as_str())
            .and_then(|builder| builder.name("org.freedesktop.Notifications"))
            .and_then(|builder| builder.serve_at(PATH, server))
            .and_then(|builder| builder.build())
            .expect("the notification service on the bus");
        NotificationService { connection: Some(connection), got, bus }
    }

    /// The bus's address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        self.bus.address()
    }

    /// Every `Notify` call so far, oldest first.
    pub fn notified(&self) -> Vec<Notified> {
        self.got.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A way to read [`NotificationService::notified`] from another thread.
    pub fn notifier_log(&self) -> impl Fn() -> Vec<Notified> + Send + 'static {
        let got = Arc::clone(&self.got);
        move || got.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Clicks notification `id` (its default action), as the user would.
    pub fn click(&self, id: u32) {
        let connection = self.connection.as_ref().expect("the service runs");
        let server = connection.object_server().interface::<_, Server>(PATH).expect("served");
        zbus::block_on(Server::action_invoked(server.signal_emitter(), id, "default"))
            .expect("the click is signalled");
    }

    /// Stops the service, leaving the bus: as a desktop with no notification service.
    pub fn stop_service(&mut self) {
        self.connection = None;
    }
}
