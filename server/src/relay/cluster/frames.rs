//! What relay nodes send each other over NATS (docs/cluster.md, "Between the nodes"). Every
//! subject ends with the sending node's name, so that NATS's per-user permissions can let a
//! node's credentials publish as that node only ([`Subject`]):
//!
//! - `<prefix>.node.<to>.<from>`: payloads for that node's members, many in one NATS message (a
//!   message costs far more than its bytes, docs/performance.md "Cluster"): `0x01`, then for
//!   each payload its group id (8 bytes), its length (2 bytes, big-endian) and its bytes; at
//!   most [`MAX_FRAMES`] payloads a message.
//! - `<prefix>.ctl.<to>.<from>`: a request that asks a node to read a group's record from the
//!   directory before a join on the sender is answered (JSON [`Announcement`]); the answer is
//!   an empty message once it has read it. The record and its revision come from the directory
//!   itself, never from the message.
//! - `<prefix>.alive.<from>`: every node's heartbeat (JSON [`Heartbeat`]).
//!
//! All of it is hostile input: a NATS client with a node's permissions can send anything, so
//! the core checks every payload ([`crate::relay::Relay::deliver`]) as it checks UDP.

use serde::{Deserialize, Serialize};
use udprelay_shared::GroupId;
use udprelay_shared::limits::MAX_DATAGRAM;

use super::record::NodeId;

/// The first byte of a batch: its format.
const BATCH_VERSION: u8 = 1;

/// Bytes a batch spends on each payload besides the payload itself.
pub const FRAME_OVERHEAD: usize = 8 + 2;

/// Most payloads in one NATS message: a sender closes a batch there, and a receiver reads no
/// more of one (so that one message of tiny frames cannot make a hundred thousand payloads).
pub const MAX_FRAMES: usize = 1024;

/// The three kinds of subject, by what they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Payloads for the receiver's members.
    Payloads,
    /// An [`Announcement`] (a request).
    Announcement,
    /// A [`Heartbeat`] (to every node).
    Heartbeat,
}

impl Subject {
    fn token(self) -> &'static str {
        match self {
            Subject::Payloads => "node",
            Subject::Announcement => "ctl",
            Subject::Heartbeat => "alive",
        }
    }

    /// The subject `from` publishes on for `to` (`to` is not part of a heartbeat's).
    pub fn to(self, prefix: &str, to: &NodeId, from: &NodeId) -> String {
        match self {
            Subject::Heartbeat => format!("{prefix}.alive.{from}"),
            kind => format!("{prefix}.{}.{to}.{from}", kind.token()),
        }
    }

    /// What `me` subscribes to for this kind: every sender's.
    pub fn wildcard(self, prefix: &str, me: &NodeId) -> String {
        match self {
            Subject::Heartbeat => format!("{prefix}.alive.*"),
            kind => format!("{prefix}.{}.{me}.*", kind.token()),
        }
    }

    /// The sending node of a subject received on, as its last token says (`None`: not a node
    /// name, which no node sends).
    pub fn sender(subject: &str) -> Option<NodeId> {
        subject.rsplit('.').next()?.parse().ok()
    }
}

/// Payloads for one node, being put together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    bytes: Vec<u8>,
    payloads: usize,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds one payload (at most 4096 bytes, as every datagram the relay takes).
    pub fn push(&mut self, group: GroupId, payload: &[u8]) {
        debug_assert!(payload.len() <= MAX_DATAGRAM);
        if self.bytes.is_empty() {
            self.bytes.push(BATCH_VERSION);
        }
        self.bytes.extend_from_slice(group.as_str().as_bytes());
        self.bytes.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        self.bytes.extend_from_slice(payload);
        self.payloads += 1;
    }

    /// Adds another batch's payloads after these.
    pub fn append(&mut self, other: &Batch) {
        if other.bytes.is_empty() {
            return;
        }
        if self.bytes.is_empty() {
            self.bytes.push(BATCH_VERSION);
        }
        self.bytes.extend_from_slice(&other.bytes[1..]);
        self.payloads += other.payloads;
    }

    pub fn payloads(&self) -> usize {
        self.payloads
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payloads == 0
    }

    /// Whether another batch can be appended without passing [`MAX_FRAMES`] or `bytes`.
    pub fn has_room_for(&self, other: &Batch, bytes: usize) -> bool {
        self.payloads + other.payloads <= MAX_FRAMES && self.len() + other.len() <= bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The payloads of a received batch, in order. A batch that does not read (another version,
/// or cut short) ends the iteration early; [`Frames::damaged`] says so afterwards.
pub struct Frames<'a> {
    rest: &'a [u8],
    damaged: bool,
    read: usize,
}

impl<'a> Frames<'a> {
    pub fn new(bytes: &'a [u8]) -> Frames<'a> {
        match bytes.split_first() {
            Some((&BATCH_VERSION, rest)) => Frames { rest, damaged: false, read: 0 },
            _ => Frames { rest: &[], damaged: true, read: 0 },
        }
    }

    /// Whether the batch was not entirely readable (or held more than [`MAX_FRAMES`]).
    pub fn damaged(&self) -> bool {
        self.damaged
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = (GroupId, &'a [u8]);

    fn next(&mut self) -> Option<(GroupId, &'a [u8])> {
        if self.rest.is_empty() {
            return None;
        }
        if self.read == MAX_FRAMES {
            self.rest = &[];
            self.damaged = true;
            return None;
        }
        self.read += 1;
        let frame = (|| {
            let (id, rest) = self.rest.split_first_chunk::<8>()?;
            let (len, rest) = rest.split_first_chunk::<2>()?;
            let len = usize::from(u16::from_be_bytes(*len));
            if len == 0 || len > MAX_DATAGRAM || rest.len() < len {
                return None;
            }
            let group: GroupId = std::str::from_utf8(id).ok()?.parse().ok()?;
            let (payload, rest) = rest.split_at(len);
            Some((group, payload, rest))
        })();
        match frame {
            Some((group, payload, rest)) => {
                self.rest = rest;
                Some((group, payload))
            }
            None => {
                self.rest = &[];
                self.damaged = true;
                None
            }
        }
    }
}

/// "Read this group's record": the sender has just written it, and waits for the answer
/// before it tells its new member `OK JOINED`; the receiver reads the record from the
/// directory (never trusting a record in a message) and then sends the group's payloads to the
/// sender too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub group: String,
}

impl Announcement {
    pub fn encode(group: GroupId) -> Vec<u8> {
        serde_json::to_vec(&Announcement { group: group.to_string() })
            .expect("an announcement always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Option<GroupId> {
        let announcement: Announcement = serde_json::from_slice(bytes).ok()?;
        announcement.group.parse().ok()
    }
}

/// A node's heartbeat. `instance` is drawn at each start, so that two processes given the same
/// name are noticed; `leaving` is sent once on a clean stop, so the others need not wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub node: NodeId,
    pub instance: u64,
    #[serde(default)]
    pub leaving: bool,
}

impl Heartbeat {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a heartbeat always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Option<Heartbeat> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> GroupId {
        text.parse().unwrap()
    }

    #[test]
    fn a_batch_reads_back_in_order() {
        let mut batch = Batch::new();
        batch.push(id("ABCD1234"), b"hello");
        let mut more = Batch::new();
        more.push(id("WXYZ9876"), &[0u8, 255, b'!']);
        more.push(id("ABCD1234"), &vec![7u8; MAX_DATAGRAM]);
        batch.append(&more);
        batch.append(&Batch::new());
        assert_eq!(batch.payloads(), 3);
        let bytes = batch.into_bytes();
        let mut frames = Frames::new(&bytes);
        let read: Vec<(GroupId, Vec<u8>)> = frames.by_ref().map(|(g, p)| (g, p.to_vec())).collect();
        assert!(!frames.damaged());
        assert_eq!(
            read,
            [
                (id("ABCD1234"), b"hello".to_vec()),
                (id("WXYZ9876"), vec![0, 255, b'!']),
                (id("ABCD1234"), vec![7; MAX_DATAGRAM]),
            ]
        );
    }

    #[test]
    fn a_damaged_batch_stops_without_a_panic() {
        let mut batch = Batch::new();
        batch.push(id("ABCD1234"), b"one");
        batch.push(id("ABCD1234"), b"two");
        let bytes = batch.into_bytes();
        // Cut anywhere: the whole frames before the cut are read, never more.
        for cut in 0..bytes.len() {
            let mut frames = Frames::new(&bytes[..cut]);
            let count = frames.by_ref().count();
            assert!(count <= 2, "cut at {cut}");
            assert_eq!(frames.damaged(), !(cut == 1 || cut == 14), "cut at {cut}");
        }
        for bad in
            [&b"\x02ABCD1234\x00\x01x"[..], b"\x01abcd1234\x00\x01x", b"\x01ABCD1234\x00\x00"]
        {
            let mut frames = Frames::new(bad);
            assert_eq!(frames.by_ref().count(), 0);
            assert!(frames.damaged());
        }
        // Any bytes at all: never a panic, never a payload over the limit.
        let mut state = 1u64;
        for _ in 0..2000 {
            let len = (state % 64) as usize;
            let noise: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (state >> 56) as u8
                })
                .collect();
            for (_, payload) in Frames::new(&noise) {
                assert!(!payload.is_empty() && payload.len() <= MAX_DATAGRAM);
            }
        }
    }

    #[test]
    fn control_messages_read_back() {
        let heartbeat = Heartbeat { node: "n1".parse().unwrap(), instance: 7, leaving: false };
        assert_eq!(Heartbeat::decode(&heartbeat.encode()), Some(heartbeat));
        assert_eq!(Heartbeat::decode(b"{}"), None);
        let announcement = Announcement::encode(id("ABCD1234"));
        assert_eq!(String::from_utf8_lossy(&announcement), r#"{"group":"ABCD1234"}"#);
        assert_eq!(Announcement::decode(&announcement), Some(id("ABCD1234")));
        assert_eq!(Announcement::decode(b"[]"), None);
        assert_eq!(Announcement::decode(br#"{"group":"abc"}"#), None);
    }

    #[test]
    fn subjects_name_their_sender_last() {
        let (a, b): (NodeId, NodeId) = ("relay-1".parse().unwrap(), "relay-2".parse().unwrap());
        assert_eq!(Subject::Payloads.to("udprelay", &b, &a), "udprelay.node.relay-2.relay-1");
        assert_eq!(Subject::Announcement.to("c", &b, &a), "c.ctl.relay-2.relay-1");
        assert_eq!(Subject::Heartbeat.to("c", &b, &a), "c.alive.relay-1");
        assert_eq!(Subject::Payloads.wildcard("c", &b), "c.node.relay-2.*");
        assert_eq!(Subject::Heartbeat.wildcard("c", &b), "c.alive.*");
        assert_eq!(Subject::sender("c.node.relay-2.relay-1"), Some(a));
        assert_eq!(Subject::sender("c.node.relay-2.bad*"), None);
        assert_eq!(Subject::sender(""), None);
    }

    #[test]
    fn a_message_of_more_than_max_frames_is_read_no_further() {
        let mut batch = Batch::new();
        for _ in 0..MAX_FRAMES + 5 {
            batch.push(id("ABCD1234"), b"x");
        }
        let bytes = batch.into_bytes();
        let mut frames = Frames::new(&bytes);
        assert_eq!(frames.by_ref().count(), MAX_FRAMES);
        assert!(frames.damaged());
        let (mut one, mut two) = (Batch::new(), Batch::new());
        for _ in 0..MAX_FRAMES - 1 {
            one.push(id("ABCD1234"), b"x");
        }
        two.push(id("ABCD1234"), b"y");
        assert!(one.has_room_for(&two, usize::MAX));
        one.append(&two);
        assert!(!one.has_room_for(&two, usize::MAX));
        assert!(!Batch::new().has_room_for(&two, 0));
    }
}
