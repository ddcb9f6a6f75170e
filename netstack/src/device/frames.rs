//! Moving frames through an Ethernet interface's descriptor in batches:
//! recvmmsg(2) reads every waiting frame a few dozen per call, and the
//! frames one poll of the stack sent leave together through sendmmsg(2),
//! a run of one connection's segments merged into one (see `gso`).

use std::cell::RefCell;
use std::os::fd::RawFd;

use super::{gso, Dev};
use crate::sys;

/// At most this many frames per wake-up, so one busy interface cannot
/// hold the stack's lock for long; the descriptor stays readable and the
/// thread comes straight back.
const BATCH: usize = 256;

/// Every frame waiting on the interface's descriptor (up to `BATCH`),
/// read until EAGAIN.
pub(crate) fn read_batch(dev: &Dev) -> Vec<Vec<u8>> {
    let Some(fd) = dev.fd() else {
        return Vec::new();
    };
    let hdr = if dev.vnet { gso::HDR_LEN } else { 0 };
    // Room for the largest IP packet and its Ethernet and VLAN headers,
    // not just the MTU: a veth has GRO/TSO on, so the host hands over TCP
    // segments merged up to 64 KiB, and a short buffer would cut them
    // silently (AF_PACKET truncates), losing every one (bench/veth
    // measured 0.27 Mbit/s into a container so).
    let cap = (dev.mtu + 14).max(65_535 + 14) + 64;
    let mut out = Vec::new();
    while out.len() < BATCH {
        let mut bufs: Vec<Vec<u8>> = (0..sys::MMSG).map(|_| dev.empty_buffer()).collect();
        let got = sys::recv_frames(fd, &mut bufs, cap, hdr);
        let mut rest = bufs.split_off(got);
        bufs.retain(|b| !b.is_empty());
        out.append(&mut bufs);
        for b in rest.drain(..) {
            dev.recycle(b);
        }
        if got < sys::MMSG {
            break;
        }
    }
    out
}

/// Sends the frames queued since the last flush.
pub(crate) fn flush(dev: &mut Dev) {
    let Some(fd) = dev.fd() else { return };
    let frames = std::mem::take(&mut dev.tx);
    send(fd, dev.vnet, frames, &dev.pool);
}

/// Sends `frames` through `fd`, merged into runs if it takes virtio-net
/// headers; their buffers go back to `pool`.
pub(crate) fn send(fd: RawFd, vnet: bool, frames: Vec<Vec<u8>>, pool: &RefCell<Vec<Vec<u8>>>) {
    if frames.is_empty() {
        return;
    }
    let out = if vnet {
        gso::coalesce(
            frames,
            &mut |n| {
                let mut b = super::take_empty(pool);
                b.reserve(n);
                b
            },
            &mut |b| super::give_back(pool, b),
        )
    } else {
        frames
            .into_iter()
            .map(|frame| gso::Out {
                hdr: [0; gso::HDR_LEN],
                frame,
            })
            .collect()
    };
    let hdr_len = if vnet { gso::HDR_LEN } else { 0 };
    let list: Vec<(&[u8], &[u8])> = out
        .iter()
        .map(|o| (&o.hdr[..hdr_len], &o.frame[..]))
        .collect();
    sys::send_frames(fd, &list);
    drop(list);
    for o in out {
        super::give_back(pool, o.frame);
    }
}
