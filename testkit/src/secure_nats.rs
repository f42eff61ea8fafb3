//! A NATS set up as docs/cluster.md's "Securing the cluster" says: TLS with a CA of its own,
//! routes that sign in, and for each relay node a user allowed only that node's subjects
//! (one with a password, one with an NKey, the same permissions), in an account of their own;
//! user `other` is in another account. Everything is made afresh
//! in a scratch directory: certificates by rcgen, seeds by nkeys.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use crate::ScratchDir;

/// The password of user `other`, in an account of its own: a NATS client that is no node.
pub const OTHER_PASSWORD: &str = "other-account";

/// One node's credentials.
struct NodeSecret {
    name: String,
    password: String,
    password_file: PathBuf,
    seed_file: PathBuf,
    public_key: String,
}

/// The secrets and certificates of a secured NATS, and the nats-server settings that use them.
pub struct NatsSecrets {
    _dir: ScratchDir,
    prefix: String,
    pub ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    route_password: String,
    nodes: Vec<NodeSecret>,
}

impl NatsSecrets {
    /// A CA, a certificate for 127.0.0.1 and localhost signed by it, and credentials for each
    /// of `nodes`, the relays of the cluster named `prefix`.
    pub fn new(prefix: &str, nodes: &[&str]) -> NatsSecrets {
        let dir = ScratchDir::new("nats-secrets");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca_cert = CertifiedIssuer::self_signed(ca_params, ca_key).expect("a CA");
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let key = KeyPair::generate().expect("a server key");
        let params = CertificateParams::new(names).expect("server parameters");
        let cert = params.signed_by(&key, &ca_cert).expect("a server certificate");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a secret");
            path
        };
        let (ca, cert, key) = (
            write("ca.pem", &ca_cert.pem()),
            write("server.pem", &cert.pem()),
            write("server-key.pem", &key.serialize_pem()),
        );
        let nodes = nodes
            .iter()
            .map(|name| {
                let password = format!("pw-{name}-{}", random_token());
                let pair = nkeys::KeyPair::new_user();
                NodeSecret {
                    name: name.to_string(),
                    password_file: write(&format!("{name}.password"), &format!("{password}\n")),
                    seed_file: write(&format!("{name}.nk"), &pair.seed().expect("a seed")),
                    public_key: pair.public_key(),
                    password,
                }
            })
            .collect();
        let route_password = random_token();
        NatsSecrets { _dir: dir, prefix: prefix.to_string(), ca, cert, key, route_password, nodes }
    }

    fn node(&self, name: &str) -> &NodeSecret {
        self.nodes.iter().find(|node| node.name == name).expect("a node of these secrets")
    }

    /// The relay flags that sign in as `node` with its password, over TLS to this CA.
    pub fn password_args(&self, node: &str) -> Vec<String> {
        let secret = self.node(node);
        vec![
            "--cluster-user".into(),
            node.into(),
            "--cluster-password-file".into(),
            path_text(&secret.password_file),
            "--cluster-tls-ca".into(),
            path_text(&self.ca),
        ]
    }

    /// The relay flags that sign in as `node` with its NKey, over TLS to this CA.
    pub fn nkey_args(&self, node: &str) -> Vec<String> {
        let secret = self.node(node);
        vec![
            "--cluster-nkey".into(),
            path_text(&secret.seed_file),
            "--cluster-tls-ca".into(),
            path_text(&self.ca),
        ]
    }

    /// `node`'s password, as someone who stole it would use it.
    pub fn password(&self, node: &str) -> &str {
        &self.node(node).password
    }

    /// The nats-server settings for clients: TLS, and the nodes' users.
    pub(crate) fn client_settings(&self) -> String {
        let users: Vec<String> = self
            .nodes
            .iter()
            .flat_map(|node| {
                let permissions = node_permissions(&self.prefix, &node.name);
                [
                    format!(
                        "{{ user: {:?}, password: {:?}, permissions: {permissions} }}",
                        node.name, node.password
                    ),
                    format!("{{ nkey: {:?}, permissions: {permissions} }}", node.public_key),
                ]
            })
            .collect();
        format!(
            "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, timeout: 5 }}\n\
             accounts {{\n\
               RELAYS {{ jetstream: enabled, users: [\n  {}\n] }}\n\
               OTHER {{ users: [ {{ user: other, password: {:?} }} ] }}\n\
             }}\n",
            self.cert,
            self.key,
            self.ca,
            users.join(",\n  "),
            OTHER_PASSWORD,
        )
    }

    /// The nats-server `cluster` block's extra settings: routes over TLS that sign in.
    pub(crate) fn route_settings(&self) -> String {
        format!(
            "authorization {{ user: route, password: {:?} }}, \
             tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, timeout: 5 }}",
            self.route_password, self.cert, self.key, self.ca
        )
    }

    /// What a route URL carries to sign in.
    pub(crate) fn route_user(&self) -> String {
        format!("route:{}@", self.route_password)
    }
}

/// What node `node` of cluster `prefix` may publish and subscribe to: docs/cluster.md has the
/// same block, explained.
pub fn node_permissions(prefix: &str, node: &str) -> String {
    let bucket = format!("KV_{prefix}-groups");
    let publish = [
        format!("{prefix}.node.*.{node}"),
        format!("{prefix}.ctl.*.{node}"),
        format!("{prefix}.alive.{node}"),
        format!("$KV.{prefix}-groups.>"),
        "$JS.API.INFO".into(),
        format!("$JS.API.STREAM.INFO.{bucket}"),
        format!("$JS.API.STREAM.CREATE.{bucket}"),
        format!("$JS.API.STREAM.UPDATE.{bucket}"),
        format!("$JS.API.STREAM.MSG.GET.{bucket}"),
        format!("$JS.API.DIRECT.GET.{bucket}"),
        format!("$JS.API.DIRECT.GET.{bucket}.>"),
        format!("$JS.API.CONSUMER.CREATE.{bucket}"),
        format!("$JS.API.CONSUMER.CREATE.{bucket}.>"),
        format!("$JS.API.CONSUMER.DELETE.{bucket}.>"),
        format!("$JS.FC.{bucket}.>"),
    ];
    let subscribe = [
        format!("{prefix}.node.{node}.*"),
        format!("{prefix}.ctl.{node}.*"),
        format!("{prefix}.alive.*"),
        "_INBOX.>".into(),
    ];
    let list = |subjects: &[String]| {
        subjects.iter().map(|subject| format!("{subject:?}")).collect::<Vec<_>>().join(", ")
    };
    format!(
        "{{ publish: {{ allow: [{}] }}, subscribe: {{ allow: [{}] }}, allow_responses: true }}",
        list(&publish),
        list(&subscribe)
    )
}

fn path_text(path: &std::path::Path) -> String {
    path.to_str().expect("a UTF-8 scratch path").to_string()
}

/// 24 random hex digits, from the standard library's random hasher keys.
fn random_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new();
    format!("{:016x}{:08x}", random.hash_one(1u8), random.hash_one(2u8) as u32)
}
