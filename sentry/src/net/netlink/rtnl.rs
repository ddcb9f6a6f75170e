//! NETLINK_ROUTE's kernel side (net/core/rtnetlink.c): each request of a
//! send is answered as rtnetlink_rcv_msg answers it.
//!
//! * RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE dumps, filtered by family,
//!   and under NETLINK_GET_STRICT_CHK checked and filtered as Linux does
//!   (errors found while dumping end the dump: NLMSG_DONE carries them);
//! * RTM_GETLINK of one interface, by index or IFLA_IFNAME;
//! * every change (NEW, DEL, SET) is EPERM without privilege, as on Linux,
//!   and EOPNOTSUPP with it (the sandbox's interfaces are the runtime's),
//!   as are the requests not listed above (gVisor answers them so too);
//! * a request that is not a request, or a control message, is only
//!   acknowledged when it asks for that.
//!
//! Dump replies are packed into datagrams of at most the dump size Linux
//! would use; the NLMSG_DONE is a datagram of its own after them, except
//! for the IPv6 family's link and address dumps, which end in the last
//! datagram (Linux splits only the dumps old applications relied on).

use netstack::{InterfaceInfo, RouteInfo};

use super::link::Reply;
use super::message::{self, align, attr_str, attr_u32, Attrs, Request};
use super::{addr, link, route};
use crate::errno::Errno;
use crate::net::interface;
use crate::net::route_table::{self, Route};

/// RTM_BASE, and the last message type Linux knows (RTM_MAX).
const RTM_BASE: u16 = 16;
const RTM_MAX: u16 = 123;
/// The low two bits of a type: RTNL_KIND_NEW, DEL, GET, SET.
const KIND_GET: u16 = 2;
/// `sizeof(struct ifinfomsg)`, `sizeof(struct ifaddrmsg)`, `sizeof(struct rtmsg)`.
const IFINFOMSG: usize = 16;
const IFADDRMSG: usize = 8;
const RTMSG: usize = 12;
/// Attribute types libc does not name.
const IFLA_TARGET_NETNSID: u16 = 46;
const IFA_TARGET_NETNSID: u16 = 10;
/// IFNAMSIZ - 1: the longest interface name.
const IFNAME_MAX: usize = 15;
/// RTM_F_PREFIX: dump only the prefix routes of router advertisements.
const RTM_F_PREFIX: u32 = 0x800;

/// What the requests of one send are answered with, besides the stack.
pub struct Requester {
    /// The socket's port id: replies are addressed to it.
    pub pid: u32,
    /// CAP_NET_ADMIN: may ask for changes.
    pub privileged: bool,
    /// NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK.
    pub cap_ack: bool,
    pub ext_ack: bool,
    pub strict: bool,
    /// The most bytes one dump datagram holds.
    pub dump_size: usize,
}

/// The stack's interfaces and routes, read once per send.
pub struct View {
    pub ifaces: Vec<InterfaceInfo>,
    pub routes: Vec<RouteInfo>,
}

/// An error and the text NETLINK_EXT_ACK shows with it.
type Fail = (Errno, Option<&'static str>);

fn fail(e: Errno, msg: &'static str) -> Fail {
    (e, Some(msg))
}

enum Outcome {
    /// Nothing but the acknowledgement, if asked for.
    Nothing,
    /// Messages, each a datagram, then the acknowledgement if asked for.
    Reply(Vec<Vec<u8>>),
    /// Dump messages and how the dump ended; never acknowledged.
    Dump {
        msgs: Vec<Vec<u8>>,
        status: Result<(), Fail>,
        filtered: bool,
        done_inline: bool,
    },
    Error(Fail),
}

/// The datagrams answering the requests in `buf`, as many as `room`
/// bytes of the receive queue take. Linux queues a reply while the queue
/// holds no more than SO_RCVBUF and drops the rest; once one is dropped,
/// so is every later one, so the walk stops there (a send full of dump
/// requests costs no more than the queue holds).
pub fn receive(view: &View, who: &Requester, buf: &[u8], room: usize) -> Replies {
    let mut out = Replies {
        grams: Vec::new(),
        bytes: 0,
        room,
        overrun: false,
    };
    for req in message::requests(buf) {
        if out.overrun {
            break;
        }
        let h = req.hdr;
        let ack = h.flags & libc::NLM_F_ACK as u16 != 0;
        let outcome =
            if h.flags & libc::NLM_F_REQUEST as u16 == 0 || h.kind < libc::NLMSG_MIN_TYPE as u16 {
                Outcome::Nothing
            } else {
                one(view, who, &req)
            };
        let ack_msg = |errno: i32, msg: Option<&str>| {
            message::error(
                &req,
                who.pid,
                errno,
                who.cap_ack,
                msg.filter(|_| who.ext_ack),
            )
        };
        match outcome {
            Outcome::Nothing if ack => out.push(ack_msg(0, None)),
            Outcome::Nothing => {}
            Outcome::Reply(msgs) => {
                msgs.into_iter().for_each(|m| out.push(m));
                if ack {
                    out.push(ack_msg(0, None));
                }
            }
            Outcome::Error((e, msg)) => out.push(ack_msg(e.0, msg)),
            Outcome::Dump {
                msgs,
                status,
                filtered,
                done_inline,
            } => {
                let filtered = if filtered {
                    libc::NLM_F_DUMP_FILTERED as u16
                } else {
                    0
                };
                let done = done(h.seq, who, filtered, status);
                let mut grams = pack(msgs, who.dump_size);
                match grams.last_mut() {
                    Some(last) if done_inline && last.len() + done.len() <= who.dump_size => {
                        last.extend_from_slice(&done)
                    }
                    _ => grams.push(done),
                }
                grams.into_iter().for_each(|g| out.push(g));
            }
        }
    }
    out
}

/// The datagrams of one send's answers.
pub struct Replies {
    pub grams: Vec<Vec<u8>>,
    bytes: usize,
    room: usize,
    /// A reply was dropped for want of room (the reader gets ENOBUFS).
    pub overrun: bool,
}

impl Replies {
    fn push(&mut self, g: Vec<u8>) {
        if self.overrun || self.bytes > self.room {
            self.overrun = true;
            return;
        }
        self.bytes += g.len();
        self.grams.push(g);
    }
}

/// NLMSG_DONE: the dump's status (0, or the negative errno), with the
/// error's text under NETLINK_EXT_ACK (netlink_dump_done).
fn done(seq: u32, who: &Requester, flags: u16, status: Result<(), Fail>) -> Vec<u8> {
    let Err((e, msg)) = status else {
        return message::done(seq, who.pid, flags);
    };
    let mut flags = libc::NLM_F_MULTI as u16 | flags;
    let msg = msg.filter(|_| who.ext_ack);
    if msg.is_some() {
        flags |= libc::NLM_F_ACK_TLVS as u16;
    }
    let mut b = message::Builder::new(libc::NLMSG_DONE as u16, flags, seq, who.pid);
    b.put(&(-e.0).to_ne_bytes());
    if let Some(m) = msg {
        // NLMSGERR_ATTR_MSG.
        b.str(1, m);
    }
    b.finish()
}

/// Dump messages in datagrams of at most `size` bytes (a message larger
/// than that alone in one).
fn pack(msgs: Vec<Vec<u8>>, size: usize) -> Vec<Vec<u8>> {
    let mut grams: Vec<Vec<u8>> = Vec::new();
    for m in msgs {
        match grams.last_mut() {
            Some(g) if g.len() + m.len() <= size => g.extend_from_slice(&m),
            _ => grams.push(m),
        }
    }
    grams
}

fn one(view: &View, who: &Requester, req: &Request<'_>) -> Outcome {
    let kind = req.hdr.kind;
    if kind > RTM_MAX {
        return Outcome::Error((Errno::EOPNOTSUPP, None));
    }
    // Every route message starts with a family byte; Linux ignores one
    // without it.
    let Some(&family) = req.payload().first() else {
        return Outcome::Nothing;
    };
    let family = i32::from(family);
    let get = (kind - RTM_BASE) & 3 == KIND_GET;
    if !get && !who.privileged {
        return Outcome::Error((Errno::EPERM, None));
    }
    if get && req.hdr.flags & libc::NLM_F_DUMP as u16 != 0 {
        let reply = Reply {
            seq: req.hdr.seq,
            pid: who.pid,
            flags: libc::NLM_F_MULTI as u16,
        };
        let dump = match kind {
            libc::RTM_GETLINK if family == libc::AF_INET6 => inet6_links(view, who, req, reply),
            // rtnl_bridge_getlink: bridge ports, and there are no bridges.
            libc::RTM_GETLINK if family == libc::AF_BRIDGE => Ok((Vec::new(), false)),
            libc::RTM_GETLINK => links(view, who, req, reply),
            libc::RTM_GETADDR => addrs(view, who, req, reply, family),
            libc::RTM_GETROUTE => routes(view, who, req, reply, family),
            _ => return Outcome::Error((Errno::EOPNOTSUPP, None)),
        };
        let done_inline = family == libc::AF_INET6 && kind != libc::RTM_GETROUTE;
        return match dump {
            Ok((msgs, filtered)) => Outcome::Dump {
                msgs,
                status: Ok(()),
                filtered,
                done_inline,
            },
            Err(DumpFail { fail, filtered }) => Outcome::Dump {
                msgs: Vec::new(),
                status: Err(fail),
                filtered,
                done_inline,
            },
        };
    }
    match kind {
        libc::RTM_GETLINK => match get_link(view, who, req) {
            Ok(m) => Outcome::Reply(vec![m]),
            Err(f) => Outcome::Error(f),
        },
        _ => Outcome::Error((Errno::EOPNOTSUPP, None)),
    }
}

/// A dump's messages, and whether a filter applied (NLM_F_DUMP_FILTERED).
type Dumped = Result<(Vec<Vec<u8>>, bool), DumpFail>;

/// A dump that failed, and whether a filter had been set by then (its
/// NLMSG_DONE says so too).
struct DumpFail {
    fail: Fail,
    filtered: bool,
}

impl From<Fail> for DumpFail {
    fn from(fail: Fail) -> DumpFail {
        DumpFail {
            fail,
            filtered: false,
        }
    }
}

/// The attributes after a family header of `hdr_len` bytes: every
/// well-formed one, or EINVAL for any malformed byte when strict
/// (nlmsg_parse_deprecated_strict).
fn attrs_after(payload: &[u8], hdr_len: usize, strict: bool) -> Result<Vec<(u16, &[u8])>, Fail> {
    let rest = payload.get(align(hdr_len)..).unwrap_or(&[]);
    if strict && !Attrs::clean(rest) {
        return Err(fail(
            Errno::EINVAL,
            "bytes leftover after parsing attributes",
        ));
    }
    Ok(Attrs::new(rest).collect())
}

/// A policy check that failed (validate_nla's out_err).
const POLICY: &str = "Attribute failed policy validation";

/// An IFLA_IFNAME as ifla_policy takes it: 1 to 15 bytes and a NUL.
fn ifname(data: &[u8]) -> Result<&[u8], Fail> {
    let name = attr_str(data);
    if data.is_empty() || name.len() > IFNAME_MAX {
        return Err(fail(Errno::ERANGE, POLICY));
    }
    Ok(name)
}

/// A u32 attribute: shorter is ERANGE; strict parsing also refuses
/// longer (NL_VALIDATE_STRICT_ATTRS).
fn u32_attr(data: &[u8], strict: bool) -> Result<u32, Fail> {
    if strict && data.len() != 4 {
        return Err(fail(Errno::EINVAL, "invalid attribute length"));
    }
    attr_u32(data).ok_or(fail(Errno::ERANGE, POLICY))
}

/// rtnl_dump_ifinfo. Without strict checking, attributes that fail
/// their policy are ignored together, as Linux then dumps unfiltered.
fn links(view: &View, who: &Requester, req: &Request<'_>, mut r: Reply) -> Dumped {
    let p = req.payload();
    let parsed = if who.strict {
        if p.len() < IFINFOMSG {
            return Err(fail(Errno::EINVAL, "Invalid header for link dump").into());
        }
        if p[1] != 0 || p[2..4] != [0, 0] || p[8..16] != [0; 8] {
            let why = "Invalid values in header for link dump request";
            return Err(fail(Errno::EINVAL, why).into());
        }
        if p[4..8] != [0; 4] {
            let why = "Filter by device index not supported for link dumps";
            return Err(fail(Errno::EINVAL, why).into());
        }
        attrs_after(p, IFINFOMSG, true)?
    } else {
        // Linux before 3.9 took a bare rtgenmsg, and glibc still sends one.
        let hdr = if p.len() < IFINFOMSG { 1 } else { IFINFOMSG };
        attrs_after(p, hdr, false)?
    };
    let mut ext_mask = 0;
    let mut filtered = false;
    let apply = || -> Result<(), Fail> {
        for (kind, data) in parsed {
            match kind {
                libc::IFLA_EXT_MASK => ext_mask = u32_attr(data, who.strict)?,
                // No interface has a master, or a link kind it reports.
                libc::IFLA_MASTER | libc::IFLA_LINKINFO => filtered = true,
                IFLA_TARGET_NETNSID => {
                    return Err(fail(Errno::EINVAL, "Invalid target network namespace id"))
                }
                _ if who.strict => {
                    let why = "Unsupported attribute in link dump request";
                    return Err(fail(Errno::EINVAL, why));
                }
                _ => {}
            }
        }
        Ok(())
    };
    match apply() {
        Ok(()) => {}
        Err(f) if who.strict => return Err(f.into()),
        Err(_) => (ext_mask, filtered) = (0, false),
    }
    if filtered {
        return Ok((Vec::new(), true));
    }
    r.flags = libc::NLM_F_MULTI as u16;
    let skip_stats = ext_mask & libc::RTEXT_FILTER_SKIP_STATS as u32 != 0;
    let msgs = view.ifaces.iter().map(|i| link::link(i, r, skip_stats));
    Ok((msgs.collect(), false))
}

/// inet6_dump_ifinfo.
fn inet6_links(view: &View, who: &Requester, req: &Request<'_>, r: Reply) -> Dumped {
    let p = req.payload();
    if who.strict {
        if p.len() < IFINFOMSG {
            return Err(fail(Errno::EINVAL, "Invalid header for link dump request").into());
        }
        if p[1..16].iter().any(|&b| b != 0) {
            let why = "Invalid values in header for link dump request";
            return Err(fail(Errno::EINVAL, why).into());
        }
        if p.len() > align(IFINFOMSG) {
            return Err(fail(Errno::EINVAL, "Invalid data after header").into());
        }
    }
    let msgs = view.ifaces.iter().map(|i| link::inet6_link(i, r));
    Ok((msgs.collect(), false))
}

/// The words each family's address dump uses for its errors.
struct AddrErrors {
    header: &'static str,
    values: &'static str,
    netns: &'static str,
    unsupported: &'static str,
}

const V4_ADDR_ERRORS: AddrErrors = AddrErrors {
    header: "ipv4: Invalid header for address dump request",
    values: "ipv4: Invalid values in header for address dump request",
    netns: "ipv4: Invalid target network namespace id",
    unsupported: "ipv4: Unsupported attribute in dump request",
};

const V6_ADDR_ERRORS: AddrErrors = AddrErrors {
    header: "ipv6: Invalid header for address dump request",
    values: "ipv6: Invalid values in header for address dump request",
    netns: "ipv6: Invalid target network namespace id",
    unsupported: "ipv6: Unsupported attribute in dump request",
};

/// inet_dump_ifaddr, inet6_dump_ifaddr, or both (rtnl_dump_all, which
/// checks as IPv4 does first) for any other family.
fn addrs(view: &View, who: &Requester, req: &Request<'_>, mut r: Reply, family: i32) -> Dumped {
    let p = req.payload();
    let mut index = 0;
    if who.strict {
        let e = if family == libc::AF_INET6 {
            &V6_ADDR_ERRORS
        } else {
            &V4_ADDR_ERRORS
        };
        if p.len() < IFADDRMSG {
            return Err(fail(Errno::EINVAL, e.header).into());
        }
        if p[1..4] != [0, 0, 0] {
            return Err(fail(Errno::EINVAL, e.values).into());
        }
        index = u32::from_ne_bytes(p[4..8].try_into().expect("4 bytes"));
        // The index filter is set before the attributes are looked at.
        let filtered = index != 0;
        let bad = |fail| DumpFail { fail, filtered };
        let parsed = attrs_after(p, IFADDRMSG, true).map_err(bad)?;
        if let Some((kind, _)) = parsed.first() {
            let why = if *kind == IFA_TARGET_NETNSID {
                e.netns
            } else {
                e.unsupported
            };
            return Err(bad(fail(Errno::EINVAL, why)));
        }
    }
    let filtered = index != 0;
    if filtered {
        r.flags |= libc::NLM_F_DUMP_FILTERED as u16;
    }
    let chosen = view
        .ifaces
        .iter()
        .filter(|i| index == 0 || i.index == index);
    let mut msgs = Vec::new();
    if family != libc::AF_INET6 {
        for i in chosen.clone() {
            for a in interface::ipv4(i) {
                msgs.push(addr::v4(i, &a, r));
            }
        }
    }
    if family != libc::AF_INET {
        for i in chosen {
            for (a, prefix) in interface::ipv6(i) {
                msgs.push(addr::v6(i, &a, prefix, r));
            }
        }
    }
    Ok((msgs, filtered))
}

/// What a route dump is filtered by (struct fib_dump_filter).
#[derive(Default)]
struct RouteFilter {
    table: u32,
    protocol: u8,
    kind: u8,
    oif: u32,
    flags: u32,
}

impl RouteFilter {
    fn set(&self) -> bool {
        self.table != 0 || self.protocol != 0 || self.kind != 0 || self.oif != 0 || self.flags != 0
    }

    fn keeps(&self, rt: &Route) -> bool {
        // RTM_F_CLONED asks for cached routes (exceptions), RTM_F_PREFIX
        // for routes router advertisements made: the stack has neither.
        self.flags & (libc::RTM_F_CLONED | RTM_F_PREFIX) == 0
            && (self.table == 0 || u32::from(rt.table) == self.table)
            && (self.protocol == 0 || rt.protocol == self.protocol)
            && (self.kind == 0 || rt.kind == self.kind)
            && (self.oif == 0 || rt.oif == self.oif)
    }
}

/// ip_valid_fib_dump_req: the filter a strict route dump asks for.
fn route_filter(view: &View, p: &[u8]) -> Result<RouteFilter, DumpFail> {
    if p.len() < RTMSG {
        return Err(fail(Errno::EINVAL, "Invalid header for FIB dump request").into());
    }
    if p[1..4] != [0, 0, 0] || p[6] != 0 {
        let why = "Invalid values in header for FIB dump request";
        return Err(fail(Errno::EINVAL, why).into());
    }
    let mut f = RouteFilter {
        flags: u32::from_ne_bytes(p[8..12].try_into().expect("4 bytes")),
        table: u32::from(p[4]),
        protocol: p[5],
        kind: p[7],
        oif: 0,
    };
    if f.flags & !(libc::RTM_F_CLONED | RTM_F_PREFIX) != 0 {
        return Err(fail(Errno::EINVAL, "Invalid flags for FIB dump request").into());
    }
    for (kind, data) in attrs_after(p, RTMSG, true)? {
        match kind {
            libc::RTA_TABLE => f.table = u32_attr(data, true)?,
            libc::RTA_OIF => {
                f.oif = u32_attr(data, true)?;
                if interface::by_index(&view.ifaces, f.oif).is_none() {
                    return Err((Errno::ENODEV, None).into());
                }
            }
            _ => {
                let why = "Unsupported attribute in dump request";
                return Err(fail(Errno::EINVAL, why).into());
            }
        }
    }
    Ok(f)
}

/// inet_dump_fib, inet6_dump_fib, or both for any other family.
fn routes(view: &View, who: &Requester, req: &Request<'_>, mut r: Reply, family: i32) -> Dumped {
    let p = req.payload();
    let f = if who.strict {
        route_filter(view, p)?
    } else {
        let flags = p
            .get(8..12)
            .map_or(0, |b| u32::from_ne_bytes(b.try_into().expect("4 bytes")));
        RouteFilter {
            flags: flags & (libc::RTM_F_CLONED | RTM_F_PREFIX),
            ..RouteFilter::default()
        }
    };
    let filtered = f.set();
    if filtered {
        r.flags |= libc::NLM_F_DUMP_FILTERED as u16;
    }
    let exists = [libc::RT_TABLE_MAIN, libc::RT_TABLE_LOCAL].map(u32::from);
    if f.table != 0 && !exists.contains(&f.table) {
        let why = match family {
            libc::AF_INET => "ipv4: FIB table does not exist",
            libc::AF_INET6 => "ipv6: FIB table does not exist",
            // Asked of both families, neither complains.
            _ => return Ok((Vec::new(), filtered)),
        };
        let fail = fail(Errno::ENOENT, why);
        return Err(DumpFail { fail, filtered });
    }
    let mut all = Vec::new();
    if family != libc::AF_INET6 {
        all.extend(route_table::ipv4(&view.ifaces, &view.routes));
    }
    if family != libc::AF_INET {
        all.extend(route_table::ipv6(&view.ifaces, &view.routes));
    }
    let msgs = all
        .iter()
        .filter(|rt| f.keeps(rt))
        .map(|rt| route::route(rt, r));
    Ok((msgs.collect(), filtered))
}

/// rtnl_getlink: one interface, by index or by name.
fn get_link(view: &View, who: &Requester, req: &Request<'_>) -> Result<Vec<u8>, Fail> {
    let p = req.payload();
    if p.len() < IFINFOMSG {
        return Err(fail(Errno::EINVAL, "Invalid header for get link"));
    }
    if who.strict && (p[1] != 0 || p[2..4] != [0, 0] || p[8..16] != [0; 8]) {
        return Err(fail(
            Errno::EINVAL,
            "Invalid values in header for get link request",
        ));
    }
    let mut ext_mask = 0;
    let mut name = None;
    for (kind, data) in attrs_after(p, IFINFOMSG, who.strict)? {
        match kind {
            libc::IFLA_IFNAME | libc::IFLA_ALT_IFNAME => name = Some(ifname(data)?),
            libc::IFLA_EXT_MASK => ext_mask = u32_attr(data, who.strict)?,
            IFLA_TARGET_NETNSID => return Err((Errno::EINVAL, None)),
            _ if who.strict => {
                return Err(fail(
                    Errno::EINVAL,
                    "Unsupported attribute in get link request",
                ))
            }
            _ => {}
        }
    }
    let index = i32::from_ne_bytes(p[4..8].try_into().expect("4 bytes"));
    let found = if index > 0 {
        interface::by_index(&view.ifaces, index as u32)
    } else if let Some(n) = name {
        interface::by_name(&view.ifaces, n)
    } else {
        return Err((Errno::EINVAL, None));
    };
    let i = found.ok_or((Errno::ENODEV, None))?;
    let r = Reply {
        seq: req.hdr.seq,
        pid: who.pid,
        flags: 0,
    };
    let skip_stats = ext_mask & libc::RTEXT_FILTER_SKIP_STATS as u32 != 0;
    Ok(link::link(i, r, skip_stats))
}
