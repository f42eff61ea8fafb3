//! Moving to another server: a client given several (the nodes of a cluster) goes to the next
//! when the one it talks to stops answering, and joins its group again there. The caller
//! decides when and where; this starts the session afresh on the new server.

use std::time::Instant;

use super::{Purpose, Reachability, Request, Session, SocketId, Transmit};
use udprelay_shared::limits::REPLY_TIMEOUT;
use udprelay_shared::{Command, GroupId};

impl Session {
    /// The caller now sends to another server. Every socket is closed (they belong to the old
    /// server) and a fresh member socket is opened. The user's commands still waiting for an
    /// answer are sent again there; unless one of them changes the membership, `rejoin` (the
    /// group the client was in) is joined again, reported as [`super::Event::Rejoined`] or
    /// [`super::Event::RejoinFailed`], and once back in it, the payloads the user sent in the
    /// last 2 s (up to 16) and since anything came from the old server are sent again: it may
    /// never have had them (a message may then arrive twice, rather than not at all).
    pub fn change_server(&mut self, now: Instant, rejoin: Option<GroupId>) {
        let user = |purpose: Purpose| matches!(purpose, Purpose::User | Purpose::CreateAndJoin);
        let mut again: Vec<(Command, Purpose)> = self
            .pending
            .iter()
            .filter(|p| user(p.purpose))
            .filter_map(|p| match p.request {
                Request::Command(command) => Some((command, p.purpose)),
                Request::Payload => None,
            })
            .collect();
        again.extend(
            self.retries.iter().filter(|r| user(r.purpose)).map(|r| (r.command, r.purpose)),
        );
        for socket in std::iter::once(self.member).chain(self.attempt) {
            self.transmits.push_back(Transmit::Close(socket));
        }
        self.pending.clear();
        self.payloads.clear();
        self.retries.clear();
        self.attempt = None;
        self.member = SocketId(self.next_socket);
        self.next_socket += 1;
        self.member_clean = true;
        self.token = None;
        self.token_answered = false;
        self.last_ping = None;
        self.unanswered_pings = 0;
        self.set_reachability(Reachability::Unknown);
        let membership = again
            .iter()
            .any(|(command, _)| matches!(command, Command::Create { .. } | Command::Join(_)));
        self.group = if membership { None } else { rejoin };
        let recent = std::mem::take(&mut self.recent);
        if let Some(group) = self.group {
            self.request(now, self.member, Request::Command(Command::Join(group)), Purpose::Rejoin);
            // Sent once the server has us back: a relay of a cluster answers a join only when
            // its directory has it, and a payload before that would be refused.
            self.resend = recent
                .into_iter()
                .filter(|(sent, _)| now.saturating_duration_since(*sent) < REPLY_TIMEOUT)
                .map(|(_, payload)| payload)
                .collect();
        }
        for (command, purpose) in again {
            match (command, purpose) {
                (Command::Create { cap }, Purpose::CreateAndJoin) => self.create_and_join(now, cap),
                // The join that follows a create: it is sent again as it was.
                (command, _) => self.command(now, command),
            }
        }
    }
}
