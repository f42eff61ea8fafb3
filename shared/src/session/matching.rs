//! Which replies can answer which request. A datagram from the server's address is a reply only
//! if it answers something outstanding; anything else is a peer's payload, whatever it looks like.

use super::Request;
use crate::{Command, ErrorReply, Reply};

pub(super) fn answers(request: &Request, reply: &Reply) -> bool {
    use ErrorReply as E;
    let Request::Command(command) = request else {
        // A payload has no reply; it can only be refused.
        return matches!(reply, Reply::Error(E::JoinFirst | E::TooLarge | E::Other { .. }));
    };
    match (command, reply) {
        // Errors any command can get, from this server or one with new codes.
        (_, Reply::Error(E::UnknownCommand | E::TooLarge | E::Other { .. })) => true,
        (Command::Create { .. }, Reply::Created(_) | Reply::Error(E::ClientLimit { .. })) => true,
        (Command::Join(id), Reply::Joined(joined)) => joined == id,
        (Command::Join(id), Reply::Error(E::GroupFull(full))) => full == id,
        (Command::Join(_), Reply::Error(E::NoSuchGroup | E::JoinUsage)) => true,
        (Command::Leave(id), Reply::Left(left)) => left == id,
        (Command::Leave(_), Reply::Error(E::NotInThatGroup | E::LeaveUsage)) => true,
        (Command::Ping, Reply::Pong(_) | Reply::Error(E::JoinFirst)) => true,
        (Command::Who, Reply::Who { .. } | Reply::Error(E::JoinFirst)) => true,
        _ => false,
    }
}
