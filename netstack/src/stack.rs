//! The stack: a loopback interface and the container's Ethernet
//! interfaces, the sockets on them, and one thread that runs the stack's
//! timers and reads frames from the interfaces' descriptors.
//!
//! Calls from the Sentry's task threads run the stack inline (a send on
//! loopback reaches the peer's receive buffer before it returns), so the
//! thread wakes only for timers and arriving frames.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use smoltcp::time::Instant;

use crate::addr::prefix_of;
use crate::config::{RouteConfig, StackConfig};
use crate::engine;
use crate::errno::Errno;
use crate::iface::Iface;
use crate::info::{ConnInfo, InterfaceInfo, RouteInfo, ShownNetwork};
use crate::poller::{self, Shared};
use crate::route::Entry;
use crate::socket::Proto;
use crate::state::Inner;

/// An Ethernet interface's index, name and addresses.
type IfaceRoutes = (u32, String, Vec<(IpAddr, u8)>);

pub struct Stack {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    routes: Vec<RouteConfig>,
    shown: Option<ShownNetwork>,
}

fn seed() -> u64 {
    // std's per-process random keys: enough for sequence numbers and
    // ephemeral ports that another sandbox cannot guess.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

impl Stack {
    /// A stack on `config`'s interfaces, with loopback. Starts the stack's
    /// thread; it ends when the last `Arc` goes.
    pub fn new(config: StackConfig) -> std::io::Result<Arc<Stack>> {
        let StackConfig {
            interfaces,
            routes,
            log_packets,
            shown,
        } = config;
        let seed = seed();
        let now = Instant::from_micros(0);
        let local: Vec<IpAddr> = interfaces
            .iter()
            .flat_map(|i| i.addrs.iter().map(|&(a, _)| a))
            .collect();
        let mut ifaces = vec![Iface::loopback(&local, now, seed, log_packets)];
        let mut entries = Vec::new();
        for (k, cfg) in interfaces.into_iter().enumerate() {
            let mine: Vec<&RouteConfig> =
                routes.iter().filter(|r| r.interface == cfg.name).collect();
            let gateways: Vec<(IpAddr, u8, IpAddr)> = mine
                .iter()
                .filter_map(|r| r.gateway.map(|g| (r.dst, r.prefix, g)))
                .collect();
            entries.extend(mine.iter().map(|r| Entry {
                dst: r.dst,
                prefix: r.prefix,
                iface: k + 1,
                gateway: r.gateway,
            }));
            ifaces.push(Iface::ethernet(
                cfg,
                &gateways,
                now,
                seed.rotate_left(k as u32 + 1),
                log_packets,
            )?);
        }
        let shared = Arc::new(Shared::new(Inner::new(ifaces, entries, seed))?);
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("netstack".into())
            .spawn(move || poller::run(s2))?;
        Ok(Arc::new(Stack {
            shared,
            thread: Mutex::new(Some(thread)),
            routes,
            shown,
        }))
    }

    /// Runs `f` on the stack's state, polls if `f` asked for it, then
    /// brings the endpoints smoltcp woke up to date, moves the thread's
    /// deadline if `f` needs it sooner, and calls the woken endpoints'
    /// hooks after unlocking.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let (r, hooks) = {
            let mut g = self.shared.lock();
            let r = f(&mut g);
            if g.poll_requested {
                engine::poll(&mut g);
            }
            // SIGURG before the wake-ups, as Linux's tcp_check_urg
            // signals before the data is queued.
            let mut hooks = std::mem::take(&mut g.urgent_hooks);
            hooks.extend(engine::settle(&mut g));
            if std::mem::take(&mut g.polled) {
                if let Some(t) = engine::next_poll(&mut g) {
                    if g.deadline.is_none_or(|d| t < d) {
                        g.deadline = Some(t);
                        self.shared.kick.kick();
                    }
                }
            }
            (r, hooks)
        };
        for h in hooks {
            h();
        }
        r
    }

    /// Every interface, loopback first.
    pub fn interfaces(&self) -> Vec<InterfaceInfo> {
        if let Some(s) = &self.shown {
            return s.interfaces.clone();
        }
        self.with(|inner| {
            inner
                .ifaces
                .iter()
                .map(|f| InterfaceInfo {
                    index: f.index,
                    name: f.name.clone(),
                    mac: f.mac,
                    mtu: f.mtu,
                    flags: if f.index == 1 {
                        (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_LOOPBACK) as u32
                    } else {
                        (libc::IFF_UP
                            | libc::IFF_RUNNING
                            | libc::IFF_BROADCAST
                            | libc::IFF_MULTICAST) as u32
                    },
                    addrs: f.addrs.clone(),
                    rx_packets: f.dev.rx_count.packets,
                    rx_bytes: f.dev.rx_count.bytes,
                    tx_packets: f.dev.tx_count.packets,
                    tx_bytes: f.dev.tx_count.bytes,
                })
                .collect()
        })
    }

    /// The main routing table: each interface's on-link prefixes, then the
    /// configured routes.
    pub fn routes(&self) -> Vec<RouteInfo> {
        if let Some(s) = &self.shown {
            return s.routes.clone();
        }
        let ifaces: Vec<IfaceRoutes> = self.with(|inner| {
            inner
                .ifaces
                .iter()
                .skip(1)
                .map(|f| (f.index, f.name.clone(), f.addrs.clone()))
                .collect()
        });
        let mut v = Vec::new();
        for (index, _, addrs) in &ifaces {
            for &(a, p) in addrs {
                v.push(RouteInfo {
                    dst: prefix_of(a, p),
                    prefix: p,
                    gateway: None,
                    interface_index: *index,
                });
            }
        }
        for r in &self.routes {
            let Some((index, _, _)) = ifaces.iter().find(|(_, name, _)| *name == r.interface)
            else {
                continue;
            };
            v.push(RouteInfo {
                dst: r.dst,
                prefix: r.prefix,
                gateway: r.gateway,
                interface_index: *index,
            });
        }
        v
    }

    /// The sockets of one protocol, for /proc/net.
    pub fn connections(&self, proto: Proto) -> Vec<ConnInfo> {
        self.with(|inner| crate::conns::list(inner, proto))
    }

    /// net.ipv4.tcp_syn_retries: how many times a connect sends its SYN
    /// again before ETIMEDOUT (a socket's TCP_SYNCNT overrides it).
    pub fn tcp_syn_retries(&self) -> u8 {
        self.with(|inner| inner.syn_retries)
    }

    /// Sets net.ipv4.tcp_syn_retries for connects made from now on;
    /// Linux's range is 1 to 127 (EINVAL otherwise).
    pub fn set_tcp_syn_retries(&self, n: i64) -> Result<(), Errno> {
        let n = u8::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_SYN_RETRIES).contains(n))
            .ok_or(Errno::EINVAL)?;
        self.with(|inner| inner.syn_retries = n);
        Ok(())
    }
}

/// Linux's MAX_TCP_SYNCNT: the bound of tcp_syn_retries and TCP_SYNCNT.
pub const MAX_SYN_RETRIES: u8 = 127;

impl Drop for Stack {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.kick.kick();
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = t {
            // The last reference may go from a hook the thread runs.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}
