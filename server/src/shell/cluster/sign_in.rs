//! The NATS client's options from `--cluster-*`: who the node signs in as, and TLS. The
//! secrets were read and checked at start (`args::nats`); here they only go to async-nats.

use std::io;

use async_nats::ConnectOptions;

use crate::args::{NatsSecurity, SignIn};

/// Options that sign in and encrypt as `security` says.
pub(super) fn options(security: &NatsSecurity) -> io::Result<ConnectOptions> {
    let options = match &security.sign_in {
        SignIn::Anonymous => ConnectOptions::new(),
        SignIn::Password { user, password } => {
            ConnectOptions::new().user_and_password(user.clone(), password.expose().to_string())
        }
        SignIn::Token(token) => ConnectOptions::new().token(token.expose().to_string()),
        SignIn::NKey(seed) => ConnectOptions::new().nkey(seed.expose().to_string()),
        SignIn::Creds(creds) => ConnectOptions::with_credentials(creds.expose())?,
    };
    let tls = &security.tls;
    if !tls.required {
        return Ok(options);
    }
    // Servers the cluster tells of are not on the operator's list: with TLS, the node only
    // trusts the names it was given.
    let mut options = options.require_tls(true).ignore_discovered_servers();
    if let Some(ca) = &tls.ca {
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &tls.client {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(options)
}
