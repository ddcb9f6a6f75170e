//! The contents of /proc/PID/* and /proc/PID/task/TID/*: status, stat,
//! statm, maps, smaps, cmdline, environ, auxv, limits, comm ...
//!
//! Approximations (documented where they are made):
//! * State: `Z` for a zombie, `t` in a ptrace-stop, `T` while the group
//!   is stopped, `S` while the task sleeps in the Sentry (Task::block: a
//!   blocking call, a wait, a sleep), `R` otherwise (running application
//!   code or a call).
//! * VmRSS is the populated pages of the task's memory-file ranges (file
//!   cache pages a mapping borrows included); VmHWM is its peak (`mm/
//!   rss.rs`); VmPeak is the current size.
//! * Voluntary context switches count the task's sleeps; involuntary
//!   ones, fault counts and system time are 0.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::target::{Snap, Target};
use super::{GenFn, GenInode, WriteFn};
use crate::errno::Errno;
use crate::kernel::signal::NSIG;
use crate::kernel::ThreadGroup;
use crate::mm::{MemoryManager, Vma, VmaKind, PAGE_SIZE};

/// Clock ticks per second of the times in stat (USER_HZ).
const HZ: u64 = 100;

/// Most bytes of another process's memory one cmdline or environ read
/// copies (Linux has no cap, but reads it a page at a time; a hostile
/// process must not make the Sentry allocate its whole stack).
const MAX_ARGS_READ: u64 = 128 * 1024;

pub(super) fn file_of(t: &Target, name: &str) -> Result<GenInode, Errno> {
    let t2 = t.clone();
    let simple = |text: &'static str| -> GenFn { Arc::new(move || Ok(text.as_bytes().to_vec())) };
    Ok(match name {
        "status" => t.file(name, 0o444, Arc::new(move || status(&t2))),
        "stat" => t.file(name, 0o444, Arc::new(move || stat(&t2))),
        "statm" => t.file(name, 0o444, Arc::new(move || statm(&t2))),
        "maps" => t.file(name, 0o444, Arc::new(move || maps(&t2, false))),
        "smaps" => t.file(name, 0o444, Arc::new(move || maps(&t2, true))),
        "cmdline" => t.file(
            name,
            0o444,
            Arc::new(move || args_area(&t2, |i| (i.arg_start, i.arg_end), true)),
        ),
        "environ" => t.file(
            name,
            0o400,
            Arc::new(move || args_area(&t2, |i| (i.env_start, i.env_end), false)),
        ),
        "auxv" => t.file(name, 0o400, Arc::new(move || auxv(&t2))),
        "limits" => t.file(name, 0o444, Arc::new(move || limits(&t2))),
        "timers" => t.file(name, 0o444, Arc::new(move || posix_timers(&t2))),
        "mounts" | "mountinfo" => {
            let info = name == "mountinfo";
            t.file(
                name,
                0o444,
                Arc::new(move || {
                    // The target's mount namespace's table (the table
                    // this procfs was made over when no task is there).
                    let vfs: Arc<crate::vfs::Vfs> = match t2.namespaces() {
                        Ok(ns) => (*ns.mnt).clone(),
                        Err(_) => t2.state.vfs.upgrade().ok_or(Errno::ENOENT)?,
                    };
                    Ok(if info {
                        super::mountinfo_text(&vfs)
                    } else {
                        super::mounts_text(&vfs)
                    })
                }),
            )
        }
        "comm" => {
            let mut g = t.file(
                name,
                0o644,
                Arc::new(move || {
                    let s = t2.snap()?;
                    Ok(comm_line(&s))
                }),
            );
            let t3 = t.clone();
            let w: WriteFn = Arc::new(move |buf: &[u8]| {
                let task = t3.snap()?.task.ok_or(Errno::ESRCH)?;
                // As Linux: at most 15 bytes, up to a NUL; a newline is
                // kept (`echo x > comm` names the task "x\n").
                let name: Vec<u8> = buf.iter().take(15).take_while(|b| **b != 0).copied().collect();
                *task.comm.lock().unwrap() = name;
                Ok(())
            });
            g.write = Some(w);
            g
        }
        "oom_score_adj" | "oom_adj" => {
            let legacy = name == "oom_adj";
            let mut g = t.file(
                name,
                0o644,
                Arc::new(move || {
                    let v = t2.state.oom_score_adj(&t2.tg()?);
                    // oom_adj is the old -17..15 scale.
                    let v = if legacy { v * 17 / 1000 } else { v };
                    Ok(format!("{v}\n").into_bytes())
                }),
            );
            let t3 = t.clone();
            let w: WriteFn = Arc::new(move |buf: &[u8]| {
                let v = parse_int(buf).ok_or(Errno::EINVAL)?;
                let v = if legacy {
                    if !(-17..=15).contains(&v) {
                        return Err(Errno::EINVAL);
                    }
                    if v == 15 {
                        1000
                    } else {
                        v * 1000 / 17
                    }
                } else {
                    if !(-1000..=1000).contains(&v) {
                        return Err(Errno::EINVAL);
                    }
                    v
                };
                t3.state.set_oom_score_adj(&t3.tg()?, v);
                Ok(())
            });
            g.write = Some(w);
            g
        }
        "oom_score" => t.file(
            name,
            0o444,
            Arc::new(move || {
                let adj = t2.state.oom_score_adj(&t2.tg()?);
                Ok(format!("{}\n", adj.clamp(0, 1000)).into_bytes())
            }),
        ),
        "cgroup" => t.file(name, 0o444, simple("0::/\n")),
        "loginuid" | "sessionid" => t.file(name, 0o444, simple("4294967295\n")),
        "uid_map" | "gid_map" | "setgroups" => super::userns::file(t, name)?,
        "wchan" => t.file(name, 0o444, simple("0")),
        "personality" => t.file(
            name,
            0o400,
            Arc::new(move || {
                let task = t2.snap()?.task.ok_or(Errno::ESRCH)?;
                let p = task.personality.load(Ordering::Relaxed);
                Ok(format!("{p:08x}\n").into_bytes())
            }),
        ),
        "io" => t.file(
            name,
            0o400,
            simple("rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"),
        ),
        "sched" => t.file(
            name,
            0o444,
            Arc::new(move || {
                let s = t2.snap()?;
                let name = comm_line(&s);
                let name = String::from_utf8_lossy(&name);
                let tid = t2.nr(s.task.as_ref().map_or(s.tg.tgid, |t| t.tid));
                Ok(format!(
                    "{} ({tid}, #threads: {})\n{}\n",
                    name.trim_end_matches('\n'),
                    s.tids.len(),
                    "-".repeat(59)
                )
                .into_bytes())
            }),
        ),
        "schedstat" => t.file(
            name,
            0o444,
            Arc::new(move || {
                let s = t2.snap()?;
                let ns: u64 = match &s.task {
                    Some(t) if t2.tid.is_some() => t.utime_ns.load(Ordering::Relaxed),
                    _ => group_utime_ns(&s.tg),
                };
                Ok(format!("{ns} 0 0\n").into_bytes())
            }),
        ),
        _ => return Err(Errno::ENOENT),
    })
}

fn parse_int(buf: &[u8]) -> Option<i32> {
    std::str::from_utf8(buf).ok()?.trim().parse().ok()
}

/// The task's name and a newline; a zombie's is its last task's.
fn comm_line(s: &Snap) -> Vec<u8> {
    let mut v = match &s.task {
        Some(t) => t.comm.lock().unwrap().clone(),
        None => s.tg.inner.lock().unwrap().exit_comm.clone(),
    };
    v.push(b'\n');
    v
}

fn comm_string(s: &Snap) -> String {
    let mut v = comm_line(s);
    v.pop();
    String::from_utf8_lossy(&v).into_owned()
}

fn group_utime_ns(tg: &ThreadGroup) -> u64 {
    tg.inner
        .lock()
        .unwrap()
        .tasks
        .iter()
        .map(|t| t.utime_ns.load(Ordering::Relaxed))
        .fold(0u64, u64::saturating_add)
}

/// The one-letter state and its word, as status shows it.
fn state(t: &Target, s: &Snap) -> (char, &'static str) {
    // A tracer (ltrace) reads this to know its tracee is stopped.
    if s.task.as_ref().is_some_and(|h| h.ptrace.in_stop()) {
        return ('t', "tracing stop");
    }
    let g = s.tg.inner.lock().unwrap();
    if s.task.is_none() || g.exit.is_some() {
        return ('Z', "zombie");
    }
    if g.stopped.is_some() {
        return ('T', "stopped");
    }
    drop(g);
    // The task that reads is running; another is sleeping while it waits
    // in the Sentry (Task::block) and running otherwise (in application
    // code or in a call that does not block).
    let tid = s.task.as_ref().map(|x| x.tid);
    let looking = match (t.looker, t.tid) {
        (Some(me), Some(_)) => tid == Some(me),
        (Some(me), None) => s.tids.contains(&me),
        (None, _) => false,
    };
    let asleep = s
        .task
        .as_ref()
        .is_some_and(|x| x.sleeping.load(Ordering::Relaxed));
    if looking || !asleep {
        ('R', "running")
    } else {
        ('S', "sleeping")
    }
}

/// Signal masks as status shows them: pending (thread), pending
/// (shared), blocked, ignored, caught.
fn sig_masks(s: &Snap) -> [u64; 5] {
    let shared = s.tg.inner.lock().unwrap().pending.set;
    let (pnd, blk) = match &s.task {
        Some(t) => {
            let sg = t.sig.lock().unwrap();
            (sg.pending.set, sg.mask)
        }
        None => (0, 0),
    };
    let (mut ign, mut cgt) = (0u64, 0u64);
    let acts = s.tg.actions.lock().unwrap();
    for (i, a) in acts.iter().enumerate().take(NSIG) {
        let b = 1u64 << i;
        if a.handler == libc::SIG_IGN as u64 {
            ign |= b;
        } else if a.handler != libc::SIG_DFL as u64 {
            cgt |= b;
        }
    }
    [pnd, shared, blk, ign, cgt]
}

/// Memory figures in bytes, from the VMAs.
#[derive(Default)]
struct VmStats {
    size: u64,
    rss: u64,
    rss_file: u64,
    data: u64,
    stack: u64,
    exe: u64,
    lib: u64,
}

/// Bytes of `v` that hold pages in the memory file.
fn vma_rss(mm: &MemoryManager, v: &Vma) -> u64 {
    mm.usage(v).0
}

/// The (dev, ino) of the program: the lowest file mapping.
fn exe_id(vmas: &[Vma]) -> Option<(u64, u64)> {
    vmas.iter().find_map(|v| match &v.kind {
        VmaKind::File { dev, ino, .. } => Some((*dev, *ino)),
        _ => None,
    })
}

fn vm_stats(mm: &MemoryManager) -> VmStats {
    let vmas = mm.vmas();
    let exe = exe_id(&vmas);
    let mut s = VmStats::default();
    for v in &vmas {
        let len = v.end - v.start;
        s.size += len;
        let rss = vma_rss(mm, v);
        s.rss += rss;
        match &v.kind {
            VmaKind::File { dev, ino, .. } => {
                s.rss_file += rss;
                if v.prot & libc::PROT_EXEC != 0 {
                    if Some((*dev, *ino)) == exe {
                        s.exe += len;
                    } else {
                        s.lib += len;
                    }
                }
            }
            VmaKind::Stack => s.stack += len,
            VmaKind::Vdso => {}
            VmaKind::Anon | VmaKind::Heap => {
                if !v.shared && v.prot & libc::PROT_WRITE != 0 {
                    s.data += len;
                }
            }
        }
    }
    s
}

fn kb(bytes: u64) -> String {
    format!("{:8} kB", bytes / 1024)
}

fn status(t: &Target) -> Result<Vec<u8>, Errno> {
    let s = t.snap()?;
    let k = t.kernel()?;
    let (st, word) = state(t, &s);
    let (mm, fds, fs) = t.view();
    let (ppid, pgid_k, sid_k) = {
        let g = s.tg.inner.lock().unwrap();
        let ppid = g
            .parent
            .as_ref()
            .and_then(Weak::upgrade)
            .map_or(0, |p| t.nr(p.tgid));
        (ppid, g.pgid, g.sid)
    };
    let creds = s
        .task
        .as_ref()
        .map(|t| t.creds.lock().unwrap().clone())
        .unwrap_or_default();
    let ktid = t.tid.unwrap_or(s.tg.tgid);
    let tid = t.nr(ktid);
    // NStgid, NSpid ...: the ids from the procfs's namespace down to the
    // task's own.
    let ns = t.pidns()?;
    let ids = |kid: i32| {
        let v = crate::kernel::namespaces::pid::ids_from(&ns, &s.tg.pidns, kid);
        let v: Vec<String> = v.iter().map(i32::to_string).collect();
        v.join("\t")
    };
    let mut o = String::new();
    o += &format!("Name:\t{}\n", comm_string(&s));
    if let Some(fs) = &fs {
        o += &format!("Umask:\t{:04o}\n", fs.umask());
    }
    o += &format!("State:\t{st} ({word})\n");
    o += &format!(
        "Tgid:\t{}\nNgid:\t0\nPid:\t{tid}\nPPid:\t{ppid}\nTracerPid:\t{}\n",
        t.nr(s.tg.tgid),
        t.nr(s.task.as_ref().map(|h| h.ptrace.tracer_pid()).unwrap_or(0))
    );
    o += &format!(
        "Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\n",
        creds.uid,
        creds.euid,
        creds.suid,
        creds.fsuid,
        creds.gid,
        creds.egid,
        creds.sgid,
        creds.fsgid
    );
    let fdsize = fds.as_ref().map_or(0, |f| {
        let top = f.fds().last().map_or(0, |x| *x as usize + 1);
        top.next_power_of_two().max(64)
    });
    o += &format!("FDSize:\t{fdsize}\nGroups:\t");
    for g in &creds.groups {
        o += &format!("{g} ");
    }
    o += "\n";
    o += &format!(
        "NStgid:\t{}\nNSpid:\t{}\nNSpgid:\t{}\nNSsid:\t{}\n",
        ids(s.tg.tgid),
        ids(ktid),
        ids(pgid_k),
        ids(sid_k)
    );
    if let Some(mm) = &mm {
        let v = vm_stats(mm);
        o += &format!("VmPeak:\t{}\nVmSize:\t{}\n", kb(v.size), kb(v.size));
        o += &format!("VmLck:\t{}\nVmPin:\t{}\n", kb(0), kb(0));
        let hwm = mm.hiwater_with(v.rss);
        o += &format!("VmHWM:\t{}\nVmRSS:\t{}\n", kb(hwm), kb(v.rss));
        o += &format!(
            "RssAnon:\t{}\nRssFile:\t{}\nRssShmem:\t{}\n",
            kb(v.rss - v.rss_file.min(v.rss)),
            kb(v.rss_file),
            kb(0)
        );
        o += &format!(
            "VmData:\t{}\nVmStk:\t{}\nVmExe:\t{}\nVmLib:\t{}\n",
            kb(v.data),
            kb(v.stack),
            kb(v.exe),
            kb(v.lib)
        );
        // Page tables: 8 bytes per resident page.
        o += &format!(
            "VmPTE:\t{}\nVmSwap:\t{}\nHugetlbPages:\t{}\n",
            kb(v.rss / PAGE_SIZE * 8),
            kb(0),
            kb(0)
        );
    }
    o += "CoreDumping:\t0\nTHP_enabled:\t1\n";
    let [pnd, shd, blk, ign, cgt] = sig_masks(&s);
    let queued = pnd.count_ones() + shd.count_ones();
    let sigq = s.tg.rlimit(libc::RLIMIT_SIGPENDING as usize).rlim_cur;
    o += &format!(
        "Threads:\t{}\nSigQ:\t{queued}/{sigq}\n",
        s.tids.len().max(1)
    );
    o += &format!(
        "SigPnd:\t{pnd:016x}\nShdPnd:\t{shd:016x}\nSigBlk:\t{blk:016x}\nSigIgn:\t{ign:016x}\nSigCgt:\t{cgt:016x}\n"
    );
    o += &format!(
        "CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n",
        creds.inheritable.0, creds.permitted.0, creds.effective.0, creds.bounding.0, creds.ambient.0
    );
    let (seccomp, filters) = s.task.as_ref().map_or((0, 0), |h| {
        (h.seccomp.mode().number(), h.seccomp.filter_count())
    });
    o += &format!(
        "NoNewPrivs:\t{}\nSeccomp:\t{seccomp}\nSeccomp_filters:\t{filters}\n",
        creds.no_new_privs as u8
    );
    o += "Speculation_Store_Bypass:\tthread vulnerable\n";
    let n = k.config.cpus.max(1);
    o += &format!(
        "Cpus_allowed:\t{}\nCpus_allowed_list:\t{}\n",
        cpu_mask(n),
        super::system::cpu_list(n)
    );
    o += "Mems_allowed:\t1\nMems_allowed_list:\t0\n";
    let nvcsw = s
        .task
        .as_ref()
        .map_or(0, |x| x.nvcsw.load(Ordering::Relaxed));
    o += &format!("voluntary_ctxt_switches:\t{nvcsw}\nnonvoluntary_ctxt_switches:\t0\n");
    Ok(o.into_bytes())
}

/// A hex CPU mask for `n` CPUs, in 32-bit groups as Linux prints it.
pub(crate) fn cpu_mask(n: usize) -> String {
    let words = n.div_ceil(32).max(1);
    let mut parts = Vec::with_capacity(words);
    for w in (0..words).rev() {
        let bits = n.saturating_sub(w * 32).min(32);
        let v: u64 = if bits == 32 {
            0xffff_ffff
        } else {
            (1u64 << bits) - 1
        };
        parts.push(if w == words - 1 {
            format!("{v:x}")
        } else {
            format!("{v:08x}")
        });
    }
    parts.join(",")
}

fn ticks_of_ns(ns: u64) -> u64 {
    ns / (1_000_000_000 / HZ)
}

fn stat(t: &Target) -> Result<Vec<u8>, Errno> {
    let s = t.snap()?;
    let k = t.kernel()?;
    let (st, _) = state(t, &s);
    let mm = t.mm();
    let (ppid, pgid, sid, cutime, exit_signal, exit) = {
        let g = s.tg.inner.lock().unwrap();
        let ppid = g
            .parent
            .as_ref()
            .and_then(Weak::upgrade)
            .map_or(0, |p| t.nr(p.tgid));
        (
            ppid,
            t.nr(g.pgid),
            t.nr(g.sid),
            g.children_utime,
            g.exit_signal,
            g.exit.unwrap_or(0),
        )
    };
    let tid = t.nr(t.tid.unwrap_or(s.tg.tgid));
    let utime_ns = match (&s.task, t.tid) {
        (Some(task), Some(_)) => task.utime_ns.load(Ordering::Relaxed),
        _ => group_utime_ns(&s.tg),
    };
    let start = ticks_of_ns(
        u64::try_from(s.tg.start.saturating_duration_since(k.boot).as_nanos()).unwrap_or(u64::MAX),
    );
    let [_, _, blk, ign, cgt] = sig_masks(&s);
    let pending = {
        let [p, sh, ..] = sig_masks(&s);
        p | sh
    };
    let rsslim = s.tg.rlimit(libc::RLIMIT_RSS as usize).rlim_cur;
    let (vsize, rss, code, stack, brk, args) = match &mm {
        Some(mm) => {
            let v = vm_stats(mm);
            let vmas = mm.vmas();
            let exe = exe_id(&vmas);
            let code = vmas
                .iter()
                .filter(|v| v.prot & libc::PROT_EXEC != 0)
                .filter(|v| match &v.kind {
                    VmaKind::File { dev, ino, .. } => Some((*dev, *ino)) == exe,
                    _ => false,
                })
                .fold(None, |acc: Option<(u64, u64)>, v| match acc {
                    None => Some((v.start, v.end)),
                    Some((a, b)) => Some((a.min(v.start), b.max(v.end))),
                })
                .unwrap_or((0, 0));
            let stack = vmas
                .iter()
                .find(|v| v.kind == VmaKind::Stack)
                .map_or(0, |v| v.end);
            let i = mm.inner();
            (
                v.size,
                v.rss / PAGE_SIZE,
                code,
                stack,
                i.brk_start,
                [i.arg_start, i.arg_end, i.env_start, i.env_end],
            )
        }
        None => (0, 0, (0, 0), 0, 0, [0; 4]),
    };
    let comm = comm_string(&s);
    let nthreads = s.tids.len().max(1);
    let flags = 0x0040_0000u32; // PF_RANDOMIZE, as Linux shows for user tasks
    let fields: Vec<String> = vec![
        st.to_string(),
        ppid.to_string(),
        pgid.to_string(),
        sid.to_string(),
        "0".into(),  // tty_nr: the sandbox's stdio is no terminal of its own
        "-1".into(), // tpgid
        flags.to_string(),
        "0".into(), // minflt
        "0".into(), // cminflt
        "0".into(), // majflt
        "0".into(), // cmajflt
        ticks_of_ns(utime_ns).to_string(),
        "0".into(), // stime
        ticks_of_ns(u64::try_from(cutime.as_nanos()).unwrap_or(u64::MAX)).to_string(),
        "0".into(),  // cstime
        "20".into(), // priority
        "0".into(),  // nice
        nthreads.to_string(),
        "0".into(), // itrealvalue
        start.to_string(),
        vsize.to_string(),
        rss.to_string(),
        rsslim.to_string(),
        code.0.to_string(),
        code.1.to_string(),
        args[0].min(stack).to_string(), // startstack: argv sits at the stack's top
        "0".into(),                     // kstkesp
        "0".into(),                     // kstkeip
        pending.to_string(),
        blk.to_string(),
        ign.to_string(),
        cgt.to_string(),
        "0".into(), // wchan
        "0".into(), // nswap
        "0".into(), // cnswap
        exit_signal.to_string(),
        "0".into(), // processor
        "0".into(), // rt_priority
        "0".into(), // policy
        "0".into(), // delayacct_blkio_ticks
        "0".into(), // guest_time
        "0".into(), // cguest_time
        "0".into(), // start_data
        "0".into(), // end_data
        brk.to_string(),
        args[0].to_string(),
        args[1].to_string(),
        args[2].to_string(),
        args[3].to_string(),
        exit.to_string(),
    ];
    Ok(format!("{tid} ({comm}) {}\n", fields.join(" ")).into_bytes())
}

fn statm(t: &Target) -> Result<Vec<u8>, Errno> {
    t.snap()?;
    let v = t.mm().map(|mm| vm_stats(&mm)).unwrap_or_default();
    let p = |b: u64| b / PAGE_SIZE;
    Ok(format!(
        "{} {} {} {} 0 {} 0\n",
        p(v.size),
        p(v.rss),
        p(v.rss_file),
        p(v.exe),
        p(v.data + v.stack)
    )
    .into_bytes())
}

/// One maps line without its newline.
fn map_line(v: &Vma) -> String {
    let perms = format!(
        "{}{}{}{}",
        if v.prot & libc::PROT_READ != 0 {
            'r'
        } else {
            '-'
        },
        if v.prot & libc::PROT_WRITE != 0 {
            'w'
        } else {
            '-'
        },
        if v.prot & libc::PROT_EXEC != 0 {
            'x'
        } else {
            '-'
        },
        if v.shared { 's' } else { 'p' },
    );
    let (off, dev, ino, name): (u64, u64, u64, Vec<u8>) = match &v.kind {
        VmaKind::File {
            path,
            offset,
            dev,
            ino,
        } => (*offset, *dev, *ino, path.clone()),
        VmaKind::Heap => (0, 0, 0, b"[heap]".to_vec()),
        VmaKind::Stack => (0, 0, 0, b"[stack]".to_vec()),
        VmaKind::Vdso => (0, 0, 0, b"[vdso]".to_vec()),
        VmaKind::Anon => (0, 0, 0, Vec::new()),
    };
    let mut line = format!(
        "{:08x}-{:08x} {perms} {off:08x} {:02x}:{:02x} {ino} ",
        v.start,
        v.end,
        libc::major(dev),
        libc::minor(dev)
    );
    if !name.is_empty() {
        // Names start at column 73, as Linux pads them.
        while line.len() < 73 {
            line.push(' ');
        }
        let name = String::from_utf8_lossy(&name);
        // A newline in a path would break the format: Linux escapes it.
        line += &name.replace('\n', "\\012");
    }
    line
}

fn smaps_entry(mm: &MemoryManager, v: &Vma) -> String {
    let size = v.end - v.start;
    let (rss, pss) = mm.usage(v);
    let anon = matches!(v.kind, VmaKind::Anon | VmaKind::Heap | VmaKind::Stack);
    let row = |name: &str, bytes: u64| format!("{:<16}{:8} kB\n", format!("{name}:"), bytes / 1024);
    let mut o = String::new();
    o += &row("Size", size);
    o += &row("KernelPageSize", PAGE_SIZE);
    o += &row("MMUPageSize", PAGE_SIZE);
    o += &row("Rss", rss);
    o += &row("Pss", pss);
    o += &row("Pss_Dirty", if anon { pss } else { 0 });
    o += &row("Shared_Clean", 0);
    o += &row("Shared_Dirty", 0);
    o += &row("Private_Clean", if anon { 0 } else { rss });
    o += &row("Private_Dirty", if anon { rss } else { 0 });
    o += &row("Referenced", rss);
    o += &row("Anonymous", if anon { rss } else { 0 });
    for n in [
        "KSM",
        "LazyFree",
        "AnonHugePages",
        "ShmemPmdMapped",
        "FilePmdMapped",
        "Shared_Hugetlb",
        "Private_Hugetlb",
        "Swap",
        "SwapPss",
        "Locked",
    ] {
        o += &row(n, 0);
    }
    o += &format!("{:<16}{:8}\n", "THPeligible:", 0);
    let mut flags = String::from("VmFlags:");
    for (on, f) in [
        (v.prot & libc::PROT_READ != 0, "rd"),
        (v.prot & libc::PROT_WRITE != 0, "wr"),
        (v.prot & libc::PROT_EXEC != 0, "ex"),
        (v.shared, "sh"),
        (true, "mr"),
        (v.may_write, "mw"),
        (true, "me"),
        (v.shared, "ms"),
        (v.growsdown, "gd"),
        (anon, "ac"),
    ] {
        if on {
            flags.push(' ');
            flags += f;
        }
    }
    o += &flags;
    o += " \n";
    o
}

fn maps(t: &Target, smaps: bool) -> Result<Vec<u8>, Errno> {
    t.snap()?;
    let Some(mm) = t.mm() else {
        return Ok(Vec::new());
    };
    let mut o = String::new();
    for v in mm.vmas() {
        o += &map_line(&v);
        o.push('\n');
        if smaps {
            o += &smaps_entry(&mm, &v);
        }
    }
    Ok(o.into_bytes())
}

/// Reads `[start, end)` of `mm` a page at a time, at most `MAX_ARGS_READ`
/// bytes, stopping at the first page that cannot be read.
fn read_area(mm: &MemoryManager, start: u64, end: u64) -> Vec<u8> {
    let end = end.min(start.saturating_add(MAX_ARGS_READ));
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let n = (PAGE_SIZE - pos % PAGE_SIZE).min(end - pos);
        let mut buf = vec![0u8; n as usize];
        if mm.read(pos, &mut buf).is_err() {
            break;
        }
        out.extend_from_slice(&buf);
        pos += n;
    }
    out
}

/// cmdline and environ: the bytes the loader put on the stack.
fn args_area(
    t: &Target,
    range: impl Fn(&crate::mm::Inner) -> (u64, u64),
    cmdline: bool,
) -> Result<Vec<u8>, Errno> {
    t.snap()?;
    let Some(mm) = t.mm() else {
        return Ok(Vec::new());
    };
    let (start, end) = range(&mm.inner());
    if end <= start {
        return Ok(Vec::new());
    }
    let mut data = read_area(&mm, start, end);
    if cmdline && data.last().is_some_and(|b| *b != 0) {
        // The program rewrote its arguments (setproctitle) without a
        // final NUL: Linux shows them as one string up to the first NUL.
        if let Some(i) = data.iter().position(|b| *b == 0) {
            data.truncate(i);
        }
    }
    Ok(data)
}

fn auxv(t: &Target) -> Result<Vec<u8>, Errno> {
    t.snap()?;
    let Some(mm) = t.mm() else {
        return Ok(Vec::new());
    };
    let aux = mm.inner().auxv.clone();
    let mut out = Vec::with_capacity((aux.len() + 1) * 16);
    for (k, v) in &aux {
        out.extend_from_slice(&k.to_ne_bytes());
        out.extend_from_slice(&v.to_ne_bytes());
    }
    if aux.last().is_none_or(|(k, _)| *k != libc::AT_NULL) {
        out.extend_from_slice(&[0u8; 16]);
    }
    Ok(out)
}

/// Names and units of the rlimits, in RLIMIT_* order, as Linux prints them.
const LIMITS: [(&str, &str); 16] = [
    ("Max cpu time", "seconds"),
    ("Max file size", "bytes"),
    ("Max data size", "bytes"),
    ("Max stack size", "bytes"),
    ("Max core file size", "bytes"),
    ("Max resident set", "bytes"),
    ("Max processes", "processes"),
    ("Max open files", "files"),
    ("Max locked memory", "bytes"),
    ("Max address space", "bytes"),
    ("Max file locks", "locks"),
    ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"),
    ("Max nice priority", ""),
    ("Max realtime priority", ""),
    ("Max realtime timeout", "us"),
];

/// The process's POSIX timers, as Linux's show_timer prints them: the id,
/// the signal and its value (a pointer, in hex), how it notifies and whom
/// (pid, or tid with SIGEV_THREAD_ID), and the clock.
fn posix_timers(t: &Target) -> Result<Vec<u8>, Errno> {
    use crate::kernel::posix_timers::{Notify, PosixTimer};
    let tg = t.tg()?;
    let mut o = String::new();
    for timer in tg.posix_timers.list() {
        let Ok(timer) = timer.into_any().downcast::<PosixTimer>() else {
            continue;
        };
        let (signo, value, how, whom, id) = match &timer.notify {
            Notify::None { signo, value } => (*signo, *value, "none", "pid", tg.tgid),
            Notify::Signal {
                signo,
                value,
                thread: None,
            } => (*signo, *value, "signal", "pid", tg.tgid),
            Notify::Signal {
                signo,
                value,
                thread: Some(h),
            } => {
                let tid = h.upgrade().map(|h| h.tid).unwrap_or(0);
                (*signo, *value, "signal", "tid", tid)
            }
        };
        o += &format!(
            "ID: {}\nsignal: {signo}/{value:016x}\nnotify: {how}/{whom}.{id}\nClockID: {}\n",
            timer.id, timer.clockid
        );
    }
    Ok(o.into_bytes())
}

fn limits(t: &Target) -> Result<Vec<u8>, Errno> {
    let tg = t.tg()?;
    let mut o = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    let show = |v: u64| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    for (i, (name, unit)) in LIMITS.iter().enumerate() {
        let l = tg.rlimit(i);
        o += &format!(
            "{name:<25} {:<20} {:<20} ",
            show(l.rlim_cur),
            show(l.rlim_max)
        );
        if !unit.is_empty() {
            o += &format!("{unit:<10}");
        }
        o.push('\n');
    }
    Ok(o.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_masks_group_32_bits() {
        assert_eq!(cpu_mask(1), "1");
        assert_eq!(cpu_mask(2), "3");
        assert_eq!(cpu_mask(32), "ffffffff");
        assert_eq!(cpu_mask(33), "1,ffffffff");
    }

    #[test]
    fn map_lines_pad_names_to_column_73() {
        let file = crate::mm::MemoryFile::new().unwrap();
        let mem = crate::mm::MemRange::new(&file, PAGE_SIZE).unwrap();
        let mut v = Vma {
            start: 0x5555_0000_0000,
            end: 0x5555_0000_1000,
            prot: libc::PROT_READ | libc::PROT_EXEC,
            shared: false,
            growsdown: false,
            may_write: true,
            may_exec: true,
            borrowed: false,
            mem,
            mem_off: 0,
            kind: VmaKind::File {
                path: b"/usr/bin/cat".to_vec(),
                offset: 0x2000,
                dev: libc::makedev(0xfe, 0),
                ino: 247030,
            },
            attachment: None,
            source: None,
            policy: Default::default(),
            uffd: None,
        };
        assert_eq!(
            map_line(&v),
            "555500000000-555500001000 r-xp 00002000 fe:00 247030                     /usr/bin/cat"
        );
        v.kind = VmaKind::Anon;
        v.prot = libc::PROT_READ | libc::PROT_WRITE;
        assert_eq!(
            map_line(&v),
            "555500000000-555500001000 rw-p 00000000 00:00 0 "
        );
    }

    #[test]
    fn limits_table_matches_linux_layout() {
        let k = "Max nice priority";
        let line = format!("{k:<25} {:<20} {:<20} \n", "0", "0");
        assert_eq!(
            line,
            "Max nice priority         0                    0                    \n"
        );
    }
}
