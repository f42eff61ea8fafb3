//! A NATS in operator mode (decentralised JWT auth, as `nsc` sets it up): an operator, an
//! account with JetStream signed by it (and the server's own system account), and a user per relay node signed by the account, each
//! node's in a `.creds` file as `nsc generate creds` writes one. Made afresh here with nkeys,
//! so that `--cluster-creds` is tried against the real nats-server, not only parsed.
//!
//! A NATS JWT is `base64url(header) . base64url(claims) . base64url(signature)`, no padding;
//! the header is `{"typ":"JWT","alg":"ed25519-nkey"}`, the signature the issuer's NKey over
//! the first two parts; the claims name the issuer (`iss`), the subject (`sub`) and, under
//! `nats`, the kind of JWT (`type`) and `version: 2`.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::BASE64URL_NOPAD;
use nkeys::KeyPair;

use crate::ScratchDir;

/// The secrets of a NATS in operator mode, and the nats-server settings that trust them.
pub struct OperatorSecrets {
    _dir: ScratchDir,
    settings: String,
    creds: Vec<(String, PathBuf)>,
}

/// A JWT of `claims` (the JSON inside `nats` for `kind`) about `subject`, signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, kind: &str, nats: &str) -> String {
    let iat = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    let jti =
        BASE64URL_NOPAD.encode(&issuer.sign(format!("{subject}{iat}").as_bytes()).unwrap()[..24]);
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = format!(
        r#"{{"jti":"{jti}","iat":{iat},"iss":"{}","name":"{name}","sub":"{subject}","nats":{{{nats}"type":"{kind}","version":2}}}}"#,
        issuer.public_key()
    );
    let signed = format!("{header}.{}", BASE64URL_NOPAD.encode(claims.as_bytes()));
    let signature = issuer.sign(signed.as_bytes()).expect("an NKey signs");
    format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
}

impl OperatorSecrets {
    /// An operator, one account, and a user for each of `nodes`.
    pub fn new(nodes: &[&str]) -> OperatorSecrets {
        let dir = ScratchDir::new("nats-operator");
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let operator_jwt = jwt(&operator, &operator.public_key(), "udprelay-test", "operator", "");
        let unlimited = r#""limits":{"subs":-1,"data":-1,"payload":-1,"imports":-1,"exports":-1,"wildcards":true,"conn":-1,"leaf":-1,"mem_storage":-1,"disk_storage":-1,"streams":-1,"consumer":-1},"#;
        let account_jwt = jwt(&operator, &account.public_key(), "RELAYS", "account", unlimited);
        // JetStream needs the server's own account.
        let system = KeyPair::new_account();
        let system_jwt = jwt(&operator, &system.public_key(), "SYS", "account", "");
        let creds = nodes
            .iter()
            .map(|node| {
                let user = KeyPair::new_user();
                let limits = r#""pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1,"#;
                let user_jwt = jwt(&account, &user.public_key(), node, "user", limits);
                let text = format!(
                    "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
                     ************************* IMPORTANT *************************\n\
                     NKEY Seed printed below can be used to sign and prove identity.\n\
                     NKEYs are sensitive and should be treated as secrets.\n\n\
                     -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
                     *************************************************************\n",
                    user.seed().expect("a seed")
                );
                let path = dir.join(&format!("{node}.creds"));
                std::fs::write(&path, text).expect("write a creds file");
                (node.to_string(), path)
            })
            .collect();
        let settings = format!(
            "operator: {operator_jwt:?}\nsystem_account: {}\nresolver: MEMORY\n\
             resolver_preload: {{ {}: {account_jwt:?}, {}: {system_jwt:?} }}\n",
            system.public_key(),
            account.public_key(),
            system.public_key(),
        );
        OperatorSecrets { _dir: dir, settings, creds }
    }

    /// The relay flags that sign in as `node` with its `.creds` file.
    pub fn creds_args(&self, node: &str) -> Vec<String> {
        let (_, path) = self.creds.iter().find(|(name, _)| name == node).expect("a node of these");
        vec!["--cluster-creds".into(), path.to_str().expect("a UTF-8 scratch path").into()]
    }

    /// The nats-server settings that trust the operator and know the account.
    pub(crate) fn settings(&self) -> &str {
        &self.settings
    }
}
