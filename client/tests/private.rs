//! Private groups against the real server: what the relay and a member without the invite
//! see, and what a member with it shows. Every wait is bounded.

mod common;

use common::{next, runtime};
use udprelay_client::message::Encryption;
use udprelay_client::{Client, Config, Event, Events, Message};
use udprelay_testkit::{Peer, ServerProcess};

async fn message(events: &mut Events) -> Message {
    next(events, |event| match event {
        Event::Message(message) => Some(message),
        _ => None,
    })
    .await
}

#[test]
fn members_read_each_other_and_the_id_alone_reads_nothing() {
    let server = ServerProcess::start(&[]);
    let addr = server.addr.to_string();
    runtime().block_on(async {
        let (ana, mut ana_events) = Config::new(&addr).name("ana".parse().unwrap()).connect().await.unwrap();
        let (ben, mut ben_events) = Config::new(&addr).name("ben".parse().unwrap()).connect().await.unwrap();
        let invite = ana.create_private(None).await.unwrap();
        assert_eq!(invite.server, addr);
        assert!(invite.secret.is_some());
        assert_eq!(ana.invite(invite.group), Some(invite.clone()));
        ben.join_invite(&invite).await.unwrap();
        // Someone who knows the id and nothing else joins too, as anyone may.
        let eve = Peer::new(server.addr);
        eve.join(&invite.group.to_string());

        ana.send(invite.group, "the plan is secret").await.unwrap();
        let heard = message(&mut ben_events).await;
        assert_eq!((heard.from.as_deref(), heard.text.as_str()), (Some("ana"), "the plan is secret"));
        let Encryption::Signed { signer, doubt } = &heard.encryption else { panic!("{heard:?}") };
        assert_eq!((signer.as_str(), doubt), (ana.identity().unwrap().fingerprint().as_str(), &None));
        let captured = eve.recv();
        let seen = String::from_utf8_lossy(&captured).to_string();
        assert!(seen.starts_with("~E2 ") && !seen.contains("secret") && !seen.contains("ana"), "{seen}");
        let fingerprint = |client: &Client| client.status(Some(invite.group)).unwrap().private;
        assert_eq!(fingerprint(&ana), fingerprint(&ben));
        assert!(fingerprint(&ana).is_some());

        // What eve sends: a replay, a bit flipped, random envelopes, and one in the clear.
        eve.send(&captured);
        let mut flipped = captured.clone();
        flipped[40] ^= 0x01;
        eve.send(&flipped);
        eve.send(b"~E2 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        eve.send(b"~E2 not even base64");
        eve.send(b"eve: trust me");
        let clear = message(&mut ben_events).await;
        assert_eq!((clear.text.as_str(), &clear.encryption), ("trust me", &Encryption::NotEncrypted));
        let undecryptable = next(&mut ben_events, |event| match event {
            Event::Undecryptable { count, .. } => Some(count),
            Event::Message(message) => panic!("shown: {message:?}"),
            _ => None,
        });
        assert_eq!(undecryptable.await, 3, "the flipped, the random and the broken one; the replay silently");

        // Ben answers, and ana reads him; eve sees another envelope.
        ben.send(invite.group, "agreed").await.unwrap();
        // (Ana got eve's clear one too, marked so, and nothing of the others.)
        let answer = next(&mut ana_events, |event| match event {
            Event::Message(message) if message.encryption != Encryption::NotEncrypted => Some(message),
            _ => None,
        });
        let answer = answer.await;
        assert_eq!((answer.from.as_deref(), answer.text.as_str()), (Some("ben"), "agreed"));
        assert!(String::from_utf8_lossy(&eve.recv()).starts_with("~E2 "));
    });
}

#[test]
fn too_long_for_a_private_group_is_refused_with_the_limit() {
    let server = ServerProcess::start(&[]);
    runtime().block_on(async {
        let config = Config::new(server.addr.to_string()).name("ana".parse().unwrap());
        let (client, _events) = config.connect().await.unwrap();
        let invite = client.create_private(None).await.unwrap();
        let error = client.send(invite.group, &"x".repeat(3000)).await.unwrap_err();
        assert_eq!(error.to_string(), "message too long (3000 bytes, max 2913)");
        client.send(invite.group, &"x".repeat(2913)).await.unwrap();
    });
}
