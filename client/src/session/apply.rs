//! What a reply, or the lack of one, does to the session.

use std::time::Instant;

use std::time::Duration;

use super::{Event, Pending, Purpose, Request, Retry, Session, SocketId};
use udprelay_shared::{Command, ErrorReply, GroupId, PingArg, Reply};

/// Heartbeat pings in a row that may go unanswered before the silence is reported.
const QUIET_MISSES: u32 = 1;

/// How long after `ERR BUSY TryAgain` a create or join is sent again, and how many times.
const BUSY_WAIT: Duration = Duration::from_secs(1);
const BUSY_RETRIES: u32 = 10;

/// How many times a join refused `ERR IP_LIMIT` is sent again, a second apart.
const IP_LIMIT_RETRIES: u32 = 2;

impl Session {
    /// A reply that matched `pending` (same socket, and one the table lets answer it).
    pub(super) fn apply(&mut self, now: Instant, pending: Pending, reply: Reply) {
        let Pending { socket, request, purpose, tries, .. } = pending;
        let Request::Command(command) = request else {
            // Matching lets only `ERR NOT_IN_GROUP JoinFirstUseJOIN` answer a payload.
            if let Reply::Error(error) = reply {
                self.forgotten_if(&error, now);
                self.events.push_back(Event::PayloadRefused(error));
            }
            return;
        };
        match (command, &reply) {
            (Command::Create { .. } | Command::Join(_), Reply::Error(ErrorReply::Busy))
                if tries < BUSY_RETRIES =>
            {
                // A cluster's relay that cannot reach its directory just now: again in a
                // second, from the same socket.
                if tries == 0 && purpose != Purpose::Rejoin {
                    self.events.push_back(Event::Retrying(command));
                }
                let due = now + BUSY_WAIT;
                self.retries.push(Retry { due, socket, command, purpose, tries: tries + 1 });
                return;
            }
            // The IP's places may be taken by this client's own sockets that have not yet
            // validated (a window rejoining many groups at once): a second later they have.
            (Command::Join(_), Reply::Error(ErrorReply::IpLimit { .. }))
                if tries < IP_LIMIT_RETRIES =>
            {
                let due = now + BUSY_WAIT;
                self.retries.push(Retry { due, socket, command, purpose, tries: tries + 1 });
                return;
            }
            (Command::Create { .. }, Reply::Created(id)) => {
                self.last_created = Some(*id);
                if purpose == Purpose::CreateAndJoin {
                    // From the same socket, so that the creator is the member.
                    let join = Request::Command(Command::Join(*id));
                    self.request(now, socket, join, Purpose::User);
                } else {
                    self.finish_attempt(socket);
                }
            }
            (Command::Join(id), Reply::Joined(_)) => {
                if socket != self.member {
                    self.promote(socket);
                }
                self.joined(now, id);
                if purpose == Purpose::Rejoin {
                    for payload in std::mem::take(&mut self.resend) {
                        let _ = self.send_payload(now, &payload);
                    }
                    self.events.push_back(Event::Rejoined(id));
                    return;
                }
            }
            (Command::Join(group), Reply::Error(error)) if purpose == Purpose::Rejoin => {
                self.resend.clear();
                self.finish_attempt(socket);
                self.lost(group);
                let error = Some(error.clone());
                self.events.push_back(Event::RejoinFailed { group, error });
                return;
            }
            (Command::Create { .. } | Command::Join(_), Reply::Error(_)) => {
                self.finish_attempt(socket);
            }
            (Command::Leave(id), Reply::Left(_)) if self.group == Some(id) => {
                self.group = None;
                self.token = None;
            }
            (Command::Ping(argument), Reply::Pong { interval, token }) => {
                self.heartbeat = self.heartbeat.min(*interval);
                self.last_pong = Some(now);
                self.unanswered_pings = 0;
                let asked = argument == Some(PingArg::Request);
                self.token_answered |= asked;
                if token.is_some() {
                    self.token = *token;
                }
                let echo = asked && token.is_some();
                if echo {
                    // Echo the token at once: that validates our address.
                    self.ping(now, token.map(PingArg::Token));
                } else if self.refresh_members && purpose == Purpose::Heartbeat {
                    let who = Request::Command(Command::Who);
                    self.request(now, self.member, who, Purpose::Heartbeat);
                }
            }
            (_, Reply::Error(error)) => self.forgotten_if(error, now),
            _ => {}
        }
        self.events.push_back(Event::Reply { request: command, reply, purpose });
    }

    /// Sends again the creates and joins whose wait after `ERR BUSY TryAgain` is over.
    pub(super) fn send_retries(&mut self, now: Instant) {
        let (due, waiting): (Vec<Retry>, Vec<Retry>) =
            std::mem::take(&mut self.retries).into_iter().partition(|r| r.due <= now);
        self.retries = waiting;
        for retry in due {
            let request = Request::Command(retry.command);
            self.send_request(now, retry.socket, request, retry.purpose, retry.tries);
        }
    }

    /// A request got no reply in time.
    pub(super) fn expire(&mut self, pending: Pending) {
        let Request::Command(command) = pending.request else {
            return; // a payload's silence means it was relayed
        };
        self.finish_attempt(pending.socket);
        match (pending.purpose, command) {
            (Purpose::Rejoin, Command::Join(group)) => {
                self.set_reachability(super::Reachability::Unreachable);
                self.lost(group);
                self.events.push_back(Event::RejoinFailed { group, error: None });
            }
            (Purpose::Heartbeat, Command::Ping(_)) => {
                self.unanswered_pings = self.unanswered_pings.saturating_add(1);
                // One report per silence, not one per retry; and not for a single lost ping,
                // which the retry 2 s later makes good (a server restarting, a lost datagram):
                // only when the retry goes unanswered too.
                if self.unanswered_pings == QUIET_MISSES + 1 {
                    self.set_reachability(super::Reachability::Unreachable);
                    let (request, purpose) = (Command::Ping(None), Purpose::Heartbeat);
                    self.events.push_back(Event::NoReply { request, purpose });
                }
            }
            // A member count that did not come: the heartbeat's ping speaks for liveness.
            (Purpose::Heartbeat, Command::Who) => {}
            (purpose, request) => {
                self.set_reachability(super::Reachability::Unreachable);
                self.events.push_back(Event::NoReply { request, purpose });
            }
        }
    }

    /// The member socket joined `group`: ask for a token at once, which also tells the
    /// heartbeat interval before the server's deadline can pass.
    fn joined(&mut self, now: Instant, group: GroupId) {
        self.group = Some(group);
        self.joined_at = Some(now);
        self.unanswered_pings = 0;
        self.token = None;
        self.token_answered = false;
        self.ping(now, Some(PingArg::Request));
    }

    /// The server no longer has us in `group`.
    fn lost(&mut self, group: GroupId) {
        if self.group == Some(group) {
            self.group = None;
            self.token = None;
        }
    }

    /// A create or join on an attempt socket is over without a join: close the socket.
    fn finish_attempt(&mut self, socket: SocketId) {
        if self.attempt == Some(socket) {
            self.close(socket);
        }
    }

    /// `ERR NOT_IN_GROUP JoinFirstUseJOIN` while we think we are in a group: the server
    /// forgot us (it restarted, or we were silent too long). Join again, once, from a fresh
    /// socket: if a peer forged the error, the member socket is still in the group, and the
    /// peer could answer a rejoin sent from there.
    fn forgotten_if(&mut self, error: &ErrorReply, now: Instant) {
        let Some(group) = self.group else { return };
        if *error != ErrorReply::JoinFirst || self.attempt.is_some() {
            return; // not forgotten, or a join under way will settle our membership
        }
        let rejoining = self.pending.iter().any(|p| p.purpose == Purpose::Rejoin);
        if !rejoining {
            let socket = self.socket_for_membership();
            self.request(now, socket, Request::Command(Command::Join(group)), Purpose::Rejoin);
        }
    }
}
