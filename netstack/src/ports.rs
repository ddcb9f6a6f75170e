//! Who holds which port, per protocol, with Linux's bind rules
//! (inet_csk_bind_conflict and udp_lib_lport_inuse, simplified): two
//! bindings clash when their addresses overlap, unless both set
//! SO_REUSEPORT, or both set SO_REUSEADDR and (TCP) the one already there
//! is not listening. A closed connection still finishing (TIME_WAIT,
//! FIN_WAIT) holds its port against binds without SO_REUSEADDR only.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::errno::Errno;
use crate::socket::Proto;

/// Linux's default ip_local_port_range.
pub(crate) const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Owner {
    Ep(usize),
    /// A closed connection still in the socket set (see `orphans`).
    Orphan(u64),
}

/// The local address of a binding, as the wire sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Spec {
    AnyV4,
    /// `::`; without v6_only it takes IPv4 too.
    AnyV6 {
        v6_only: bool,
    },
    Addr(IpAddr),
}

impl Spec {
    pub(crate) fn new(addr: IpAddr, v6_only: bool) -> Spec {
        match addr {
            IpAddr::V4(v4) if v4.is_unspecified() => Spec::AnyV4,
            IpAddr::V6(v6) if v6.is_unspecified() => Spec::AnyV6 { v6_only },
            a => Spec::Addr(a),
        }
    }

    /// Whether a segment or datagram to `dst` may reach this binding.
    pub(crate) fn accepts(&self, dst: IpAddr) -> bool {
        match *self {
            Spec::AnyV4 => dst.is_ipv4(),
            Spec::AnyV6 { v6_only } => dst.is_ipv6() || !v6_only,
            Spec::Addr(a) => a == dst,
        }
    }

    pub(crate) fn is_wildcard(&self) -> bool {
        !matches!(self, Spec::Addr(_))
    }

    fn overlaps(&self, other: &Spec) -> bool {
        match (*self, *other) {
            (Spec::AnyV6 { v6_only: false }, _) | (_, Spec::AnyV6 { v6_only: false }) => true,
            (Spec::AnyV6 { .. }, Spec::AnyV6 { .. }) => true,
            (Spec::AnyV4, Spec::AnyV4) => true,
            (Spec::AnyV4, Spec::AnyV6 { .. }) | (Spec::AnyV6 { .. }, Spec::AnyV4) => false,
            (Spec::AnyV4, Spec::Addr(a)) | (Spec::Addr(a), Spec::AnyV4) => a.is_ipv4(),
            (Spec::AnyV6 { .. }, Spec::Addr(a)) | (Spec::Addr(a), Spec::AnyV6 { .. }) => {
                a.is_ipv6()
            }
            (Spec::Addr(a), Spec::Addr(b)) => a == b,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Binding {
    pub owner: Owner,
    pub spec: Spec,
    pub reuse_addr: bool,
    pub reuse_port: bool,
    pub listening: bool,
    /// A closed connection finishing in the background.
    pub lingering: bool,
}

impl Binding {
    pub(crate) fn new(owner: Owner, spec: Spec, reuse_addr: bool, reuse_port: bool) -> Binding {
        Binding {
            owner,
            spec,
            reuse_addr,
            reuse_port,
            listening: false,
            lingering: false,
        }
    }
}

#[derive(Default)]
pub(crate) struct Ports {
    tables: [HashMap<u16, Vec<Binding>>; 5],
    cursor: [u16; 5],
}

fn slot(proto: Proto) -> usize {
    match proto {
        Proto::Tcp => 0,
        Proto::Udp => 1,
        Proto::Icmp => 2,
        // Raw endpoints take no port; the table stays empty.
        Proto::Raw => 3,
        Proto::UdpLite => 4,
    }
}

fn clashes(proto: Proto, old: &Binding, new: &Binding) -> bool {
    if old.owner == new.owner || !old.spec.overlaps(&new.spec) {
        return false;
    }
    if old.reuse_port && new.reuse_port && !old.lingering {
        return false;
    }
    if old.lingering {
        return !new.reuse_addr;
    }
    match proto {
        Proto::Tcp => !(old.reuse_addr && new.reuse_addr && !old.listening),
        Proto::Udp | Proto::Icmp | Proto::Raw | Proto::UdpLite => {
            !(old.reuse_addr && new.reuse_addr)
        }
    }
}

impl Ports {
    pub(crate) fn new(seed: u64) -> Ports {
        let span = u64::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        let start = EPHEMERAL.start() + (seed % span) as u16;
        Ports {
            tables: Default::default(),
            cursor: [start; 5],
        }
    }

    pub(crate) fn bindings(&self, proto: Proto, port: u16) -> &[Binding] {
        self.tables[slot(proto)]
            .get(&port)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// Takes `port` (0: an ephemeral one nobody holds) for `b`.
    pub(crate) fn bind(&mut self, proto: Proto, port: u16, b: Binding) -> Result<u16, Errno> {
        let port = if port == 0 {
            self.ephemeral(proto)?
        } else {
            let table = &self.tables[slot(proto)];
            if let Some(v) = table.get(&port) {
                if v.iter().any(|old| clashes(proto, old, &b)) {
                    return Err(Errno::EADDRINUSE);
                }
            }
            port
        };
        self.tables[slot(proto)].entry(port).or_default().push(b);
        Ok(port)
    }

    /// Adds a binding without checks: an accepted connection shares its
    /// listener's port.
    pub(crate) fn add(&mut self, proto: Proto, port: u16, b: Binding) {
        self.tables[slot(proto)].entry(port).or_default().push(b);
    }

    /// A port in the ephemeral range that nobody holds at all, so a new
    /// connection's 4-tuple cannot collide with any other.
    pub(crate) fn ephemeral(&mut self, proto: Proto) -> Result<u16, Errno> {
        let s = slot(proto);
        let span = EPHEMERAL.end() - EPHEMERAL.start() + 1;
        for _ in 0..span {
            let p = self.cursor[s];
            self.cursor[s] = if p >= *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                p + 1
            };
            if !self.tables[s].contains_key(&p) {
                return Ok(p);
            }
        }
        Err(Errno::EADDRINUSE)
    }

    pub(crate) fn unbind(&mut self, proto: Proto, port: u16, owner: Owner) {
        let table = &mut self.tables[slot(proto)];
        if let Some(v) = table.get_mut(&port) {
            v.retain(|b| b.owner != owner);
            if v.is_empty() {
                table.remove(&port);
            }
        }
    }

    fn find(&mut self, proto: Proto, port: u16, owner: Owner) -> Option<&mut Binding> {
        self.tables[slot(proto)]
            .get_mut(&port)?
            .iter_mut()
            .find(|b| b.owner == owner)
    }

    /// listen(2) checks again: two SO_REUSEADDR sockets may share a port
    /// until both listen.
    pub(crate) fn set_listening(
        &mut self,
        proto: Proto,
        port: u16,
        owner: Owner,
        listening: bool,
    ) -> Result<(), Errno> {
        let Some(mine) = self.find(proto, port, owner).copied() else {
            return Err(Errno::EINVAL);
        };
        if listening {
            let probe = Binding {
                listening: true,
                ..mine
            };
            if self
                .bindings(proto, port)
                .iter()
                .any(|old| clashes(proto, old, &probe))
            {
                return Err(Errno::EADDRINUSE);
            }
        }
        if let Some(b) = self.find(proto, port, owner) {
            b.listening = listening;
        }
        Ok(())
    }

    /// A closed connection keeps its port while it finishes.
    pub(crate) fn linger(&mut self, proto: Proto, port: u16, owner: Owner, orphan: u64) {
        if let Some(b) = self.find(proto, port, owner) {
            b.owner = Owner::Orphan(orphan);
            b.lingering = true;
            b.listening = false;
        }
    }

    /// Changes a binding's address (UDP connect narrows a wildcard bind to
    /// the source address it routed to).
    pub(crate) fn respec(&mut self, proto: Proto, port: u16, owner: Owner, spec: Spec) {
        if let Some(b) = self.find(proto, port, owner) {
            b.spec = spec;
        }
    }

    pub(crate) fn set_flags(
        &mut self,
        proto: Proto,
        port: u16,
        owner: Owner,
        reuse_addr: bool,
        reuse_port: bool,
    ) {
        if let Some(b) = self.find(proto, port, owner) {
            b.reuse_addr = reuse_addr;
            b.reuse_port = reuse_port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(owner: usize, addr: &str, reuse_addr: bool) -> Binding {
        Binding::new(
            Owner::Ep(owner),
            Spec::new(addr.parse().unwrap(), false),
            reuse_addr,
            false,
        )
    }

    #[test]
    fn wildcard_and_specific_clash_without_reuse() {
        let mut p = Ports::new(0);
        p.bind(Proto::Tcp, 80, b(1, "0.0.0.0", false)).unwrap();
        assert_eq!(
            p.bind(Proto::Tcp, 80, b(2, "127.0.0.1", false)),
            Err(Errno::EADDRINUSE)
        );
        assert_eq!(
            p.bind(Proto::Tcp, 80, b(3, "::", false)),
            Err(Errno::EADDRINUSE)
        );
        let v6only = Binding::new(Owner::Ep(4), Spec::AnyV6 { v6_only: true }, false, false);
        assert_eq!(p.bind(Proto::Tcp, 80, v6only), Ok(80));
    }

    #[test]
    fn reuse_addr_shares_until_both_listen() {
        let mut p = Ports::new(0);
        p.bind(Proto::Tcp, 80, b(1, "0.0.0.0", true)).unwrap();
        p.bind(Proto::Tcp, 80, b(2, "0.0.0.0", true)).unwrap();
        p.set_listening(Proto::Tcp, 80, Owner::Ep(1), true).unwrap();
        assert_eq!(
            p.set_listening(Proto::Tcp, 80, Owner::Ep(2), true),
            Err(Errno::EADDRINUSE)
        );
        assert_eq!(
            p.bind(Proto::Tcp, 80, b(3, "0.0.0.0", true)),
            Err(Errno::EADDRINUSE)
        );
    }

    #[test]
    fn lingering_connection_yields_to_reuse_addr() {
        let mut p = Ports::new(0);
        p.bind(Proto::Tcp, 80, b(1, "127.0.0.1", false)).unwrap();
        p.linger(Proto::Tcp, 80, Owner::Ep(1), 7);
        assert_eq!(
            p.bind(Proto::Tcp, 80, b(2, "0.0.0.0", false)),
            Err(Errno::EADDRINUSE)
        );
        assert_eq!(p.bind(Proto::Tcp, 80, b(3, "0.0.0.0", true)), Ok(80));
    }

    #[test]
    fn ephemeral_ports_are_distinct() {
        let mut p = Ports::new(12345);
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            let port = p.bind(Proto::Udp, 0, b(i, "0.0.0.0", false)).unwrap();
            assert!(EPHEMERAL.contains(&port));
            assert!(seen.insert(port));
        }
    }
}
