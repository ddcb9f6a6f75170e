//! sysfs: a minimal, read-only /sys.
//!
//! What programs read to size themselves: the CPU lists under
//! devices/system/cpu (glibc's get_nprocs reads `online`; nproc, Python's
//! os.cpu_count and the JVM follow), one directory per CPU with its
//! topology, fs/cgroup empty (as a container without cgroup mounts shows
//! it, so runtimes fall back to the CPU count), and the transparent huge
//! page setting; and class/net, the network interfaces (`net.rs`). The
//! tree is built at lookup from the looker's kernel (its CPU count and its
//! network stack); a lookup without a task sees one CPU and no interfaces.

mod net;

use std::sync::{Arc, Mutex, Weak};

use crate::errno::Errno;
use crate::fsimpl::proc::{path_ino, GenInode, Node, TreeDir};
use crate::kernel::{Kernel, Task};
use crate::vfs::ops::Ctx;
use crate::vfs::{DirEntry, FileOps, Inode, InodeRef};

/// The magic number statfs reports for sysfs (Linux's SYSFS_MAGIC).
const SYSFS_MAGIC: i64 = 0x6265_6572;

/// sysfs for mount(2): it takes no options.
pub struct SysfsType;

impl crate::vfs::FilesystemType for SysfsType {
    fn new_instance(
        &self,
        _vfs: &Weak<crate::vfs::Vfs>,
        opts: &[crate::vfs::MountOption],
    ) -> Result<crate::vfs::Instance, Errno> {
        if !opts.is_empty() {
            return Err(Errno::EINVAL);
        }
        Ok(crate::vfs::Instance {
            root: new_sysfs(),
            shown: Vec::new(),
        })
    }
}

/// A fresh /sys.
pub fn new_sysfs() -> InodeRef {
    Arc::new(SysRoot {
        kernel: Mutex::new(Weak::new()),
    })
}

struct SysRoot {
    /// Learnt from the first task that looks (sysfs is made before the
    /// kernel that will own it).
    kernel: Mutex<Weak<Kernel>>,
}

impl SysRoot {
    fn kernel(&self, ctx: Option<&Ctx<'_>>) -> Option<Arc<Kernel>> {
        let mut k = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = ctx.and_then(|c| c.caller).and_then(Task::of) {
            if k.upgrade().is_none() {
                *k = Arc::downgrade(&t.kernel);
            }
            return Some(t.kernel.clone());
        }
        k.upgrade()
    }

    fn tree(&self, ctx: Option<&Ctx<'_>>) -> TreeDir {
        let k = self.kernel(ctx);
        let cpus = k.as_ref().map_or(1, |k| k.config.cpus.max(1));
        // /sys/class/net lists the looker's network namespace's interfaces.
        let net = ctx
            .and_then(|c| c.caller)
            .and_then(Task::of)
            .map(|t| t.ns.net.clone())
            .or_else(|| k.map(|k| k.init_ns.net.clone()));
        let interfaces = net.map(|n| n.stack.interfaces()).unwrap_or_default();
        TreeDir {
            key: "sys:/".into(),
            children: Arc::new(tree(cpus, &interfaces)),
            magic: SYSFS_MAGIC,
        }
    }
}

fn file(key: &str, value: String) -> Node {
    let data = value.into_bytes();
    Node::File(Arc::new(
        GenInode::new(path_ino(key), 0o444, Arc::new(move || Ok(data.clone()))).not_seq(),
    ))
}

fn empty() -> Node {
    Node::dir(Vec::new())
}

/// The whole tree for `n` CPUs and these network interfaces.
fn tree(n: usize, interfaces: &[netstack::InterfaceInfo]) -> Vec<(String, Node)> {
    let list = crate::fsimpl::proc::system::cpu_list(n);
    let cpu_key = |rest: &str| format!("sys:/devices/system/cpu/{rest}");
    let mut cpu: Vec<(String, Node)> = Vec::new();
    for i in 0..n {
        let k = |f: &str| cpu_key(&format!("cpu{i}/topology/{f}"));
        let topology = Node::dir(vec![
            ("core_id".into(), file(&k("core_id"), format!("{i}\n"))),
            (
                "core_siblings_list".into(),
                file(&k("core_siblings_list"), format!("{list}\n")),
            ),
            (
                "physical_package_id".into(),
                file(&k("physical_package_id"), "0\n".into()),
            ),
            (
                "thread_siblings_list".into(),
                file(&k("thread_siblings_list"), format!("{i}\n")),
            ),
        ]);
        let mut entries = vec![("topology".to_string(), topology)];
        if i > 0 {
            // Linux has no `online` file for the boot CPU.
            entries.push((
                "online".into(),
                file(&cpu_key(&format!("cpu{i}/online")), "1\n".into()),
            ));
        }
        cpu.push((format!("cpu{i}"), Node::dir(entries)));
    }
    for (name, value) in [
        ("kernel_max", "8191".to_string()),
        ("offline", String::new()),
        ("online", list.clone()),
        ("possible", list.clone()),
        ("present", list.clone()),
    ] {
        cpu.push((name.into(), file(&cpu_key(name), format!("{value}\n"))));
    }
    // One NUMA node holding every CPU and all memory (libnuma, used by
    // top, reads these).
    let node_meminfo = Node::File(Arc::new(GenInode::new(
        path_ino("sys:/devices/system/node/node0/meminfo"),
        0o444,
        Arc::new(|| {
            let s = crate::fsimpl::proc::system::host_sysinfo();
            let kb = |x: u64| x.saturating_mul(u64::from(s.mem_unit.max(1))) / 1024;
            let (total, free) = (kb(s.totalram), kb(s.freeram));
            Ok(format!(
                "Node 0 MemTotal:       {total:>8} kB\nNode 0 MemFree:        {free:>8} kB\nNode 0 MemUsed:        {:>8} kB\n",
                total.saturating_sub(free)
            )
            .into_bytes())
        }),
    )
    .not_seq()));
    let node = Node::dir(vec![
        (
            "node0".into(),
            Node::dir(vec![
                (
                    "cpulist".into(),
                    file(
                        "sys:/devices/system/node/node0/cpulist",
                        format!("{list}\n"),
                    ),
                ),
                (
                    "cpumap".into(),
                    file(
                        "sys:/devices/system/node/node0/cpumap",
                        format!("{}\n", crate::fsimpl::proc::files::cpu_mask(n)),
                    ),
                ),
                ("meminfo".into(), node_meminfo),
            ]),
        ),
        (
            "online".into(),
            file("sys:/devices/system/node/online", "0\n".into()),
        ),
        (
            "possible".into(),
            file("sys:/devices/system/node/possible", "0\n".into()),
        ),
    ]);
    let devices = Node::dir(vec![(
        "system".into(),
        Node::dir(vec![("cpu".into(), Node::dir(cpu)), ("node".into(), node)]),
    )]);
    let thp = Node::dir(vec![
        (
            "enabled".into(),
            file(
                "sys:/kernel/mm/transparent_hugepage/enabled",
                "always [madvise] never\n".into(),
            ),
        ),
        (
            "defrag".into(),
            file(
                "sys:/kernel/mm/transparent_hugepage/defrag",
                "always defer defer+madvise [madvise] never\n".into(),
            ),
        ),
    ]);
    let kernel = Node::dir(vec![(
        "mm".into(),
        Node::dir(vec![("transparent_hugepage".into(), thp)]),
    )]);
    let fs = Node::dir(vec![("cgroup".into(), empty())]);
    vec![
        ("block".into(), empty()),
        ("bus".into(), empty()),
        (
            "class".into(),
            Node::dir(vec![("net".into(), net::class_net(interfaces))]),
        ),
        ("dev".into(), empty()),
        ("devices".into(), devices),
        ("firmware".into(), empty()),
        ("fs".into(), fs),
        ("kernel".into(), kernel),
        ("module".into(), empty()),
        ("power".into(), empty()),
    ]
}

impl Inode for SysRoot {
    fn ino(&self) -> u64 {
        1
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut st = self.tree(None).stat()?;
        st.st_ino = 1;
        Ok(st)
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        self.tree(None).lookup(name)
    }
    fn lookup_by(&self, name: &[u8], ctx: &Ctx<'_>) -> Result<InodeRef, Errno> {
        self.tree(Some(ctx)).lookup(name)
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        self.tree(None).readdir()
    }
    fn readdir_by(&self, ctx: &Ctx<'_>) -> Result<Vec<DirEntry>, Errno> {
        self.tree(Some(ctx)).readdir()
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(SYSFS_MAGIC, 0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(root: &InodeRef, path: &str) -> InodeRef {
        let mut cur = root.clone();
        for c in path.split('/') {
            cur = cur.lookup(c.as_bytes()).unwrap();
        }
        cur
    }

    fn read(i: &InodeRef) -> String {
        let f = i.clone().open(libc::O_RDONLY).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = f.read_at(&mut buf, 0).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn cpu_lists_and_dirs_follow_the_cpu_count() {
        let root: InodeRef = Arc::new(SysRoot {
            kernel: Mutex::new(Weak::new()),
        });
        assert_eq!(read(&walk(&root, "devices/system/cpu/online")), "0\n");
        let t = tree(4, &[]);
        let d = TreeDir {
            key: "sys:/".into(),
            children: Arc::new(t),
            magic: SYSFS_MAGIC,
        };
        let d: InodeRef = Arc::new(d);
        assert_eq!(read(&walk(&d, "devices/system/cpu/possible")), "0-3\n");
        let names: Vec<Vec<u8>> = walk(&d, "devices/system/cpu")
            .readdir()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.contains(&b"cpu3".to_vec()));
        assert!(!names.contains(&b"cpu4".to_vec()));
        assert!(walk(&d, "fs/cgroup").readdir().unwrap().is_empty());
        assert_eq!(
            d.lookup(b"nope").err(),
            Some(Errno::ENOENT),
            "unknown names are ENOENT"
        );
        // Read-only: no write opens.
        let online = walk(&d, "devices/system/cpu/online");
        assert_eq!(online.open(libc::O_WRONLY).err(), Some(Errno::EACCES));
    }

    #[test]
    fn class_net_lists_each_interface_with_its_address_and_index() {
        let iface = |index, name: &str, mac, flags| netstack::InterfaceInfo {
            index,
            name: name.into(),
            mac,
            mtu: if index == 1 { 65536 } else { 1500 },
            flags,
            addrs: Vec::new(),
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
        };
        let up = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
        let lo = iface(1, "lo", [0; 6], up | libc::IFF_LOOPBACK as u32);
        let eth = iface(
            7,
            "eth0",
            [2, 0x42, 0xac, 0x11, 0, 2],
            up | (libc::IFF_BROADCAST | libc::IFF_MULTICAST) as u32,
        );
        let d: InodeRef = Arc::new(TreeDir {
            key: "sys:/".into(),
            children: Arc::new(tree(1, &[lo, eth])),
            magic: SYSFS_MAGIC,
        });
        let names: Vec<Vec<u8>> = walk(&d, "class/net")
            .readdir()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.contains(&b"lo".to_vec()) && names.contains(&b"eth0".to_vec()));
        assert_eq!(
            read(&walk(&d, "class/net/eth0/address")),
            "02:42:ac:11:00:02\n"
        );
        assert_eq!(read(&walk(&d, "class/net/eth0/ifindex")), "7\n");
        assert_eq!(read(&walk(&d, "class/net/eth0/mtu")), "1500\n");
        assert_eq!(read(&walk(&d, "class/net/eth0/type")), "1\n");
        assert_eq!(read(&walk(&d, "class/net/eth0/flags")), "0x1003\n");
        assert_eq!(read(&walk(&d, "class/net/eth0/operstate")), "up\n");
        assert_eq!(
            read(&walk(&d, "class/net/lo/address")),
            "00:00:00:00:00:00\n"
        );
        assert_eq!(read(&walk(&d, "class/net/lo/type")), "772\n");
        assert_eq!(read(&walk(&d, "class/net/lo/flags")), "0x9\n");
    }
}
