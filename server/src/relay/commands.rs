//! What each command does to the relay's state, and its reply.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::info;
use udprelay_shared::{Command, ErrorReply, GroupId, PingArg, Reply, ServerFull};

use super::Relay;
use super::limits::{IpKey, VALIDATED_PER_IP_FACTOR, reached};
use super::logs::Line;

impl Relay {
    /// What a command does; `None` when the answer has to wait for the cluster (it comes
    /// through [`Relay::poll_reply`]). `len` is the datagram's size.
    pub(super) fn apply(
        &mut self,
        now: Instant,
        from: SocketAddr,
        command: Command,
        len: u64,
    ) -> Option<Reply> {
        let result = match command {
            Command::Create { cap } => self.create(now, from, cap),
            Command::Join(id) => self.join(now, from, id, len),
            Command::Leave(id) => self.leave(now, from, id).map(Some),
            Command::Ping(argument) => self.ping(now, from, argument).map(Some),
            Command::Who => self.who(from).map(Some),
        };
        result.unwrap_or_else(|error| {
            if matches!(error, ErrorReply::ServerFull(_) | ErrorReply::IpLimit { .. })
                && self.logs.admit(now, Line::Refused)
            {
                info!(addr = %from, error = %error, "refused");
            }
            Some(Reply::Error(error))
        })
    }

    /// `!CREATE [<n>]` → `OK CREATED <id>`, or `ERR CLIENT_LIMIT <used>/<max>` (per address,
    /// then per IP), or `ERR SERVER_FULL TooManyGroups`; on a cut-off cluster node,
    /// `ERR BUSY TryAgain`.
    fn create(
        &mut self,
        now: Instant,
        from: SocketAddr,
        cap: Option<u32>,
    ) -> Result<Option<Reply>, ErrorReply> {
        self.creator_limits(from)?;
        let groups = self.cluster_groups().unwrap_or(self.tables.groups.len());
        if reached(count(groups), self.config.limits.max_groups).is_some() {
            self.stats.refused_server_full += 1;
            return Err(ErrorReply::ServerFull(ServerFull::Groups));
        }
        let cap = match (cap, self.config.cap) {
            (Some(asked), Some(global)) => Some(asked.min(global)),
            (asked, global) => asked.or(global),
        };
        if self.is_clustered() {
            return self.cluster_create(from, cap);
        }
        let id = loop {
            let candidate = (self.new_id)();
            if !self.tables.groups.contains_key(&candidate) {
                break candidate;
            }
        };
        self.tables.add_group(now, id, Some(from), cap);
        self.stats.creates += 1;
        if self.logs.admit(now, Line::Create) {
            let cap_text = cap.map_or("none".to_string(), |cap| cap.to_string());
            info!(group = %id, addr = %from, size = 0, cap = %cap_text, "create");
        }
        Ok(Some(Reply::Created(id)))
    }

    /// The limits on what one creator may have: `--max-groups-per-client` for its address,
    /// then `--max-groups-per-ip`.
    pub(super) fn creator_limits(&mut self, from: SocketAddr) -> Result<(), ErrorReply> {
        let used = self.tables.created_by(from) + self.creates_under_way(from);
        let max = self.config.max_groups_per_client;
        if used >= max {
            return Err(ErrorReply::ClientLimit { used, max });
        }
        let used = self.tables.created_from_ip(IpKey::of(from));
        if let Some(max) = reached(used, self.config.limits.max_groups_per_ip) {
            self.stats.refused_ip_limit += 1;
            return Err(ErrorReply::ClientLimit { used, max });
        }
        Ok(())
    }

    /// `!JOIN <id>` → `OK JOINED <id>`, or `ERR BAD_ARG NoSuchGroup`, `ERR GROUP_FULL <id>`,
    /// and for a new member `ERR SERVER_FULL TooManyMembers` or `ERR IP_LIMIT <used>/<max>`;
    /// on a cut-off cluster node, `ERR BUSY TryAgain`. `len` is the join's size.
    fn join(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: GroupId,
        len: u64,
    ) -> Result<Option<Reply>, ErrorReply> {
        let member = self.tables.members.key_of(from);
        let known = self.tables.groups.contains_key(&id);
        if !known && !self.is_clustered() {
            return Err(ErrorReply::NoSuchGroup);
        }
        if let Some(key) = member
            && self.tables.members.get(key).group == id
        {
            self.tables.members.touch(key, now);
            return Ok(Some(Reply::Joined(id)));
        }
        if self.is_clustered() {
            return self.cluster_join(now, from, id, len);
        }
        if self.tables.groups[&id].is_full() {
            return Err(ErrorReply::GroupFull(id));
        }
        self.member_limits(from, 0)?;
        Ok(Some(self.admit(now, from, id, len)))
    }

    /// The limits on new members (`--max-members`, `--max-members-per-ip`), for an address
    /// with `ahead` joins admitted before it and not yet members. A member moving between
    /// groups keeps its place.
    pub(super) fn member_limits(
        &mut self,
        addr: SocketAddr,
        ahead: usize,
    ) -> Result<(), ErrorReply> {
        if self.tables.members.key_of(addr).is_some() {
            return Ok(());
        }
        let members = count(self.tables.members.len() + ahead);
        if reached(members, self.config.limits.max_members).is_some() {
            self.stats.refused_server_full += 1;
            return Err(ErrorReply::ServerFull(ServerFull::Members));
        }
        // Members forged at a victim's IP never validate: those are held to the limit itself.
        // Members that did validate are proven to receive there (a person's window in many
        // groups, an office behind one NAT), and only the multiple bounds them.
        let ip = IpKey::of(addr);
        let limit = self.config.limits.max_members_per_ip;
        let all = limit.map(|max| max.saturating_mul(VALIDATED_PER_IP_FACTOR));
        for (used, max) in
            [(self.tables.unvalidated_at_ip(ip), limit), (self.tables.members_at_ip(ip), all)]
        {
            if let Some(max) = reached(used, max) {
                self.stats.refused_ip_limit += 1;
                return Err(ErrorReply::IpLimit { used, max });
            }
        }
        Ok(())
    }

    /// Makes `from` a member of `id` (moving it from the group it was in), once the group,
    /// its cap and the limits allowed it. A new member's join counts toward what it sent.
    pub(super) fn admit(&mut self, now: Instant, from: SocketAddr, id: GroupId, len: u64) -> Reply {
        let size = match self.tables.members.key_of(from) {
            Some(key) => {
                // Moving between groups: the member keeps its record, and the counts stay.
                let ((old, old_size), size) = self.tables.move_member(now, key, id);
                if self.logs.admit(now, Line::Leave) {
                    info!(group = %old, addr = %from, size = old_size, "leave (joined another group)");
                }
                self.member_count_changed(now, old);
                size
            }
            None => {
                let size = self.tables.add_member(now, from, id);
                let key = self.tables.members.key_of(from).expect("just added");
                self.tables.members.get_mut(key).received += len;
                size
            }
        };
        self.stats.joins += 1;
        if self.logs.admit(now, Line::Join) {
            info!(group = %id, addr = %from, size, "join");
        }
        Reply::Joined(id)
    }

    /// `!LEAVE <id>` → `OK LEFT <id>`, or `ERR NOT_IN_GROUP NotInThatGroup`.
    fn leave(&mut self, now: Instant, from: SocketAddr, id: GroupId) -> Result<Reply, ErrorReply> {
        let members = &self.tables.members;
        if members.key_of(from).is_none_or(|key| members.get(key).group != id) {
            return Err(ErrorReply::NotInThatGroup);
        }
        let (_, size) = self.tables.remove_member(now, from).expect("checked above");
        self.member_count_changed(now, id);
        self.stats.leaves += 1;
        if self.logs.admit(now, Line::Leave) {
            info!(group = %id, addr = %from, size, "leave");
        }
        Ok(Reply::Left(id))
    }

    /// `!PING` → `PONG <seconds>`; `!PING <arg>` → `PONG <seconds> <token>`, and a token this
    /// address was given validates it. A non-member gets `ERR NOT_IN_GROUP JoinFirstUseJOIN`.
    fn ping(
        &mut self,
        now: Instant,
        from: SocketAddr,
        argument: Option<PingArg>,
    ) -> Result<Reply, ErrorReply> {
        let key = self.tables.members.key_of(from).ok_or(ErrorReply::JoinFirst)?;
        self.tables.members.touch(key, now);
        let interval = self.config.heartbeat;
        let Some(argument) = argument else {
            return Ok(Reply::Pong { interval, token: None });
        };
        let since = now.saturating_duration_since(self.epoch.unwrap_or(now));
        if let PingArg::Token(token) = argument
            && !self.tables.members.get(key).validated
            && self.tokens.check(from, &token, since)
        {
            self.tables.validate(key);
            self.stats.validations += 1;
        }
        Ok(Reply::Pong { interval, token: Some(self.tokens.issue(from, since)) })
    }

    /// `!WHO` → `OK WHO <id> <count>`, or `ERR NOT_IN_GROUP JoinFirstUseJOIN`. Not activity.
    fn who(&self, from: SocketAddr) -> Result<Reply, ErrorReply> {
        let key = self.tables.members.key_of(from).ok_or(ErrorReply::JoinFirst)?;
        let member = self.tables.members.get(key);
        let local = self.tables.groups[&member.group].members.len();
        let members = self.cluster_members(member.group, local);
        Ok(Reply::Who { group: member.group, members })
    }
}

fn count(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
