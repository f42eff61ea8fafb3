//! What the user asks of groups: making one (plain or private), joining one by id or
//! invite, copying its invite, and sending to it. Each reason a request is refused is said
//! next to the control that made it.

use udprelay_client::e2e::{Invite, Secret, max_text};
use udprelay_client::message::compose;
use udprelay_client::{Error, GroupId, Name};

use crate::app::{App, EntryKind, Place, Stage};
use crate::net::Order;

impl App {
    /// Creates a group, with the cap field's limit if one is typed, and joins it.
    pub fn create(&mut self) {
        let cap = match self.cap_text.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return self
                        .tell(Place::Create, "The size limit must be a whole number above 0.");
                }
            },
        };
        let order = Order::Create { cap, encrypted: self.encrypted };
        if let Some(link) = self.open_link(Place::Create, self.server.clone(), None, order)
            && let Some(group) = self.group_mut(link)
        {
            group.cap = cap;
        }
    }

    /// Joins the group typed in the join field: an id (any case), or an invite link;
    /// anything else is refused here, with the reason.
    pub fn join(&mut self) {
        let text = self.join_text.trim();
        if Invite::is_meant(text) {
            return match text.parse::<Invite>() {
                Ok(invite) => self.join_invite(invite),
                Err(why) => self.tell(Place::Join, &format!("Not an invite: {why}.")),
            };
        }
        match GroupId::parse_lenient(text) {
            Ok(id) => self.join_group(id),
            Err(why) => self.tell(Place::Join, &format!("Not a group id: {why}.")),
        }
    }

    /// Joins group `id` on the server in the server field (from the join field, or from
    /// `--join` at start).
    pub fn join_group(&mut self, id: GroupId) {
        let server = self.server.clone();
        self.join_on(server, id, None);
    }

    /// Joins the group of an invite, on the invite's server (a private group with its
    /// secret).
    pub fn join_invite(&mut self, invite: Invite) {
        self.join_on(invite.server, invite.group, invite.secret);
    }

    fn join_on(&mut self, server: String, id: GroupId, secret: Option<Secret>) {
        if let Some(group) = self.groups.iter().find(|g| g.id == Some(id)) {
            let link = group.link;
            self.select(link);
            return self.tell(Place::Join, &format!("You are already in {id}."));
        }
        // The typed id stays until the join succeeds, so that a typo can be fixed.
        self.open_link(Place::Join, server, Some(id), Order::Join { group: id, secret });
    }

    /// The window's own signing key's fingerprint, for members to compare (from the selected
    /// group's client, for a private group).
    pub fn identity_fingerprint(&self) -> Option<String> {
        let group = self.selected_group().filter(|group| group.private)?;
        group.handle.identity_fingerprint()
    }

    /// The selected group's invite, for the clipboard (with its secret, for a private
    /// group); says so next to the button.
    pub fn copy_invite(&mut self) -> Option<String> {
        let invite = self.selected_group()?.handle.invite()?.to_string();
        let what = match self.selected_group().is_some_and(|g| g.private) {
            true => "Copied the invite: whoever has it can read this group.",
            false => "Copied the invite: send it to whoever should join.",
        };
        self.tell(Place::Group, what);
        Some(invite)
    }

    /// Sends the draft to the selected group, as `NAME: text` with a name.
    pub fn send_draft(&mut self) {
        let text = self.draft.trim();
        if text.is_empty() {
            return;
        }
        let name = match self.name.trim() {
            "" => None,
            name => match name.parse::<Name>() {
                Ok(name) => Some(name),
                Err(why) => return self.tell(Place::Message, &format!("Your name {why}.")),
            },
        };
        let private = self.selected_group().is_some_and(|group| group.private);
        let checked = match private {
            // Sealed: no command to fear, and less room (the envelope's overhead).
            true => match max_text(name.as_ref()) {
                max if text.len() > max => Err(Error::TooLong { len: text.len(), max }),
                _ => Ok(()),
            },
            false => compose(name.as_ref(), text).map(|_| ()),
        };
        match checked {
            Ok(()) => {}
            Err(Error::LooksLikeCommand) => {
                return self.tell(
                    Place::Message,
                    "Messages cannot start with '!' (that is how commands start).",
                );
            }
            Err(Error::TooLong { len, max }) => {
                return self.tell(
                    Place::Message,
                    &format!("Too long to send: {len} bytes, the most is {max}."),
                );
            }
            Err(error) => return self.tell(Place::Message, &format!("Not sent: {error}.")),
        }
        let Some(group) = self.groups.iter_mut().find(|g| Some(g.link) == self.selected) else {
            return self.tell(Place::Message, "Create or join a group first.");
        };
        if group.stage != Stage::Joined {
            return self.tell(Place::Message, "Not in this group yet.");
        }
        group.handle.send(name, text.to_string());
        let (link, text) = (group.link, text.to_string());
        self.record(link, EntryKind::Mine, text);
        self.read_on_send(link);
        self.draft.clear();
        self.clear_notice(Place::Message);
    }
}
