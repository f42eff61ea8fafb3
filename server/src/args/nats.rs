//! The `--cluster-*` flags that say how a node signs in to NATS and checks that it reached the
//! right servers; docs/cluster.md has the secured set-up they are for.
//!
//! Everything is read and checked at start, before anything is bound, so that a missing file
//! or a bad seed is one line and exit 2, not a node retrying forever. Secrets are read from
//! files (never from argv, which every local user can read), held as [`Secret`]s, which
//! print as `[redacted]` and are wiped when dropped, and never logged: a URL with a password
//! in it is shown with the password replaced ([`redacted`]).

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// How the node signs in to NATS and which servers it trusts.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct NatsFlags {
    /// Sign in to NATS with this credentials file (a user JWT and its NKey seed, as `nsc`
    /// writes them)
    #[arg(long, value_name = "PATH", requires = "cluster", conflicts_with_all = ["cluster_nkey", "cluster_user"])]
    pub cluster_creds: Option<PathBuf>,

    /// Sign in to NATS with the NKey whose seed (`SU…`) is in this file
    #[arg(long, value_name = "PATH", requires = "cluster", conflicts_with = "cluster_user")]
    pub cluster_nkey: Option<PathBuf>,

    /// Sign in to NATS as this user, with the password in --cluster-password-file
    #[arg(long, value_name = "NAME", requires_all = ["cluster", "cluster_password_file"])]
    pub cluster_user: Option<String>,

    /// The file holding --cluster-user's password (its first line)
    #[arg(long, value_name = "PATH", requires = "cluster_user")]
    pub cluster_password_file: Option<PathBuf>,

    /// Trust the NATS servers whose certificates this CA file (PEM) signed, and only over TLS
    /// [default: the system's CAs, with tls:// URLs]
    #[arg(long, value_name = "PATH", requires = "cluster")]
    pub cluster_tls_ca: Option<PathBuf>,

    /// This node's TLS certificate (PEM), for NATS servers that verify their clients
    #[arg(long, value_name = "PATH", requires_all = ["cluster", "cluster_tls_key"])]
    pub cluster_tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --cluster-tls-cert
    #[arg(long, value_name = "PATH", requires = "cluster_tls_cert")]
    pub cluster_tls_key: Option<PathBuf>,
}

/// A secret read from a file or a URL: never printed, wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(Zeroizing::new(text))
    }

    /// The secret itself, for the NATS client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How the node proves who it is to NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// No credentials: a NATS that lets anyone in (tests, or a network nothing else reaches).
    Anonymous,
    Password {
        user: String,
        password: Secret,
    },
    /// A token, given as the user part of a URL (`nats://TOKEN@host:4222`).
    Token(Secret),
    /// An NKey seed; the server knows its public key.
    NKey(Secret),
    /// A credentials file's contents (JWT and seed).
    Creds(Secret),
}

/// Whether and how the connection is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tls {
    /// TLS is required (a tls:// URL or any TLS flag): no plain connection is ever made.
    pub required: bool,
    pub ca: Option<PathBuf>,
    /// The client certificate and its key.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// What the node connects with: the URLs without credentials, who it signs in as, and TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSecurity {
    pub sign_in: SignIn,
    pub tls: Tls,
}

impl NatsSecurity {
    /// What a node connects with when no flag says otherwise.
    pub fn anonymous() -> NatsSecurity {
        NatsSecurity { sign_in: SignIn::Anonymous, tls: Tls::default() }
    }

    /// How the start line tells it: the kind of sign-in and TLS, no secret.
    pub fn summary(&self) -> String {
        let sign_in = match &self.sign_in {
            SignIn::Anonymous => "anonymous".to_string(),
            SignIn::Password { user, .. } => format!("user:{user}"),
            SignIn::Token(_) => "token".into(),
            SignIn::NKey(_) => "nkey".into(),
            SignIn::Creds(_) => "creds".into(),
        };
        format!("{sign_in} tls={}", if self.tls.required { "required" } else { "no" })
    }
}

/// The credentials a URL carries (`nats://user:password@host`, `nats://token@host`), and the
/// URL without them.
pub fn split_credentials(url: &str) -> (String, Option<SignIn>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_string(), None);
    };
    let bare = format!("{scheme}://{}", &rest[at + 1..]);
    let sign_in = match rest[..at].split_once(':') {
        Some((user, password)) => {
            SignIn::Password { user: user.to_string(), password: Secret::new(password.to_string()) }
        }
        None => SignIn::Token(Secret::new(rest[..at].to_string())),
    };
    (bare, Some(sign_in))
}

/// The URL as it may be shown: any credentials in it replaced by `***`.
pub fn redacted(url: &str) -> String {
    match split_credentials(url) {
        (bare, Some(_)) => bare.replacen("://", "://***@", 1),
        (bare, None) => bare,
    }
}

impl NatsFlags {
    /// Reads the files the flags name and puts them together with what the URLs carry.
    /// `urls` are as given; the error is one line, naming the flag and never the secret.
    pub fn read(&self, urls: &[String]) -> Result<NatsSecurity, String> {
        let mut from_urls = None;
        for url in urls {
            if let (_, Some(sign_in)) = split_credentials(url) {
                if from_urls.as_ref().is_some_and(|seen| *seen != sign_in) {
                    return Err("--cluster: every URL must carry the same credentials".into());
                }
                from_urls = Some(sign_in);
            }
        }
        let from_flags = if let Some(path) = &self.cluster_creds {
            let text = read_secret("--cluster-creds", path)?;
            if async_nats::ConnectOptions::with_credentials(text.expose()).is_err() {
                return Err(format!(
                    "--cluster-creds: {} is not a NATS credentials file (a JWT and an NKey seed)",
                    path.display()
                ));
            }
            Some(SignIn::Creds(text))
        } else if let Some(path) = &self.cluster_nkey {
            let seed = first_line(read_secret("--cluster-nkey", path)?);
            if !seed.expose().starts_with("SU") || nkeys::KeyPair::from_seed(seed.expose()).is_err()
            {
                return Err(format!(
                    "--cluster-nkey: {} does not hold a user NKey seed (SU…)",
                    path.display()
                ));
            }
            Some(SignIn::NKey(seed))
        } else if let (Some(user), Some(path)) = (&self.cluster_user, &self.cluster_password_file) {
            let password = first_line(read_secret("--cluster-password-file", path)?);
            if password.expose().is_empty() {
                return Err(format!("--cluster-password-file: {} is empty", path.display()));
            }
            Some(SignIn::Password { user: user.clone(), password })
        } else {
            None
        };
        let sign_in = match (from_urls, from_flags) {
            (Some(_), Some(_)) => {
                return Err("--cluster: credentials in the URLs and in flags; give them once (flags are better: argv is public)".into());
            }
            (one, other) => one.or(other).unwrap_or(SignIn::Anonymous),
        };
        for (flag, path) in [
            ("--cluster-tls-ca", &self.cluster_tls_ca),
            ("--cluster-tls-cert", &self.cluster_tls_cert),
        ] {
            if let Some(path) = path {
                check_pem(flag, path, "CERTIFICATE")?;
            }
        }
        if let Some(path) = &self.cluster_tls_key {
            check_pem("--cluster-tls-key", path, "PRIVATE KEY")?;
        }
        let tls = Tls {
            required: urls.iter().any(|url| url.starts_with("tls://"))
                || self.cluster_tls_ca.is_some()
                || self.cluster_tls_cert.is_some(),
            ca: self.cluster_tls_ca.clone(),
            client: self.cluster_tls_cert.clone().zip(self.cluster_tls_key.clone()),
        };
        Ok(NatsSecurity { sign_in, tls })
    }
}

fn read_secret(flag: &str, path: &Path) -> Result<Secret, String> {
    std::fs::read_to_string(path)
        .map(Secret::new)
        .map_err(|error| format!("{flag}: cannot read {}: {error}", path.display()))
}

/// A secret file's first line, without its line ending.
fn first_line(secret: Secret) -> Secret {
    Secret::new(secret.expose().lines().next().unwrap_or("").trim().to_string())
}

/// That the file is PEM with a block of this kind (`CERTIFICATE`, `… PRIVATE KEY`): a wrong
/// or missing file is told at start, not as a TLS failure on every connection attempt.
fn check_pem(flag: &str, path: &Path, kind: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|error| format!("{flag}: cannot read {}: {error}", path.display()))?;
    let has_block = text.lines().any(|line| line.starts_with("-----BEGIN ") && line.contains(kind));
    if has_block { Ok(()) } else { Err(format!("{flag}: {} holds no PEM {kind}", path.display())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_out_of_urls_and_are_never_shown() {
        let (bare, sign_in) = split_credentials("nats://relay:s3cret@10.0.0.1:4222");
        assert_eq!(bare, "nats://10.0.0.1:4222");
        let Some(SignIn::Password { user, password }) = sign_in else { panic!("{sign_in:?}") };
        assert_eq!((user.as_str(), password.expose()), ("relay", "s3cret"));
        assert_eq!(format!("{password:?}"), "[redacted]");
        assert_eq!(redacted("nats://relay:s3cret@10.0.0.1:4222"), "nats://***@10.0.0.1:4222");
        assert_eq!(redacted("tls://tok@h:4222"), "tls://***@h:4222");
        assert_eq!(redacted("nats://h:4222"), "nats://h:4222");
        assert!(matches!(split_credentials("nats://tok@h:4222").1, Some(SignIn::Token(_))));
    }

    #[test]
    fn files_are_read_and_checked_at_start() {
        let dir = std::env::temp_dir().join(format!("udprelay-nats-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let password = dir.join("password");
        std::fs::write(&password, "hunter2\n").unwrap();
        let flags = NatsFlags {
            cluster_creds: None,
            cluster_nkey: None,
            cluster_user: Some("n1".into()),
            cluster_password_file: Some(password.clone()),
            cluster_tls_ca: None,
            cluster_tls_cert: None,
            cluster_tls_key: None,
        };
        let urls = ["nats://127.0.0.1:4222".to_string()];
        let security = flags.read(&urls).unwrap();
        assert_eq!(
            security.sign_in,
            SignIn::Password { user: "n1".into(), password: Secret::new("hunter2".into()) }
        );
        assert_eq!(security.summary(), "user:n1 tls=no");
        assert!(!format!("{security:?}").contains("hunter2"));
        // Credentials twice, a missing file, a seed that is none, a CA that is no PEM.
        let twice = flags.read(&["nats://a:pw@127.0.0.1:4222".to_string()]).unwrap_err();
        assert!(twice.contains("give them once") && !twice.contains("pw"), "{twice}");
        let missing = NatsFlags { cluster_password_file: Some(dir.join("nope")), ..flags.clone() };
        assert!(
            missing.read(&urls).unwrap_err().starts_with("--cluster-password-file: cannot read")
        );
        let nkey =
            NatsFlags { cluster_user: None, cluster_nkey: Some(password.clone()), ..flags.clone() };
        let error = nkey.read(&urls).unwrap_err();
        assert!(error.contains("NKey seed") && !error.contains("hunter2"), "{error}");
        let seed = dir.join("seed");
        let pair = nkeys::KeyPair::new_user();
        std::fs::write(&seed, pair.seed().unwrap()).unwrap();
        let nkey = NatsFlags { cluster_nkey: Some(seed), ..nkey };
        assert!(matches!(nkey.read(&urls).unwrap().sign_in, SignIn::NKey(_)));
        // A credentials file as nsc writes it: the JWT is the server's to check.
        let creds = dir.join("node.creds");
        let seed_text = pair.seed().unwrap();
        std::fs::write(
            &creds,
            format!(
                "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.c2ln\n------END NATS USER JWT------\n\n\
                 -----BEGIN USER NKEY SEED-----\n{seed_text}\n------END USER NKEY SEED------\n"
            ),
        )
        .unwrap();
        let with_creds =
            NatsFlags { cluster_nkey: None, cluster_creds: Some(creds), ..nkey.clone() };
        let security = with_creds.read(&urls).unwrap();
        assert!(matches!(security.sign_in, SignIn::Creds(_)));
        assert!(!format!("{security:?}").contains(&seed_text));
        let not_creds = NatsFlags { cluster_creds: Some(password.clone()), ..with_creds };
        assert!(not_creds.read(&urls).unwrap_err().contains("not a NATS credentials file"));
        let ca = NatsFlags { cluster_tls_ca: Some(password.clone()), ..flags.clone() };
        assert_eq!(
            ca.read(&urls).unwrap_err(),
            format!("--cluster-tls-ca: {} holds no PEM CERTIFICATE", password.display())
        );
        // A tls:// URL alone asks for TLS; the URLs must agree on their credentials.
        let tls = flags.read(&["tls://127.0.0.1:4222".to_string()]).unwrap();
        assert!(tls.tls.required);
        let anonymous = NatsFlags { cluster_user: None, cluster_password_file: None, ..flags };
        let mixed = ["nats://a:b@h:1".to_string(), "nats://a:c@h:2".to_string()];
        assert!(anonymous.read(&mixed).unwrap_err().contains("the same credentials"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
