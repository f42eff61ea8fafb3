//! What the cluster's directory holds about a group (one key per group, `g.<ID>`, JSON), and
//! the names of the relay nodes that appear in it. docs/cluster.md, "The directory".

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A relay node's name in the cluster: 1 to 64 of `A-Z a-z 0-9 _ -`, so that it can be a
/// NATS subject token and a JSON key as it is. Cheap to clone: payloads carry it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(Arc<str>);

/// Why a text is not a node name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidNodeId;

impl fmt::Display for InvalidNodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node name is 1 to 64 of the characters A-Z a-z 0-9 _ -")
    }
}

impl std::error::Error for InvalidNodeId {}

impl NodeId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name made from any text: characters a name cannot hold become `_`, and it is cut at
    /// 64 (the default name is made this way from the host name and the address).
    pub fn sanitized(text: &str) -> NodeId {
        let name: String = text
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .take(64)
            .collect();
        NodeId(if name.is_empty() { "_".into() } else { name.into() })
    }
}

impl std::str::FromStr for NodeId {
    type Err = InvalidNodeId;

    fn from_str(text: &str) -> Result<NodeId, InvalidNodeId> {
        let valid = (1..=64).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid { Ok(NodeId(text.into())) } else { Err(InvalidNodeId) }
    }
}

impl TryFrom<String> for NodeId {
    type Error = InvalidNodeId;

    fn try_from(text: String) -> Result<NodeId, InvalidNodeId> {
        text.parse()
    }
}

impl From<NodeId> for String {
    fn from(node: NodeId) -> String {
        node.0.to_string()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// Most nodes one record may give members to (a cluster of more nodes than this is not
/// supported; docs/cluster.md "Capacity").
pub const MAX_RECORD_NODES: usize = 256;

/// Longest record read from the directory: [`MAX_RECORD_NODES`] nodes of 64-byte names and
/// their counts fit with room to spare. The bucket is made with a matching message size limit.
pub const MAX_RECORD_BYTES: usize = 32 * 1024;

/// A group as the directory knows it. The members are counted per node: each node writes its
/// own count (compare-and-set on the whole record, so that two joins racing on two nodes can
/// never together pass the cap), and the node that finds another dead removes that one's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The node the group was created on.
    pub node: NodeId,
    /// The address that created it (for the operator; the per-address limit is counted on
    /// the creator's node).
    pub creator: SocketAddr,
    /// The most members it may have, over the whole cluster (`None`: no limit).
    pub cap: Option<u32>,
    /// Members per node; a node with none is left out.
    #[serde(default)]
    pub members: BTreeMap<NodeId, u32>,
}

impl Record {
    /// Members on every node.
    pub fn total(&self) -> u64 {
        self.members.values().map(|&count| u64::from(count)).sum()
    }

    /// Members on nodes other than `node`.
    pub fn others(&self, node: &NodeId) -> u64 {
        self.members.iter().filter(|(name, _)| *name != node).map(|(_, &n)| u64::from(n)).sum()
    }

    pub fn count(&self, node: &NodeId) -> u32 {
        self.members.get(node).copied().unwrap_or(0)
    }

    /// Sets `node`'s count (0 leaves it out).
    pub fn set_count(&mut self, node: &NodeId, count: u32) {
        if count == 0 {
            self.members.remove(node);
        } else {
            self.members.insert(node.clone(), count);
        }
    }

    /// Whether it could have been written by a node: a cap of at least 1 (`!CREATE` takes no
    /// less), at most [`MAX_RECORD_NODES`] nodes with members, each with some.
    fn is_plausible(&self) -> bool {
        self.cap != Some(0)
            && self.members.len() <= MAX_RECORD_NODES
            && self.members.values().all(|&count| count > 0)
    }

    /// The bytes stored in the directory.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a record always encodes")
    }

    /// A record from the directory; `None` for anything else (another program's key, a
    /// damaged or forged value: over [`MAX_RECORD_BYTES`], a cap of 0, too many nodes), which
    /// is then treated as no group. The nodes write such a group's record again from what they
    /// hold.
    pub fn decode(bytes: &[u8]) -> Option<Record> {
        if bytes.len() > MAX_RECORD_BYTES {
            return None;
        }
        serde_json::from_slice(bytes).ok().filter(Record::is_plausible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> NodeId {
        name.parse().unwrap()
    }

    #[test]
    fn node_names() {
        assert_eq!(node("relay-1_a").as_str(), "relay-1_a");
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(65), "é"] {
            assert!(bad.parse::<NodeId>().is_err(), "{bad:?}");
        }
        assert_eq!(
            NodeId::sanitized("host.example-127.0.0.1:5000").as_str(),
            "host_example-127_0_0_1_5000"
        );
        assert_eq!(NodeId::sanitized("").as_str(), "_");
        assert_eq!(NodeId::sanitized(&"é".repeat(100)).as_str().len(), 64);
    }

    #[test]
    fn a_record_reads_back_and_counts() {
        let mut record = Record {
            node: node("a"),
            creator: "127.0.0.1:4000".parse().unwrap(),
            cap: Some(4),
            members: BTreeMap::new(),
        };
        record.set_count(&node("a"), 2);
        record.set_count(&node("b"), 1);
        record.set_count(&node("c"), 0);
        assert_eq!(
            (record.total(), record.others(&node("a")), record.count(&node("c"))),
            (3, 1, 0)
        );
        let bytes = record.encode();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"node":"a","creator":"127.0.0.1:4000","cap":4,"members":{"a":2,"b":1}}"#
        );
        assert_eq!(Record::decode(&bytes), Some(record.clone()));
        let too_many: BTreeMap<NodeId, u32> =
            (0..=MAX_RECORD_NODES).map(|i| (node(&format!("n{i}")), 1)).collect();
        let crowded = Record { members: too_many, ..record.clone() }.encode();
        let padded = format!(
            r#"{{"node":"a","creator":"127.0.0.1:1","cap":null,"pad":"{}"}}"#,
            "x".repeat(MAX_RECORD_BYTES)
        );
        for bad in [
            &b""[..],
            b"{}",
            b"null",
            br#"{"node":"a.b","creator":"127.0.0.1:1","cap":null}"#,
            br#"{"node":"a","creator":"127.0.0.1:1","cap":0}"#,
            br#"{"node":"a","creator":"127.0.0.1:1","cap":2,"members":{"b":0}}"#,
            &crowded,
            padded.as_bytes(),
        ] {
            assert_eq!(Record::decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
