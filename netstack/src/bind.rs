//! bind(2) for every protocol, and the implicit binds of connect, listen
//! and send.

use std::net::SocketAddr;

use crate::addr;
use crate::errno::Errno;
use crate::ports::{Binding, Owner, Spec};
use crate::route::is_local;
use crate::socket::Proto;
use crate::state::{Bound, Inner};

pub(crate) fn bind(inner: &mut Inner, id: usize, a: SocketAddr) -> Result<(), Errno> {
    let ep = inner.ep(id);
    if ep.bound.is_some() {
        return Err(Errno::EINVAL);
    }
    let a = addr::take(ep.v6, ep.opts.v6_only, a)?;
    if !a.ip().is_unspecified() && !is_local(&inner.ifaces, a.ip()) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let b = Binding::new(
        Owner::Ep(id),
        Spec::new(a.ip(), ep.opts.v6_only),
        ep.opts.reuse_addr,
        ep.opts.reuse_port,
    );
    let proto = ep.proto;
    let port = inner.ports.bind(proto, a.port(), b)?;
    inner.ep_mut(id).bound = Some(Bound {
        addr: a.ip(),
        port,
        explicit: true,
    });
    Ok(())
}

/// Binds an ephemeral port on the family's wildcard address.
pub(crate) fn autobind(inner: &mut Inner, id: usize) -> Result<u16, Errno> {
    let ep = inner.ep(id);
    let any = addr::unspecified(ep.v6);
    let b = Binding::new(
        Owner::Ep(id),
        Spec::new(any, ep.opts.v6_only),
        ep.opts.reuse_addr,
        ep.opts.reuse_port,
    );
    let proto = ep.proto;
    let port = inner.ports.bind(proto, 0, b)?;
    inner.ep_mut(id).bound = Some(Bound {
        addr: any,
        port,
        explicit: false,
    });
    Ok(port)
}

/// After a failed or abandoned connect: an implicitly bound port goes
/// back (Linux's inet_put_port without SOCK_BINDPORT_LOCK); an explicit
/// one returns to the address bind gave it.
pub(crate) fn release_implicit(inner: &mut Inner, id: usize) {
    let ep = inner.ep(id);
    let (proto, v6_only) = (ep.proto, ep.opts.v6_only);
    match ep.bound {
        Some(b) if !b.explicit => {
            inner.ports.unbind(proto, b.port, Owner::Ep(id));
            inner.ep_mut(id).bound = None;
        }
        Some(b) => inner
            .ports
            .respec(proto, b.port, Owner::Ep(id), Spec::new(b.addr, v6_only)),
        None => {}
    }
}

pub(crate) fn unbind(inner: &mut Inner, id: usize, proto: Proto, port: Option<u16>) {
    if let Some(port) = port {
        inner.ports.unbind(proto, port, Owner::Ep(id));
    }
}
