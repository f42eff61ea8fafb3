//! The session against a hostile group member (docs/protocol.md, "What a well-behaved client does"): every row of
//! the matching table, forged replies while requests are outstanding, membership changes on a
//! socket in no group, and the address-validation token. Injected clock, no sockets.

use super::tests::{Client, id};
use super::*;
use udprelay_shared::PingArg;

/// How a request of the table is made, on a session in group ABCD1234.
type Ask = fn(&mut Client);

/// The table: each request, the replies that can answer it, and reply-shaped texts that cannot.
fn table() -> Vec<(&'static str, Ask, Vec<&'static str>, Vec<&'static str>)> {
    let always_wrong = [
        "ERR BAD_CMD UnknownCommand",
        "ERR TOO_LARGE PayloadTooLarge",
        "ERR X \u{1b}]0;owned\u{7}",
        "ERR SERVER_BUSY TryLater",
    ];
    let rows: Vec<(&str, Ask, Vec<&str>, Vec<&str>)> = vec![
        (
            "!CREATE",
            |c| c.session.command(c.now, Command::Create { cap: None }),
            vec![
                "OK CREATED ZZZZ9999",
                "ERR CLIENT_LIMIT 3/3",
                "ERR SERVER_FULL TooManyGroups",
                "ERR SERVER_FULL TooManyMembers",
                "ERR BUSY TryAgain",
            ],
            vec![
                "OK JOINED ZZZZ9999",
                "ERR BAD_ARG NoSuchGroup",
                "ERR NOT_IN_GROUP JoinFirstUseJOIN",
                "ERR IP_LIMIT 1/1",
                "PONG 1.0",
            ],
        ),
        (
            "!JOIN ZZZZ9999",
            |c| c.session.command(c.now, Command::Join(id("ZZZZ9999"))),
            vec![
                "OK JOINED ZZZZ9999",
                "ERR BAD_ARG NoSuchGroup",
                "ERR GROUP_FULL ZZZZ9999",
                "ERR SERVER_FULL TooManyMembers",
                "ERR IP_LIMIT 16/16",
                "ERR BUSY TryAgain",
            ],
            vec![
                "OK JOINED ABCD1234",
                "ERR GROUP_FULL ABCD1234",
                "OK CREATED ZZZZ9999",
                "OK LEFT ZZZZ9999",
                "ERR CLIENT_LIMIT 3/3",
                "ERR NOT_IN_GROUP JoinFirstUseJOIN",
                "ERR BAD_ARG Usage:!JOIN <GROUPID>",
            ],
        ),
        (
            "!LEAVE ABCD1234",
            |c| c.session.command(c.now, Command::Leave(id("ABCD1234"))),
            vec!["OK LEFT ABCD1234", "ERR NOT_IN_GROUP NotInThatGroup"],
            vec![
                "OK LEFT ZZZZ9999",
                "OK JOINED ABCD1234",
                "ERR NOT_IN_GROUP JoinFirstUseJOIN",
                "ERR BAD_ARG NoSuchGroup",
                "ERR BAD_ARG Usage:!LEAVE <GROUPID>",
            ],
        ),
        (
            "!PING",
            |c| c.session.command(c.now, Command::Ping(None)),
            vec!["PONG 60.0", "PONG 0.5 tok_1", "ERR NOT_IN_GROUP JoinFirstUseJOIN"],
            vec!["OK WHO ABCD1234 2", "ERR NOT_IN_GROUP NotInThatGroup", "PONG -1", "PONG 1 a b"],
        ),
        (
            "!WHO",
            |c| c.session.command(c.now, Command::Who),
            vec!["OK WHO ABCD1234 2", "ERR NOT_IN_GROUP JoinFirstUseJOIN"],
            vec!["OK WHO ZZZZ9999 2", "PONG 60.0", "OK LEFT ABCD1234"],
        ),
        (
            "a payload",
            |c| c.session.send_payload(c.now, b"hello").unwrap(),
            vec!["ERR NOT_IN_GROUP JoinFirstUseJOIN"],
            vec!["OK LEFT ABCD1234", "ERR NOT_IN_GROUP NotInThatGroup", "PONG 1.0"],
        ),
    ];
    rows.into_iter()
        .map(|(name, ask, yes, mut no)| {
            no.extend(always_wrong);
            (name, ask, yes, no)
        })
        .collect()
}

/// Makes the request on a fresh session in ABCD1234, lets `text` arrive where the server's
/// answer would, and says whether the session took it as the answer.
fn taken_as_answer(ask: Ask, text: &str) -> bool {
    let mut c = Client::joined("60.0");
    ask(&mut c);
    let command = c.session.awaiting_user_reply();
    c.sent();
    c.receive(text);
    let events = c.events();
    let answered = events.iter().any(|e| {
        matches!(e, Event::Reply { purpose: Purpose::User, .. } | Event::PayloadRefused(_))
    });
    if command && !answered {
        // Taken, and to be sent again a second later (`ERR BUSY TryAgain`, `ERR IP_LIMIT`)?
        c.advance(1.0);
        let again =
            c.sent().iter().any(|sent| sent.starts_with("!JOIN") || sent.starts_with("!CREATE"));
        if again {
            return true;
        }
    }
    if command {
        assert_eq!(c.session.awaiting_user_reply(), !answered, "{text:?}: {events:?}");
    }
    answered
}

#[test]
fn every_row_of_the_matching_table() {
    for (request, ask, answers, others) in table() {
        for text in answers {
            assert!(taken_as_answer(ask, text), "{text:?} should answer {request}");
        }
        for text in others {
            assert!(!taken_as_answer(ask, text), "{text:?} must not answer {request}");
        }
    }
}

#[test]
fn an_error_after_our_own_message_is_a_payload() {
    let mut c = Client::joined("60.0");
    c.session.send_payload(c.now, b"hi all").unwrap();
    c.sent();
    for forged in ["ERR X \u{1b}]52;c;aGk=\u{7}", "ERR TOO_LARGE PayloadTooLarge"] {
        c.peer_sends(forged);
        assert_eq!(c.events(), [Event::Payload(forged.as_bytes().to_vec())]);
    }
}

#[test]
fn a_peer_cannot_redirect_create_and_join() {
    let mut c = Client::joined("60.0");
    c.session.create_and_join(c.now, None);
    assert_eq!(c.transmits(), ["1: !CREATE"], "from a socket no group relays to");
    for _ in 0..3 {
        c.peer_sends("OK CREATED PEER1234");
    }
    assert_eq!(c.events().len(), 3, "three payloads");
    assert!(c.transmits().is_empty(), "the peer's id is not joined");
    c.receive_on(SocketId(1), "OK CREATED NEWG1234");
    assert_eq!(c.transmits(), ["1: !JOIN NEWG1234"]);
    c.peer_sends("OK JOINED PEER1234");
    c.peer_sends("ERR BAD_ARG NoSuchGroup");
    c.receive_on(SocketId(1), "OK JOINED NEWG1234");
    assert_eq!(c.transmits(), ["0: !LEAVE ABCD1234", "close 0", "1: !PING +"]);
    assert_eq!(c.session.group(), Some(id("NEWG1234")));
    assert_eq!(c.session.last_created(), Some(id("NEWG1234")));
}

#[test]
fn a_peer_cannot_fake_a_failed_join() {
    let mut c = Client::joined("60.0");
    c.session.command(c.now, Command::Join(id("BBBB2222")));
    assert_eq!(c.transmits(), ["1: !JOIN BBBB2222"]);
    c.peer_sends("ERR BAD_ARG NoSuchGroup");
    c.peer_sends("ERR GROUP_FULL BBBB2222");
    assert!(c.session.awaiting_user_reply(), "still waiting for the server");
    c.receive_on(SocketId(1), "OK JOINED BBBB2222");
    assert_eq!(c.session.group(), Some(id("BBBB2222")));
    assert_eq!(c.transmits(), ["0: !LEAVE ABCD1234", "close 0", "1: !PING +"]);
    assert_eq!(c.session.member_socket(), SocketId(1));
}

#[test]
fn a_real_failed_join_keeps_the_group_and_closes_the_fresh_socket() {
    let mut c = Client::joined("60.0");
    c.session.command(c.now, Command::Join(id("BBBB2222")));
    c.transmits();
    c.receive_on(SocketId(1), "ERR BAD_ARG NoSuchGroup");
    assert_eq!(c.transmits(), ["close 1"]);
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    assert_eq!(c.session.member_socket(), SocketId(0));
    let events = c.events();
    assert!(matches!(&events[..], [Event::Reply { reply: Reply::Error(_), .. }]), "{events:?}");
    // An unanswered one closes it too, and the next try takes a new one.
    c.session.command(c.now, Command::Join(id("BBBB2222")));
    c.advance(2.0);
    assert_eq!(c.transmits(), ["2: !JOIN BBBB2222", "close 2"]);
}

#[test]
fn a_forged_join_first_cannot_take_us_out_of_the_group() {
    let mut c = Client::joined("10.0");
    c.advance(10.0);
    assert_eq!(c.transmits(), ["0: !PING"]);
    c.peer_sends("ERR NOT_IN_GROUP JoinFirstUseJOIN"); // a peer answers our heartbeat
    assert_eq!(c.transmits(), ["1: !JOIN ABCD1234"], "the rejoin goes from a fresh socket");
    c.peer_sends("ERR BAD_ARG NoSuchGroup"); // and tries to fail the rejoin
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    c.receive_on(SocketId(1), "OK JOINED ABCD1234");
    assert_eq!(c.session.group(), Some(id("ABCD1234")));
    assert_eq!(c.transmits(), ["0: !LEAVE ABCD1234", "close 0", "1: !PING +"]);
}

#[test]
fn a_forged_pong_cannot_slow_the_heartbeat() {
    let mut c = Client::joined("10.0");
    c.advance(10.0);
    c.peer_sends("PONG 999999.0"); // answers our ping: the session cannot tell
    assert_eq!(c.session.heartbeat(), Duration::from_secs(10));
    assert_eq!(c.unanswered_pings_for(10), [10.0]);
    // A smaller interval is taken: the worst a peer can do is a ping a second.
    let mut c = Client::joined("10.0");
    c.advance(10.0);
    c.peer_sends("PONG 0.001");
    assert_eq!(c.session.ping_interval(), Duration::from_secs(1));
}

#[test]
fn a_datagram_on_another_socket_answers_nothing() {
    let mut c = Client::joined("60.0");
    c.session.command(c.now, Command::Who);
    c.receive_on(SocketId(7), "OK WHO ABCD1234 1");
    assert!(c.events().is_empty(), "not a reply, and no group relays there");
    assert!(c.session.awaiting_user_reply());
}

#[test]
fn outside_a_group_commands_keep_the_socket_until_it_has_joined() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Create { cap: None });
    c.receive("OK CREATED AAAA1111");
    c.session.command(c.now, Command::Create { cap: None });
    c.receive("ERR CLIENT_LIMIT 3/3");
    c.session.command(c.now, Command::Join(id("AAAA1111")));
    c.receive("OK JOINED AAAA1111");
    // One address for all: the server's per-address create limit still applies.
    assert_eq!(c.transmits(), ["0: !CREATE", "0: !CREATE", "0: !JOIN AAAA1111", "0: !PING +"]);
    c.session.command(c.now, Command::Leave(id("AAAA1111")));
    c.receive("OK LEFT AAAA1111");
    c.transmits();
    // That socket was in a group: a peer may still reach it, so the next join moves on.
    c.session.command(c.now, Command::Join(id("BBBB2222")));
    assert_eq!(c.transmits(), ["close 0", "1: !JOIN BBBB2222"]);
    c.receive("OK JOINED BBBB2222");
    assert_eq!(c.session.member_socket(), SocketId(1));
}

#[test]
fn the_token_is_echoed_at_once_and_carried_by_every_ping() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    assert_eq!(c.sent(), ["!JOIN ABCD1234", "!PING +"]);
    c.receive("PONG 10.0 tokA");
    assert_eq!(c.sent(), ["!PING tokA"], "echoed at once: that validates the address");
    c.receive("PONG 10.0 tokB");
    assert!(c.sent().is_empty(), "a token is echoed once, not ping-ponged");
    c.advance(10.0);
    assert_eq!(c.sent(), ["!PING tokB"]);
    c.receive("PONG 10.0 tokC");
    c.advance(10.0);
    assert_eq!(c.sent(), ["!PING tokC"]);
    let echo = Command::Ping(Some(PingArg::Token("tokA".parse().unwrap())));
    let events = c.events();
    assert!(events.iter().any(|e| matches!(e, Event::Reply { request, .. } if *request == echo)));
}

#[test]
fn without_tokens_the_client_carries_on() {
    // The original server answers `!PING +` with a plain `PONG <seconds>`.
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    c.receive("PONG 10.0");
    assert_eq!(c.sent(), ["!JOIN ABCD1234", "!PING +"]);
    c.advance(10.0);
    assert_eq!(c.sent(), ["!PING"]);
}

#[test]
fn each_new_member_socket_asks_for_its_own_token() {
    let mut c = Client::new();
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    c.receive("PONG 10.0 tokA");
    c.receive("PONG 10.0 tokB");
    c.transmits();
    c.session.command(c.now, Command::Join(id("BBBB2222")));
    c.receive("OK JOINED BBBB2222");
    assert_eq!(c.transmits(), ["1: !JOIN BBBB2222", "0: !LEAVE ABCD1234", "close 0", "1: !PING +"]);
}

#[test]
fn member_counts_wait_for_the_echo() {
    let mut c = Client::with(Session::with_member_refresh());
    c.session.command(c.now, Command::Join(id("ABCD1234")));
    c.receive("OK JOINED ABCD1234");
    c.receive("PONG 10.0 tokA");
    assert_eq!(c.sent(), ["!JOIN ABCD1234", "!PING +", "!PING tokA"]);
    c.receive("PONG 10.0 tokB");
    assert_eq!(c.sent(), ["!WHO"]);
}
