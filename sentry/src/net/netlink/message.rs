//! The netlink wire format: `struct nlmsghdr` messages with the
//! attributes (`struct nlattr`, iproute2's `rtattr`) inside them, laid out
//! as include/uapi/linux/netlink.h says: native endian, every piece
//! aligned to 4 bytes.
//!
//! Parsing is as forgiving as Linux's and never trusts a length: a header
//! that claims more than the buffer holds ends the walk, and so does an
//! attribute whose length is short or runs past its message.

/// `sizeof(struct nlmsghdr)`.
pub const HDR_LEN: usize = 16;
/// `sizeof(struct nlattr)`.
pub const ATTR_HDR_LEN: usize = 4;
/// `sizeof(struct nlmsgerr)`: the error, then the request's header.
pub const ERR_LEN: usize = 4 + HDR_LEN;
/// The nested-attribute flag of `nla_type` (NLA_F_NESTED) and the
/// byte-order flag (NLA_F_NET_BYTEORDER): not part of the type.
const NLA_TYPE_MASK: u16 = !(0x8000 | 0x4000);

/// NLMSG_ALIGN / NLA_ALIGN.
pub fn align(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// A `struct nlmsghdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl Header {
    /// The header at the start of `b`, if `b` holds one.
    pub fn parse(b: &[u8]) -> Option<Header> {
        if b.len() < HDR_LEN {
            return None;
        }
        Some(Header {
            len: u32_at(b, 0),
            kind: u16_at(b, 4),
            flags: u16_at(b, 6),
            seq: u32_at(b, 8),
            pid: u32_at(b, 12),
        })
    }

    pub fn bytes(&self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        b[0..4].copy_from_slice(&self.len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.kind.to_ne_bytes());
        b[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        b[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        b
    }
}

/// One message of a send: its header and its whole bytes (header
/// included, padding not).
pub struct Request<'a> {
    pub hdr: Header,
    pub bytes: &'a [u8],
}

impl<'a> Request<'a> {
    /// What follows the header (`nlmsg_data` for `nlmsg_len(nlh)` bytes).
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[HDR_LEN..]
    }
}

/// The messages of one send, as Linux's netlink_rcv_skb walks them: it
/// stops at a header shorter than itself or longer than what is left,
/// without an error.
pub fn requests(buf: &[u8]) -> impl Iterator<Item = Request<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let hdr = Header::parse(rest)?;
        let len = hdr.len as usize;
        if len < HDR_LEN || len > rest.len() {
            return None;
        }
        let bytes = &rest[..len];
        rest = &rest[align(len).min(rest.len())..];
        Some(Request { hdr, bytes })
    })
}

/// The attributes in `b`, type and data. Like nla_parse, the walk ends at
/// the first attribute that is malformed; [`Attrs::clean`] tells whether
/// it reached the end (strict requests are EINVAL otherwise).
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    pub fn new(b: &'a [u8]) -> Attrs<'a> {
        Attrs { rest: b }
    }

    /// Whether every byte of `b` is well-formed attributes.
    pub fn clean(b: &[u8]) -> bool {
        let mut a = Attrs::new(b);
        for _ in a.by_ref() {}
        a.rest.is_empty()
    }

    /// The data of the first attribute of type `kind`.
    pub fn find(b: &'a [u8], kind: u16) -> Option<&'a [u8]> {
        Attrs::new(b).find(|(k, _)| *k == kind).map(|(_, d)| d)
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        if self.rest.len() < ATTR_HDR_LEN {
            return None;
        }
        let len = usize::from(u16_at(self.rest, 0));
        if len < ATTR_HDR_LEN || len > self.rest.len() {
            return None;
        }
        let kind = u16_at(self.rest, 2) & NLA_TYPE_MASK;
        let data = &self.rest[ATTR_HDR_LEN..len];
        self.rest = &self.rest[align(len).min(self.rest.len())..];
        Some((kind, data))
    }
}

/// A u32 attribute's value (Linux reads the first 4 bytes and its policy
/// refuses shorter ones).
pub fn attr_u32(data: &[u8]) -> Option<u32> {
    data.get(..4).map(|b| u32_at(b, 0))
}

/// A string attribute's value: up to its first NUL.
pub fn attr_str(data: &[u8]) -> &[u8] {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    &data[..end]
}

/// One message being built, as nlmsg_put and nla_put build it.
pub struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    pub fn new(kind: u16, flags: u16, seq: u32, pid: u32) -> Builder {
        let hdr = Header {
            len: 0,
            kind,
            flags,
            seq,
            pid,
        };
        Builder {
            buf: hdr.bytes().to_vec(),
        }
    }

    /// The family header (`struct ifinfomsg` ...) or a fixed payload,
    /// padded to alignment.
    pub fn put(&mut self, data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = (ATTR_HDR_LEN + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.put(data)
    }

    pub fn u8(&mut self, kind: u16, v: u8) -> &mut Self {
        self.attr(kind, &[v])
    }

    pub fn u16(&mut self, kind: u16, v: u16) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    pub fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// A NUL-terminated string (nla_put_string).
    pub fn str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(kind, &d)
    }

    /// Starts a nested attribute; [`Builder::end_nest`] fills in its length.
    pub fn nest(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.attr(kind, &[]);
        at
    }

    pub fn end_nest(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// NLMSG_ERROR for `req`: 0 is an acknowledgement. An error carries the
/// whole request unless the socket asked to cap it (NETLINK_CAP_ACK), and
/// with NETLINK_EXT_ACK its message as NLMSGERR_ATTR_MSG, as netlink_ack
/// builds it.
pub fn error(req: &Request<'_>, pid: u32, errno: i32, cap: bool, ext_msg: Option<&str>) -> Vec<u8> {
    let echo = errno != 0 && !cap;
    let mut flags = if echo { 0 } else { libc::NLM_F_CAPPED as u16 };
    let msg = ext_msg.filter(|_| errno != 0);
    if msg.is_some() {
        flags |= libc::NLM_F_ACK_TLVS as u16;
    }
    let mut b = Builder::new(libc::NLMSG_ERROR as u16, flags, req.hdr.seq, pid);
    let mut body = (-errno).to_ne_bytes().to_vec();
    body.extend_from_slice(&req.hdr.bytes());
    if echo {
        body.extend_from_slice(req.payload());
    }
    b.put(&body);
    if let Some(m) = msg {
        b.str(NLMSGERR_ATTR_MSG, m);
    }
    b.finish()
}

/// NLMSGERR_ATTR_MSG: the extended ack's text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// NLMSG_DONE ending a dump of `seq`: its payload is the dump's status.
pub fn done(seq: u32, pid: u32, flags: u16) -> Vec<u8> {
    let mut b = Builder::new(
        libc::NLMSG_DONE as u16,
        libc::NLM_F_MULTI as u16 | flags,
        seq,
        pid,
    );
    b.put(&0i32.to_ne_bytes());
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = Builder::new(kind, flags, 7, 0);
        b.put(payload);
        b.finish()
    }

    #[test]
    fn requests_stop_at_a_short_or_overlong_header() {
        let mut buf = msg(18, 1, &[0; 16]);
        buf.extend(msg(22, 1, &[0; 8]));
        assert_eq!(requests(&buf).count(), 2);
        assert_eq!(requests(&buf[..20]).count(), 0);
        assert_eq!(requests(&buf[..10]).count(), 0);
        let mut bad = msg(18, 1, &[0; 4]);
        bad[0] = 8;
        assert_eq!(requests(&bad).count(), 0);
        bad[0] = 200;
        assert_eq!(requests(&bad).count(), 0);
        // A last message needs no padding after it.
        let mut odd = msg(18, 1, &[1]);
        odd[0] = 17;
        let r: Vec<_> = requests(&odd[..17]).collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].payload(), &[1]);
    }

    #[test]
    fn attributes_round_trip_and_stop_at_bad_lengths() {
        let mut b = Builder::new(16, 0, 1, 2);
        b.put(&[0; 16]).str(3, "lo").u32(4, 65536).u8(16, 0);
        let n = b.nest(26);
        b.u32(1, 9);
        b.end_nest(n);
        let m = b.finish();
        assert_eq!(m.len() % 4, 0);
        assert_eq!(Header::parse(&m).unwrap().len as usize, m.len());
        let body = &m[HDR_LEN + 16..];
        let got: Vec<_> = Attrs::new(body).collect();
        assert_eq!(got[0], (3, &b"lo\0"[..]));
        assert_eq!(attr_u32(got[1].1), Some(65536));
        assert_eq!(got[3].0, 26);
        assert_eq!(Attrs::find(got[3].1, 1).and_then(attr_u32), Some(9));
        assert!(Attrs::clean(body));

        let mut bad = body.to_vec();
        bad[0] = 2; // shorter than an attribute header
        assert_eq!(Attrs::new(&bad).count(), 0);
        assert!(!Attrs::clean(&bad));
        bad[0] = 255; // past the end
        assert_eq!(Attrs::new(&bad).count(), 0);
        assert!(!Attrs::clean(&body[..3]));
    }

    #[test]
    fn errors_echo_the_request_unless_capped_and_acks_never() {
        let buf = msg(20, 5, &[2, 0, 0, 0]);
        let req = requests(&buf).next().unwrap();
        let e = error(&req, 9, libc::EOPNOTSUPP, false, None);
        let h = Header::parse(&e).unwrap();
        assert_eq!((h.kind, h.flags, h.seq, h.pid), (2, 0, 7, 9));
        assert_eq!(h.len as usize, HDR_LEN + ERR_LEN + 4);
        assert_eq!(i32::from_ne_bytes(e[16..20].try_into().unwrap()), -95);
        assert_eq!(&e[20..36], &buf[..16]);
        let ack = error(&req, 9, 0, false, Some("ignored"));
        let h = Header::parse(&ack).unwrap();
        assert_eq!(h.flags, libc::NLM_F_CAPPED as u16);
        assert_eq!(ack.len(), HDR_LEN + ERR_LEN);
        let tlv = error(&req, 9, libc::EINVAL, true, Some("why"));
        let h = Header::parse(&tlv).unwrap();
        assert_eq!(h.flags, (libc::NLM_F_CAPPED | libc::NLM_F_ACK_TLVS) as u16);
        assert_eq!(
            Attrs::find(&tlv[HDR_LEN + ERR_LEN..], NLMSGERR_ATTR_MSG),
            Some(&b"why\0"[..])
        );
        assert_eq!(done(7, 9, 0).len(), 20);
    }
}
