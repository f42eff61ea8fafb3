//! The abuse limits of docs/protocol.md, through the core with an injected clock and forged source
//! addresses: each limit at its value, just over, and refilled with time; tokens; the 3 ×
//! budget; reply loops; unreachable members; memory given back; the log limiter.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udprelay_shared::{GroupId, Token};

use super::limits::{Limits, Rate};
use super::logs::{LINES_PER_SECOND, Line};
use super::{Config, Outgoing, Relay};

struct Server {
    relay: Relay,
    now: Instant,
}

/// Port `port` at 10.0.0.`ip`.
fn at(ip: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, ip], port))
}

fn no_limits() -> Limits {
    Limits::none()
}

impl Server {
    fn with(limits: Limits) -> Server {
        let config = Config { limits, ..Config::default() };
        Server { relay: Relay::new(config), now: Instant::now() }
    }

    /// What the relay sends for one datagram: `None` for nothing, else the texts.
    fn send(&mut self, from: SocketAddr, datagram: &[u8]) -> Option<Vec<(SocketAddr, Vec<u8>)>> {
        match self.relay.handle(self.now, from, datagram) {
            Outgoing::Nothing => None,
            Outgoing::Reply(reply) => Some(vec![(from, reply.to_bytes())]),
            Outgoing::Relay { payload, recipients, .. } => {
                Some(recipients.map(|to| (to, payload.to_vec())).collect())
            }
        }
    }

    /// The reply to a command as text; `None` if the relay sent nothing.
    fn ask(&mut self, from: SocketAddr, command: &str) -> Option<String> {
        let out = self.send(from, command.as_bytes())?;
        assert_eq!(out.len(), 1, "{command}: {out:?}");
        Some(String::from_utf8(out[0].1.clone()).unwrap())
    }

    fn create(&mut self, from: SocketAddr) -> GroupId {
        let reply = self.ask(from, "!CREATE").unwrap();
        reply.strip_prefix("OK CREATED ").unwrap_or_else(|| panic!("{reply}")).parse().unwrap()
    }

    fn join(&mut self, from: SocketAddr, group: GroupId) -> String {
        self.ask(from, &format!("!JOIN {group}")).unwrap_or_default()
    }

    fn advance(&mut self, seconds: f64) {
        self.now += Duration::from_secs_f64(seconds);
    }

    /// A member validates its address as udprelay's clients do: asks for a token, echoes it.
    fn validate(&mut self, member: SocketAddr) {
        let token = token_of(&self.ask(member, "!PING +").unwrap());
        self.ask(member, &format!("!PING {token}")).unwrap();
    }

    /// Bytes delivered to `to` by a payload from `from`.
    fn delivered(&mut self, from: SocketAddr, payload: &[u8], to: SocketAddr) -> usize {
        let out = self.send(from, payload).unwrap_or_default();
        out.iter().filter(|(addr, _)| *addr == to).map(|(_, bytes)| bytes.len()).sum()
    }
}

// ---- Count limits ----

#[test]
fn max_groups_gives_server_full() {
    let mut s = Server::with(Limits { max_groups: Some(2), ..no_limits() });
    s.create(at(1, 1));
    s.create(at(2, 1));
    assert_eq!(s.ask(at(3, 1), "!CREATE").unwrap(), "ERR SERVER_FULL TooManyGroups");
    assert_eq!(s.relay.stats().refused_server_full, 1);
    // An expired group frees the place.
    s.advance(301.0);
    s.relay.sweep(s.now);
    s.create(at(3, 1));
}

#[test]
fn max_members_gives_server_full_to_new_members_only() {
    let mut s = Server::with(Limits { max_members: Some(2), ..no_limits() });
    let (g, h) = (s.create(at(1, 1)), s.create(at(1, 2)));
    assert_eq!(s.join(at(1, 1), g), format!("OK JOINED {g}"));
    assert_eq!(s.join(at(2, 1), g), format!("OK JOINED {g}"));
    assert_eq!(s.join(at(3, 1), g), "ERR SERVER_FULL TooManyMembers");
    // A member moving to another group is not a new member.
    assert_eq!(s.join(at(2, 1), h), format!("OK JOINED {h}"));
    assert_eq!(
        s.ask(at(1, 1), "!LEAVE ".to_string().as_str()).unwrap(),
        "ERR BAD_ARG Usage:!LEAVE <GROUPID>"
    );
    assert_eq!(s.ask(at(1, 1), &format!("!LEAVE {g}")).unwrap(), format!("OK LEFT {g}"));
    assert_eq!(s.join(at(3, 1), g), format!("OK JOINED {g}"));
}

#[test]
fn max_groups_per_ip_counts_every_port_of_the_ip() {
    let limits = Limits { max_groups_per_ip: Some(3), ..no_limits() };
    let mut s = Server::with(limits);
    for port in 1..=3 {
        s.create(at(1, port));
    }
    assert_eq!(s.ask(at(1, 4), "!CREATE").unwrap(), "ERR CLIENT_LIMIT 3/3");
    assert_eq!(s.relay.stats().refused_ip_limit, 1);
    s.create(at(2, 1)); // another IP
    // IPv6: one /64 is one sender.
    let v6 = |n: u16| SocketAddr::from(([0x2001, 0xdb8, 0, 1, n, n, n, n], n));
    for n in 1..=3 {
        s.create(v6(n));
    }
    assert_eq!(s.ask(v6(9), "!CREATE").unwrap(), "ERR CLIENT_LIMIT 3/3");
}

#[test]
fn max_members_per_ip_gives_ip_limit() {
    let mut s = Server::with(Limits { max_members_per_ip: Some(2), ..no_limits() });
    let g = s.create(at(9, 1));
    assert_eq!(s.join(at(1, 1), g), format!("OK JOINED {g}"));
    assert_eq!(s.join(at(1, 2), g), format!("OK JOINED {g}"));
    assert_eq!(s.join(at(1, 3), g), "ERR IP_LIMIT 2/2");
    assert_eq!(s.join(at(2, 3), g), format!("OK JOINED {g}"), "another IP");
    // One leaves: a place at that IP is free again.
    s.ask(at(1, 1), &format!("!LEAVE {g}"));
    assert_eq!(s.join(at(1, 3), g), format!("OK JOINED {g}"));
}

/// A person's window in many groups uses one address per group, all at one IP: once each
/// has validated (as udprelay's clients do right after joining), they no longer count toward
/// the limit, which still holds forged joins (which cannot validate) at a victim's IP.
#[test]
fn validated_members_leave_the_per_ip_limit_to_forged_ones_up_to_16_times_it() {
    let mut s = Server::with(Limits { max_members_per_ip: Some(2), ..no_limits() });
    let g = s.create(at(9, 1));
    for port in 1..=30 {
        assert_eq!(s.join(at(1, port), g), format!("OK JOINED {g}"), "port {port}");
        s.validate(at(1, port));
    }
    // Two unvalidated (forged, say) are allowed beside them, not three.
    assert_eq!(s.join(at(1, 31), g), format!("OK JOINED {g}"));
    assert_eq!(s.join(at(1, 32), g), format!("OK JOINED {g}"));
    assert_eq!(s.join(at(1, 33), g), "ERR IP_LIMIT 2/2");
    // In all, 16 × the limit: 32 members at that IP, validated or not.
    s.validate(at(1, 31));
    s.validate(at(1, 32));
    assert_eq!(s.join(at(1, 33), g), "ERR IP_LIMIT 32/32");
    // A validated member that leaves frees a place.
    s.ask(at(1, 1), &format!("!LEAVE {g}"));
    assert_eq!(s.join(at(1, 33), g), format!("OK JOINED {g}"));
}

// ---- Rates ----

#[test]
fn command_rate_drops_without_a_reply_and_refills() {
    let mut s = Server::with(Limits { command_rate: Rate::per_second(20), ..no_limits() });
    let a = at(1, 1);
    let answered = (0..100).filter(|_| s.ask(a, "!WHO").is_some()).count();
    assert_eq!(answered, 40, "a burst of twice the rate");
    assert_eq!(s.relay.stats().dropped_command_rate, 60);
    assert!(s.ask(at(1, 2), "!WHO").is_none(), "every port of the IP shares the rate");
    assert!(s.ask(at(2, 1), "!WHO").is_some(), "another IP has its own");
    s.advance(0.05);
    assert!(s.ask(a, "!WHO").is_some(), "one more every 50 ms");
    assert!(s.ask(a, "!WHO").is_none());
}

#[test]
fn id_guessing_is_held_to_the_command_rate() {
    let mut s = Server::with(Limits::default());
    let mut answered = 0;
    for second in 0..10 {
        for n in 0..1000 {
            if s.ask(at(1, 1), &format!("!JOIN {}", guess(second * 1000 + n))).is_some() {
                answered += 1;
            }
        }
        s.advance(1.0);
    }
    // 10 s at 20 a second (the error rate, 10 a second, answers fewer still).
    assert!(answered <= 40 + 10 * 20, "{answered}");
    assert!(answered <= 20 + 10 * 10, "the error rate bounds the answers: {answered}");
}

fn guess(n: u32) -> String {
    let alphabet = udprelay_shared::group_id::ALPHABET;
    (0..8).map(|i| alphabet[(n as usize / 34usize.pow(i)) % 34] as char).collect()
}

#[test]
fn error_rate_drops_error_replies_only() {
    let mut s = Server::with(Limits { error_rate: Rate::per_second(10), ..no_limits() });
    let a = at(1, 1);
    let errors = (0..50).filter(|_| s.ask(a, "!NOPE").is_some()).count();
    assert_eq!(errors, 20);
    assert_eq!(s.relay.stats().dropped_error_rate, 30);
    // Successful replies are not errors.
    let g = s.create(a);
    assert_eq!(s.join(a, g), format!("OK JOINED {g}"));
    s.advance(1.0);
    assert_eq!(s.ask(a, "!NOPE").unwrap(), "ERR BAD_CMD UnknownCommand");
}

#[test]
fn payload_rate_cuts_a_flooding_member_before_fan_out() {
    let mut s = Server::with(Limits { payload_rate: Rate::per_second(100), ..no_limits() });
    let (flooder, other, listener) = (at(1, 1), at(2, 1), at(3, 1));
    let g = s.create(flooder);
    for member in [flooder, other, listener] {
        s.join(member, g);
    }
    let relayed = (0..1000).filter(|_| s.delivered(flooder, b"x", listener) > 0).count();
    assert_eq!(relayed, 200);
    assert_eq!(s.relay.stats().dropped_payload_rate, 800);
    assert_eq!(s.delivered(other, b"hello", listener), 5, "the others are not held up");
    s.advance(1.0);
    assert_eq!(s.delivered(flooder, b"x", listener), 1, "refilled");
}

// ---- Reply loops ----

#[test]
fn reply_shaped_datagrams_from_non_members_get_nothing() {
    let mut s = Server::with(Limits::default());
    let other_relay = at(7, 5000);
    for text in ["OK JOINED ABCD1234", "ERR NOT_IN_GROUP JoinFirstUseJOIN", "PONG 60.0", "ERR X y"]
    {
        assert!(s.send(other_relay, text.as_bytes()).is_none(), "{text}");
    }
    assert_eq!(s.relay.stats().dropped_loop, 4);
    // Anything else from a non-member still gets its error (a real client needs it).
    assert_eq!(s.ask(other_relay, "hello").unwrap(), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
    // A member may send any bytes, reply-shaped ones included: they are its payload.
    let (a, b) = (at(1, 1), at(2, 1));
    let g = s.create(a);
    s.join(a, g);
    s.join(b, g);
    assert_eq!(s.delivered(a, b"OK JOINED ABCD1234", b), 18);
}

#[test]
fn two_relays_cannot_be_made_to_answer_each_other() {
    // One forged datagram "from" relay B to relay A: count what follows.
    let (a_addr, b_addr) = (at(1, 5000), at(2, 5000));
    let mut a = Server::with(Limits::default());
    let mut b = Server::with(Limits::default());
    let mut in_flight = vec![(a_addr, b_addr, b"hello".to_vec())];
    let mut datagrams = 0;
    while let Some((to, from, datagram)) = in_flight.pop() {
        datagrams += 1;
        assert!(datagrams < 100, "a loop");
        let relay = if to == a_addr { &mut a } else { &mut b };
        for (back_to, bytes) in relay.send(from, &datagram).unwrap_or_default() {
            in_flight.push((back_to, to, bytes));
        }
    }
    assert_eq!(datagrams, 2, "the forged datagram and one error, then silence");
}

#[test]
fn nothing_is_answered_to_the_relays_own_address() {
    let mut s = Server::with(Limits::default());
    let own = at(1, 5000);
    s.relay.set_own_addresses(vec![own]);
    assert!(s.send(own, b"!CREATE").is_none());
    assert!(s.send(own, b"hello").is_none());
    assert_eq!(s.relay.stats().dropped_own_address, 2);
    assert!(s.send(at(1, 5001), b"!CREATE").is_some());
}

// ---- Address validation ----

fn token_of(reply: &str) -> Token {
    reply.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn tokens_validate_their_own_address_only() {
    let mut s = Server::with(no_limits());
    let (a, b) = (at(1, 1), at(2, 1));
    let g = s.create(a);
    s.join(a, g);
    s.join(b, g);
    assert_eq!(s.ask(a, "!PING").unwrap(), "PONG 60.0", "a plain ping is as before");
    let reply = s.ask(a, "!PING +").unwrap();
    assert!(reply.starts_with("PONG 60.0 "), "{reply}");
    let token = token_of(&reply);
    // b echoing a's token validates nothing.
    s.ask(b, &format!("!PING {token}"));
    assert_eq!(s.relay.stats().validations, 0);
    // A forged token neither.
    s.ask(a, &format!("!PING {}", "f".repeat(32)));
    assert_eq!(s.relay.stats().validations, 0);
    s.ask(a, &format!("!PING {token}"));
    assert_eq!(s.relay.stats().validations, 1);
    // A non-member gets no token.
    assert_eq!(s.ask(at(3, 1), "!PING +").unwrap(), "ERR NOT_IN_GROUP JoinFirstUseJOIN");
}

#[test]
fn a_token_expires() {
    let mut s = Server::with(no_limits());
    let a = at(1, 1);
    let g = s.create(a);
    s.join(a, g);
    let token = token_of(&s.ask(a, "!PING +").unwrap());
    s.advance(901.0); // past its window and the two after it
    s.ask(a, &format!("!PING {token}"));
    assert_eq!(s.relay.stats().validations, 0);
}

#[test]
fn an_unvalidated_member_receives_at_most_three_times_what_it_sent() {
    let limits = Limits { require_validation: true, ..no_limits() };
    let mut s = Server::with(limits);
    let (sender, victim) = (at(1, 1), at(2, 1));
    let g = s.create(sender);
    s.join(sender, g);
    // The "victim" is a forged address: its one datagram, the join, is all it ever sends.
    let join = format!("!JOIN {g}");
    s.join(victim, g);
    let budget = 3 * join.len();
    let payload = [b'x'; 10];
    let received: usize = (0..100).map(|_| s.delivered(sender, &payload, victim)).sum();
    assert!(received <= budget, "{received} > {budget}");
    assert!(received + payload.len() > budget, "the budget is used, not withheld");
    assert!(s.relay.stats().dropped_budget > 0);
    // Replies are not withheld.
    assert!(s.ask(victim, "!WHO").unwrap().starts_with("OK WHO"));
}

#[test]
fn a_validated_member_receives_without_a_budget() {
    let limits = Limits { require_validation: true, ..no_limits() };
    let mut s = Server::with(limits);
    let (sender, member) = (at(1, 1), at(2, 1));
    let g = s.create(sender);
    s.join(sender, g);
    s.join(member, g);
    let token = token_of(&s.ask(member, "!PING +").unwrap());
    s.ask(member, &format!("!PING {token}"));
    let received: usize = (0..100).map(|_| s.delivered(sender, &[b'x'; 100], member)).sum();
    assert_eq!(received, 100 * 100);
    // Validation lasts while it stays a member, in another group too.
    let h = s.create(at(3, 1));
    s.join(member, h);
    s.join(sender, h);
    assert_eq!(s.delivered(sender, &[b'x'; 100], member), 100);
}

#[test]
fn forged_joins_toward_one_victim_are_bounded_by_default() {
    // 128 forged members at one victim IP, then 4096-byte payloads: with the defaults the
    // victim's IP holds 16 members, so each payload reaches it at most 16 times.
    let mut s = Server::with(Limits::default());
    let attacker = at(1, 1);
    let g = s.create(attacker);
    s.join(attacker, g);
    for port in 1..=128 {
        s.join(at(66, port), g);
        s.advance(0.05); // the forged joins come from many IPs in reality; here, slowly
    }
    let payload = vec![b'x'; 4096];
    let to_victim: usize = s
        .send(attacker, &payload)
        .unwrap_or_default()
        .iter()
        .filter(|(to, _)| to.ip() == at(66, 0).ip())
        .map(|(_, bytes)| bytes.len())
        .sum();
    assert!(to_victim <= 16 * payload.len(), "{}×", to_victim / payload.len());
}

// ---- Unreachable members, memory, logs ----

#[test]
fn an_unreachable_member_is_removed() {
    let mut s = Server::with(no_limits());
    let (a, b) = (at(1, 1), at(2, 1));
    let g = s.create(a);
    s.join(a, g);
    s.join(b, g);
    s.relay.remove_unreachable(s.now, b);
    assert_eq!(s.ask(a, "!WHO").unwrap(), format!("OK WHO {g} 1"));
    assert_eq!(s.relay.stats().unreachable, 1);
    s.relay.remove_unreachable(s.now, b); // a second report for the same address: nothing
    assert_eq!(s.relay.stats().unreachable, 1);
}

#[test]
fn tables_shrink_after_a_wave_expires() {
    let mut s = Server::with(no_limits());
    let survivor = at(200, 1);
    let kept = s.create(survivor);
    s.join(survivor, kept);
    for n in 0..20_000u32 {
        let addr = SocketAddr::from(([10, 1, (n >> 8) as u8, n as u8], 7000));
        let g = s.create(addr);
        s.join(addr, g);
    }
    let peak = (s.relay.tables.groups.capacity(), s.relay.tables.members.capacity());
    let mut shrunk = Vec::new();
    for _ in 0..4 {
        s.advance(60.0);
        s.ask(survivor, "!PING");
        shrunk.push(s.relay.sweep(s.now).shrunk);
    }
    s.advance(301.0);
    s.ask(survivor, "!PING");
    let last = s.relay.sweep(s.now);
    assert_eq!((s.relay.live_groups(), s.relay.live_members()), (1, 1));
    // Each sweep that shrank a table says so (the shell then gives the memory back), and only
    // those: the members went in one sweep, the groups in the last.
    assert_eq!(shrunk, [false, false, false, true]);
    assert!(last.shrunk);
    assert!(!s.relay.sweep(s.now).shrunk, "nothing more to shrink");
    let after = (s.relay.tables.groups.capacity(), s.relay.tables.members.capacity());
    assert!(after.0 * 4 < peak.0 && after.1 * 4 < peak.1, "{peak:?} → {after:?}");
    // The survivor is intact.
    assert_eq!(s.ask(survivor, "!WHO").unwrap(), format!("OK WHO {kept} 1"));
    let other = at(201, 1);
    s.join(other, kept);
    assert_eq!(s.delivered(other, b"hi", survivor), 2);
}

#[test]
fn a_flood_of_joins_writes_few_log_lines_and_exact_counters() {
    let mut s = Server::with(no_limits());
    let (x, y) = (s.create(at(1, 1)), s.create(at(1, 2)));
    let a = at(2, 1);
    for n in 0..1000 {
        s.join(a, if n % 2 == 0 { x } else { y });
    }
    assert_eq!(s.relay.stats().joins, 1000, "every join counted");
    let left_out = s.relay.logs.left_out(Line::Join);
    assert_eq!(left_out, 1000 - u64::from(LINES_PER_SECOND));
}

#[test]
fn an_over_long_id_is_answered_without_reading_it() {
    let mut s = Server::with(no_limits());
    let ligatures = "\u{fb03}".repeat(1363); // upper-cases to 4089 characters
    assert_eq!(s.ask(at(1, 1), &format!("!JOIN {ligatures}")).unwrap(), "ERR BAD_ARG NoSuchGroup");
    assert_eq!(
        s.ask(at(1, 1), &format!("!LEAVE {}", "a".repeat(65))).unwrap(),
        "ERR NOT_IN_GROUP NotInThatGroup"
    );
    // White space around an id is still fine, however much.
    let g = s.create(at(1, 1));
    let padded =
        format!("!JOIN {}{}{}", " ".repeat(2000), g.as_str().to_lowercase(), " ".repeat(2000));
    assert_eq!(s.ask(at(1, 1), &padded).unwrap(), format!("OK JOINED {g}"));
}
