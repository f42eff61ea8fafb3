//! The client session under an injected clock: matching, heartbeat, rejoin, timeouts.

use std::time::{Duration, Instant};

use super::*;
use udprelay_shared::{ErrorReply, PingArg};

pub(super) struct Client {
    pub session: Session,
    pub now: Instant,
    /// What the session sent and closed, oldest first, not yet looked at.
    outbox: Vec<Transmit>,
    /// The socket the last datagram went out on: where the server's answer comes back.
    last_socket: SocketId,
}

pub(super) fn id(text: &str) -> GroupId {
    text.parse().unwrap()
}

impl Client {
    pub fn new() -> Client {
        Client::with(Session::new())
    }

    pub fn with(session: Session) -> Client {
        Client { session, now: Instant::now(), outbox: Vec::new(), last_socket: SocketId(0) }
    }

    fn pump(&mut self) {
        while let Some(transmit) = self.session.poll_transmit() {
            if let Transmit::Send { socket, .. } = &transmit {
                self.last_socket = *socket;
            }
            self.outbox.push(transmit);
        }
    }

    /// Every datagram the session sent, as text (sockets and closes left out).
    pub fn sent(&mut self) -> Vec<String> {
        self.pump();
        std::mem::take(&mut self.outbox)
            .into_iter()
            .filter_map(|t| match t {
                Transmit::Send { datagram, .. } => Some(String::from_utf8(datagram).unwrap()),
                Transmit::Close(_) => None,
            })
            .collect()
    }

    /// Everything the session asked for, as `N: text` (socket N) and `close N`.
    pub fn transmits(&mut self) -> Vec<String> {
        self.pump();
        std::mem::take(&mut self.outbox)
            .into_iter()
            .map(|t| match t {
                Transmit::Send { socket, datagram } => {
                    format!("{}: {}", socket.0, String::from_utf8(datagram).unwrap())
                }
                Transmit::Close(socket) => format!("close {}", socket.0),
            })
            .collect()
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// A datagram from the server's address on the socket that sent last.
    pub fn receive(&mut self, datagram: &str) {
        self.pump();
        self.receive_on(self.last_socket, datagram);
    }

    pub fn receive_on(&mut self, socket: SocketId, datagram: &str) {
        self.session.handle_datagram(self.now, socket, datagram.as_bytes());
    }

    /// What a peer in our group sends: it arrives on the member socket, through the relay.
    pub fn peer_sends(&mut self, datagram: &str) {
        self.receive_on(self.session.member_socket(), datagram);
    }

    pub fn advance(&mut self, seconds: f64) {
        self.now += Duration::from_secs_f64(seconds);
        self.session.handle_timeout(self.now);
    }

    /// A session in group ABCD1234 with the interval learned (from a server that gives no
    /// tokens, as the original), all output drained.
    pub fn joined(interval: &str) -> Client {
        let mut c = Client::new();
        c.session.command(c.now, Command::Join(id("ABCD1234")));
        c.receive("OK JOINED ABCD1234");
        c.receive(&format!("PONG {interval}"));
        c.sent();
        c.events();
        c
    }
}

fn reply(request: Command, text: &str, purpose: Purpose) -> Event {
    Event::Reply { request, reply: Reply::parse(text.as_bytes()).unwrap(), purpose }
}

#[test]
fn a_join_is_answered_and_followed_by_a_ping() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    assert_eq!(c.sent(), ["!JOIN ABCD1234"]);
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    assert_eq!(c.sent(), ["!PING +"], "ping at once to learn the interval, asking for a token");
    c.receive("PONG 2.5");
    assert_eq!(c.session.heartbeat(), Duration::from_millis(2500));
    assert_eq!(
        c.events(),
        [
            Event::Reachability(Reachability::Reachable),
            reply(Command::Join(id("ABCD1234")), "OK JOINED ABCD1234", Purpose::User),
            reply(Command::Ping(Some(PingArg::Request)), "PONG 2.5", Purpose::Heartbeat),
        ]
    );
}

#[test]
fn reply_shaped_payloads_from_peers_are_not_believed() {
    let mut c = Client::joined("60.0");
    for text in [
        "OK JOINED ZZZZ9999",
        "OK LEFT ABCD1234",
        "PONG 0.001",
        "ERR NOT_IN_GROUP JoinFirstUseJOIN",
    ] {
        c.receive(text);
        assert_eq!(c.events(), [Event::Payload(text.as_bytes().to_vec())]);
    }
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    assert_eq!(c.session.heartbeat(), Duration::from_secs(60));
    assert!(c.sent().is_empty(), "no rejoin for a peer's text");
}

#[test]
fn a_reply_for_another_id_is_a_payload() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ZZZZ9999");
    assert_eq!(c.events(), [Event::Payload(b"OK JOINED ZZZZ9999".to_vec())]);
    assert_eq!(c.session.group(), None);
    c.receive("ERR GROUP_FULL ZZZZ9999");
    assert!(matches!(c.events()[..], [Event::Payload(_)]));
    c.receive("ERR GROUP_FULL ABCD1234");
    assert!(matches!(c.events()[..], [_, Event::Reply { .. }]));
}

#[test]
fn replies_match_the_oldest_request_they_answer() {
    let mut c = Client::joined("60.0");
    c.session.command(c.now, Command::Who);
    c.session.command(c.now, Command::Ping(None));
    c.sent();
    c.receive("PONG 60.0");
    c.receive("OK WHO ABCD1234 2");
    let events = c.events();
    assert_eq!(
        events,
        [
            reply(Command::Ping(None), "PONG 60.0", Purpose::User),
            reply(Command::Who, "OK WHO ABCD1234 2", Purpose::User),
        ]
    );
    assert!(!c.session.awaiting_user_reply());
}

#[test]
fn create_and_join_joins_the_new_id() {
    let mut c = Client::new();
    c.session.create_and_join(c.now, Some(5));
    assert_eq!(c.sent(), ["!CREATE 5"]);
    c.receive("OK CREATED NEWG1234");
    assert_eq!(c.session.last_created(), Some(id("NEWG1234")));
    assert_eq!(c.sent(), ["!JOIN NEWG1234"]);
    assert!(c.session.awaiting_user_reply(), "the join is still the user's");
    c.receive("OK JOINED NEWG1234");
    assert!(!c.session.awaiting_user_reply());
    assert_eq!(c.session.group(), Some(id("NEWG1234")));
}

#[test]
fn no_reply_within_two_seconds() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Create { cap: None });
    c.advance(1.999);
    assert!(c.events().is_empty());
    c.advance(0.001);
    assert_eq!(
        c.events(),
        [
            Event::Reachability(Reachability::Unreachable),
            Event::NoReply { request: Command::Create { cap: None }, purpose: Purpose::User },
        ]
    );
    assert!(!c.session.awaiting_user_reply());
    // A late reply answers nothing any more: it is shown as it came.
    c.receive("OK CREATED LATE1234");
    assert_eq!(c.events(), [Event::Payload(b"OK CREATED LATE1234".to_vec())]);
}

#[test]
fn heartbeat_follows_the_interval() {
    let mut c = Client::joined("10.0");
    c.advance(9.9);
    assert!(c.sent().is_empty());
    c.advance(0.1);
    assert_eq!(c.sent(), ["!PING"]);
    c.receive("PONG 10.0");
    c.advance(10.0);
    assert_eq!(c.sent(), ["!PING"]);
    assert!(
        c.events().iter().all(|e| matches!(e, Event::Reply { purpose: Purpose::Heartbeat, .. }))
    );
}

#[test]
fn chatting_does_not_postpone_the_heartbeat() {
    // A relayed payload is never acknowledged: only a PONG shows the server still has us, so
    // the pings go on every interval however much the user says.
    let mut c = Client::joined("10.0");
    for second in 1..=25 {
        c.advance(1.0);
        c.session.send_payload(c.now, format!("line {second}").as_bytes()).unwrap();
        if c.sent().contains(&"!PING".to_string()) {
            c.receive("PONG 10.0");
        }
        assert_eq!(c.session.health(c.now), Some(Health::Good), "at {second} s");
    }
    assert_eq!(c.unanswered_pings_for(5), [5.0], "the last ping was at 20 s");
}

#[test]
fn never_more_than_one_ping_a_second() {
    let mut c = Client::joined("0.001");
    c.advance(0.5);
    assert!(c.sent().is_empty());
    c.advance(0.5);
    assert_eq!(c.sent(), ["!PING"]);
}

#[test]
fn no_heartbeat_outside_a_group() {
    let mut c = Client::joined("10.0");
    c.session.command(c.now, Command::Leave(id("ABCD1234")));
    c.receive("OK LEFT ABCD1234");
    assert_eq!(c.session.group(), None);
    assert_eq!(c.session.next_ping(), None);
    c.sent();
    c.advance(100.0);
    assert!(c.sent().is_empty());
    assert_eq!(c.session.poll_timeout(), None);
}

#[test]
fn a_forgotten_member_rejoins_once() {
    let mut c = Client::joined("10.0");
    c.advance(10.0);
    assert_eq!(c.sent(), ["!PING"]);
    c.receive("ERR NOT_IN_GROUP JoinFirstUseJOIN");
    // From a fresh socket, which no group relays to.
    assert_eq!(c.transmits(), ["1: !JOIN ABCD1234"]);
    c.events();
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.events(), [Event::Rejoined(id("ABCD1234"))]);
    assert_eq!(
        c.transmits(),
        ["0: !LEAVE ABCD1234", "close 0", "1: !PING +"],
        "the new socket is the member, and pings at once, as after any join"
    );
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    assert_eq!(c.session.member_socket(), SocketId(1));
}

#[test]
fn a_failed_rejoin_says_why_and_leaves_the_group() {
    let mut c = Client::joined("10.0");
    c.advance(10.0);
    c.receive("ERR NOT_IN_GROUP JoinFirstUseJOIN");
    c.events();
    c.receive("ERR BAD_ARG NoSuchGroup");
    assert_eq!(
        c.events(),
        [Event::RejoinFailed { group: id("ABCD1234"), error: Some(ErrorReply::NoSuchGroup) }]
    );
    assert_eq!(c.session.group(), None);
    c.advance(100.0);
    assert_eq!(c.sent(), ["!PING", "!JOIN ABCD1234"], "nothing after the failure");
}

#[test]
fn an_unanswered_rejoin_fails_too() {
    let mut c = Client::joined("10.0");
    c.advance(10.0);
    c.receive("ERR NOT_IN_GROUP JoinFirstUseJOIN");
    c.events();
    c.advance(2.0);
    assert_eq!(
        c.events(),
        [
            Event::Reachability(Reachability::Unreachable),
            Event::RejoinFailed { group: id("ABCD1234"), error: None },
        ]
    );
    assert_eq!(c.session.group(), None);
}

#[test]
fn a_refused_payload_also_means_we_were_forgotten() {
    let mut c = Client::joined("10.0");
    c.session.send_payload(c.now, b"anyone?").unwrap();
    c.sent();
    c.receive("ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(c.events(), [Event::PayloadRefused(ErrorReply::JoinFirst)]);
    assert_eq!(c.sent(), ["!JOIN ABCD1234"]);
    // A second refusal while the rejoin is under way does not send another join.
    c.session.send_payload(c.now, b"still?").unwrap();
    c.sent();
    c.receive("ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(c.sent(), Vec::<String>::new());
}

#[test]
fn payloads_are_checked_before_sending() {
    let mut c = Client::new();
    assert_eq!(c.session.send_payload(c.now, b"hi"), Err(PayloadError::NotJoined));
    let mut c = Client::joined("60.0");
    assert_eq!(c.session.send_payload(c.now, &[b'x'; 4097]), Err(PayloadError::TooLong(4097)));
    let mut c = Client::joined("60.0");
    for not_a_payload in [&b""[..], b"!WHO"] {
        let refused = c.session.send_payload(c.now, not_a_payload);
        assert_eq!(refused, Err(PayloadError::NotAPayload), "{not_a_payload:?}");
    }
    assert!(c.sent().is_empty());
    assert_eq!(c.session.send_payload(c.now, &[b'x'; 4096]), Ok(()));
    // A payload's silence is success: no "no reply" for it.
    c.advance(3.0);
    assert!(!c.events().iter().any(|e| matches!(e, Event::NoReply { .. })));
}

#[test]
fn the_network_can_report_the_server_unreachable_while_the_user_waits() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Create { cap: None });
    assert!(c.session.handle_unreachable());
    assert!(c.session.handle_unreachable());
    assert_eq!(c.events(), [Event::Reachability(Reachability::Unreachable)]);
    assert_eq!(c.session.reachability(), Reachability::Unreachable);
}

#[test]
fn a_server_closed_for_a_moment_under_a_heartbeat_is_no_news() {
    // A restart: the heartbeat ping draws an ICMP error and is lost; the retry 2 s later is
    // answered. The user hears nothing of it.
    let mut c = Client::joined("10.0");
    c.advance(10.0);
    assert_eq!(c.sent(), ["!PING"]);
    assert!(!c.session.handle_unreachable(), "only a heartbeat was waiting");
    c.advance(2.0);
    assert_eq!(c.sent(), ["!PING"], "the retry");
    c.receive("PONG 10.0");
    assert!(
        c.events().iter().all(|e| matches!(e, Event::Reply { purpose: Purpose::Heartbeat, .. }))
    );
    assert_eq!(c.session.health(c.now), Some(Health::Good));
}

#[test]
fn member_counts_follow_the_heartbeat_when_asked() {
    let mut c = Client::with(Session::with_member_refresh());
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.sent(), ["!JOIN ABCD1234", "!PING +"]);
    c.receive("PONG 10.0");
    assert_eq!(c.sent(), ["!WHO"]);
    c.receive("OK WHO ABCD1234 3");
    let events = c.events();
    assert_eq!(events.last(), Some(&reply(Command::Who, "OK WHO ABCD1234 3", Purpose::Heartbeat)));
    // The user's own pings do not add a WHO, and a plain session never does.
    c.session.command(c.now, Command::Ping(None));
    c.receive("PONG 10.0");
    assert_eq!(c.sent(), ["!PING"]);
    let mut plain = Client::joined("10.0");
    plain.advance(10.0);
    plain.receive("PONG 10.0");
    assert_eq!(plain.sent(), ["!PING"]);
}

#[test]
fn the_heartbeat_indicator_has_three_states() {
    let mut c = Client::new();
    assert_eq!(c.session.health(c.now), None, "no group, no heartbeat");
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.session.health(c.now), Some(Health::Good), "counts from the join");
    c.receive("PONG 10.0");
    c.sent();

    // Pings go out every 10 s; each PONG takes a moment to come back.
    c.advance(10.0);
    c.advance(0.05);
    c.receive("PONG 10.0");
    assert_eq!(c.session.health(c.now), Some(Health::Good));

    // The server goes quiet: good while a reply may still come, then late, then lost.
    c.advance(12.0); // 12 s since the last PONG: interval + reply time
    assert_eq!(c.session.health(c.now), Some(Health::Good));
    c.advance(0.001);
    assert_eq!(c.session.health(c.now), Some(Health::Late));
    c.advance(17.999); // exactly 30 s: 3 × the interval
    assert_eq!(c.session.health(c.now), Some(Health::Late));
    c.advance(0.001);
    assert_eq!(c.session.health(c.now), Some(Health::Lost));

    // One PONG and all is well again.
    c.receive("PONG 10.0");
    assert_eq!(c.session.health(c.now), Some(Health::Good));
}

impl Client {
    /// Runs the session's timers for `seconds` with nothing answered; returns when (seconds
    /// from now) each heartbeat `!PING` went out.
    pub fn unanswered_pings_for(&mut self, seconds: u64) -> Vec<f64> {
        let (start, end) = (self.now, self.now + Duration::from_secs(seconds));
        let mut times = Vec::new();
        for _ in 0..1000 {
            match self.session.poll_timeout() {
                Some(next) if next <= end => self.now = next,
                _ => break,
            }
            self.session.handle_timeout(self.now);
            if self.sent().iter().any(|sent| sent.starts_with("!PING")) {
                times.push((self.now - start).as_secs_f64());
            }
        }
        times
    }
}

#[test]
fn a_lost_first_pong_is_asked_for_again_when_overdue() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.sent(), ["!JOIN ABCD1234", "!PING +"]);
    c.events();
    // Its PONG is lost. Waiting the default 60 s would outlast a server whose 3 × H is 30 s.
    c.advance(2.0);
    assert_eq!(c.sent(), ["!PING +"], "still asking for a token");
    assert!(c.events().is_empty(), "one lost ping is not reported: the retry may make it good");
    c.advance(2.0);
    assert!(c.sent().is_empty(), "the next retry backs off to 4 s after this one");
    assert_eq!(
        c.events(),
        [
            Event::Reachability(Reachability::Unreachable),
            Event::NoReply { request: Command::Ping(None), purpose: Purpose::Heartbeat },
        ],
        "the retry unanswered too: that is reported, once"
    );
    c.advance(2.0);
    assert_eq!(c.sent(), ["!PING +"], "the next retry");
    c.receive("PONG 10.0");
    assert_eq!(c.session.heartbeat(), Duration::from_secs(10));
    assert_eq!(c.session.reachability(), Reachability::Reachable);
    assert_eq!(c.unanswered_pings_for(10), [10.0], "the interval once answered");
}

#[test]
fn while_the_server_is_silent_pings_come_sooner_then_back_off_to_the_interval() {
    let mut c = Client::joined("10.0");
    // 55 s: the last ping is still awaiting its reply.
    assert_eq!(c.unanswered_pings_for(55), [10.0, 12.0, 16.0, 24.0, 34.0, 44.0, 54.0]);
    let no_replies = c.events().into_iter().filter(|e| matches!(e, Event::NoReply { .. }));
    assert_eq!(no_replies.count(), 1, "one report per silence, not one per retry");

    c.receive("PONG 10.0");
    assert_eq!(c.unanswered_pings_for(10), [10.0], "answered: a full interval again");
}

#[test]
fn retries_never_come_later_than_the_interval() {
    let mut c = Client::joined("3.0");
    assert_eq!(c.unanswered_pings_for(14), [3.0, 5.0, 8.0, 11.0, 14.0]);
}

#[test]
fn the_dot_stays_green_through_chatting_at_any_interval_and_turns_only_with_silence() {
    for interval in [1.0f64, 2.0, 10.0, 60.0] {
        let mut c = Client::joined(&format!("{interval:.1}"));
        // Chat every 0.3 s for 5 intervals; the server answers every ping at once.
        let steps = (5.0 * interval / 0.3) as usize;
        for _ in 0..steps {
            c.advance(0.3);
            c.session.send_payload(c.now, b"chat").unwrap();
            if c.sent().iter().any(|s| s.starts_with("!PING")) {
                c.receive(&format!("PONG {interval:.1}"));
            }
            assert_eq!(c.session.health(c.now), Some(Health::Good), "interval {interval}");
        }
        // Then the server goes silent: amber only once a reply is late, red after 3 intervals.
        let heard = c.session.last_heard().unwrap();
        let mut colours = Vec::new();
        for _ in 0..((4.0 * interval / 0.25) as usize) {
            c.advance(0.25);
            c.sent();
            let since = (c.now - heard).as_secs_f64();
            colours.push((since, c.session.health(c.now).unwrap()));
        }
        for (since, health) in colours {
            let expected = if since <= interval + 2.0 {
                Health::Good
            } else if since <= 3.0 * interval {
                Health::Late
            } else {
                Health::Lost
            };
            assert_eq!(health, expected, "interval {interval}, {since:.2} s after the last PONG");
        }
    }
}

#[test]
fn the_dot_says_when_it_next_changes() {
    let (ten, secs) = (Duration::from_secs(10), Duration::from_secs_f64);
    assert_eq!(Health::changes_in(secs(0.0), ten), Some(secs(12.001)), "green until 12 s");
    assert_eq!(Health::changes_in(secs(12.5), ten), Some(secs(17.501)), "amber until 30 s");
    assert_eq!(Health::changes_in(secs(31.0), ten), None, "red stays red");
    // Right after the change it reports the next one, never a time already past.
    let at = secs(12.001);
    assert_eq!(Health::after(at, ten), Health::Late);
    assert!(Health::changes_in(at, ten).unwrap() > Duration::ZERO);
}

// ---- A cluster's relay: ERR BUSY TryAgain, and moving to another server ----

#[test]
fn busy_is_tried_again_every_second_for_a_while() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    assert_eq!(c.sent(), ["!JOIN ABCD1234"]);
    c.receive("ERR BUSY TryAgain");
    assert_eq!(
        c.events(),
        [
            Event::Reachability(Reachability::Reachable),
            Event::Retrying(Command::Join(id("ABCD1234")))
        ]
    );
    assert!(c.session.awaiting_user_reply(), "a script waits for the outcome");
    c.advance(0.9);
    assert!(c.sent().is_empty());
    c.advance(0.1);
    assert_eq!(c.sent(), ["!JOIN ABCD1234"], "again after a second, from the same socket");
    c.receive("ERR BUSY TryAgain");
    assert!(c.events().is_empty(), "said once");
    c.advance(1.0);
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    // Ten times at most: then the error is the answer.
    let mut c = Client::new();
    c.session.create_and_join(c.now, None);
    for _ in 0..10 {
        c.sent();
        c.receive("ERR BUSY TryAgain");
        c.advance(1.0);
    }
    c.sent();
    c.events();
    c.receive("ERR BUSY TryAgain");
    assert_eq!(
        c.events(),
        [reply(Command::Create { cap: None }, "ERR BUSY TryAgain", Purpose::CreateAndJoin)]
    );
    assert!(!c.session.awaiting_user_reply());
}

#[test]
fn busy_can_answer_only_a_create_or_a_join() {
    let mut c = Client::joined("60.0");
    c.session.command(c.now, Command::Who);
    c.sent();
    c.receive("ERR BUSY TryAgain");
    assert_eq!(c.events(), [Event::Payload(b"ERR BUSY TryAgain".to_vec())], "a peer's text");
}

#[test]
fn on_another_server_the_group_is_joined_again_from_a_fresh_socket() {
    let mut c = Client::joined("5.0");
    let old = c.session.member_socket();
    c.session.change_server(c.now, c.session.group());
    let transmits = c.transmits();
    assert_eq!(transmits[0], format!("close {}", old.0));
    let fresh = c.session.member_socket();
    assert_ne!(fresh, old);
    assert_eq!(transmits[1..], [format!("{}: !JOIN ABCD1234", fresh.0)]);
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    assert_eq!(
        c.events(),
        [
            Event::Reachability(Reachability::Unknown),
            Event::Reachability(Reachability::Reachable),
            Event::Rejoined(id("ABCD1234"))
        ]
    );
    assert_eq!(c.sent(), ["!PING +"]);
}

#[test]
fn on_another_server_the_users_waiting_command_is_sent_again() {
    let mut c = Client::new();
    c.session.create_and_join(c.now, Some(4));
    assert_eq!(c.sent(), ["!CREATE 4"]);
    c.session.change_server(c.now, None);
    assert_eq!(c.sent(), ["!CREATE 4"], "on the new server");
    c.receive("OK CREATED WXYZ2345");
    assert_eq!(c.sent(), ["!JOIN WXYZ2345"]);
    // A join the user asked for wins over rejoining the old group.
    let mut c = Client::joined("60.0");
    c.session.command(c.now, Command::Join(id("WXYZ2345")));
    c.sent();
    c.session.change_server(c.now, c.session.group());
    assert_eq!(c.sent(), ["!JOIN WXYZ2345"]);
    assert_eq!(c.session.group(), None);
}

#[test]
fn an_ip_limit_is_tried_again_twice_then_reported() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.sent();
    c.receive("ERR IP_LIMIT 16/16");
    assert_eq!(c.events(), [Event::Reachability(Reachability::Reachable)], "quietly");
    c.advance(1.0);
    assert_eq!(c.sent(), ["!JOIN ABCD1234"]);
    c.receive("ERR IP_LIMIT 16/16");
    c.advance(1.0);
    assert_eq!(c.sent(), ["!JOIN ABCD1234"]);
    c.receive("ERR IP_LIMIT 16/16");
    assert_eq!(
        c.events(),
        [reply(Command::Join(id("ABCD1234")), "ERR IP_LIMIT 16/16", Purpose::User)]
    );
}

#[test]
fn on_another_server_the_last_two_seconds_of_messages_follow_the_rejoin() {
    let mut c = Client::joined("60.0");
    c.session.send_payload(c.now, b"ana: long ago").unwrap();
    c.advance(2.5);
    c.session.send_payload(c.now, b"ana: just now").unwrap();
    c.advance(0.5);
    c.session.send_payload(c.now, b"ana: and this").unwrap();
    c.sent();
    c.session.change_server(c.now, c.session.group());
    assert_eq!(c.sent(), ["!JOIN ABCD1234"], "the messages wait for the server to have us");
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.sent(), ["!PING +", "ana: just now", "ana: and this"]);
    // What the old server relayed after a message shows it had it: not sent again.
    c.session.send_payload(c.now, b"ana: seen").unwrap();
    c.peer_sends("ben: got it");
    c.session.send_payload(c.now, b"ana: unseen").unwrap();
    c.sent();
    c.session.change_server(c.now, c.session.group());
    assert_eq!(c.sent(), ["!JOIN ABCD1234"]);
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.sent(), ["!PING +", "ana: unseen"]);
}

#[test]
fn watched_members_are_asked_for_at_the_interval_while_in_a_group() {
    let mut c = Client::joined("60.0");
    c.session.watch_members(c.now, Some(Duration::from_secs(5)));
    assert_eq!(c.session.poll_timeout(), Some(c.now), "at once");
    c.advance(0.0);
    assert_eq!(c.sent(), ["!WHO"]);
    c.receive("OK WHO ABCD1234 2");
    assert_eq!(c.events(), [reply(Command::Who, "OK WHO ABCD1234 2", Purpose::Heartbeat)]);
    c.advance(4.9);
    assert!(c.sent().is_empty());
    c.advance(0.1);
    assert_eq!(c.sent(), ["!WHO"]);
    // A count that does not come is no news: the heartbeat speaks for the server.
    c.advance(2.0);
    assert!(c.events().is_empty(), "{:?}", c.events());
    assert_eq!(c.session.reachability(), Reachability::Reachable);
    // Never more often than once a second; and stopped when asked.
    c.session.watch_members(c.now, Some(Duration::from_millis(10)));
    c.advance(0.0);
    c.advance(0.5);
    assert_eq!(c.sent(), ["!WHO"]);
    c.session.watch_members(c.now, None);
    c.advance(30.0);
    assert!(c.sent().is_empty());
}

#[test]
fn outside_a_group_no_member_count_is_asked() {
    let mut c = Client::new();
    c.session.watch_members(c.now, Some(Duration::from_secs(5)));
    assert_eq!(c.session.poll_timeout(), None);
    c.advance(10.0);
    assert!(c.sent().is_empty());
}

#[test]
fn thousands_of_payloads_cost_no_timer_and_a_refusal_still_matches() {
    let mut c = Client::joined("60.0");
    let next_ping = c.session.poll_timeout();
    for _ in 0..10_000 {
        c.session.send_payload(c.now, b"hello").unwrap();
    }
    assert_eq!(c.sent().len(), 10_000);
    // A payload's silence means it was relayed: nothing is due when it ends.
    assert_eq!(c.session.poll_timeout(), next_ping);
    c.advance(1.0);
    c.receive("ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(c.events(), [Event::PayloadRefused(ErrorReply::JoinFirst)]);
    assert_eq!(c.sent(), ["!JOIN ABCD1234"], "the server forgot us: join again");
    // Two seconds after the last, the same text answers nothing: a peer's message.
    c.advance(1.0);
    c.peer_sends("ERR NOT_IN_GROUP JoinFirstUseJOIN");
    assert_eq!(c.events(), [Event::Payload(b"ERR NOT_IN_GROUP JoinFirstUseJOIN".to_vec())]);
}
