//! The servers a client may talk to, as the user names them: one, or several to move between
//! (the nodes of a cluster). `a.example.org,b.example.org:5001,[::1]:5000,127.0.0.3`: each
//! entry is `HOST` or `HOST:PORT` (an IPv6 address in brackets when a port follows), and a
//! name with several addresses counts as several servers.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// One server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Where it is.
    pub addr: SocketAddr,
    /// How to name it to the user: as typed (`localhost:5000`), with the address when a name
    /// stands for several (`relay.example.org:5000 (192.0.2.7)`).
    pub label: String,
}

impl Server {
    /// A server known by its address.
    pub fn at(addr: SocketAddr) -> Server {
        Server { addr, label: addr.to_string() }
    }
}

/// Reads a list of servers; entries without a port use `default_port`. The error says, in
/// words, what is wrong with which entry.
pub fn resolve(list: &str, default_port: u16) -> Result<Vec<Server>, String> {
    let mut servers = Vec::new();
    for entry in list.split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let (host, port) = split(entry, default_port)?;
        if let Ok(ip) = host.parse::<IpAddr>() {
            servers.push(Server::at(SocketAddr::new(ip, port)));
            continue;
        }
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|error| format!("cannot find the server '{host}': {error}"))?
            .collect();
        let shown = format!("{host}:{port}");
        match addrs.as_slice() {
            [] => return Err(format!("the server '{host}' has no address")),
            [addr] => servers.push(Server { addr: *addr, label: shown }),
            several => servers.extend(
                several
                    .iter()
                    .map(|addr| Server { addr: *addr, label: format!("{shown} ({})", addr.ip()) }),
            ),
        }
    }
    if servers.is_empty() {
        return Err("no server given".into());
    }
    Ok(servers)
}

/// A list of servers with every entry given `port`: entries without one get it, and, when
/// `replace`, entries with one get it instead (the desktop client's `--host` and `--port`).
/// Entries that do not read are kept as they are, for [`resolve`] to say what is wrong.
pub fn with_port(list: &str, port: u16, replace: bool) -> String {
    let entries: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let Ok((host, own)) = split(entry, port) else { return entry.to_string() };
            let has_port = own != port || entry.ends_with(&format!(":{port}"));
            let port = if has_port && !replace { own } else { port };
            match host.contains(':') {
                true => format!("[{host}]:{port}"),
                false => format!("{host}:{port}"),
            }
        })
        .collect();
    entries.join(",")
}

/// `HOST` or `HOST:PORT` (`[IPv6]:PORT`; a bare IPv6 address has no port).
fn split(entry: &str, default_port: u16) -> Result<(&str, u16), String> {
    let port = |text: &str| {
        text.parse::<u16>().map_err(|_| format!("'{text}' is not a port number (0 to 65535)"))
    };
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) =
            rest.split_once(']').ok_or_else(|| format!("'{entry}' has no closing ']'"))?;
        return match after.strip_prefix(':') {
            Some(text) => Ok((host, port(text)?)),
            None if after.is_empty() => Ok((host, default_port)),
            None => Err(format!("'{entry}' is not [address]:port")),
        };
    }
    match entry.rsplit_once(':') {
        // More than one colon: an IPv6 address without a port.
        Some((host, _)) if host.contains(':') => Ok((entry, default_port)),
        Some((host, text)) => Ok((host, port(text)?)),
        None => Ok((entry, default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(list: &str) -> Vec<String> {
        resolve(list, 5000).unwrap().into_iter().map(|server| server.label).collect()
    }

    #[test]
    fn entries_with_and_without_ports() {
        assert_eq!(labels("127.0.0.2,127.0.0.3"), ["127.0.0.2:5000", "127.0.0.3:5000"]);
        assert_eq!(
            labels(" 127.0.0.1:6000 , [::1]:7000,::1,[::1]"),
            ["127.0.0.1:6000", "[::1]:7000", "[::1]:5000", "[::1]:5000"]
        );
        assert_eq!(
            resolve("localhost:5001", 5000).unwrap()[0].label.split(' ').next(),
            Some("localhost:5001")
        );
        assert!(resolve("localhost", 5000).unwrap().iter().all(|s| s.addr.ip().is_loopback()));
    }

    #[test]
    fn a_port_for_every_entry() {
        assert_eq!(
            with_port("a,b:6000,::1,[::1]:7000", 5000, false),
            "a:5000,b:6000,[::1]:5000,[::1]:7000"
        );
        assert_eq!(with_port("a:1,b", 5000, true), "a:5000,b:5000");
        assert_eq!(with_port(" a , ", 5001, false), "a:5001");
        assert_eq!(with_port("[::1", 5000, false), "[::1");
    }

    #[test]
    fn what_is_wrong_is_said() {
        for (list, why) in [
            ("", "no server given"),
            (" , ", "no server given"),
            ("127.0.0.1:http", "'http' is not a port number (0 to 65535)"),
            ("127.0.0.1:70000", "'70000' is not a port number (0 to 65535)"),
            ("[::1", "'[::1' has no closing ']'"),
            ("[::1]5000", "'[::1]5000' is not [address]:port"),
        ] {
            assert_eq!(resolve(list, 5000), Err(why.to_string()), "{list:?}");
        }
        let unknown = resolve("no-such-host.invalid", 5000).unwrap_err();
        assert!(unknown.starts_with("cannot find the server 'no-such-host.invalid'"), "{unknown}");
    }
}
