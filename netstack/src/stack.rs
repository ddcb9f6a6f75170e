//! The stack: a loopback interface and the container's Ethernet
//! interfaces, the sockets on them, and one thread that runs the stack's
//! timers and reads frames from the interfaces' descriptors.
//!
//! Calls from the Sentry's task threads run the stack inline (a send on
//! loopback reaches the peer's receive buffer before it returns), so the
//! thread wakes only for timers and arriving frames.

use std::sync::Arc;

use crate::config::StackConfig;
use crate::endpoint::{Endpoint, Proto};
use crate::errno::Errno;
use crate::info::{ConnInfo, InterfaceInfo, RouteInfo};

/// Called when an endpoint's readiness may have changed. It must not call
/// back into the stack (it runs with the stack locked).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

pub struct Stack {
    config: StackConfig,
}

impl Stack {
    /// A stack on `config`'s interfaces, with loopback. Starts the stack's
    /// thread; it ends when the last `Arc` goes.
    pub fn new(config: StackConfig) -> std::io::Result<Arc<Stack>> {
        Ok(Arc::new(Stack { config }))
    }

    /// A new socket: AF_INET6 when `v6`. `tag` names it in
    /// [`Stack::connections`].
    pub fn endpoint(
        self: &Arc<Self>,
        v6: bool,
        proto: Proto,
        notify: Notify,
        tag: u64,
    ) -> Result<Endpoint, Errno> {
        let _ = (v6, proto, notify, tag);
        todo!()
    }

    /// Every interface, loopback first.
    pub fn interfaces(&self) -> Vec<InterfaceInfo> {
        let mut v = vec![InterfaceInfo {
            index: 1,
            name: "lo".into(),
            mac: [0; 6],
            mtu: 65536,
            flags: (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_LOOPBACK) as u32,
            addrs: vec![
                ("127.0.0.1".parse().unwrap(), 8),
                ("::1".parse().unwrap(), 128),
            ],
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
        }];
        v.extend(self.config.interfaces.iter().map(|i| InterfaceInfo {
            index: i.index,
            name: i.name.clone(),
            mac: i.mac,
            mtu: i.mtu,
            flags: (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_BROADCAST | libc::IFF_MULTICAST)
                as u32,
            addrs: i.addrs.clone(),
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
        }));
        v
    }

    /// The main routing table: each interface's on-link prefixes, then the
    /// configured routes.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let mut v = Vec::new();
        for i in &self.config.interfaces {
            for &(a, p) in &i.addrs {
                v.push(RouteInfo {
                    dst: prefix_of(a, p),
                    prefix: p,
                    gateway: None,
                    interface_index: i.index,
                });
            }
        }
        for r in &self.config.routes {
            let Some(i) = self
                .config
                .interfaces
                .iter()
                .find(|i| i.name == r.interface)
            else {
                continue;
            };
            v.push(RouteInfo {
                dst: r.dst,
                prefix: r.prefix,
                gateway: r.gateway,
                interface_index: i.index,
            });
        }
        v
    }

    /// The sockets of one protocol, for /proc/net.
    pub fn connections(&self, proto: Proto) -> Vec<ConnInfo> {
        let _ = proto;
        todo!()
    }
}

/// The network part of `a/prefix`.
pub fn prefix_of(a: std::net::IpAddr, prefix: u8) -> std::net::IpAddr {
    use std::net::IpAddr;
    match a {
        IpAddr::V4(v4) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}
