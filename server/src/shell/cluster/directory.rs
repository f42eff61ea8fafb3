//! The directory in JetStream KV: the bucket, and the core's writes and reads carried out on
//! it. The facts this relies on are in docs/cluster.md ("How it works"): per-key TTLs need
//! nats-server 2.11 or newer (`limit_markers`), and a write with a TTL goes through the
//! JetStream context with the `Nats-TTL` and `Nats-Expected-Last-Subject-Sequence` headers,
//! since the KV API has no update with a TTL.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::context::{Context, PublishError, PublishErrorKind};
use async_nats::jetstream::kv::{self, Operation, Store};
use tracing::debug;
use udprelay_shared::GroupId;

use crate::relay::cluster::{Expect, MAX_RECORD_BYTES, Record, Response};

/// How long a request to the directory may take before it counts as failed (a KV leader
/// election stops writes for about 5 s: joins meanwhile are told to try again, not kept
/// waiting).
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes the bucket holds: about a million groups' records. Past it, writes fail (creates
/// and joins get `ERR BUSY TryAgain`) rather than the NATS servers' disks filling.
pub const MAX_BUCKET_BYTES: i64 = 256 * 1024 * 1024;

/// How long a deleted or expired key's marker stays, so that watches see the deletion.
const MARKER_TTL: Duration = Duration::from_secs(600);

/// The bucket's name for a cluster name.
pub fn bucket_name(cluster: &str) -> String {
    format!("{cluster}-groups")
}

/// Finds the bucket, or makes it.
pub async fn open_bucket(
    jetstream: &Context,
    cluster: &str,
    replicas: usize,
) -> Result<Store, String> {
    let name = bucket_name(cluster);
    if let Ok(store) = jetstream.get_key_value(&name).await {
        return Ok(store);
    }
    let config = kv::Config {
        bucket: name.clone(),
        description: "udprelay: one record per group (docs/cluster.md)".into(),
        history: 1,
        num_replicas: replicas,
        // Bounded, whatever a writer with a node's permissions puts there (docs/security.md).
        max_value_size: MAX_RECORD_BYTES as i32,
        max_bytes: MAX_BUCKET_BYTES,
        limit_markers: Some(MARKER_TTL),
        ..Default::default()
    };
    match jetstream.create_key_value(config).await {
        Ok(store) => Ok(store),
        // Another node made it meanwhile.
        Err(error) => jetstream.get_key_value(&name).await.map_err(|_| {
            format!(
                "cannot create the key-value bucket {name} with {replicas} replicas ({error}); \
                 the NATS servers need JetStream, version 2.11 or newer, and at least \
                 --cluster-replicas servers"
            )
        }),
    }
}

/// A group's current record and its key's last revision, as the core wants them. Read from
/// the stream's leader, not with KV's direct get: any replica may answer a direct get, and
/// one a write has not reached yet would say a group just created on another node does not
/// exist.
async fn current(store: &Store, group: GroupId) -> Result<(Option<Record>, u64), ()> {
    use async_nats::jetstream::stream::LastRawMessageErrorKind;
    let subject = format!("{}{}", store.prefix, group.as_str());
    match store.stream.get_last_raw_message_by_subject(&subject).await {
        Ok(message) => {
            // A deletion, a purge or an expiry's marker says so in its headers.
            let removed = message.headers.get("KV-Operation").is_some()
                || message.headers.get("Nats-Marker-Reason").is_some();
            let record = if removed { None } else { Record::decode(&message.payload) };
            Ok((record, message.sequence))
        }
        Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok((None, 0)),
        Err(error) => {
            debug!(%group, %error, "directory read failed");
            Err(())
        }
    }
}

/// Publishes a record on the key's subject if the key's last revision is `last`.
async fn publish(
    jetstream: &Context,
    store: &Store,
    group: GroupId,
    record: &Record,
    last: u64,
    ttl: Option<Duration>,
) -> Result<u64, PublishError> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Expected-Last-Subject-Sequence", last.to_string().as_str());
    if let Some(ttl) = ttl {
        // Whole seconds, rounded up: NATS takes no less.
        let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        headers.insert("Nats-TTL", format!("{}s", seconds.max(1)).as_str());
    }
    let prefix = store.put_prefix.as_deref().unwrap_or(&store.prefix);
    let subject = format!("{prefix}{}", group.as_str());
    let ack = jetstream.publish_with_headers(subject, headers, record.encode().into()).await?;
    ack.await.map(|ack| ack.sequence)
}

/// Whether a write failed because the key is not at the revision it expected: JetStream says
/// so with error 10071, or with 10164 when another write to the key was still being agreed on
/// (which async-nats 0.52 does not sort out).
fn is_conflict(error: &PublishError) -> bool {
    use async_nats::jetstream::{Error, ErrorCode};
    let in_flight = std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<Error>())
        .is_some_and(|error| error.error_code() == ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT);
    error.kind() == PublishErrorKind::WrongLastSequence || in_flight
}

/// Carries out a write; the response the core waits for.
pub async fn write(
    jetstream: &Context,
    store: &Store,
    op: u64,
    group: GroupId,
    record: Record,
    expect: Expect,
    ttl: Option<Duration>,
) -> Response {
    let attempt = async {
        let last = match expect {
            Expect::Revision(revision) => revision,
            // No message on the key at all; an expired or deleted key's marker is found below.
            Expect::Absent => 0,
        };
        match publish(jetstream, store, group, &record, last, ttl).await {
            Ok(revision) => return Response::Written { op, revision },
            Err(error) if is_conflict(&error) => {}
            Err(error) => {
                debug!(%group, ?error, "directory write failed");
                return Response::Failed { op };
            }
        }
        let Ok((current, revision)) = current(store, group).await else {
            debug!(%group, "directory read after a conflict failed");
            return Response::Failed { op };
        };
        if expect == Expect::Absent && current.is_none() && revision != 0 {
            // The key holds a deletion marker (or a value that is no record): no group, so
            // create over it.
            return match publish(jetstream, store, group, &record, revision, ttl).await {
                Ok(revision) => Response::Written { op, revision },
                Err(error) if is_conflict(&error) => match self::current(store, group).await {
                    Ok((current, revision)) => Response::Conflict { op, current, revision },
                    Err(()) => Response::Failed { op },
                },
                Err(error) => {
                    debug!(%group, ?error, "directory write failed");
                    Response::Failed { op }
                }
            };
        }
        Response::Conflict { op, current, revision }
    };
    tokio::time::timeout(OP_TIMEOUT, attempt).await.unwrap_or_else(|_| {
        debug!(%group, "directory write timed out");
        Response::Failed { op }
    })
}

/// Carries out a read.
pub async fn read(store: &Store, op: u64, group: GroupId) -> Response {
    match read_current(store, group).await {
        Some((current, revision)) => Response::Read { op, current, revision },
        None => Response::Failed { op },
    }
}

/// A group's record and revision from the directory, within [`OP_TIMEOUT`] (`None`: failed).
pub async fn read_current(store: &Store, group: GroupId) -> Option<(Option<Record>, u64)> {
    tokio::time::timeout(OP_TIMEOUT, current(store, group)).await.ok()?.ok()
}

/// What a watch entry tells the core (`None` for a key that is no group id).
pub fn change(entry: &kv::Entry) -> Option<Response> {
    let group: GroupId = entry.key.parse().ok()?;
    let current = match entry.operation {
        Operation::Put => Record::decode(&entry.value),
        Operation::Delete | Operation::Purge => None,
    };
    Some(Response::Changed { group, current, revision: entry.revision })
}

/// Times one directory request, for the metrics.
pub struct Timed(Instant);

impl Timed {
    pub fn start() -> Timed {
        Timed(Instant::now())
    }

    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
