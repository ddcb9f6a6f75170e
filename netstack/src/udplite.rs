//! UDP-Lite endpoints (SOCK_DGRAM with IPPROTO_UDPLITE, RFC 3828). They
//! are UDP's in all but the protocol number and the header's third
//! field, the checksum's coverage: ports, lookup, queues and receipt are
//! `dgram`'s (steered as UDP's are). smoltcp knows no UDP-Lite, so a
//! send writes the whole packet and leaves through a smoltcp raw socket
//! of protocol 136 per interface (`outbound::tx_socket`). The checksum
//! covers what UDPLITE_SEND_CSCOV asks, and a receiver with
//! UDPLITE_RECV_CSCOV drops datagrams covered less, as Linux's udplite.c
//! and udp.c do; sums are written, not checked (see `device`).

use std::net::SocketAddr;

use smoltcp::socket::raw;

use crate::bind;
use crate::errno::Errno;
use crate::outbound::{
    destination, fits, gather, ip_packet, route, transport_sum, tx_socket, MAX_V4, MAX_V6, UDPLITE,
};
use crate::socket::SendInfo;
use crate::state::Inner;

/// One datagram, with UDP's checks and errors (see `Endpoint::send`).
pub(crate) fn send(
    inner: &mut Inner,
    id: usize,
    to: Option<SocketAddr>,
    info: &SendInfo,
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let dst = destination(inner, id, to)?;
    if len > if dst.is_ipv4() { MAX_V4 } else { MAX_V6 } {
        return Err(Errno::EMSGSIZE);
    }
    if dst.port() == 0 {
        return Err(Errno::EINVAL);
    }
    let plan = route(inner, id, dst, info)?;
    let port = match inner.ep(id).bound {
        Some(b) => b.port,
        None => bind::autobind(inner, id)?,
    };
    fits(
        inner,
        &plan,
        len + 8 + if dst.is_ipv4() { 20 } else { 40 },
        false,
    )?;
    let data = gather(len, fill)?;
    let got = data.len();
    let full = 8 + got;
    // Linux's udplite_sender_cscov: a coverage below the length is
    // written (0 meaning all), else the length.
    let (field, covered) = match inner.ep(id).opts.udplite_send_coverage {
        Some(0) => (0, full),
        Some(c) if usize::from(c) < full => (c, usize::from(c)),
        _ => (full as u16, full),
    };
    let mut msg = Vec::with_capacity(full);
    msg.extend_from_slice(&port.to_be_bytes());
    msg.extend_from_slice(&dst.port().to_be_bytes());
    msg.extend_from_slice(&field.to_be_bytes());
    msg.extend_from_slice(&[0, 0]);
    msg.extend_from_slice(&data);
    let sum = transport_sum(plan.src, dst.ip(), UDPLITE, &msg, covered);
    // A sum of zero is sent as all ones (zero would mean "none").
    let sum = if sum == 0 { 0xffff } else { sum };
    msg[6..8].copy_from_slice(&sum.to_be_bytes());
    let packet = ip_packet(plan.src, dst.ip(), UDPLITE, plan.hop, &msg);
    let h = tx_socket(inner, id, plan.iface, 0, port)?;
    inner.ifaces[plan.iface]
        .sockets
        .get_mut::<raw::Socket>(h)
        .send_slice(&packet)
        .map_err(|_| Errno::EAGAIN)?;
    inner.request_poll();
    Ok(got)
}

/// The checksum coverage an arriving datagram (`msg`, header first)
/// declares: None when RFC 3828 forbids it (under 8, past the end), and
/// whether it covers less than all.
pub(crate) fn coverage(msg: &[u8]) -> Option<(usize, bool)> {
    let c = usize::from(u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]));
    match c {
        0 => Some((msg.len(), false)),
        c if c < 8 || c > msg.len() => None,
        c => Some((c, c < msg.len())),
    }
}

/// Whether endpoint `id` takes a datagram of this coverage: one covered
/// only in part needs UDPLITE_RECV_CSCOV unset, or met.
pub(crate) fn takes(inner: &Inner, id: usize, (covered, partial): (usize, bool)) -> bool {
    match inner.ep(id).opts.udplite_recv_coverage {
        Some(min) if partial => min != 0 && covered >= usize::from(min),
        _ => true,
    }
}
