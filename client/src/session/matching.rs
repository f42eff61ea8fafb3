//! Which replies can answer which request: the table in docs/protocol.md, "What a well-behaved client does". A
//! datagram is a reply only if it arrived on the request's socket and answers it by this table;
//! anything else is a peer's payload, whatever it looks like.

use super::Request;
use udprelay_shared::{Command, ErrorReply as E, GroupId, Reply};

/// Whether `reply` can answer `request`, while the session believes it is in `group`.
pub(super) fn answers(request: &Request, reply: &Reply, group: Option<GroupId>) -> bool {
    let Request::Command(command) = request else {
        // A payload has no reply; it can only be refused, because we are in no group.
        return matches!(reply, Reply::Error(E::JoinFirst));
    };
    match (command, reply) {
        (
            Command::Create { .. },
            Reply::Created(_) | Reply::Error(E::ClientLimit { .. } | E::ServerFull(_) | E::Busy),
        ) => true,
        (Command::Join(id), Reply::Joined(joined)) => joined == id,
        (Command::Join(id), Reply::Error(E::GroupFull(full))) => full == id,
        (
            Command::Join(_),
            Reply::Error(E::NoSuchGroup | E::ServerFull(_) | E::IpLimit { .. } | E::Busy),
        ) => true,
        (Command::Leave(id), Reply::Left(left)) => left == id,
        (Command::Leave(_), Reply::Error(E::NotInThatGroup)) => true,
        (Command::Ping(_), Reply::Pong { .. } | Reply::Error(E::JoinFirst)) => true,
        (Command::Who, Reply::Who { group: current, .. }) => Some(*current) == group,
        (Command::Who, Reply::Error(E::JoinFirst)) => true,
        _ => false,
    }
}
