//! The desktop client's state, and the plain methods that change it. Nothing here draws: the
//! window (`view`) is a function of this state, and tests drive these methods directly.

use std::collections::HashMap;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, unbounded};
use udprelay_client::mention::Mentions;
use udprelay_client::{GroupId, Reachability, Server, Status};

pub use crate::log::{Entry, EntryKind, Log};
use crate::net::{self, LinkHandle, LinkId, Order, Update};
pub use crate::notice::{Notice, Place};
use crate::notify::{Level, Notifications};
use crate::search::Search;
use crate::store::{GroupRow, Store};
use crate::wake::Wake;

/// How far a group's link has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Creating or joining: no `OK JOINED` yet.
    Joining,
    Joined,
    /// The server forgot us and joining again failed.
    Lost,
}

/// One group in the left panel, with its own socket.
pub struct Group {
    pub link: LinkId,
    /// `None` while a new group's id is still on its way.
    pub id: Option<GroupId>,
    /// The server it lives on, as typed (`host:port`).
    pub server: String,
    /// A name the user gave it, shown instead of its id (only in this window: the id is
    /// what others know it by).
    pub name: Option<String>,
    pub stage: Stage,
    /// The size limit it was created with (kept in the history store).
    pub cap: Option<u32>,
    /// End-to-end encrypted (its secret kept in the history store).
    pub private: bool,
    pub members: Option<usize>,
    pub unread: usize,
    /// Of the unread messages, those that name the user (`udprelay_client::mention`).
    pub mentions: usize,
    /// What was typed in the message box while this group was shown, kept while another is
    /// (the shown group's is [`App::draft`]).
    pub draft: String,
    /// The draft as the history store has it (written when it differs: [`App::keep_drafts`]).
    pub(crate) kept_draft: String,
    /// Its own notification level (`None`: by its size, [`crate::notify`]).
    pub notify: Option<Level>,
    pub log: Log,
    /// The heartbeat's state, for the dot.
    pub state: Option<Status>,
    /// Its row in the history store, once it has one.
    pub key: Option<GroupRow>,
    /// Rejoined at start from the store: a failure keeps it listed, with its history.
    pub restored: bool,
    /// What was asked, so a failure can be put into words next to the right control.
    origin: Place,
    /// The group selected before this one was asked for: selected again if it fails.
    came_from: Option<LinkId>,
    pub(crate) handle: LinkHandle,
}

impl Group {
    /// What the user calls it: its own name, or its id.
    pub fn title(&self) -> String {
        match (&self.name, self.id) {
            (Some(name), _) => name.clone(),
            (None, Some(id)) => id.to_string(),
            (None, None) => "a new group".to_string(),
        }
    }
}

/// The whole window's state.
pub struct App {
    /// The server as typed, `host:port`.
    pub server: String,
    /// Sent before each message as `NAME: text` when not empty; a message that names it is
    /// a mention.
    pub name: String,
    /// Words besides the name that make a message a mention.
    pub keywords: Vec<String>,
    /// Whether each server answered last, by the server as typed: the top bar shows the
    /// field's (a group joined from a link may be on another).
    pub reachability: HashMap<String, Reachability>,
    pub groups: Vec<Group>,
    pub selected: Option<LinkId>,
    pub join_text: String,
    pub cap_text: String,
    /// The "End-to-end encrypted" box at Create.
    pub encrypted: bool,
    /// Where the window's signing identity is kept (`None`: a new one each run).
    pub identity: Option<std::path::PathBuf>,
    /// The message box: the shown group's draft (each group keeps its own, [`Group::draft`]).
    pub draft: String,
    pub notice: Option<Notice>,
    /// The window has the keyboard focus (the view tells every frame).
    pub focused: bool,
    /// Desktop notifications waiting to be shown, and the user's choices about them.
    pub notifications: Notifications,
    /// Why the desktop shows no notifications (no notification service), said once.
    pub notifications_off: Option<String>,
    /// The search panel: what is asked, what was found.
    pub search: Search,
    /// The settings panel is open.
    pub settings_open: bool,
    /// The mention words as typed in the settings panel.
    pub keywords_text: String,
    /// Text size, in percent of egui's (its zoom: Ctrl+Plus and Ctrl+Minus change it too).
    pub text_size: u16,
    /// The zoom last given to egui, to tell the user's Ctrl+Plus from a setting's change.
    pub(crate) zoom_given: Option<f32>,
    /// A message came while the window was in the background: ask for attention.
    pub(crate) attention: bool,
    /// Attention was asked for since the window last had the focus (once is enough).
    pub(crate) attention_asked: bool,
    /// The title last given to the window (the view sets it when it changes).
    pub shown_title: Option<String>,
    /// When it was given.
    pub(crate) title_since: Option<std::time::Instant>,
    /// The group being renamed, and the name typed so far.
    pub renaming: Option<(LinkId, String)>,
    /// The group the user asked to leave: the window asks what to do with its history.
    pub leaving: Option<LinkId>,
    /// Where groups and history are kept (`None`: not kept this run).
    pub(crate) store: Option<Store>,
    /// Why history is not being kept, shown in the window until it ends.
    pub history_off: Option<String>,
    updates: Receiver<(LinkId, Update)>,
    updates_tx: Sender<(LinkId, Update)>,
    next_link: LinkId,
    /// For the network (each row's client) to wake the window after each update.
    wake: Arc<Wake>,
}

impl App {
    pub fn new(server: impl Into<String>, name: impl Into<String>) -> App {
        let (updates_tx, updates) = unbounded();
        App {
            server: server.into(),
            name: name.into(),
            keywords: Vec::new(),
            reachability: HashMap::new(),
            groups: Vec::new(),
            selected: None,
            join_text: String::new(),
            cap_text: String::new(),
            encrypted: false,
            identity: None,
            draft: String::new(),
            notice: None,
            focused: true,
            notifications: Notifications::default(),
            notifications_off: None,
            search: Search::default(),
            settings_open: false,
            keywords_text: String::new(),
            text_size: crate::theme::TEXT_SIZE_DEFAULT,
            zoom_given: None,
            attention: false,
            attention_asked: false,
            shown_title: None,
            title_since: None,
            renaming: None,
            leaving: None,
            store: None,
            history_off: None,
            updates,
            updates_tx,
            next_link: 1,
            wake: Arc::default(),
        }
    }

    /// Lets the network wake the window (every row, opened before or after).
    pub fn attach(&mut self, ctx: &egui::Context) {
        self.wake.attach(ctx);
    }

    /// What makes a message a mention: the user's name and keywords.
    pub fn mentions(&self) -> Mentions {
        Mentions::new(Some(&self.name), &self.keywords)
    }

    pub fn selected_group(&self) -> Option<&Group> {
        self.groups.iter().find(|g| Some(g.link) == self.selected)
    }

    /// Whether the server in the field answers, as far as the window knows.
    pub fn field_reachability(&self) -> Reachability {
        self.reachability.get(self.server.trim()).copied().unwrap_or(Reachability::Unknown)
    }

    pub(crate) fn group_mut(&mut self, link: LinkId) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.link == link)
    }

    // ---- What the user does ----

    /// Asks to leave the selected group: the window asks first what to do with its history.
    pub fn ask_leave(&mut self) {
        self.leaving = self.selected;
    }

    pub fn cancel_leave(&mut self) {
        self.leaving = None;
    }

    /// Leaves the group asked about and closes its socket; its history is kept for a later
    /// join, or deleted.
    pub fn leave(&mut self, keep_history: bool) {
        let Some(link) = self.leaving.take() else { return };
        let Some(index) = self.groups.iter().position(|g| g.link == link) else { return };
        // Dropping the handle ends the link's thread, which says `!LEAVE` on its way out.
        let group = self.groups.remove(index);
        self.notifications.forget(link);
        if let Some(key) = group.key {
            self.with_store(|store| store.leave(key, keep_history));
        }
        self.search.invalidate();
        if self.selected == Some(link) {
            self.selected = None;
            if let Some(next) = self.groups.get(index.min(self.groups.len().saturating_sub(1))) {
                let next = next.link;
                self.select(next);
            }
        }
    }

    /// The selected group's id, for the clipboard; says so next to the button.
    pub fn copy_id(&mut self) -> Option<GroupId> {
        let id = self.selected_group()?.id?;
        self.tell(Place::Group, &format!("Copied {id}: send it to whoever should join."));
        Some(id)
    }

    /// Starts renaming the selected group: the view shows a field with its current name.
    pub fn start_rename(&mut self) {
        if let Some(group) = self.selected_group() {
            let current = group.name.clone().unwrap_or_default();
            self.renaming = Some((group.link, current));
        }
    }

    /// Ends renaming: a name given (trimmed) replaces the id in the list; an empty one brings
    /// the id back.
    pub fn finish_rename(&mut self) {
        let Some((link, text)) = self.renaming.take() else { return };
        let Some(group) = self.group_mut(link) else { return };
        let text = text.trim();
        group.name = (!text.is_empty()).then(|| text.to_string());
        if let Some(key) = group.key {
            let name = group.name.clone();
            self.with_store(|store| store.rename(key, name.as_deref()));
        }
    }

    pub fn cancel_rename(&mut self) {
        self.renaming = None;
    }

    /// Whether the groups listed live on more than one server (each row then says which).
    pub fn servers_differ(&self) -> bool {
        self.groups.windows(2).any(|pair| pair[0].server != pair[1].server)
    }

    /// Shows group `link`; its member count is kept fresh while it is shown. The message box
    /// keeps what was typed for the group left, and shows what was typed for this one.
    pub fn select(&mut self, link: LinkId) {
        if self.groups.iter().any(|g| g.link == link) {
            self.read_on_select(link);
            let before = self.selected.replace(link);
            if before != Some(link) {
                let typed = std::mem::take(&mut self.draft);
                if let Some(left) = before.and_then(|before| self.group_mut(before)) {
                    left.draft = typed;
                }
                let shown = self.group_mut(link).map(|shown| std::mem::take(&mut shown.draft));
                self.draft = shown.unwrap_or_default();
            }
            for group in &self.groups {
                if Some(group.link) == before || group.link == link {
                    group.handle.watch_members(group.link == link);
                }
            }
        }
    }

    /// Shows the group `step` places after the shown one in the list (before it when
    /// negative), going round at the ends.
    pub fn select_next(&mut self, step: isize) {
        let count = self.groups.len() as isize;
        if count == 0 {
            return;
        }
        let at = self.groups.iter().position(|g| Some(g.link) == self.selected);
        let next = match at {
            Some(at) => (at as isize + step).rem_euclid(count),
            None => 0,
        };
        self.select(self.groups[next as usize].link);
    }

    // ---- What the network brings ----

    /// Takes in every update the network has sent.
    pub fn poll(&mut self) {
        while let Ok((link, update)) = self.updates.try_recv() {
            self.apply(link, update);
        }
    }

    // ---- Inside ----

    /// Opens a link to `server` (as typed) for a new row, selected; `None` if the server is
    /// not an address (said next to the server field).
    pub(crate) fn open_link(
        &mut self,
        origin: Place,
        server: String,
        id: Option<GroupId>,
        order: Order,
    ) -> Option<LinkId> {
        let servers = match resolve(&server) {
            Ok(servers) => servers,
            Err(why) => {
                self.tell(Place::Server, &why);
                return None;
            }
        };
        self.clear_notice(origin);
        self.clear_notice(Place::Server);
        let link = self.next_link;
        self.next_link += 1;
        let wake = Arc::clone(&self.wake);
        let came_from = self.selected;
        let private = matches!(order, Order::Create { encrypted: true, .. })
            || matches!(order, Order::Join { secret: Some(_), .. });
        let identity = self.identity.clone();
        let updates = self.updates_tx.clone();
        let handle = net::open(link, servers, identity, order, updates, move || wake.news());
        self.groups.push(Group {
            link,
            id,
            stage: Stage::Joining,
            cap: None,
            private,
            members: None,
            server: server.trim().to_string(),
            name: None,
            unread: 0,
            mentions: 0,
            draft: String::new(),
            kept_draft: String::new(),
            notify: None,
            log: Log::new(),
            state: None,
            key: None,
            restored: false,
            origin,
            came_from,
            handle,
        });
        self.select(link);
        Some(link)
    }

    /// A create or join that did not get as far as joining: say why next to its control,
    /// take its row away again, and select what was selected before it.
    pub(crate) fn fail(&mut self, link: LinkId, text: String) {
        let Some(index) = self.groups.iter().position(|g| g.link == link) else { return };
        if self.groups[index].restored {
            // A group from the last run stays listed with its history, marked lost.
            self.groups[index].stage = Stage::Lost;
            self.record(link, EntryKind::Error, text);
            return;
        }
        let group = self.groups.remove(index);
        self.tell(group.origin, &text);
        if self.selected == Some(link) {
            let back = group.came_from.filter(|back| self.groups.iter().any(|g| g.link == *back));
            self.selected = None; // its draft goes with it, as a left group's
            if let Some(back) = back.or_else(|| self.groups.last().map(|g| g.link)) {
                self.select(back);
            }
        }
    }

    /// Lets a notice go once it has been shown long enough; returns when the next one goes,
    /// so the window can wake for it.
    pub fn expire_notices(&mut self, now: std::time::Instant) -> Option<std::time::Instant> {
        if self.notice.as_ref().is_some_and(|n| n.until() <= now) {
            self.notice = None;
        }
        self.notice.as_ref().map(Notice::until)
    }

    pub(crate) fn tell(&mut self, place: Place, text: &str) {
        self.notice = Some(Notice::new(place, text));
    }

    pub(crate) fn clear_notice(&mut self, place: Place) {
        if self.notice.as_ref().is_some_and(|n| n.place == place) {
            self.notice = None;
        }
    }
}

/// The server field to servers: `host:port`, or several comma-separated (the nodes of a
/// cluster, moved between when one stops answering), with the reason in words when it is not.
pub fn resolve(server: &str) -> Result<Vec<Server>, String> {
    let capitalized = crate::events::capitalized;
    udprelay_client::resolve(server, DEFAULT_PORT).map_err(|why| format!("{}.", capitalized(&why)))
}

/// The port of a server named without one.
const DEFAULT_PORT: u16 = 5000;
