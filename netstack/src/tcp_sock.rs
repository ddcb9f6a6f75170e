//! A TCP endpoint's smoltcp socket made and kept as Linux's: its
//! buffers and options, its state in Linux's numbers, whether the peer
//! has finished, and the endpoint's waker set on it again after a wake.

use smoltcp::socket::tcp::{self, RecvError, State};
use smoltcp::time::Duration;

use crate::iface::Sock;
use crate::socket::Options;
use crate::state::Inner;

/// About Linux's tcp_retries2 = 15: how long unacknowledged data may go
/// unanswered before the connection is dropped.
const RETRIES_TIMEOUT: Duration = Duration::from_secs(924);

/// smoltcp panics past 1 GiB; Linux's own ceiling is far lower.
const MAX_BUF: usize = 64 << 20;
/// Linux's SOCK_MIN_RCVBUF, roughly.
const MIN_BUF: usize = 4096;

/// The buffers a connection gets each way while the application left
/// SO_RCVBUF/SO_SNDBUF alone: Linux starts at 128 KiB but grows a busy
/// connection's buffers to megabytes (tcp_rmem/tcp_wmem's maximum); a
/// fixed 128 KiB window stalls a sender whenever the reader's thread waits
/// for a CPU (bench/veth on 2 busy CPUs). The application still reads back
/// Linux's default.
const AUTO_BUF: usize = 1 << 20;

/// The size a buffer gets: the application's, or AUTO_BUF when it asked
/// for none (a size equal to the default counts as none).
fn buffer_len(asked: usize, default: usize) -> usize {
    if asked == default {
        AUTO_BUF
    } else {
        asked.clamp(MIN_BUF, MAX_BUF)
    }
}

/// How many bytes `s` may hold unsent: all its buffer, or `send_buf`,
/// the size the application set with SO_SNDBUF, also when it set it after the buffer
/// was made (after connect, or on an accepted socket): Linux then stops
/// autotuning and a writer waits at that size (a peer that stops reading
/// soon makes the writer block, or see the reset when it closes).
pub(crate) fn send_limit(s: &tcp::Socket, send_buf: usize) -> usize {
    let capacity = s.send_capacity();
    if send_buf == Options::default().send_buf {
        capacity
    } else {
        send_buf.clamp(MIN_BUF, MAX_BUF).min(capacity)
    }
}

/// A smoltcp socket with the endpoint's buffer sizes and options.
pub(crate) fn new_socket(opts: &Options) -> tcp::Socket<'static> {
    let default = Options::default();
    // Zeroed allocations: the pages cost nothing until bytes arrive.
    let rx = tcp::SocketBuffer::new(vec![0; buffer_len(opts.recv_buf, default.recv_buf)]);
    let tx = tcp::SocketBuffer::new(vec![0; buffer_len(opts.send_buf, default.send_buf)]);
    let mut s = tcp::Socket::new(rx, tx);
    // Linux ACKs at once in the exchanges that matter here (quick-ack
    // mode, and every full segment); a 10 ms delayed ACK would stall a
    // ping-pong on loopback.
    s.set_ack_delay(None);
    apply_options(&mut s, opts);
    s
}

/// The options that act on a live connection.
pub(crate) fn apply_options(s: &mut tcp::Socket, opts: &Options) {
    s.set_nagle_enabled(!opts.no_delay);
    if opts.ttl > 0 {
        s.set_hop_limit(Some(opts.ttl));
    }
    // smoltcp probes every `interval` of idleness and gives up after
    // `timeout` of silence: Linux's idle + interval * count.
    let ka = opts
        .keep_alive
        .then(|| Duration::from_micros(opts.keep_interval.as_micros().max(1000) as u64));
    if s.keep_alive() != ka {
        s.set_keep_alive(ka);
    }
    if matches!(
        s.state(),
        State::Listen | State::SynSent | State::SynReceived
    ) {
        return;
    }
    let silence = opts
        .keep_alive
        .then(|| opts.keep_idle + opts.keep_interval * opts.keep_count);
    let mut timeout = silence.map(|d| Duration::from_micros(d.as_micros() as u64));
    // smoltcp's timeout counts from the last segment received even when
    // there is nothing to send, so without data in flight an idle
    // connection must have none (Linux never times one out).
    if s.send_queue() > 0 {
        // TCP_USER_TIMEOUT replaces the retransmission limit.
        let limit = opts.user_timeout.map_or(RETRIES_TIMEOUT, |u| {
            Duration::from_micros(u.as_micros() as u64)
        });
        timeout = Some(timeout.map_or(limit, |t| t.min(limit)));
    }
    s.set_timeout(timeout);
}

/// Linux's TCP state numbers (include/net/tcp_states.h).
pub(crate) fn linux_state(s: State) -> u8 {
    match s {
        State::Established => 1,
        State::SynSent => 2,
        State::SynReceived => 3,
        State::FinWait1 => 4,
        State::FinWait2 => 5,
        State::TimeWait => 6,
        State::Closed => 7,
        State::CloseWait => 8,
        State::LastAck => 9,
        State::Listen => 10,
        State::Closing => 11,
    }
}

/// Whether the peer's FIN has arrived. smoltcp reports it through recv's
/// error once the socket has closed.
pub(crate) fn peer_finished(s: &mut tcp::Socket) -> bool {
    match s.state() {
        State::CloseWait | State::LastAck | State::Closing | State::TimeWait => true,
        State::Closed => matches!(s.recv(|_| (0, ())), Err(RecvError::Finished)),
        _ => false,
    }
}

/// Registers the endpoint's waker on `sock` again: smoltcp drops a
/// waker once it has woken it.
pub(crate) fn rewake(inner: &mut Inner, id: usize, sock: Sock) {
    let w = inner.ep(id).waker.waker().clone();
    let s = inner.tcp(sock);
    s.register_recv_waker(&w);
    s.register_send_waker(&w);
}
