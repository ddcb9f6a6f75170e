//! procfs and sysfs as programs see them: ps, top, /proc/self/*, the CPU
//! count through /sys. The sandbox has its own PID namespace, so only its
//! processes appear, and the first one is PID 1.

use tests::{compare, host_program, require, run_sandboxed, sandbox, Cmd};

/// (pid, ppid, comm) rows of `ps -eo pid,ppid,comm` output.
fn ps_rows(out: &str) -> Vec<(i32, i32, String)> {
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pid = f.next()?.parse().ok()?;
            let ppid = f.next()?.parse().ok()?;
            let comm = f.next()?.to_string();
            Some((pid, ppid, comm))
        })
        .collect()
}

#[test]
fn ps_lists_exactly_the_sandbox_processes_with_their_parents() {
    require!(sandbox());
    require!(host_program("/bin/ps", "procps"));
    let out = run_sandboxed(&["sh", "-c", "sleep 1 & ps -eo pid,ppid,comm"]);
    out.assert_success();
    let mut rows = ps_rows(&out.stdout);
    rows.sort();
    assert_eq!(rows.len(), 3, "{}", out.describe());
    assert_eq!(rows[0], (1, 0, "sh".to_string()), "{}", out.describe());
    let names: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    assert!(names.contains(&"sleep"), "{}", out.describe());
    assert!(names.contains(&"ps"), "{}", out.describe());
    assert!(rows.iter().skip(1).all(|r| r.1 == 1), "{}", out.describe());
}

#[test]
fn ps_aux_shows_the_sandbox_alone() {
    require!(sandbox());
    require!(host_program("/bin/ps", "procps"));
    let out = run_sandboxed(&["ps", "aux"]);
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.describe());
    assert!(lines[0].starts_with("USER"), "{}", out.describe());
    let f: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(f[0], "root", "{}", out.describe());
    assert_eq!(f[1], "1", "{}", out.describe());
    assert!(
        f[7].starts_with('R'),
        "ps sees itself running\n{}",
        out.describe()
    );
    assert!(lines[1].ends_with("ps aux"), "{}", out.describe());
    // VSZ and RSS are real figures.
    let vsz: u64 = f[4].parse().unwrap_or(0);
    let rss: u64 = f[5].parse().unwrap_or(0);
    assert!(vsz > 1000 && rss > 100 && rss < vsz, "{}", out.describe());
}

#[test]
fn top_batch_mode_runs_and_counts_the_tasks() {
    require!(sandbox());
    require!(host_program("/usr/bin/top", "procps"));
    let out = run_sandboxed(&["sh", "-c", "top -b -n1 | head -12"]);
    out.assert_success();
    assert!(out.stdout.starts_with("top - "), "{}", out.describe());
    assert!(
        out.stdout.contains("Tasks:   3 total"),
        "sh, top and head\n{}",
        out.describe()
    );
    assert!(out.stdout.contains("MiB Mem"), "{}", out.describe());
    assert!(!out.stderr.contains("libnuma"), "{}", out.describe());
}

#[test]
fn status_of_self_has_the_fields_tools_read() {
    require!(sandbox());
    let out = run_sandboxed(&["cat", "/proc/self/status"]);
    out.assert_success();
    for want in [
        "Name:\tcat\n",
        "State:\tR (running)\n",
        "Tgid:\t1\n",
        "Pid:\t1\n",
        "PPid:\t0\n",
        "TracerPid:\t0\n",
        "Uid:\t0\t0\t0\t0\n",
        "Gid:\t0\t0\t0\t0\n",
        "Threads:\t1\n",
        "SigBlk:\t0000000000000000\n",
        "NoNewPrivs:\t0\n",
        "Seccomp:\t0\n",
    ] {
        assert!(out.stdout.contains(want), "{want:?}\n{}", out.describe());
    }
    for prefix in [
        "Umask:\t",
        "VmSize:\t",
        "VmRSS:\t",
        "SigQ:\t",
        "CapEff:\t",
        "FDSize:\t",
    ] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(prefix)),
            "{prefix:?}\n{}",
            out.describe()
        );
    }
}

#[test]
fn ls_of_proc_self_fd_lists_the_open_descriptors() {
    require!(sandbox());
    let out = run_sandboxed(&["ls", "/proc/self/fd"]);
    out.assert_success();
    // 3 is the directory ls is reading.
    assert_eq!(out.stdout, "0\n1\n2\n3\n", "{}", out.describe());
    let out = run_sandboxed(&["ls", "-l", "/proc/self/fd/"]);
    out.assert_success();
    assert!(
        out.stdout.contains(" 3 -> /proc/1/fd"),
        "{}",
        out.describe()
    );
    assert!(out.stdout.contains(" 0 -> /dev/null"), "{}", out.describe());
}

#[test]
fn nproc_and_python_cpu_count_match_the_host() {
    require!(sandbox());
    compare(&["nproc"]);
    require!(host_program("/usr/bin/python3", "python3"));
    compare(&[
        "/usr/bin/python3",
        "-c",
        "import os; print(os.cpu_count(), len(os.sched_getaffinity(0)))",
    ]);
    compare(&["cat", "/sys/devices/system/cpu/online"]);
    compare(&["cat", "/sys/devices/system/cpu/possible"]);
}

#[test]
fn sysfs_is_small_and_read_only() {
    require!(sandbox());
    let out = run_sandboxed(&[
        "sh",
        "-c",
        "ls /sys/fs/cgroup | wc -l; cat /sys/kernel/mm/transparent_hugepage/enabled; \
         ls -d /sys/devices/system/cpu/cpu0; echo 1 > /sys/devices/system/cpu/online || echo refused",
    ]);
    assert_eq!(
        out.stdout,
        "0\nalways [madvise] never\n/sys/devices/system/cpu/cpu0\nrefused\n",
        "{}",
        out.describe()
    );
}

#[test]
fn maps_of_self_names_binary_libraries_heap_stack_and_vdso() {
    require!(sandbox());
    let out = run_sandboxed(&["cat", "/proc/self/maps"]);
    out.assert_success();
    for want in ["/usr/bin/cat", "/libc.so.6", "[heap]", "[stack]", "[vdso]"] {
        assert!(
            out.stdout.lines().any(|l| l.ends_with(want)),
            "{want}\n{}",
            out.describe()
        );
    }
    // Every line: start-end perms offset dev inode [path].
    for l in out.stdout.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert!(f.len() >= 5, "{l}");
        assert!(
            f[0].contains('-') && f[1].len() == 4 && f[3].contains(':'),
            "{l}"
        );
    }
}

#[test]
fn cmdline_of_self_is_argv() {
    require!(sandbox());
    compare(&["cat", "/proc/self/cmdline", "/dev/null"]);
    let (_, out) = compare(&[
        "sh",
        "-c",
        "sleep 2 & p=$!; sleep 0.3; tr '\\0' ' ' < /proc/$p/cmdline; echo; \
         readlink /proc/$p/exe >/dev/null && echo exe; \
         grep -c sleep /proc/$p/comm; kill $p",
    ]);
    assert_eq!(out.stdout, "sleep 2 \nexe\n1\n", "{}", out.describe());
}

#[test]
fn stat_of_self_has_52_fields() {
    require!(sandbox());
    let out = run_sandboxed(&["cat", "/proc/self/stat"]);
    out.assert_success();
    let line = out.stdout.trim_end();
    assert!(line.starts_with("1 (cat) R 0 1 1 "), "{}", out.describe());
    assert_eq!(line.split(' ').count(), 52, "{}", out.describe());
    let statm = run_sandboxed(&["cat", "/proc/self/statm"]);
    assert_eq!(
        statm.stdout.split_whitespace().count(),
        7,
        "{}",
        statm.describe()
    );
}

#[test]
fn comm_and_oom_score_adj_are_writable_and_checked() {
    require!(sandbox());
    let (_, out) = compare(&[
        "sh",
        "-c",
        "printf renamed > /proc/$$/comm; cat /proc/$$/comm; \
         echo 100 > /proc/$$/oom_score_adj; cat /proc/$$/oom_score_adj; \
         (echo 5000 > /proc/$$/oom_score_adj) 2>/dev/null || echo refused; \
         cat /proc/$$/oom_score_adj; echo 0 > /proc/$$/oom_score_adj",
    ]);
    assert_eq!(
        out.stdout,
        "renamed\n100\nrefused\n100\n",
        "{}",
        out.describe()
    );
}

#[test]
fn threads_appear_under_task() {
    require!(sandbox());
    require!(host_program("/usr/bin/python3", "python3"));
    let out = run_sandboxed(&[
        "/usr/bin/python3",
        "-c",
        "import threading, os\n\
         e = threading.Event()\n\
         ts = [threading.Thread(target=e.wait) for _ in range(3)]\n\
         [t.start() for t in ts]\n\
         print(len(os.listdir('/proc/self/task')))\n\
         s = open('/proc/self/status').read()\n\
         print([l for l in s.splitlines() if l.startswith('Threads:')][0])\n\
         e.set()",
    ]);
    out.assert_success();
    assert_eq!(out.stdout, "4\nThreads:\t4\n", "{}", out.describe());
}

#[test]
fn a_zombie_shows_as_defunct() {
    require!(sandbox());
    require!(host_program("/usr/bin/python3", "python3"));
    require!(host_program("/bin/ps", "procps"));
    let out = run_sandboxed(&[
        "/usr/bin/python3",
        "-c",
        "import os, time, subprocess\n\
         pid = os.fork()\n\
         if pid == 0: os._exit(3)\n\
         time.sleep(0.3)\n\
         print(open('/proc/%d/stat' % pid).read().split()[2], flush=True)\n\
         subprocess.run(['ps', '-o', 'stat=,args=', '-p', str(pid)])\n",
    ]);
    out.assert_success();
    assert_eq!(
        out.stdout,
        "Z\nZ    [python3] <defunct>\n",
        "{}",
        out.describe()
    );
}

#[test]
fn system_files_are_well_formed() {
    require!(sandbox());
    let out = run_sandboxed(&[
        "sh",
        "-c",
        "cat /proc/version; cat /proc/sys/kernel/osrelease /proc/sys/kernel/ostype; \
         grep -c ^processor /proc/cpuinfo; grep ^MemTotal /proc/meminfo | wc -l; \
         grep -c '^btime ' /proc/stat; wc -w < /proc/uptime; cut -d' ' -f1-3 /proc/loadavg; \
         grep -c proc /proc/filesystems; cat /proc/sys/kernel/pid_max; \
         grep -c -- '- sysfs sysfs' /proc/self/mountinfo; cat /proc/self/cgroup; \
         readlink /proc/self/ns/pid; cat /proc/sys/kernel/random/boot_id | wc -c",
    ]);
    out.assert_success();
    let cpus = Cmd::new(&["nproc"]).run_native().stdout;
    let want = format!(
        "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016\n4.4.0\nLinux\n{}1\n1\n2\n0.00 0.00 0.00\n1\n4194304\n1\n0::/\npid:[4026531836]\n37\n",
        cpus
    );
    assert_eq!(out.stdout, want, "{}", out.describe());
    let uname = run_sandboxed(&["uname", "-r"]);
    assert_eq!(uname.stdout, "4.4.0\n");
}

#[test]
fn hostname_is_readable_and_writable_through_proc_sys() {
    require!(sandbox());
    let out = run_sandboxed(&[
        "sh",
        "-c",
        "echo sandboxed > /proc/sys/kernel/hostname; hostname; cat /proc/sys/kernel/hostname",
    ]);
    out.assert_success();
    assert_eq!(out.stdout, "sandboxed\nsandboxed\n", "{}", out.describe());
}

#[test]
fn another_process_shows_its_state_and_descriptors() {
    require!(sandbox());
    require!(host_program("/bin/ps", "procps"));
    let out = run_sandboxed(&[
        "sh",
        "-c",
        "exec 5</dev/null; sleep 2 & p=$!; sleep 0.3; ps -o stat= -p $p; ls /proc/$p/fd; \
         grep -c '^pos:' /proc/$p/fdinfo/5; kill $p",
    ]);
    assert_eq!(out.stdout, "S\n0\n1\n2\n5\n1\n", "{}", out.describe());
}

/// Every file under /proc and /sys read, every link followed: nothing
/// hangs or brings the sandbox down (descriptors of `find` itself are
/// gone by the time `cat` looks, hence the errors allowed).
#[test]
fn reading_all_of_proc_and_sys_is_safe() {
    require!(sandbox());
    let out = run_sandboxed(&[
        "sh",
        "-c",
        "sleep 2 & find /proc /sys -type f -exec cat {} + >/dev/null 2>&1; \
         find -L /proc/self /proc/1 -maxdepth 1 >/dev/null 2>&1; \
         find /proc /sys | wc -l | tr -d ' '; kill $!",
    ]);
    out.assert_success();
    let n: usize = out.stdout.trim().parse().unwrap_or(0);
    assert!(n > 100, "{}", out.describe());
}

/// `unshare --pid --fork --mount-proc ps` (util-linux and procps from the
/// host root): ps runs as PID 1 of a new PID namespace and sees only
/// itself through the procfs unshare mounted there. Compared whole with
/// Linux: the default columns (PID, TTY `?` since there is no terminal,
/// TIME 00:00:00, CMD) and `ps -eo pid,ppid,user,tty,time,comm,args`;
/// nothing is masked. Natively this needs root (both namespaces).
#[test]
fn unshare_pid_fork_mount_proc_ps_shows_pid_1_alone_as_on_linux() {
    require!(host_program("/usr/bin/unshare", "util-linux"));
    require!(host_program("/bin/ps", "procps"));
    for ps in [
        vec!["ps"],
        vec!["ps", "-eo", "pid,ppid,user,tty,time,comm,args"],
    ] {
        let mut argv = vec!["unshare", "--pid", "--fork", "--mount-proc"];
        argv.extend(ps);
        let cmd = Cmd::new(&argv);
        let native = cmd.run_native();
        if native.status != 0 {
            eprintln!(
                "SKIPPED: unshare --pid needs root natively\n{}",
                native.describe()
            );
            assert!(std::env::var_os("CI").is_none(), "CI runs as root");
            return;
        }
        assert!(
            native.stdout.contains("\n      1 "),
            "{}",
            native.describe()
        );
        require!(sandbox());
        tests::assert_same(&native, &cmd.run_sandboxed());
    }
}
