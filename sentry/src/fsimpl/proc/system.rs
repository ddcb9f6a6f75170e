//! The system-wide files of /proc (cpuinfo, meminfo, stat, uptime,
//! loadavg, version, filesystems) and the /proc/sys tree.
//!
//! Figures are the sandbox's own where it has them (its processes, their
//! CPU time, its uptime, its hostname) and the host's where it has not
//! (memory from sysinfo(2), the CPU description captured at boot).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::{entry, path_ino, GenFn, GenInode, Node, ProcState, TreeDir, WriteFn};
use crate::errno::Errno;
use crate::kernel::ipc::msg::{MSGMAX, MSGMNB, MSGMNI};
use crate::kernel::ipc::sem::{SEMMNI, SEMMNS, SEMMSL, SEMOPM};
use crate::kernel::namespaces::{Namespaces, NetNs, UtsNs};
use crate::kernel::uts::{RELEASE, VERSION};
use crate::kernel::Kernel;
use crate::vfs::{DirEntry, InodeRef};

/// The regular files at the top of /proc.
const FILES: [&str; 10] = [
    "cmdline",
    "cpuinfo",
    "filesystems",
    "loadavg",
    "meminfo",
    "stat",
    "swaps",
    "uptime",
    "version",
    "vmstat",
];

/// The filesystems the Sentry implements, as /proc/filesystems lists them.
const FILESYSTEMS: &str = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tdevpts\nnodev\toverlay\nnodev\t9p\nnodev\tpipefs\n";

fn key(name: &str) -> u64 {
    path_ino(&format!("proc:/{name}"))
}

pub(super) fn entries() -> Vec<DirEntry> {
    let mut v: Vec<DirEntry> = FILES
        .iter()
        .map(|n| entry(key(n), libc::DT_REG, n.as_bytes()))
        .collect();
    v.push(entry(path_ino("proc:/sys"), libc::DT_DIR, b"sys"));
    v.push(entry(path_ino("proc:/sysvipc"), libc::DT_DIR, b"sysvipc"));
    v
}

use crate::caps::CAP_LAST_CAP;

/// A range list of CPUs ("0", "0-3"), as sysfs and status print it.
pub(crate) fn cpu_list(n: usize) -> String {
    if n <= 1 {
        "0".to_string()
    } else {
        format!("0-{}", n - 1)
    }
}

pub(super) fn lookup(
    state: &Arc<ProcState>,
    k: Option<&Arc<Kernel>>,
    ns: Option<&Arc<Namespaces>>,
    name: &[u8],
) -> Result<InodeRef, Errno> {
    let name = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
    let wk = k.map(Arc::downgrade).unwrap_or_default();
    if name == "sys" {
        return Ok(Arc::new(TreeDir {
            key: "proc:/sys".into(),
            children: Arc::new(sys_tree(state, k, ns)),
            magic: libc::PROC_SUPER_MAGIC,
        }));
    }
    if name == "sysvipc" {
        return Ok(super::sysvipc::dir(ns.map(|n| &n.ipc)));
    }
    if !FILES.contains(&name) {
        return Err(Errno::ENOENT);
    }
    let gen: GenFn = match name {
        "cpuinfo" => Arc::new(move || Ok(cpuinfo(&wk).into_bytes())),
        "meminfo" => Arc::new(|| Ok(meminfo().into_bytes())),
        "stat" => Arc::new(move || Ok(stat(&wk).into_bytes())),
        "uptime" => Arc::new(move || Ok(uptime(&wk).into_bytes())),
        "loadavg" => Arc::new(move || Ok(loadavg(&wk).into_bytes())),
        "version" => Arc::new(|| Ok(version().into_bytes())),
        "filesystems" => Arc::new(|| Ok(FILESYSTEMS.as_bytes().to_vec())),
        "cmdline" => Arc::new(|| Ok(format!("BOOT_IMAGE=/vmlinuz-{RELEASE} quiet\n").into_bytes())),
        "swaps" => Arc::new(|| Ok(b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".to_vec())),
        "vmstat" => Arc::new(|| Ok(vmstat().into_bytes())),
        _ => return Err(Errno::ENOENT),
    };
    Ok(Arc::new(GenInode::new(key(name), 0o444, gen)))
}

fn cpus(k: &Weak<Kernel>) -> usize {
    k.upgrade().map_or(1, |k| k.config.cpus.max(1))
}

/// CPU time the sandbox's tasks spent in application code, in ticks.
fn busy_ticks(k: &Kernel) -> u64 {
    let tasks: Vec<_> = k.pids.lock().unwrap().tasks.values().cloned().collect();
    let ns = tasks
        .iter()
        .map(|t| t.utime_ns.load(Ordering::Relaxed))
        .fold(0u64, u64::saturating_add);
    ns / 10_000_000
}

fn cpuinfo(k: &Weak<Kernel>) -> String {
    if let Some(k) = k.upgrade() {
        if !k.config.cpuinfo.is_empty() {
            return k.config.cpuinfo.clone();
        }
    }
    // Without the host's text, what CPUID says.
    let (vendor, family, model, stepping, brand) = cpuid_identity();
    let mut o = String::new();
    for i in 0..cpus(k) {
        o += &format!(
            "processor\t: {i}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: {brand}\nstepping\t: {stepping}\ncpu MHz\t\t: 0.000\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\nflags\t\t: fpu tsc cx8 cmov mmx fxsr sse sse2 syscall nx lm\nbogomips\t: 0.00\nclflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits virtual\npower management:\n\n"
        );
    }
    o
}

/// Vendor, family, model, stepping and brand string from CPUID.
fn cpuid_identity() -> (String, u32, u32, u32, String) {
    use core::arch::x86_64::__cpuid;
    // CPUID is an unprivileged instruction, always present on x86-64.
    let l0 = __cpuid(0);
    let mut vendor = Vec::with_capacity(12);
    for r in [l0.ebx, l0.edx, l0.ecx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    let l1 = __cpuid(1);
    let base_family = (l1.eax >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((l1.eax >> 20) & 0xff)
    } else {
        base_family
    };
    let mut model = (l1.eax >> 4) & 0xf;
    if base_family == 0x6 || base_family == 0xf {
        model |= ((l1.eax >> 16) & 0xf) << 4;
    }
    let stepping = l1.eax & 0xf;
    let mut brand = Vec::new();
    if __cpuid(0x8000_0000).eax >= 0x8000_0004 {
        for leaf in 0x8000_0002u32..=0x8000_0004 {
            let r = __cpuid(leaf);
            for x in [r.eax, r.ebx, r.ecx, r.edx] {
                brand.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    let brand = String::from_utf8_lossy(&brand)
        .trim_matches(char::from(0))
        .trim()
        .to_string();
    (
        String::from_utf8_lossy(&vendor).into_owned(),
        family,
        model,
        stepping,
        brand,
    )
}

/// The host's memory figures (the sandbox has no memory limit of its own).
pub(crate) fn host_sysinfo() -> libc::sysinfo {
    let mut s: libc::sysinfo = crate::usermem::zeroed();
    // SAFETY: sysinfo writes one struct sysinfo into `s`.
    unsafe { libc::sysinfo(&mut s) };
    s
}

fn meminfo() -> String {
    let s = host_sysinfo();
    let unit = u64::from(s.mem_unit.max(1));
    let kb = |x: u64| x.saturating_mul(unit) / 1024;
    let total = kb(s.totalram);
    let free = kb(s.freeram);
    let buffers = kb(s.bufferram);
    let shared = kb(s.sharedram);
    let swap_total = kb(s.totalswap);
    let swap_free = kb(s.freeswap);
    let available = (free + buffers).min(total);
    let rows: [(&str, u64); 22] = [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", available),
        ("Buffers", buffers),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", swap_total),
        ("SwapFree", swap_free),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", 0),
        ("Mapped", 0),
        ("Shmem", shared),
        ("Slab", 0),
        ("SReclaimable", 0),
        ("SUnreclaim", 0),
        ("CommitLimit", total / 2 + swap_total),
        ("Committed_AS", total.saturating_sub(free)),
    ];
    let mut o = String::new();
    for (n, v) in rows {
        o += &format!("{:<16}{v:>8} kB\n", format!("{n}:"));
    }
    o += &format!("{:<16}{:>8} kB\n", "VmallocTotal:", 34_359_738_367u64);
    o += &format!("{:<16}{:>8} kB\n", "VmallocUsed:", 0);
    o += &format!("{:<16}{:>8} kB\n", "VmallocChunk:", 0);
    o += &format!("{:<16}{:>8}\n", "HugePages_Total:", 0);
    o += &format!("{:<16}{:>8}\n", "HugePages_Free:", 0);
    o += &format!("{:<16}{:>8}\n", "HugePages_Rsvd:", 0);
    o += &format!("{:<16}{:>8}\n", "HugePages_Surp:", 0);
    o += &format!("{:<16}{:>8} kB\n", "Hugepagesize:", 2048);
    o
}

fn uptime_secs(k: &Kernel) -> f64 {
    k.boot.elapsed().as_secs_f64()
}

fn uptime(k: &Weak<Kernel>) -> String {
    let Some(k) = k.upgrade() else {
        return "0.00 0.00\n".into();
    };
    let up = uptime_secs(&k);
    let n = k.config.cpus.max(1) as f64;
    let idle = (up * n - busy_ticks(&k) as f64 / 100.0).max(0.0);
    format!("{up:.2} {idle:.2}\n")
}

fn stat(k: &Weak<Kernel>) -> String {
    let Some(k) = k.upgrade() else {
        return String::new();
    };
    let n = k.config.cpus.max(1) as u64;
    let up_ticks = (uptime_secs(&k) * 100.0) as u64;
    let user = busy_ticks(&k);
    let idle = (up_ticks * n).saturating_sub(user);
    let (tasks, last) = {
        let p = k.pids.lock().unwrap();
        (p.tasks.len(), p.tasks.keys().copied().max().unwrap_or(0))
    };
    let line = |name: &str, u: u64, i: u64| format!("{name} {u} 0 0 {i} 0 0 0 0 0 0\n");
    let mut o = line("cpu ", user, idle);
    for c in 0..n {
        o += &line(&format!("cpu{c}"), user / n, idle / n);
    }
    let btime = k
        .boot_wall
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    o += "intr 0\nctxt 0\n";
    o += &format!("btime {btime}\n");
    // Processes created since boot: pids are handed out in order, so the
    // highest live one is a fair lower bound.
    o += &format!("processes {last}\n");
    o += &format!(
        "procs_running {}\nprocs_blocked 0\n",
        tasks.min(n as usize).max(1)
    );
    o += "softirq 0 0 0 0 0 0 0 0 0 0 0\n";
    o
}

fn loadavg(k: &Weak<Kernel>) -> String {
    let Some(k) = k.upgrade() else {
        return "0.00 0.00 0.00 0/0 0\n".into();
    };
    let p = k.pids.lock().unwrap();
    let last = p.tasks.keys().copied().max().unwrap_or(0);
    format!("0.00 0.00 0.00 1/{} {last}\n", p.tasks.len())
}

fn version() -> String {
    format!("Linux version {RELEASE} {VERSION}\n")
}

fn vmstat() -> String {
    let s = host_sysinfo();
    let pages = |x: u64| x.saturating_mul(u64::from(s.mem_unit.max(1))) / 4096;
    format!(
        "nr_free_pages {}\nnr_inactive_anon 0\nnr_active_anon 0\nnr_inactive_file 0\nnr_active_file 0\npgpgin 0\npgpgout 0\npswpin 0\npswpout 0\npgfault 0\npgmajfault 0\n",
        pages(s.freeram)
    )
}

// ---------------------------------------------------------------------------
// /proc/sys

fn text(key: &str, value: String) -> Node {
    Node::File(Arc::new(
        GenInode::new(
            path_ino(key),
            0o444,
            Arc::new(move || Ok(value.clone().into_bytes())),
        )
        .not_seq(),
    ))
}

/// A /proc/sys file whose value is fixed.
fn fixed(dir: &str, name: &str, value: &str) -> (String, Node) {
    (
        name.to_string(),
        text(&format!("proc:/sys/{dir}/{name}"), format!("{value}\n")),
    )
}

/// kernel/hostname and kernel/domainname: read and written like
/// sethostname(2) (at most 64 bytes; the file mode keeps others out).
fn uts_name(uts: Option<&Arc<UtsNs>>, name: &str, domain: bool) -> (String, Node) {
    let wk = uts.map(Arc::downgrade).unwrap_or_default();
    let wk2 = wk.clone();
    let slot = move |k: &UtsNs| -> Vec<u8> {
        if domain {
            k.domainname.lock().unwrap().clone()
        } else {
            k.hostname.lock().unwrap().clone()
        }
    };
    let gen: GenFn = Arc::new(move || {
        let k = wk.upgrade().ok_or(Errno::ENOENT)?;
        let mut v = slot(&k);
        v.push(b'\n');
        Ok(v)
    });
    let write: WriteFn = Arc::new(move |buf: &[u8]| {
        let k = wk2.upgrade().ok_or(Errno::ENOENT)?;
        let v = buf.strip_suffix(b"\n").unwrap_or(buf);
        if v.len() > 64 {
            return Err(Errno::EINVAL);
        }
        let target = if domain { &k.domainname } else { &k.hostname };
        *target.lock().unwrap() = v.to_vec();
        Ok(())
    });
    let mut g = GenInode::new(path_ino(&format!("proc:/sys/kernel/{name}")), 0o644, gen).not_seq();
    g.write = Some(write);
    (name.to_string(), Node::File(Arc::new(g)))
}

/// net/ipv4/tcp_syn_retries: the reader's network namespace's stack's,
/// read and written as Linux's (1 to 127, else EINVAL).
fn syn_retries(net: Option<&Arc<NetNs>>) -> (String, Node) {
    let wn = net.map(Arc::downgrade).unwrap_or_default();
    let wn2 = wn.clone();
    let gen: GenFn = Arc::new(move || {
        let n = wn.upgrade().ok_or(Errno::ENOENT)?;
        Ok(format!("{}\n", n.stack.tcp_syn_retries()).into_bytes())
    });
    let write: WriteFn = Arc::new(move |buf: &[u8]| {
        let n = wn2.upgrade().ok_or(Errno::ENOENT)?;
        let text = std::str::from_utf8(buf).map_err(|_| Errno::EINVAL)?;
        let v: i64 = text.trim().parse().map_err(|_| Errno::EINVAL)?;
        n.stack
            .set_tcp_syn_retries(v)
            .map_err(crate::net::inet::errno)
    });
    let ino = path_ino("proc:/sys/net/ipv4/tcp_syn_retries");
    let mut g = GenInode::new(ino, 0o644, gen).not_seq();
    g.write = Some(write);
    ("tcp_syn_retries".to_string(), Node::File(Arc::new(g)))
}

/// fs/aio-nr (the events of every AIO context, read-only) and
/// fs/aio-max-nr (their limit, written as Linux's proc_doulongvec_minmax:
/// a decimal number, EINVAL otherwise).
fn aio_count(k: Option<&Arc<Kernel>>, name: &str, writable: bool) -> (String, Node) {
    let wk = k.map(Arc::downgrade).unwrap_or_default();
    let ww = wk.clone();
    let gen: GenFn = Arc::new(move || {
        let k = wk.upgrade().ok_or(Errno::ENOENT)?;
        let l = k.aio_limits.lock().unwrap();
        Ok(format!("{}\n", if writable { l.max } else { l.nr }).into_bytes())
    });
    let mode = if writable { 0o644 } else { 0o444 };
    let mut g = GenInode::new(path_ino(&format!("proc:/sys/fs/{name}")), mode, gen).not_seq();
    if writable {
        let write: WriteFn = Arc::new(move |buf: &[u8]| {
            let k = ww.upgrade().ok_or(Errno::ENOENT)?;
            let v: u64 = std::str::from_utf8(buf)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or(Errno::EINVAL)?;
            k.aio_limits.lock().unwrap().max = v;
            Ok(())
        });
        g.write = Some(write);
    }
    (name.to_string(), Node::File(Arc::new(g)))
}

fn sys_tree(
    state: &Arc<ProcState>,
    k: Option<&Arc<Kernel>>,
    ns: Option<&Arc<Namespaces>>,
) -> Vec<(String, Node)> {
    let uts = ns.map(|n| &n.uts);
    let uuid: GenFn = Arc::new(|| Ok(format!("{}\n", super::random_uuid()).into_bytes()));
    let random = Node::dir(vec![
        fixed("kernel/random", "boot_id", &state.boot_id),
        fixed("kernel/random", "entropy_avail", "256"),
        fixed("kernel/random", "poolsize", "256"),
        (
            "uuid".into(),
            Node::File(Arc::new(
                GenInode::new(path_ino("proc:/sys/kernel/random/uuid"), 0o444, uuid).not_seq(),
            )),
        ),
    ]);
    let mut kernel = vec![
        fixed("kernel", "cap_last_cap", &CAP_LAST_CAP.to_string()),
        uts_name(uts, "domainname", true),
        uts_name(uts, "hostname", false),
        fixed("kernel", "msgmax", &MSGMAX.to_string()),
        fixed("kernel", "msgmnb", &MSGMNB.to_string()),
        fixed("kernel", "msgmni", &MSGMNI.to_string()),
        fixed("kernel", "ngroups_max", "65536"),
        fixed("kernel", "osrelease", RELEASE),
        fixed("kernel", "ostype", "Linux"),
        fixed("kernel", "overflowgid", "65534"),
        fixed("kernel", "overflowuid", "65534"),
        fixed("kernel", "pid_max", "4194304"),
        ("random".into(), random),
        // SEMMSL, SEMMNS, SEMOPM, SEMMNI: the limits semget and semop
        // apply (fixed: writing them is not supported).
        fixed(
            "kernel",
            "sem",
            &format!("{SEMMSL}\t{SEMMNS}\t{SEMOPM}\t{SEMMNI}"),
        ),
        fixed("kernel", "threads-max", "1048576"),
        fixed("kernel", "version", VERSION),
    ];
    kernel.extend(super::sysvipc::shm_sysctls(ns.map(|n| &n.ipc)));
    kernel.sort_by(|a, b| a.0.cmp(&b.0));
    let kernel = Node::dir(kernel);
    let vm = Node::dir(vec![
        fixed("vm", "max_map_count", "65530"),
        // The lowest address the loader and mmap hand out (mm::Layout).
        fixed("vm", "mmap_min_addr", "65536"),
        fixed("vm", "overcommit_memory", "0"),
        fixed("vm", "overcommit_ratio", "50"),
        fixed(
            "vm",
            "unprivileged_userfaultfd",
            if crate::fsimpl::userfaultfd::UNPRIVILEGED_USERFAULTFD {
                "1"
            } else {
                "0"
            },
        ),
    ]);
    // POSIX message queue limits (fixed: writing them is not supported).
    let mqueue = {
        use crate::kernel::ipc::mqueue as mq;
        Node::dir(vec![
            fixed("fs/mqueue", "msg_default", &mq::MSG_DEFAULT.to_string()),
            fixed("fs/mqueue", "msg_max", &mq::MSG_MAX.to_string()),
            fixed(
                "fs/mqueue",
                "msgsize_default",
                &mq::MSGSIZE_DEFAULT.to_string(),
            ),
            fixed("fs/mqueue", "msgsize_max", &mq::MSGSIZE_MAX.to_string()),
            fixed("fs/mqueue", "queues_max", &mq::QUEUES_MAX.to_string()),
        ])
    };
    let fs = Node::dir(vec![
        aio_count(k, "aio-max-nr", true),
        aio_count(k, "aio-nr", false),
        fixed("fs", "file-max", "9223372036854775807"),
        ("mqueue".into(), mqueue),
        fixed("fs", "nr_open", "1048576"),
        fixed("fs", "pipe-max-size", "1048576"),
    ]);
    let net = Node::dir(vec![
        (
            "core".into(),
            Node::dir(vec![fixed("net/core", "somaxconn", "4096")]),
        ),
        (
            "ipv4".into(),
            Node::dir(vec![syn_retries(ns.map(|n| &n.net))]),
        ),
    ]);
    vec![
        ("fs".into(), fs),
        ("kernel".into(), kernel),
        ("net".into(), net),
        ("vm".into(), vm),
    ]
}
