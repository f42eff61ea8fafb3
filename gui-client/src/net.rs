//! Networking off the UI thread: each group the user is in has its own socket (the protocol
//! allows an address one group), driven by its own thread. Threads hear from the UI over a
//! channel, report back over another, and wake the UI after every report.

use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select, unbounded};
use udprelay_link::{Connection, Report, Server};
use udprelay_shared::session::{Connection as Reachability, Health};
use udprelay_shared::{Command, GroupId, Session};

/// Which link a report is about.
pub type LinkId = u64;

/// What the UI asks a link to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Create a group (capped at `cap` members) and join it.
    Create {
        cap: Option<u32>,
    },
    Join(GroupId),
    /// Send a chat payload.
    Send(Vec<u8>),
}

/// What a link tells the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Report(Report),
    /// The session's state after the reports before it.
    State(LinkState),
    /// The socket could not be opened.
    OpenFailed(String),
}

/// A snapshot of a link's session, for drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkState {
    pub group: Option<GroupId>,
    pub connection: Reachability,
    /// When the server was last heard from (the last PONG, or the join).
    pub heard_at: Option<Instant>,
    pub interval: Duration,
}

impl LinkState {
    /// The heartbeat indicator at `now` (`None` while not in a group).
    pub fn health(&self, now: Instant) -> Option<Health> {
        self.group?;
        let heard = self.heard_at?;
        Some(Health::after(now.saturating_duration_since(heard), self.interval))
    }

    /// When the indicator next changes colour by time alone.
    pub fn health_changes_at(&self, now: Instant) -> Option<Instant> {
        self.group?;
        let since = now.saturating_duration_since(self.heard_at?);
        Health::changes_in(since, self.interval).map(|wait| now + wait)
    }
}

/// The UI's end of one link. Dropping it closes the link: the thread says `!LEAVE` and ends.
pub struct LinkHandle {
    orders: Sender<Order>,
}

impl LinkHandle {
    pub fn order(&self, order: Order) {
        // If the thread has ended, its last report already said why.
        let _ = self.orders.send(order);
    }
}

/// Starts a link to the first of `servers` (moving to the next when it stops answering) that
/// carries out `first` at once.
pub fn open(
    id: LinkId,
    servers: Vec<Server>,
    first: Order,
    updates: Sender<(LinkId, Update)>,
    wake: impl Fn() + Send + 'static,
) -> LinkHandle {
    let (orders, inbox) = unbounded();
    let _ = orders.send(first);
    let spawned = thread::Builder::new()
        .name(format!("udprelay-link-{id}"))
        .spawn(move || run(id, servers, inbox, updates, wake));
    if let Err(error) = spawned {
        // Without a thread there is no link; the handle's orders go nowhere.
        eprintln!("udprelay-gui: cannot start a network thread: {error}");
    }
    LinkHandle { orders }
}

fn run(
    id: LinkId,
    servers: Vec<Server>,
    inbox: Receiver<Order>,
    updates: Sender<(LinkId, Update)>,
    wake: impl Fn(),
) {
    let tell = |update| {
        let sent = updates.send((id, update)).is_ok();
        wake();
        sent
    };
    let mut connection = match Connection::with_session(servers, Session::with_member_refresh()) {
        Ok(connection) => connection,
        Err(error) => {
            tell(Update::OpenFailed(error.to_string()));
            return;
        }
    };
    let network = connection.network().clone();
    let mut last_state = None;
    loop {
        for report in connection.flush() {
            if !tell(Update::Report(report)) {
                return; // the window is gone
            }
        }
        let state = snapshot(connection.session());
        if last_state != Some(state) {
            last_state = Some(state);
            tell(Update::State(state));
        }
        let now = Instant::now();
        let wait = connection
            .deadline()
            .map_or(Duration::from_secs(3600), |at| at.saturating_duration_since(now));
        select! {
            recv(network) -> message => match message {
                Ok(message) => connection.receive(Instant::now(), message),
                Err(_) => return,
            },
            recv(inbox) -> order => match order {
                Ok(order) => carry_out(&mut connection, order),
                Err(_) => {
                    // The UI let go of this link: leave, so the others' count is right.
                    if let Some(group) = connection.session().group() {
                        let _ = connection.send_raw(&Command::Leave(group).to_bytes());
                    }
                    return;
                }
            },
            default(wait) => {}
        }
        connection.tick(Instant::now());
    }
}

fn carry_out(connection: &mut Connection, order: Order) {
    let now = Instant::now();
    let session = connection.session_mut();
    match order {
        Order::Create { cap } => session.create_and_join(now, cap),
        Order::Join(group) => session.command(now, Command::Join(group)),
        // The UI checks size and membership before it sends; a refusal here has nothing new
        // to say.
        Order::Send(payload) => {
            let _ = session.send_payload(now, &payload);
        }
    }
}

fn snapshot(session: &Session) -> LinkState {
    LinkState {
        group: session.group(),
        connection: session.connection(),
        heard_at: session.last_heard(),
        interval: session.ping_interval(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heartbeat dot, as the window draws it, under a made-up clock.
    #[test]
    fn the_heartbeat_dot_goes_green_amber_red() {
        let start = Instant::now();
        let state = LinkState {
            group: Some("ABCD1234".parse().unwrap()),
            connection: Reachability::Reachable,
            heard_at: Some(start),
            interval: Duration::from_secs(10),
        };
        let at = |seconds: f64| state.health(start + Duration::from_secs_f64(seconds));
        assert_eq!(at(0.0), Some(Health::Good));
        assert_eq!(at(12.0), Some(Health::Good), "the PONG to a ping at 10 s may take a moment");
        assert_eq!(at(12.5), Some(Health::Late));
        assert_eq!(at(30.0), Some(Health::Late));
        assert_eq!(at(30.5), Some(Health::Lost), "3 intervals without an answer");
        let not_joined = LinkState { group: None, ..state };
        assert_eq!(not_joined.health(start), None);
    }
}
