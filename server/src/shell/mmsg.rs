//! Linux: many datagrams per system call. One `recvmmsg` takes every datagram waiting (up to
//! [`BATCH`]) and one `sendmmsg` sends everything handling them produced.
//!
//! Raw `libc` rather than nix: nix's `sendmmsg` allocates on every call and ties the buffers'
//! lifetimes to its headers, and these two calls are all we need. The headers are built once
//! and reused; they point into heap buffers that never move.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::RawFd;

use socket2::{SockAddr, SockAddrStorage};
use udprelay_shared::limits::RECV_BUFFER;

/// Datagrams taken per receive call, and sent per send call.
pub const BATCH: usize = 64;

fn empty_header() -> libc::mmsghdr {
    // SAFETY: all-zero is a valid `mmsghdr`: null pointers and zero lengths.
    unsafe { std::mem::zeroed() }
}

/// Room for one batch of received datagrams, and the headers that point into it.
pub struct Receiver {
    /// `BATCH` slots of `RECV_BUFFER` bytes.
    pub buffer: Vec<u8>,
    /// Each datagram received: its sender and its range of `buffer`.
    pub datagrams: Vec<(SocketAddr, Range<usize>)>,
    names: Vec<SockAddrStorage>,
    /// Not read: owned here because the headers point at them.
    _slices: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Receiver {
    pub fn new() -> Receiver {
        let mut buffer = vec![0u8; BATCH * RECV_BUFFER];
        let mut names: Vec<SockAddrStorage> =
            (0..BATCH).map(|_| SockAddrStorage::zeroed()).collect();
        let mut slices: Vec<libc::iovec> = buffer
            .chunks_exact_mut(RECV_BUFFER)
            .map(|slot| libc::iovec { iov_base: slot.as_mut_ptr().cast(), iov_len: RECV_BUFFER })
            .collect();
        let headers = names
            .iter_mut()
            .zip(&mut slices)
            .map(|(name, slice)| {
                let mut header = empty_header();
                header.msg_hdr.msg_name = (name as *mut SockAddrStorage).cast();
                header.msg_hdr.msg_iov = slice;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect();
        Receiver { buffer, datagrams: Vec::with_capacity(BATCH), names, _slices: slices, headers }
    }

    /// Receives what is waiting, without blocking: `Ok(n)` with n ≥ 1, or `WouldBlock`.
    pub fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        self.datagrams.clear();
        for (header, name) in self.headers.iter_mut().zip(&self.names) {
            header.msg_hdr.msg_namelen = name.size_of(); // the kernel shortens it
        }
        // SAFETY: every header points at a live name and a live slot of `buffer` (heap
        // allocations owned by `self`, never resized), and `BATCH` is their number.
        let count = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            return Err(io::Error::last_os_error());
        }
        for (n, header) in self.headers.iter().take(count as usize).enumerate() {
            let name = std::mem::replace(&mut self.names[n], SockAddrStorage::zeroed());
            // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes there.
            let from = unsafe { SockAddr::new(name, header.msg_hdr.msg_namelen) };
            // A UDP/IP socket only has IP senders; skip anything else rather than guess.
            let Some(from) = from.as_socket() else { continue };
            let start = n * RECV_BUFFER;
            self.datagrams.push((from, start..start + header.msg_len as usize));
        }
        Ok(count as usize)
    }
}

/// Headers for one send call, reused between calls.
pub struct Sender {
    names: Vec<SockAddr>,
    slices: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Sender {
    pub fn new() -> Sender {
        Sender {
            names: Vec::with_capacity(BATCH),
            slices: Vec::with_capacity(BATCH),
            headers: (0..BATCH).map(|_| empty_header()).collect(),
        }
    }

    /// Sends the first (up to [`BATCH`]) of `messages` in one call, without blocking. `Ok(n)`:
    /// the first n went (n ≥ 1). An error belongs to the first message: `WouldBlock` means
    /// try again when writable; anything else is about its address.
    pub fn send<'a>(
        &mut self,
        fd: RawFd,
        messages: impl Iterator<Item = (&'a [u8], SocketAddr)>,
    ) -> io::Result<usize> {
        self.names.clear();
        self.slices.clear();
        for (bytes, to) in messages.take(BATCH) {
            self.names.push(SockAddr::from(to));
            // The kernel only reads through this pointer.
            self.slices.push(libc::iovec {
                iov_base: bytes.as_ptr().cast_mut().cast(),
                iov_len: bytes.len(),
            });
        }
        for ((header, name), slice) in
            self.headers.iter_mut().zip(&self.names).zip(&mut self.slices)
        {
            header.msg_hdr.msg_name = name.as_ptr().cast_mut().cast();
            header.msg_hdr.msg_namelen = name.len();
            header.msg_hdr.msg_iov = slice;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the first `names.len()` headers point at live names, and at slices of
        // message bytes the caller keeps borrowed for this call.
        let sent = unsafe {
            libc::sendmmsg(fd, self.headers.as_mut_ptr(), self.names.len() as _, libc::MSG_DONTWAIT)
        };
        if sent < 0 { Err(io::Error::last_os_error()) } else { Ok(sent as usize) }
    }
}

/// Blocks until the socket can take more datagrams, or 10 ms have passed.
pub fn wait_writable(fd: RawFd) {
    let mut wanted = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd, and its count.
    unsafe { libc::poll(&mut wanted, 1, 10) };
}
