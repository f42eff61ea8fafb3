//! The session's sockets: which one a create or join goes out on, and what happens to the
//! others when one of them joins (see the module documentation of `session`).

use super::{Session, SocketId, Transmit};
use udprelay_shared::Command;

impl Session {
    /// The socket a `!CREATE` or `!JOIN` goes out on: one that no group relays to. That is the
    /// member socket while it has never sent a join; otherwise, outside a group, a fresh
    /// member socket; in a group, a fresh socket beside the member (the *attempt*), which
    /// becomes the member if it joins.
    pub(super) fn socket_for_membership(&mut self) -> SocketId {
        if let Some(old) = self.attempt.take() {
            self.close(old);
        }
        if self.member_clean {
            return self.member;
        }
        let fresh = SocketId(self.next_socket);
        self.next_socket += 1;
        if self.group.is_some() {
            self.attempt = Some(fresh);
        } else {
            let old = std::mem::replace(&mut self.member, fresh);
            self.member_clean = true;
            self.close(old);
        }
        fresh
    }

    /// Closes a socket and forgets what was outstanding on it.
    pub(super) fn close(&mut self, socket: SocketId) {
        self.pending.retain(|p| p.socket != socket);
        self.payloads.retain(|p| p.socket != socket);
        self.retries.retain(|r| r.socket != socket);
        self.transmits.push_back(Transmit::Close(socket));
        if self.attempt == Some(socket) {
            self.attempt = None;
        }
    }

    /// An attempt socket joined: it is the member now, and the old member leaves its group.
    pub(super) fn promote(&mut self, socket: SocketId) {
        let old = std::mem::replace(&mut self.member, socket);
        self.member_clean = false;
        self.attempt = None;
        if let Some(group) = self.group {
            let datagram = Command::Leave(group).to_bytes();
            self.transmits.push_back(Transmit::Send { socket: old, datagram });
        }
        self.close(old);
    }
}
