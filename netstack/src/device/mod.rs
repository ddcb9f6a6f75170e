//! The devices under smoltcp's interfaces: one type for both kinds, since
//! a `Vec` of interfaces wants one. Frames arrive in `rx`, put there by
//! the stack after it inspected them (see `steer`); frames leave through
//! the sink: loopback's queue, which the stack feeds back to `rx`, or an
//! Ethernet interface's descriptor.

pub(crate) mod frames;
pub(crate) mod gso;
pub(crate) mod log;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

pub(crate) enum Sink {
    Queue(VecDeque<Vec<u8>>),
    Fd(OwnedFd),
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

impl Counters {
    pub(crate) fn count(&mut self, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
    }
}

pub(crate) struct Dev {
    pub rx: VecDeque<Vec<u8>>,
    pub sink: Sink,
    /// Spent frame buffers: loopback moves 64 KiB segments, and reusing
    /// a buffer saves zeroing a fresh one for each.
    pool: RefCell<Vec<Vec<u8>>>,
    /// Frames sent since the last flush (an Ethernet interface's; see
    /// `frames::flush`).
    tx: Vec<Vec<u8>>,
    /// The descriptor's frames carry a virtio-net header
    /// (PACKET_VNET_HDR): runs of segments leave merged.
    pub vnet: bool,
    pub mtu: usize,
    pub medium: Medium,
    pub rx_count: Counters,
    pub tx_count: Counters,
    /// `--log-packets`: the interface's name, to log each frame under.
    pub log: Option<String>,
    /// Neighbours an ARP request or neighbour solicitation sent since
    /// the stack last looked (see `neigh`).
    pub solicited: Vec<std::net::IpAddr>,
}

const POOL_MAX: usize = 64;

/// Frames queued to send before they go without waiting for the flush
/// at the end of the poll: a send buffer's worth of segments.
const TX_BATCH: usize = 64;

impl Dev {
    pub(crate) fn loopback(mtu: usize, log: Option<String>) -> Dev {
        Dev::new(Sink::Queue(VecDeque::new()), mtu, Medium::Ip, log)
    }

    pub(crate) fn ethernet(fd: OwnedFd, mtu: usize, vnet: bool, log: Option<String>) -> Dev {
        let mut d = Dev::new(Sink::Fd(fd), mtu, Medium::Ethernet, log);
        d.vnet = vnet;
        d
    }

    fn new(sink: Sink, mtu: usize, medium: Medium, log: Option<String>) -> Dev {
        Dev {
            rx: VecDeque::new(),
            sink,
            pool: RefCell::new(Vec::new()),
            tx: Vec::new(),
            vnet: false,
            mtu,
            medium,
            rx_count: Counters::default(),
            tx_count: Counters::default(),
            log,
            solicited: Vec::new(),
        }
    }

    pub(crate) fn fd(&self) -> Option<i32> {
        match &self.sink {
            Sink::Fd(fd) => Some(fd.as_raw_fd()),
            Sink::Queue(_) => None,
        }
    }

    /// An empty buffer, reused when one is spare, for a read to fill.
    pub(crate) fn empty_buffer(&self) -> Vec<u8> {
        take_empty(&self.pool)
    }

    pub(crate) fn recycle(&self, buf: Vec<u8>) {
        give_back(&self.pool, buf)
    }

    /// Sends what the last poll queued.
    pub(crate) fn flush(&mut self) {
        frames::flush(self)
    }

    /// Counts and logs an arriving frame, whoever takes it.
    pub(crate) fn arrived(&mut self, frame: &[u8]) {
        self.rx_count.count(frame.len());
        if let Some(name) = &self.log {
            log::frame(name, "rx", frame, self.medium == Medium::Ethernet);
        }
    }
}

fn take_buffer(pool: &RefCell<Vec<Vec<u8>>>, len: usize) -> Vec<u8> {
    let mut buf = take_empty(pool);
    buf.resize(len, 0);
    buf
}

fn take_empty(pool: &RefCell<Vec<Vec<u8>>>) -> Vec<u8> {
    pool.borrow_mut().pop().unwrap_or_default()
}

fn give_back(pool: &RefCell<Vec<Vec<u8>>>, mut buf: Vec<u8>) {
    let mut pool = pool.borrow_mut();
    if pool.len() < POOL_MAX && buf.capacity() <= 1 << 17 {
        buf.clear();
        pool.push(buf);
    }
}

impl phy::Device for Dev {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let buf = self.rx.pop_front()?;
        Some((
            RxToken {
                buf,
                pool: &self.pool,
            },
            TxToken {
                sink: &mut self.sink,
                tx: &mut self.tx,
                vnet: self.vnet,
                pool: &self.pool,
                count: &mut self.tx_count,
                log: self.log.as_deref(),
                ethernet: self.medium == Medium::Ethernet,
                solicited: &mut self.solicited,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken {
            sink: &mut self.sink,
            tx: &mut self.tx,
            vnet: self.vnet,
            pool: &self.pool,
            count: &mut self.tx_count,
            log: self.log.as_deref(),
            ethernet: self.medium == Medium::Ethernet,
            solicited: &mut self.solicited,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = self.medium;
        caps.max_transmission_unit = self.mtu;
        caps.checksum = match self.medium {
            // Nothing between two sockets on loopback can corrupt a byte,
            // so nothing is checked; but raw sockets read IP and ICMP
            // headers whole (ping checks the reply's sum), so those two,
            // short and rare, are filled. TCP and UDP sums, over every
            // byte of 64 KiB segments, are left empty.
            Medium::Ip => {
                let mut c = ChecksumCapabilities::ignored();
                c.ipv4 = Checksum::Tx;
                c.icmpv4 = Checksum::Tx;
                c.icmpv6 = Checksum::Tx;
                c
            }
            // Compute on send, trust on receipt: the link is a veth, which
            // cannot corrupt frames either, and frames the host sends
            // through it carry offloaded checksums that were never filled.
            _ => {
                let mut c = ChecksumCapabilities::default();
                c.ipv4 = Checksum::Tx;
                c.udp = Checksum::Tx;
                c.tcp = Checksum::Tx;
                c.icmpv4 = Checksum::Tx;
                c.icmpv6 = Checksum::Tx;
                c
            }
        };
        caps
    }
}

pub(crate) struct RxToken<'a> {
    buf: Vec<u8>,
    pool: &'a RefCell<Vec<Vec<u8>>>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.buf);
        give_back(self.pool, self.buf);
        r
    }
}

pub(crate) struct TxToken<'a> {
    sink: &'a mut Sink,
    tx: &'a mut Vec<Vec<u8>>,
    vnet: bool,
    pool: &'a RefCell<Vec<Vec<u8>>>,
    count: &'a mut Counters,
    log: Option<&'a str>,
    ethernet: bool,
    solicited: &'a mut Vec<std::net::IpAddr>,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = take_buffer(self.pool, len);
        let r = f(&mut buf);
        self.count.count(len);
        if let Some(name) = self.log {
            log::frame(name, "tx", &buf, self.ethernet);
        }
        match self.sink {
            Sink::Queue(q) => q.push_back(buf),
            Sink::Fd(fd) => {
                if let Some(who) = crate::neigh::solicited(&buf) {
                    self.solicited.push(who);
                }
                self.tx.push(buf);
                if self.tx.len() >= TX_BATCH {
                    let frames = std::mem::take(self.tx);
                    frames::send(fd.as_raw_fd(), self.vnet, frames, self.pool);
                }
            }
        }
        r
    }
}
