//! The library against the real server: several groups from one client, events tagged by
//! group, rejoining a server that forgot us, the blocking client, and typed errors. Every wait
//! is bounded.

mod common;

use std::time::Duration;

use common::{next, runtime};
use udprelay_client::{Client, Config, Error, ErrorReply, Event, GroupId, blocking};
use udprelay_testkit::{Peer, ServerProcess, WAIT};

fn id(text: &str) -> GroupId {
    text.parse().unwrap()
}

#[test]
fn one_client_in_two_groups_hears_each_tagged_with_its_group() {
    let server = ServerProcess::start(&[]);
    let (ana, ben) = (Peer::new(server.addr), Peer::new(server.addr));
    let (first, second) = (ana.create(), ben.create());
    ana.join(&first);
    ben.join(&second);
    runtime().block_on(async {
        let config = Config::new(server.addr.to_string()).name("bot".parse().unwrap());
        let (client, mut events) = config.connect().await.unwrap();
        client.join(id(&first)).await.unwrap();
        client.join(id(&second)).await.unwrap();
        assert_eq!(client.groups().len(), 2);
        assert_eq!(client.join(id(&first)).await, Err(Error::AlreadyJoined(id(&first))));

        ana.send(b"ana: in the first");
        ben.send(b"in the second");
        let mut heard = Vec::new();
        while heard.len() < 2 {
            let message = next(&mut events, |event| match event {
                Event::Message(message) => Some(message),
                _ => None,
            });
            heard.push(message.await);
        }
        heard.sort_by_key(|m| m.text.clone());
        assert_eq!(heard[0].group, id(&first));
        assert_eq!(
            (heard[0].from.as_deref(), heard[0].text.as_str()),
            (Some("ana"), "in the first")
        );
        assert_eq!((heard[1].group, heard[1].from.as_deref()), (id(&second), None));

        client.send(id(&second), "hello second").await.unwrap();
        assert_eq!(ben.recv_text(), "bot: hello second");
        assert_eq!(client.who(id(&first)).await, Ok(2));

        client.leave(id(&first)).await.unwrap();
        assert_eq!(ana.ask("!WHO"), format!("OK WHO {first} 1"));
        assert_eq!(client.groups(), [id(&second)]);
        assert_eq!(client.send(id(&first), "x").await, Err(Error::NotJoined(id(&first))));
        client.close().await;
        assert_eq!(ben.ask("!WHO"), format!("OK WHO {second} 1"), "close leaves every group");
    });
}

#[test]
fn a_group_the_server_forgot_is_joined_again() {
    // Members silent for 0.6 s are dropped; the client pings every second at most.
    let server = ServerProcess::start(&["--heartbeat", "0.2", "--sweep", "0.05"]);
    runtime().block_on(async {
        let (client, mut events) = Client::connect(&server.addr.to_string()).await.unwrap();
        let group = client.create_and_join(None).await.unwrap();
        let rejoined = next(&mut events, |event| match event {
            Event::Rejoined { group } => Some(group),
            _ => None,
        });
        assert_eq!(rejoined.await, group);
        assert_eq!(client.who(group).await, Ok(1));
    });
}

#[test]
fn errors_are_typed() {
    // A name that cannot be found.
    let rt = runtime();
    let bad = rt.block_on(Client::connect("no-such-host.invalid:5000")).err().unwrap();
    assert!(matches!(&bad, Error::Servers(why) if why.contains("no-such-host.invalid")), "{bad}");

    // A port nobody listens on: the kernel answers "port unreachable".
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    rt.block_on(async {
        let (client, mut events) = Client::connect(&closed.to_string()).await.unwrap();
        let error = client.join(id("ABCD1234")).await.unwrap_err();
        assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
        assert!(error.to_string().contains("cannot be reached"), "{error}");
        let said = next(&mut events, |event| match event {
            Event::Unreachable { server, .. } => Some(server),
            _ => None,
        });
        assert_eq!(said.await, closed.to_string());
    });

    // A full group, and an unknown one.
    let server = ServerProcess::start(&[]);
    let peer = Peer::new(server.addr);
    rt.block_on(async {
        let (client, _events) = Client::connect(&server.addr.to_string()).await.unwrap();
        let group = client.create(Some(1)).await.unwrap();
        peer.join(&group.to_string());
        let full = client.join(group).await.unwrap_err();
        assert_eq!(full, Error::Refused(ErrorReply::GroupFull(group)));
        assert_eq!(full.reply(), Some(&ErrorReply::GroupFull(group)));
        assert!(client.groups().is_empty(), "a failed join leaves no membership");
        let unknown = client.join(id("ZZZZ9999")).await.unwrap_err();
        assert_eq!(unknown, Error::Refused(ErrorReply::NoSuchGroup));
        assert_eq!(client.send(group, "x").await, Err(Error::NotJoined(group)));
        assert_eq!(client.ping().await, Ok(()));
    });
}

#[test]
fn the_blocking_client_does_the_same_without_async() {
    let server = ServerProcess::start(&[]);
    let peer = Peer::new(server.addr);
    let (client, mut events) = blocking::Client::connect(&server.addr.to_string()).unwrap();
    let group = client.create_and_join(None).unwrap();
    peer.join(&group.to_string());
    client.send(group, "hello").unwrap();
    assert_eq!(peer.recv_text(), "hello");
    peer.send(b"peer: hi back");
    let message = loop {
        match events.recv_timeout(WAIT).expect("an event within the wait") {
            Event::Message(message) => break message,
            _ => continue,
        }
    };
    assert_eq!((message.group, message.from.as_deref()), (group, Some("peer")));
    assert_eq!(client.who(group), Ok(2));
    assert_eq!(client.send(group, "!x"), Err(Error::LooksLikeCommand));
    client.close();
    assert_eq!(peer.ask("!WHO"), format!("OK WHO {group} 1"));
}

#[test]
fn watched_member_counts_follow_joins_within_seconds() {
    let server = ServerProcess::start(&[]);
    runtime().block_on(async {
        let (client, mut events) = Client::connect(&server.addr.to_string()).await.unwrap();
        let group = client.create_and_join(None).await.unwrap();
        client.watch_members(group, Some(Duration::from_secs(1))).unwrap();
        let peer = Peer::new(server.addr);
        peer.join(&group.to_string());
        let count = next(&mut events, |event| match event {
            Event::Members { count: 2, group } => Some(group),
            _ => None,
        });
        assert_eq!(count.await, group);
    });
}

#[test]
fn dropping_a_client_leaves_its_groups() {
    let server = ServerProcess::start(&[]);
    let peer = Peer::new(server.addr);
    let group = peer.create();
    peer.join(&group);
    let (client, _events) = blocking::Client::connect(&server.addr.to_string()).unwrap();
    client.join(id(&group)).unwrap();
    assert_eq!(peer.ask("!WHO"), format!("OK WHO {group} 2"));
    drop(client);
    assert_eq!(peer.ask("!WHO"), format!("OK WHO {group} 1"));

    let runtime = runtime();
    runtime.block_on(async {
        let (client, _events) = Client::connect(&server.addr.to_string()).await.unwrap();
        client.join(id(&group)).await.unwrap();
        drop(client);
        // The membership says goodbye as its orders close, on the runtime's next turns: turns
        // given here, within the bounded wait (ten yields were not always enough on a busy
        // machine, where its socket was not yet ready for the goodbye).
        let alone = format!("OK WHO {group} 1");
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut said = peer.ask("!WHO");
        while said != alone && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            said = peer.ask("!WHO");
        }
        assert_eq!(said, alone);
    });
}

#[test]
fn a_group_left_or_failed_can_be_joined_again_at_once() {
    let server = ServerProcess::start(&[]);
    let peer = Peer::new(server.addr);
    let group = id(&peer.create());
    runtime().block_on(async {
        let (client, _events) = Client::connect(&server.addr.to_string()).await.unwrap();
        for _ in 0..3 {
            client.join(group).await.unwrap();
            client.leave(group).await.unwrap();
        }
        let missing = id("ZZZZ9999");
        for _ in 0..2 {
            let error = client.join(missing).await.unwrap_err();
            assert_eq!(error, Error::Refused(ErrorReply::NoSuchGroup));
        }
        assert!(client.groups().is_empty());
    });
}
