//! Reading an Ethernet interface's descriptor: each read is one frame.

use super::Dev;

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
    let mut out = Vec::new();
    // Room for the largest IP packet and its Ethernet and VLAN headers,
    // not just the MTU: a veth has GRO/TSO on, so the host hands over TCP
    // segments merged up to 64 KiB, and a short buffer would cut them
    // silently (AF_PACKET truncates), losing every one (bench/veth
    // measured 0.27 Mbit/s into a container so).
    let cap = (dev.mtu + 14).max(65_535 + 14) + 64;
    while out.len() < BATCH {
        let mut buf = dev.buffer(cap);
        match crate::sys::recv_frame(fd, &mut buf) {
            Some(n) if n > 0 => {
                buf.truncate(n);
                out.push(buf);
            }
            _ => {
                dev.recycle(buf);
                break;
            }
        }
    }
    out
}
