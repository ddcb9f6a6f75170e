//! /sys/class/net: a directory per interface of the sandbox's network
//! stack (loopback and the interfaces taken from the container's network
//! namespace), with the attributes scripts and tools read to list
//! interfaces and their hardware addresses (`cat /sys/class/net/*/address`).
//! Linux makes each entry a link into /sys/devices; here it is the
//! directory itself, which reads the same.

use std::sync::Arc;

use netstack::InterfaceInfo;

use crate::fsimpl::proc::{path_ino, GenInode, Node};

/// ARPHRD_ETHER and ARPHRD_LOOPBACK (`type`).
const ARPHRD_ETHER: u32 = 1;
const ARPHRD_LOOPBACK: u32 = 772;

/// The `net` directory of /sys/class.
pub(super) fn class_net(interfaces: &[InterfaceInfo]) -> Node {
    Node::dir(
        interfaces
            .iter()
            .map(|i| (i.name.clone(), interface(i)))
            .collect(),
    )
}

fn interface(i: &InterfaceInfo) -> Node {
    let loopback = i.flags & libc::IFF_LOOPBACK as u32 != 0;
    let mac = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let (kind, broadcast, operstate) = if loopback {
        (ARPHRD_LOOPBACK, [0; 6], "unknown")
    } else {
        (ARPHRD_ETHER, [0xff; 6], "up")
    };
    // Linux's file shows the flags the interface was set to: IFF_RUNNING
    // is the link's state, reported by operstate instead.
    let flags = i.flags & !(libc::IFF_RUNNING as u32);
    let attrs: Vec<(&str, String)> = vec![
        ("addr_len", "6".into()),
        ("address", mac(i.mac)),
        ("broadcast", mac(broadcast)),
        ("carrier", "1".into()),
        ("flags", format!("{flags:#x}")),
        ("ifindex", i.index.to_string()),
        ("iflink", i.index.to_string()),
        ("mtu", i.mtu.to_string()),
        ("operstate", operstate.into()),
        ("type", kind.to_string()),
    ];
    Node::dir(
        attrs
            .into_iter()
            .map(|(name, value)| {
                let key = format!("sys:/class/net/{}/{name}", i.name);
                let data = format!("{value}\n").into_bytes();
                let f = GenInode::new(path_ino(&key), 0o444, Arc::new(move || Ok(data.clone())))
                    .not_seq();
                (name.to_string(), Node::File(Arc::new(f)))
            })
            .collect(),
    )
}
