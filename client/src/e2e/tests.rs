//! The envelope, keys, replay window and invites, with known-answer vectors (also in
//! docs/protocol.md, "End-to-end encrypted payloads", for other implementations).

use proptest::prelude::*;
use udprelay_shared::InvalidGroupId;

use super::*;
use crate::message::Name;

fn group() -> GroupId {
    "ABCD1234".parse().unwrap()
}

/// The vectors' secret: 32 bytes of 7 (`A4DQ…` in base32).
fn key() -> GroupKey {
    GroupKey::derive(&Secret::from_bytes([7; 32]), group())
}

fn ana() -> (Identity, Name) {
    (Identity::from_seed([1; 32]), "ana".parse().unwrap())
}

const NOW: u64 = 1_780_000_000_000;

/// Vector 1: secret 32 × 0x07, group ABCD1234, identity seed 32 × 0x01, name "ana",
/// text "hello", counter 42, time 1 780 000 000 000 ms, nonce 24 × 0x09.
const VECTOR_1: &str = "~E2 CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ5PDyDSAkWDRSe8Pv9WO08TN8r-1l1X9J0gnAifp3C4OKBY_Dc8ujhELVlVzD05wZuUnmJB2T3N4N5ViEZDKcbeYRUYnxf7ymd6cQjxNgc3b7gx4lCTGUOE7GI_6hIeVXyvg9HO_IXC73FaljO4wd0fJsp0rRKVS1HPHlDAYSErelyLRXGgnF3_k";

/// Vector 2: the same secret and group, identity seed 32 × 0x02, no name, text "grüße 👋",
/// counter (1 780 000 000 << 32) | 1, time 1 780 000 000 123 ms, nonce 24 × 0x03.
const VECTOR_2: &str = "~E2 AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDYE68egefloMyF_9p3L36X3_VXD416_JZF4qsatOQFTTdSqaR7mNv447mNTmsJ4ES4kmzsj94w2RBKAUEcncpDQi7BnJzdAPWGSiy05oZWGjwBcjOepxNLV7kAijK--3NtBUnhwb995zs0Y2PQhUXxlf4z7eqZcBvqYQeUIkdN70k3Ryua393QVlLGu32";

#[test]
fn known_answers() {
    let (identity, name) = ana();
    let sealed = seal_with_nonce(&key(), &identity, Some(&name), "hello", 42, NOW, [9; 24]);
    assert_eq!(sealed.unwrap(), VECTOR_1);
    let opened = open(&key(), VECTOR_1.as_bytes(), NOW).unwrap();
    let expected = Opened {
        name: Some("ana".into()),
        text: "hello".into(),
        signer: identity.public_key(),
        counter: 42,
        time_ms: NOW,
    };
    assert_eq!(opened, expected);

    let counter = (1_780_000_000u64 << 32) | 1;
    let (identity, time) = (Identity::from_seed([2; 32]), NOW + 123);
    let sealed = seal_with_nonce(&key(), &identity, None, "grüße 👋", counter, time, [3; 24]);
    assert_eq!(sealed.unwrap(), VECTOR_2);
    let opened = open(&key(), VECTOR_2.as_bytes(), NOW).unwrap();
    assert_eq!((opened.name, opened.text.as_str(), opened.counter), (None, "grüße 👋", counter));

    assert_eq!(
        Secret::from_bytes([7; 32]).to_string(),
        "A4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQ"
    );
    assert_eq!(key().fingerprint(), "SITL-ZUPU-W7J3-4O4J-YWBU");
    assert_eq!(key().file_name(), "sitlzupuw7j34o4jywbu");
    assert_eq!(ana().0.fingerprint(), "A6JT-ZXU7-25FQ-XSDZ-4245");
    assert_eq!(Identity::from_seed([2; 32]).fingerprint(), "UMT7-LLKW-OJK5-OIUE-7UQX");
}

#[test]
fn a_signature_holds_for_one_group_key_only() {
    // Someone who holds two groups' keys with the same id (two secrets) opens ana's message
    // in one and seals its plaintext, signature and all, again under the other: the
    // signature covers the key's id, so it does not hold there.
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
    let (identity, name) = ana();
    let envelope = seal_with_nonce(&key(), &identity, Some(&name), "hello", 1, NOW, [9; 24]);
    let binary = data_encoding::BASE64URL_NOPAD.decode(&envelope.unwrap().as_bytes()[4..]).unwrap();
    let aad = [LABEL, b"ABCD1234"].concat();
    let cipher = XChaCha20Poly1305::new(&Key::from(key().key));
    let nonce = XNonce::from([9; 24]);
    let plaintext = cipher.decrypt(&nonce, Payload { msg: &binary[24..], aad: &aad }).unwrap();
    let other = GroupKey::derive(&Secret::from_bytes([8; 32]), group());
    let cipher = XChaCha20Poly1305::new(&Key::from(other.key));
    let moved = cipher.encrypt(&nonce, Payload { msg: &plaintext, aad: &aad }).unwrap();
    let moved = format!(
        "{PREFIX}{}",
        data_encoding::BASE64URL_NOPAD.encode(&[&[9; 24], &moved[..]].concat())
    );
    assert_eq!(open(&other, moved.as_bytes(), NOW), Err(OpenError::BadSignature));
}

#[test]
fn fingerprints_are_100_bits() {
    let fingerprint = Identity::generate().fingerprint();
    let groups: Vec<&str> = fingerprint.split('-').collect();
    assert_eq!(groups.len(), 5, "{fingerprint}");
    assert!(groups.iter().all(
        |g| g.len() == 4 && g.bytes().all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b))
    ));
}

#[test]
fn pins_files_round_trip_and_skip_what_is_damaged() {
    let pins = Pins {
        names: vec![("ana maria".into(), [1; 32]), ("ben".into(), [2; 32])],
        newest: vec![([1; 32], 42), ([2; 32], u64::MAX)],
    };
    assert_eq!(Pins::decode(&pins.encode()), Some(pins.clone()));
    let damaged = pins.encode()
        + "name AAAA ana\nseen zzz 1\nname "
        + &data_encoding::BASE32_NOPAD.encode(&[3; 32])
        + " a:b\nwhat\n";
    assert_eq!(Pins::decode(&damaged), Some(pins.clone()), "bad lines and bad names skipped");
    assert_eq!(Pins::decode("not pins\n"), None);

    let dir = std::env::temp_dir().join(format!("udprelay-pins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = Pins::path(&dir.join("identity.key"), &key());
    assert_eq!(path, dir.join("pins").join(key().file_name()));
    assert_eq!(Pins::load(&path), Pins::default(), "none yet");
    pins.save(&path).unwrap();
    assert_eq!(Pins::load(&path), pins);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_envelope_is_printable_ascii_that_is_no_command() {
    let (identity, name) = ana();
    for text in ["hello", "!WHO", "ERR X \u{1b}[2J", &"é".repeat(1000)] {
        let envelope = seal(&key(), &identity, Some(&name), text, 1, NOW).unwrap();
        assert!(envelope.starts_with(PREFIX) && !envelope.starts_with('!'));
        assert!(envelope.bytes().all(|b| (0x20..0x7f).contains(&b)), "{envelope}");
        assert!(envelope.len() <= 4096);
        assert_eq!(open(&key(), envelope.as_bytes(), NOW).unwrap().text, text);
    }
}

#[test]
fn every_flipped_byte_and_every_truncation_is_refused() {
    let (identity, name) = ana();
    let envelope = seal(&key(), &identity, Some(&name), "hello there", 7, NOW).unwrap();
    let bytes = envelope.as_bytes();
    for at in PREFIX.len()..bytes.len() {
        for flip in [0x01u8, 0x20] {
            let mut damaged = bytes.to_vec();
            damaged[at] ^= flip;
            assert!(open(&key(), &damaged, NOW).is_err(), "byte {at} ^ {flip:#x} was taken");
        }
    }
    for end in 0..bytes.len() {
        assert!(open(&key(), &bytes[..end], NOW).is_err(), "cut at {end} was taken");
    }
}

#[test]
fn the_wrong_key_group_or_time_is_said_as_such() {
    let (identity, name) = ana();
    let envelope = seal(&key(), &identity, Some(&name), "hello", 1, NOW).unwrap();
    let other_secret = GroupKey::derive(&Secret::from_bytes([8; 32]), group());
    let other_group = GroupKey::derive(&Secret::from_bytes([7; 32]), "WXYZ9876".parse().unwrap());
    assert_eq!(open(&other_secret, envelope.as_bytes(), NOW), Err(OpenError::Undecryptable));
    assert_eq!(open(&other_group, envelope.as_bytes(), NOW), Err(OpenError::Undecryptable));
    assert_eq!(open(&key(), b"ana: hello", NOW), Err(OpenError::NotAnEnvelope));
    assert_eq!(open(&key(), b"~E2 not base64!", NOW), Err(OpenError::Malformed));
    assert_eq!(open(&key(), b"~E1 an older client's", NOW), Err(OpenError::OldVersion));
    assert!(open(&key(), envelope.as_bytes(), NOW + MAX_SKEW).is_ok());
    assert_eq!(open(&key(), envelope.as_bytes(), NOW + MAX_SKEW + 1), Err(OpenError::Stale));
    assert_eq!(open(&key(), envelope.as_bytes(), NOW - MAX_SKEW - 1), Err(OpenError::Stale));
}

#[test]
fn a_member_cannot_sign_for_another() {
    // A member knows the group key, so it can seal anything; it cannot sign with ana's key.
    let (ana, _) = ana();
    let mallory = Identity::from_seed([6; 32]);
    let envelope = seal(&key(), &mallory, Some(&"ana".parse().unwrap()), "pay me", 1, NOW).unwrap();
    let opened = open(&key(), envelope.as_bytes(), NOW).unwrap();
    assert_eq!(opened.name.as_deref(), Some("ana"));
    assert_ne!(opened.signer, ana.public_key(), "the name is claimed; the key says who");
}

#[test]
fn the_longest_text_is_stated_and_enforced() {
    let (identity, name) = ana();
    let max = max_text(Some(&name));
    assert_eq!(max, 2916 - 3);
    assert_eq!(max_text(None), 2916);
    let longest = "x".repeat(max);
    let envelope = seal(&key(), &identity, Some(&name), &longest, 1, NOW).unwrap();
    assert!(envelope.len() <= 4096, "{}", envelope.len());
    let too_long = seal(&key(), &identity, Some(&name), &format!("{longest}x"), 1, NOW);
    assert_eq!(too_long, Err(SealError::TooLong { len: max + 1, max }));
    assert_eq!(
        too_long.unwrap_err().to_string(),
        "too long to encrypt (2914 bytes, max 2913 with this name)"
    );
    assert_eq!(seal(&key(), &identity, None, "", 1, NOW), Err(SealError::Empty));
}

#[test]
fn replays_duplicates_and_gaps() {
    let mut window = ReplayWindow::new();
    assert_eq!(window.accept(10), Arrival::New { missed: 0 });
    assert_eq!(window.accept(11), Arrival::New { missed: 0 });
    assert_eq!(window.accept(11), Arrival::Duplicate);
    assert_eq!(window.accept(14), Arrival::New { missed: 2 });
    assert_eq!(window.accept(12), Arrival::Late, "reordered: fills the gap");
    assert_eq!(window.accept(12), Arrival::Duplicate);
    assert_eq!(window.accept(13), Arrival::Late);
    assert_eq!(window.accept(9), Arrival::Late, "older than the first, within the window");
    // Far ahead: the window moves; what is 1024 behind is too old to tell.
    assert_eq!(window.accept(2000), Arrival::New { missed: 1985 });
    assert_eq!(window.accept(2000 - 1024), Arrival::TooOld);
    assert_eq!(window.accept(2000 - 1023), Arrival::Late);
    assert_eq!(window.accept(14), Arrival::TooOld);
    // A restart of the sender's client: a new start, nothing counted as missed.
    let mut before = Sequence::starting(1_780_000_000);
    let mut window = ReplayWindow::new();
    assert_eq!(window.accept(before.next_counter()), Arrival::New { missed: 0 });
    let mut after = Sequence::starting(1_780_000_060);
    assert_eq!(window.accept(after.next_counter()), Arrival::New { missed: 0 });
    assert_eq!(window.accept(before.next_counter()), Arrival::TooOld, "the old run's replay");
}

#[test]
fn invites() {
    let secret = Secret::from_bytes([7; 32]);
    let invite =
        Invite { server: "relay.example.org:5000".into(), group: group(), secret: Some(secret) };
    let text = invite.to_string();
    assert_eq!(
        text,
        "udprelay://relay.example.org:5000/ABCD1234#A4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQ"
    );
    assert_eq!(text.parse::<Invite>(), Ok(invite));
    let plain: Invite = "UDPRELAY://[::1]:5001/abcd1234/".parse().unwrap();
    assert_eq!((plain.server.as_str(), plain.group, &plain.secret), ("[::1]:5001", group(), &None));
    assert_eq!(plain.to_string(), "udprelay://[::1]:5001/ABCD1234");
    let lower_secret = format!("udprelay://127.0.0.1:5000/ABCD1234#{}", "a4dq".repeat(13));
    assert!(lower_secret.parse::<Invite>().unwrap().secret.is_some());
    for (text, why) in [
        ("http://x:1/ABCD1234", InvalidInvite::Scheme),
        ("udprelay://ABCD1234", InvalidInvite::Server),
        ("udprelay://host/ABCD1234", InvalidInvite::Server),
        ("udprelay://::1:5000/ABCD1234", InvalidInvite::Server),
        ("udprelay://[::1:5000/ABCD1234", InvalidInvite::Bracket),
        ("udprelay://host:0/ABCD1234", InvalidInvite::Port("0".into())),
        ("udprelay://host:http/ABCD1234", InvalidInvite::Port("http".into())),
        ("udprelay://host:5000/ABCD12", InvalidInvite::Group(InvalidGroupId::Length(6))),
        ("udprelay://host:5000/ABCD1234#A4DQOBYH", InvalidInvite::Secret),
        // A host a client would read as two servers, or as something else than a host.
        (
            "udprelay://evil.example,relay.example.org:5000/ABCD1234",
            InvalidInvite::Host("evil.example,relay.example.org".into()),
        ),
        (
            "udprelay://me@relay.example.org:5000/ABCD1234",
            InvalidInvite::Host("me@relay.example.org".into()),
        ),
        (
            "udprelay://relay example.org:5000/ABCD1234",
            InvalidInvite::Host("relay example.org".into()),
        ),
        (
            "udprelay://relay\u{1b}[2J.org:5000/ABCD1234",
            InvalidInvite::Host("relay\u{1b}[2J.org".into()),
        ),
        ("udprelay://[::1 ]:5000/ABCD1234", InvalidInvite::Host("[::1 ]".into())),
    ] {
        assert_eq!(text.parse::<Invite>(), Err(why), "{text}");
    }
    assert_eq!(
        InvalidInvite::Secret.to_string(),
        "the invite's secret is damaged (copy the whole link)"
    );
    // Escaped where it is shown: no control character reaches a terminal from a link.
    assert_eq!(
        InvalidInvite::Host("relay\u{1b}[2J.org".into()).to_string(),
        "the invite's server \"relay\\u{1b}[2J.org\" is not a host name or address"
    );
    let international: Invite = "udprelay://relé.example:5000/ABCD1234".parse().unwrap();
    assert_eq!(international.server, "relé.example:5000");
    // What is read as an invite (and refused as one when damaged) rather than as an id.
    for meant in [" udprelay://x", "UdpRelay://", "udprelay://host:5000/ABCD12"] {
        assert!(Invite::is_meant(meant), "{meant}");
    }
    for not in ["ABCD1234", "udprelay:/x", "udprelay", "", "é udprelay://x"] {
        assert!(!Invite::is_meant(not), "{not}");
    }
}

proptest! {
    /// Whatever arrives, reading it never panics, and only the group's own envelopes open.
    #[test]
    fn reading_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = open(&key(), &bytes, NOW);
        let mut prefixed = PREFIX.as_bytes().to_vec();
        prefixed.extend(&bytes);
        prop_assert!(open(&key(), &prefixed, NOW).is_err());
    }

    #[test]
    fn base64_of_anything_never_opens(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let forged = format!("{PREFIX}{}", data_encoding::BASE64URL_NOPAD.encode(&bytes));
        prop_assert!(open(&key(), forged.as_bytes(), NOW).is_err());
    }

    #[test]
    fn what_is_sealed_opens(text in "\\PC{1,300}", counter in any::<u64>()) {
        let (identity, name) = ana();
        let envelope = seal(&key(), &identity, Some(&name), &text, counter, NOW).unwrap();
        let opened = open(&key(), envelope.as_bytes(), NOW).unwrap();
        prop_assert_eq!((opened.text, opened.counter), (text, counter));
    }
}

#[test]
fn an_identity_file_is_made_once_and_kept_private() {
    let dir = std::env::temp_dir().join(format!("udprelay-identity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("sub").join("identity.key");
    let made = Identity::load_or_create(&path).unwrap();
    let again = Identity::load_or_create(&path).unwrap();
    assert_eq!(made.public_key(), again.public_key(), "the same across runs");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Identity::load_or_create(&path).unwrap();
        assert_eq!(mode(&path), 0o600, "tightened at start");
    }
    std::fs::write(&path, "not a key\n").unwrap();
    let error = Identity::load_or_create(&path).unwrap_err();
    assert!(error.to_string().ends_with("is not an identity file"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
