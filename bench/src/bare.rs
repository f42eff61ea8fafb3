//! The baseline: the least a relay can do. Receive, look up the sender's group in a plain map,
//! send to each other member. It answers `!CREATE`, `!JOIN` and `!PING` just enough for the
//! load generator to set up groups; no limits, no timers, no checks.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};

pub fn run() -> std::io::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    println!("listening on {}", socket.local_addr()?);
    std::io::stdout().flush()?;
    let mut groups: HashMap<Vec<u8>, Vec<SocketAddr>> = HashMap::new();
    let mut member_of: HashMap<SocketAddr, Vec<u8>> = HashMap::new();
    let mut next_id = 0u64;
    let mut buf = vec![0u8; 4097];
    loop {
        let (len, from) = socket.recv_from(&mut buf)?;
        let datagram = &buf[..len];
        if datagram.starts_with(b"!CREATE") {
            next_id += 1;
            let id = format!("{next_id:08}");
            groups.insert(id.clone().into_bytes(), Vec::new());
            socket.send_to(format!("OK CREATED {id}").as_bytes(), from)?;
        } else if let Some(id) = datagram.strip_prefix(b"!JOIN ") {
            groups.entry(id.to_vec()).or_default().push(from);
            member_of.insert(from, id.to_vec());
            let mut reply = b"OK JOINED ".to_vec();
            reply.extend_from_slice(id);
            socket.send_to(&reply, from)?;
        } else if datagram.starts_with(b"!PING") {
            socket.send_to(b"PONG 60.0", from)?;
        } else if let Some(members) = member_of.get(&from).and_then(|id| groups.get(id)) {
            for &member in members {
                if member != from {
                    let _ = socket.send_to(datagram, member);
                }
            }
        }
    }
}
