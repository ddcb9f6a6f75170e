//! The C programs of tests/programs, built with gcc at test time, run
//! natively (they must pass there: each states a fact about Linux) and under
//! `runsc-rs do`; stdout and exit status must be the same.

use std::path::Path;
use std::time::Duration;

use tests::{
    assert_same, c_program, c_program_with_lib, liburing_example, require, run_sandboxed, sandbox,
    unique_name, Cmd,
};

/// Builds and runs `name` natively (must print PASS and exit 0), then in the
/// sandbox, and compares.
fn native_then_sandboxed(name: &str, args: &[&str], timeout: Duration) {
    native_then_sandboxed_with(name, args, &[], timeout)
}

/// [`native_then_sandboxed`] with global `runsc-rs` flags.
fn native_then_sandboxed_with(name: &str, args: &[&str], flags: &[&str], timeout: Duration) {
    let program = require!(c_program(name));
    compare_built(name, &program, args, flags, timeout);
}

/// [`native_then_sandboxed`] of a program already built.
fn compare_built(name: &str, program: &Path, args: &[&str], flags: &[&str], timeout: Duration) {
    let mut argv = vec![program.to_str().expect("utf-8 path")];
    argv.extend_from_slice(args);
    let cmd = Cmd::new(&argv).timeout(timeout).flags(flags);

    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "{name} fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}

const SHORT: Duration = Duration::from_secs(120);

/// Linux AIO by raw system calls and through Debian's libaio, whose
/// io_getevents takes events from the ring in user memory: the ring's
/// header and mapping (/[aio] in maps), PREAD/PWRITE/PREADV/PWRITEV/FSYNC
/// results, a failing read as an event, POLL waited for and cancelled
/// (EINPROGRESS, res 0), IOCB_FLAG_RESFD, aio-nr, no contexts in a fork
/// child, and the errnos of each call.
/// io_uring through liburing, compared with Linux: io_uring_setup's
/// sizes and errnos (CQSIZE, CLAMP), openat/write/fsync/statx/readv/read/
/// close/unlinkat through the ring, registered buffers and files, links
/// (a failure cancels the rest, a hard link does not), timeouts with a
/// time and a count, TIMEOUT_REMOVE, POLL_REMOVE and ASYNC_CANCEL, a poll
/// and a read completed by a child's write, link timeouts, a drain,
/// io_uring_wait_cqe_timeout, eventfd registration, a TCP echo (POLL_ADD on
/// the listener, ACCEPT, RECVMSG, SEND; CONNECT, SENDMSG linked to RECV in
/// the client), a CQ overflowed without loss, and a ring the application
/// scribbles over (bad SQ array entries dropped, a runaway tail, garbage
/// SQEs failing with EINVAL).
#[test]
fn io_uring_through_liburing_matches_linux() {
    let program = require!(c_program_with_lib("io_uring", "liburing.h", "uring"));
    compare_built("io_uring", &program, &[], &[], SHORT);
}

/// liburing's shipped examples, unmodified: io_uring-test reads a file
/// with READV (O_DIRECT), io_uring-cp and link-cp copy one (queued
/// READ/WRITE pairs; READ linked to WRITE), and the copies are compared.
#[test]
fn liburing_examples_read_and_copy_a_file_as_on_linux() {
    let test = require!(liburing_example("io_uring-test"));
    let cp = require!(liburing_example("io_uring-cp"));
    let link = require!(liburing_example("link-cp"));
    let script = format!(
        "set -e; d=$(mktemp -d); cd $d; \
         dd if=/dev/urandom of=src bs=1000 count=300 2>/dev/null; \
         {} src; {} src d1; cmp src d1 && echo io_uring-cp copied; \
         {} src d2; cmp src d2 && echo link-cp copied; cd /; rm -r $d",
        test.display(),
        cp.display(),
        link.display()
    );
    let cmd = Cmd::new(&["/bin/sh", "-c", &script]).timeout(SHORT);
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("link-cp copied\n"),
        "the examples fail natively\n{}",
        native.describe()
    );
    require!(sandbox());
    assert_same(&native, &cmd.run_sandboxed());
}

#[test]
fn linux_aio_by_syscalls_and_libaio_matches_linux() {
    let program = require!(c_program_with_lib("aio", "libaio.h", "aio"));
    compare_built("aio", &program, &[], &[], SHORT);
}

/// As root, each capability dropped in turn (capset in a forked child)
/// and the calls it guards tried: DAC_OVERRIDE/DAC_READ_SEARCH (open,
/// access, mkdir, rename, unlink, symlink, chdir, setxattr, chroot),
/// FOWNER, CHOWN, FSETID, SETUID/SETGID, KILL, SYS_ADMIN (sethostname,
/// mount, umount, trusted.*), SYS_CHROOT, MKNOD, NET_RAW,
/// NET_BIND_SERVICE, SYS_RESOURCE, SYS_NICE, IPC_LOCK, IPC_OWNER, SETPCAP;
/// then capget/capset's rules, the uid-change and execve
/// transformations, the bounding and ambient sets, securebits and
/// no_new_privs inherited by threads and children. The sandbox's own
/// network stack: under `do`'s default host network the host, not the
/// sandbox, refuses raw sockets and low ports.
#[test]
fn each_dropped_capability_refuses_the_calls_it_guards_as_on_linux() {
    native_then_sandboxed_with("caps", &[], &["--network=sandbox"], SHORT);
}

/// Each resource limit hit as on Linux: FSIZE (short write at the limit,
/// EFBIG and SIGXFSZ past it, truncate, fallocate, O_APPEND, death by
/// SIGXFSZ), DATA and AS (mmap, mremap, brk), MEMLOCK (mlock, mlockall,
/// MAP_LOCKED without CAP_IPC_LOCK), CPU (SIGXCPU at the soft limit,
/// SIGKILL at the hard one, death by SIGXCPU), NPROC (fork's EAGAIN for an
/// ordinary user), NOFILE (EMFILE at 10,000 and at 64), limits inherited
/// by fork, prlimit64 of another process.
#[test]
fn each_resource_limit_is_enforced_as_on_linux() {
    native_then_sandboxed("rlimits", &[], SHORT);
}

/// getpid, gettid, getppid, getuid, geteuid, getgid and getegid (the calls
/// the KVM platform answers without leaving the guest) against /proc, in
/// threads, in a forked child, after a reparent seen while spinning, after
/// raw setresuid/setresgid (the calling thread only), under a seccomp
/// filter denying getpid (one installed by another thread with TSYNC
/// included) and under a ptrace tracer: as Linux answers. Needs root.
#[test]
fn calls_answered_in_the_guest_answer_what_linux_answers() {
    native_then_sandboxed("guest_answers", &[], SHORT);
}

/// 8 threads x 100,000 mutex/condvar handoffs around a ring: 800,000 futex
/// wake-ups between threads. Natively ~13 s on a 2-vCPU VM, gVisor's ptrace
/// platform takes ~2 min; the limit leaves room for a slow CI machine.
#[test]
fn eight_threads_hand_a_condvar_token_around_800k_times() {
    native_then_sandboxed("threads_condvar", &[], Duration::from_secs(900));
}

/// Futex waits, signals with and without SA_RESTART, wait4/waitid on
/// exiting children, pipe reads and an epoll_wait whose set changes while
/// it sleeps, all at once: every wake-up arrives (issue 17's class of
/// hang). 1,000 rounds of each part.
#[test]
fn wake_ups_are_never_lost_among_futexes_signals_children_pipes_and_epoll() {
    native_then_sandboxed("wakeups", &["1000"], Duration::from_secs(600));
}

/// EPOLLET once per change, EPERM for files without poll (Go registers
/// every file it opens), a closed write end hanging up the reader of a
/// sleeping epoll_wait, a descriptor added during the sleep.
#[test]
fn epoll_edges_unpollable_files_and_changes_during_the_wait_match_linux() {
    native_then_sandboxed("epoll_edges", &[], SHORT);
}

/// epoll's ready list: of 1,000 descriptors only the written ones are
/// reported, level-triggered ones again while ready, more than maxevents
/// in turns; EPOLLONESHOT, EPOLLET, EPOLLWAKEUP and EPOLLEXCLUSIVE; an
/// outer epoll's sleeper and a poll() on an epoll woken by an inner
/// descriptor; closed descriptors dropped; two sleepers both woken.
#[test]
fn epoll_reports_from_a_ready_list_as_linux_does() {
    native_then_sandboxed("epoll_ready", &[], SHORT);
}

/// POSIX timers: SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE on the
/// wall, monotonic and boot clocks and on the process and thread CPU
/// clocks (fired in loops without syscalls), their siginfo, overruns
/// counted while the signal is blocked, gettime/settime/delete, none in a
/// fork child or after exec, glibc's SIGEV_THREAD; clock_nanosleep on the
/// process CPU clock waiting for CPU another thread burns; ITIMER_VIRTUAL;
/// RUSAGE_CHILDREN; adjtimex and clock_adjtime reads and refusals;
/// restart_syscall with nothing to restart; Linux's errnos.
#[test]
fn posix_timers_cpu_clocks_and_adjtimex_behave_as_on_linux() {
    native_then_sandboxed("posix_timers", &[], SHORT);
}

/// Timed calls with i64::MAX seconds (relative and absolute), negative
/// times and nanoseconds out of range: Linux's errnos, or the call's
/// normal end, and a sandbox that lives on (an overflowing deadline used
/// to panic the Sentry).
#[test]
fn timed_calls_with_extreme_times_answer_as_linux() {
    native_then_sandboxed("timed_extremes", &[], SHORT);
}

/// An ELF whose PT_LOAD lies near 2^64 kills only its own process, with
/// SIGSEGV, as on Linux (the loader's overflow used to panic the Sentry);
/// a wrong machine is refused with ENOEXEC.
#[test]
fn exec_of_an_unloadable_elf_kills_the_process_with_sigsegv_only() {
    native_then_sandboxed("exec_bad_elf", &[], SHORT);
}

/// Private memory is copy-on-write across fork: each side's stores
/// (its own and read(2)'s) stay its own, MAP_SHARED stays shared, the
/// parent's threads run and lock through 50 forks, madvise/mprotect/
/// mremap/munmap touch one copy, and smaps' Pss shows a 32 MiB region
/// shared (half in each) until written.
#[test]
fn fork_shares_private_memory_copy_on_write_and_keeps_shared_memory_shared() {
    native_then_sandboxed("cow_fork", &[], SHORT);
}

#[test]
fn fork_and_wait_report_exit_codes_signal_deaths_and_stops() {
    native_then_sandboxed("fork_wait", &[], SHORT);
}

#[test]
fn sigsegv_handler_sees_fault_address_and_code_and_longjmps_out() {
    native_then_sandboxed("sigsegv_handler", &[], SHORT);
}

#[test]
fn sigalrm_interrupts_nanosleep_with_eintr_and_the_time_left() {
    native_then_sandboxed("sigalrm_nanosleep", &[], SHORT);
}

#[test]
fn futex_wait_and_wake_work_between_processes_over_shared_memory() {
    native_then_sandboxed("futex_shared", &[], SHORT);
}

#[test]
fn mmap_munmap_mprotect_mremap_behave_as_on_linux() {
    native_then_sandboxed("mmap_semantics", &[], SHORT);
}

/// Private file mappings are read on first touch: the bytes of the file,
/// SIGBUS (and EFAULT for a system call) past its end, the bytes it gained
/// since, private stores, fork, MADV_DONTNEED reading the file again,
/// mremap growing into more of it, mprotect of untouched pages. A 320 MiB
/// host file made here (sparse, three marks) is mapped whole and only the
/// touched pages are read (the resident set stays small).
#[test]
fn private_file_mappings_are_read_on_first_touch_as_on_linux() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = std::env::temp_dir().join(unique_name("runsc-rs-lazy-map"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = dir.join("big");
    {
        let size: u64 = 320 << 20;
        let mut f = std::fs::File::create(&big).expect("big file");
        f.set_len(size).expect("set_len");
        for (at, mark) in [(0, b'A'), (size / 2, b'M'), (size - 1, b'Z')] {
            f.seek(SeekFrom::Start(at)).unwrap();
            f.write_all(&[mark]).unwrap();
        }
    }
    let (big_s, dir_s) = (big.to_str().unwrap(), dir.to_str().unwrap());
    native_then_sandboxed("lazy_file_map", &[big_s, dir_s], SHORT);
    let _ = std::fs::remove_dir_all(&dir);
}

/// userfaultfd(2) in MISSING mode against Linux: who may create one, the
/// UFFDIO_API handshake, UFFDIO_REGISTER's errors (EINVAL, EBUSY), a
/// handler thread serving faults of an anonymous region by UFFDIO_COPY and
/// by UFFDIO_ZEROPAGE (message address, flags, thread id), EEXIST, ENOENT
/// and a short COPY, DONTWAKE then UFFDIO_WAKE, read(2) into a registered
/// buffer waiting for the page (EFAULT with UFFD_USER_MODE_ONLY), poll and
/// EAGAIN, MADV_DONTNEED, UFFD_FEATURE_SIGBUS, fork, unregister and close,
/// and /dev/userfaultfd.
#[test]
fn userfaultfd_serves_missing_pages_as_on_linux() {
    native_then_sandboxed("userfaultfd", &[], SHORT);
}

/// Corners issue 22 names: O_TRUNC on a directory, a directory renamed
/// into itself or onto its ancestor (EINVAL and ENOTEMPTY before any other
/// check), anonymous MAP_SHARED_VALIDATE, lseek(SEEK_END) on a seq_file
/// (/proc/self/status) and on a sysctl, kill() with a thread's id, a
/// robust mutex whose owner thread died (EOWNERDEAD), a PI mutex.
#[test]
fn linux_corners_answer_as_linux() {
    native_then_sandboxed("linux_corners", &[], SHORT);
}

/// execve from a thread other than the leader, with the other threads
/// (the leader among them) asleep in pthread_join, FUTEX_WAIT, read() of
/// an empty pipe, nanosleep, or spinning: the new image runs alone under
/// the old pid (getpid == gettid, Threads: 1, one /proc/self/task entry,
/// the exec'ing thread's old tid gone), and the parent's waitpid sees only
/// its exit. A failed execve from a thread leaves the process running.
/// Once, this hung the sandbox.
#[test]
fn execve_from_a_thread_other_than_the_leader_takes_the_leaders_pid() {
    native_then_sandboxed("exec_thread", &[], SHORT);
}

/// PI futexes: PTHREAD_PRIO_INHERIT mutexes contended by 4 threads,
/// trylock, robust PI mutexes whose owner died before and during a wait
/// (EOWNERDEAD); the raw calls' owner word, FUTEX_WAITERS and
/// FUTEX_OWNER_DIED, EDEADLK, EPERM, ESRCH, EAGAIN, ETIMEDOUT on
/// CLOCK_REALTIME (LOCK_PI) and CLOCK_MONOTONIC (LOCK_PI2), ENOSYS for
/// LOCK_PI with FUTEX_CLOCK_REALTIME, the hand-over on unlock, and
/// FUTEX_WAIT_REQUEUE_PI / FUTEX_CMP_REQUEUE_PI.
#[test]
fn pi_futexes_hand_over_ownership_and_answer_as_linux() {
    native_then_sandboxed("pi_futex", &[], SHORT);
}

#[test]
fn execve_passes_argv_and_envp_to_the_new_image() {
    native_then_sandboxed("execve_args", &[], SHORT);
}

#[test]
fn tmp_file_reads_back_what_was_written() {
    native_then_sandboxed("tmp_file", &[], SHORT);
}

/// Files created under / and /etc inside the sandbox are readable there and
/// never reach the host (writes go to the Sentry's in-memory overlay); a
/// second sandbox starts from the untouched host root again.
#[test]
fn writes_under_root_stay_inside_the_sandbox() {
    require!(sandbox());
    let program = require!(c_program("root_write"));
    let name = unique_name("runsc-rs-root-write");
    let paths = [format!("/{name}"), format!("/etc/{name}")];
    let dir = format!("/{name}.dir");
    for p in paths.iter().chain([&dir]) {
        assert!(
            !Path::new(p).exists(),
            "{p} exists on the host before the test"
        );
    }

    let out = run_sandboxed(&[program.to_str().unwrap(), &paths[0], &paths[1]]);
    let leaked: Vec<&String> = paths
        .iter()
        .chain([&dir])
        .filter(|p| Path::new(p).exists())
        .collect();
    for p in &leaked {
        // Clean up the host before failing.
        let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir(p));
    }
    assert!(
        leaked.is_empty(),
        "sandbox writes reached the host: {leaked:?}\n{}",
        out.describe()
    );
    out.assert_success();
    for p in &paths {
        assert!(
            out.stdout.contains(&format!("{p}: OK\n")),
            "{}",
            out.describe()
        );
    }
    assert!(out.stdout.ends_with("PASS\n"), "{}", out.describe());

    let again = run_sandboxed(&[
        "/bin/sh",
        "-c",
        &format!("test -e {} || test -e {}; echo $?", paths[0], paths[1]),
    ]);
    assert_eq!(
        again.stdout,
        "1\n",
        "a new sandbox must not see an earlier sandbox's writes\n{}",
        again.describe()
    );
}

#[test]
fn sendfile_copy_file_range_splice_and_tee_move_bytes_between_descriptors() {
    native_then_sandboxed("splice_family", &[], SHORT);
}

/// openat2: open_how's size and flag checks, then RESOLVE_BENEATH,
/// IN_ROOT, NO_SYMLINKS, NO_MAGICLINKS, NO_XDEV and CACHED on a tree of
/// relative, absolute and escaping symlinks, /proc's magic links and the
/// mount under /proc.
#[test]
fn openat2_checks_open_how_and_keeps_each_resolve_restriction_as_on_linux() {
    native_then_sandboxed("openat2", &[], SHORT);
}

/// vmsplice both ways (the direction from the descriptor's open mode),
/// SPLICE_F_GIFT and SPLICE_F_NONBLOCK, EPIPE with SIGPIPE, end of file,
/// a waiting reader, and Linux's order of EINVAL, EBADF and EFAULT.
#[test]
fn vmsplice_moves_bytes_between_memory_and_pipes_as_on_linux() {
    native_then_sandboxed("vmsplice", &[], SHORT);
}

/// name_to_handle_at/open_by_handle_at on a tmpfs the program mounts:
/// EOVERFLOW with the size needed, handles opened again, ESTALE once the
/// file is gone but not while it is open, bad handles, EPERM without
/// CAP_DAC_READ_SEARCH, procfs EOPNOTSUPP but an id with AT_HANDLE_FID.
#[test]
fn file_handles_of_tmpfs_files_open_them_again_as_on_linux() {
    native_then_sandboxed("file_handles", &[], SHORT);
}

#[test]
fn fcntl_ofd_and_flock_locks_exclude_other_holders_and_go_on_close() {
    native_then_sandboxed("file_locks", &[], SHORT);
}

#[test]
fn eventfd_timerfd_and_epoll_report_counters_expirations_and_readiness() {
    native_then_sandboxed("event_fds", &[], SHORT);
}

#[test]
fn signalfd_reads_blocked_signals_as_records() {
    native_then_sandboxed("signalfd", &[], SHORT);
}

/// A `#!` script's interpreter gets the path execve was given (a
/// symlink's own, a relative one as written, /dev/fd/N/PATH under
/// execveat), not where it leads: Debian's /usr/bin/psql wrapper picks
/// its program from that name.
#[test]
fn scripts_are_named_by_the_path_execve_was_given() {
    native_then_sandboxed("script_names", &[], SHORT);
}

/// memfd_create's file, shared across fork, and its seals: each one's
/// refusals (EPERM), F_SEAL_WRITE's EBUSY while a writable shared mapping
/// lives, FUTURE_WRITE, MFD_NOEXEC_SEAL.
#[test]
fn memfd_create_gives_an_anonymous_shareable_file() {
    native_then_sandboxed("memfd", &[], SHORT);
}

/// SysV shared memory: shmget's keys, flags and errnos, shmat's addresses
/// and flags, stores shared across fork, the attach count through fork,
/// shmdt, exec and exit, IPC_RMID while attached (the key free at once,
/// the segment gone with its last detach), shmctl's stat, set and info
/// commands, /proc/sysvipc/shm, and a SHM_RDONLY attach whose stores
/// fault.
#[test]
fn sysv_shared_memory_is_shared_counted_and_removed_as_on_linux() {
    native_then_sandboxed("sysv_shm", &[], SHORT);
}

/// semget, semop (all or nothing, IPC_NOWAIT, waits other processes end,
/// SEM_UNDO at exit, EINTR, EIDRM), semtimedop and semctl.
#[test]
fn sysv_semaphores_block_undo_and_answer_as_on_linux() {
    native_then_sandboxed("sysv_sem", &[], SHORT);
}

/// POSIX message queues: mq_open's errnos and limits, priorities,
/// EMSGSIZE, O_NONBLOCK and timeouts on a full or empty queue, a sleeping
/// receiver in another process, mq_notify's signal (once, with its value,
/// ended by a close), poll and epoll, the mqueue filesystem (QSIZE lines,
/// listing, open(O_CREAT), unlink) and mq_unlink.
#[test]
fn posix_message_queues_pass_messages_by_priority_and_notify_as_on_linux() {
    native_then_sandboxed("posix_mq", &[], SHORT);
}

/// membarrier's commands, registrations (kept by fork, dropped by exec)
/// and errnos; mlock2; the
/// NUMA calls answered as on one node; protection keys as on a CPU
/// without them; remap_file_pages rearranging a shared file mapping.
#[test]
fn memory_barriers_numa_policies_pkeys_and_remap_file_pages_answer_as_linux() {
    native_then_sandboxed("mem_calls", &[], SHORT);
}

/// msgget, msgsnd and msgrcv by type, full queues, waits other processes
/// end, EIDRM on removal, msgctl.
#[test]
fn sysv_message_queues_pass_messages_by_type_as_on_linux() {
    native_then_sandboxed("sysv_msg", &[], SHORT);
}

#[test]
fn nice_values_and_affinity_are_kept_inherited_and_checked() {
    native_then_sandboxed("sched_attrs", &[], SHORT);
}

#[test]
fn dnotify_sends_sigio_for_the_events_asked_and_ends_as_linux_does() {
    native_then_sandboxed("dnotify", &[], SHORT);
}

/// AF_UNIX stream, datagram and seqpacket sockets: socketpair, path and
/// abstract names, SCM_RIGHTS, SCM_CREDENTIALS, SO_PEERCRED, shutdown,
/// EOF, EPIPE and SIGPIPE, timeouts, poll and epoll, and the errnos of
/// misuse.
#[test]
fn unix_sockets_match_linux() {
    native_then_sandboxed("unix_sockets", &[], SHORT);
}

/// AF_UNIX under load: 16 MiB through a stream in odd-sized pieces with
/// MSG_WAITALL at the end, and 200 connections from 4 processes to a
/// listener with a backlog of 2, served by a poll loop.
#[test]
fn unix_sockets_carry_bulk_data_and_many_connections() {
    native_then_sandboxed("unix_stress", &[], SHORT);
}

/// AF_INET and AF_INET6 over loopback: TCP echo of 1 MiB each way on
/// 127.0.0.1 and ::1, a v4 client of a dual-stack listener, non-blocking
/// connect with epoll, refused and reset connections, shutdown, UDP with
/// MSG_PEEK and MSG_TRUNC, options, SO_REUSEADDR over TIME_WAIT, the
/// errnos of misuse, and 1,000 concurrent connections to one listener.
#[test]
fn inet_sockets_match_linux() {
    // The sandbox's own stack (`do`'s default is host sockets: the test
    // below).
    let program = require!(c_program("inet_sockets"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(SHORT);
    let native = cmd.run_native();
    assert!(native.stdout.ends_with("PASS\n"), "{}", native.describe());
    require!(sandbox());
    let own = cmd.flags(&["--network=none"]).run_sandboxed();
    assert_same(&native, &own);
}

/// The same program under `--network=host`, where the application's inet
/// sockets are host sockets the Sentry drives: the same answers, and the
/// 1,000 connections come from four processes whose host descriptors share
/// the Sentry's one table (a closed socket's number is soon another's).
#[test]
fn inet_sockets_over_host_networking_match_linux() {
    let program = require!(c_program("inet_sockets"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(SHORT);
    let native = cmd.run_native();
    assert!(native.stdout.ends_with("PASS\n"), "{}", native.describe());
    require!(sandbox());
    let hosted = cmd.flags(&["--network=host"]).run_sandboxed();
    assert_same(&native, &hosted);
}

/// TCP urgent data over the sandbox's own stack, v4 and v6 loopback:
/// send(MSG_OOB) marks the last byte, reads stop before it and skip it,
/// recv(MSG_OOB) takes it once (EINVAL after, or with SO_OOBINLINE,
/// which leaves it in the stream), SIOCATMARK and FIONREAD at the mark,
/// POLLPRI and select's exceptional set, SIGURG to the F_SETOWN owner, a
/// newer mark replacing one the reader sits at, and MSG_OOB's errnos on
/// listeners, unconnected and UDP sockets.
#[test]
fn tcp_urgent_data_matches_linux() {
    native_then_sandboxed_with("tcp_urgent", &[], &["--network=none"], SHORT);
}

/// Path MTU options on TCP and UDP over v4 and v6 loopback, on the
/// sandbox's own stack: IP_MTU_DISCOVER and IPV6_MTU_DISCOVER (default
/// IP_PMTUDISC_WANT, every mode, EINVAL out of range, IPv4's one-byte
/// form), IP_MTU and IPV6_MTU (ENOTCONN unconnected or disconnected,
/// loopback's 65,536, 65,535 over IPv4), IPV6_MTU's bounds.
#[test]
fn path_mtu_options_match_linux() {
    native_then_sandboxed_with("inet_pmtu", &[], &["--network=none"], SHORT);
}

/// Raw ICMP sockets on the sandbox's own stack, as root: an echo to
/// 127.0.0.1 and ::1 read back whole (the IPv4 header, the kernel's
/// ICMPv6 checksum), ICMP_FILTER and ICMP6_FILTER, bound and connected
/// sockets, TTLs from options and sendmsg, EPERM for another user; and
/// the IP-level control messages of UDP sockets (IP_PKTINFO ...
/// SO_TIMESTAMPNS) in Linux's order and sizes, cut short as put_cmsg
/// cuts them, with IP_TTL, IPV6_HOPLIMIT and *_PKTINFO on sendmsg.
#[test]
fn raw_icmp_sockets_and_ip_control_messages_match_linux() {
    native_then_sandboxed_with("inet_raw_and_cmsg", &[], &["--network=none"], SHORT);
}

/// A seqpacket sender waiting a second for room sleeps: the whole
/// sandbox (Sentry, Gofer, stubs) uses well under that second of CPU
/// (a sender that woke for any free byte instead of room for its record
/// used to spin the whole second).
#[test]
fn a_seqpacket_sender_waiting_for_room_does_not_spin() {
    let program = require!(c_program("seqpacket_wait"));
    require!(sandbox());
    // Reaped by wait4 below, which also gives its children's CPU time.
    #[allow(clippy::zombie_processes)]
    let mut child = tests::runsc_command()
        .args(["do", "--"])
        .arg(&program)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start runsc-rs");
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills; wait4 reaps exactly
    // the child this test started.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are valid for writes for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().expect("stdout"), &mut out)
        .expect("read stdout");
    assert_eq!(out, "sent 3 records, reader ok\n");
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let used = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    assert!(
        used < 0.5,
        "the sandbox used {used:.2} s of CPU while the sender waited 1 s"
    );
}

/// Application seccomp, enforced by the Sentry: a filter denying getpid
/// gives its errno and survives fork and exec (of /proc/self/exe);
/// TRAP's siginfo and registers; KILL_PROCESS and KILL_THREAD; stacked
/// filters' precedence; argument and arch checks; strict mode; bad
/// programs refused with EINVAL; EACCES without no_new_privs for a
/// non-root caller; TSYNC and the thread that cannot follow;
/// GET_ACTION_AVAIL, GET_NOTIF_SIZES, PR_GET_SECCOMP, /proc's Seccomp
/// fields, and Linux's instruction limit over stacked filters.
#[test]
fn application_seccomp_filters_are_enforced_inherited_and_checked_as_on_linux() {
    native_then_sandboxed("app_seccomp", &[], SHORT);
}

/// Process descriptors: pidfd_open's file (O_RDWR, close-on-exec,
/// anon_inode:[pidfd], fdinfo's Pid/NSpid), readable by poll and epoll at
/// exit and hung up once reaped; waitid(P_PIDFD) blocking and
/// non-blocking; pidfd_send_signal with and without siginfo and Linux's
/// checks; pidfd_getfd and its access check; CLONE_PIDFD.
#[test]
fn pidfds_name_signal_wait_for_and_copy_from_a_process_as_on_linux() {
    native_then_sandboxed("pidfd", &[], SHORT);
}

/// POSIX message queues belong to an IPC namespace: after
/// unshare(CLONE_NEWIPC) the first namespace's queue is ENOENT and a queue
/// of its name is another; an mqueue mount lists the mounter's
/// namespace's queues only; the first queue keeps its messages.
#[test]
fn posix_message_queues_live_in_their_ipc_namespace_as_on_linux() {
    native_then_sandboxed("mq_namespaces", &[], SHORT);
}

/// MAP_SHARED of a host (Gofer) file is coherent with read() and write()
/// through other descriptors, in one process and across fork, in both
/// file-access modes (shared mode used to give a second open of a file
/// it had just created another inode, without the mapping's page cache).
#[test]
fn shared_mappings_of_host_files_see_and_are_seen_by_reads_and_writes() {
    native_then_sandboxed_with("mapshared_coherent", &[], &["--overlay=none"], SHORT);
    native_then_sandboxed_with(
        "mapshared_coherent",
        &[],
        &["--overlay=none", "--file-access=shared"],
        SHORT,
    );
}

/// kcmp over threads, fork and CLONE_FILES/FS/SIGHAND/VM children, files,
/// SysV undo lists and epoll targets, with a consistent order; then
/// process_vm_readv/writev between parent and child: both ways,
/// scattered, partial at a fault, and the errors.
#[test]
fn kcmp_and_process_vm_readv_writev_see_other_processes_as_on_linux() {
    native_then_sandboxed("kcmp", &[], SHORT);
}

/// Namespaces served by the Sentry: UTS (a new hostname not the
/// parent's), IPC (the parent's SysV segment absent), user (unmapped ids
/// as 65534, uid_map/gid_map written once with Linux's rules, setgroups
/// deny, capabilities inside for owned namespaces, EPERM outside, EINVAL
/// from a threaded process, 33 levels then ENOSPC), mount (a tmpfs the
/// parent does not see, also under an unprivileged user's namespace), net
/// (loopback only, own abstract AF_UNIX names), /proc/PID/ns links and
/// setns through them and through pidfds, clone with CLONE_NEW*.
#[test]
fn namespaces_isolate_uts_ipc_mounts_net_and_map_user_ids_as_on_linux() {
    native_then_sandboxed("namespaces", &[], SHORT);
}

/// PID namespaces served by the Sentry: unshare(CLONE_NEWPID) moves only
/// pid_for_children (no link before its init, EINVAL twice), the first
/// child is PID 1 with getppid 0 and the parent sees its outer pid,
/// NSpid per level, si_pid in the receiver's namespace, init ignoring
/// SIGTERM and SIGKILL from inside, orphans adopted by it, kill(-1)
/// sparing it, a procfs mounted inside showing the namespace, clone with
/// CLONE_NEWPID, setns into a child's namespace (EINVAL to a parent's),
/// SIGKILL of init from outside ending its namespace, and ENOMEM for a
/// fork into a namespace whose init died.
#[test]
fn pid_namespaces_number_signal_and_reap_as_on_linux() {
    native_then_sandboxed("pidns", &[], SHORT);
}

/// clone3's set_tid compared with Linux, in PID namespaces the program
/// makes: the argument rules (EINVAL), the exact id asked for at one and
/// two levels (with CLONE_NEWPID: 1 inside, the chosen id outside), the
/// ordinary ids going on unmoved, EEXIST for an id in use, EINVAL for 0,
/// negative, too large, or not 1 in a namespace without an init, and
/// EPERM for a level whose namespace the caller has no capability over.
#[test]
fn clone3_set_tid_gives_the_task_exactly_that_pid_as_on_linux() {
    native_then_sandboxed("clone3_set_tid", &[], SHORT);
}

/// ru_maxrss compared with Linux by the relations it keeps (sizes differ):
/// RUSAGE_SELF and RUSAGE_THREAD grow with touched memory and keep the
/// peak after munmap while VmRSS falls, VmHWM agrees, wait4 and
/// RUSAGE_CHILDREN give a reaped child's (the largest, a grandchild's
/// through its parent), and an exec keeps the old image's peak.
#[test]
fn ru_maxrss_and_vmhwm_keep_the_peak_resident_size_as_on_linux() {
    native_then_sandboxed("rusage_maxrss", &[], SHORT);
}

/// /proc/PID/mem compared with Linux: another process's memory read and
/// written (read-only pages by force), EIO at an unmapped address and a
/// short read at a hole, nothing after the process exits, and the one
/// ptrace access check: EACCES (process_vm_readv EPERM) for a root
/// process lacking the target's capabilities and for another uid.
#[test]
fn proc_pid_mem_reads_and_writes_another_process_under_the_ptrace_check_as_on_linux() {
    native_then_sandboxed("proc_mem", &[], SHORT);
}

/// Pids translated across PID namespaces as Linux translates them, from
/// a child that is init of its own namespace: SCM_CREDENTIALS (the inner
/// sender's own number reaching the outside as its outer pid, the outer
/// sender's reaching the inside as 0, ESRCH for a pid unknown to the
/// sender), mq_notify's si_pid, and TIOCGPGRP/TIOCGSID/TIOCSPGRP inside
/// and through the master outside.
#[test]
fn pids_crossing_pid_namespaces_are_translated_as_on_linux() {
    native_then_sandboxed("pidns_translate", &[], SHORT);
}

/// stat, fstat and statx owners seen from a child user namespace as on
/// Linux: 65534 before any map, then root's files as 0 and another
/// user's (unmapped) as 65534.
#[test]
fn file_owners_read_through_the_callers_user_namespace_as_on_linux() {
    native_then_sandboxed("userns_stat", &[], SHORT);
}

/// personality(2) compared with Linux: the query, PER_LINUX32 (uname
/// i686), UNAME26, an unknown persona kept, READ_IMPLIES_EXEC making
/// anonymous PROT_READ memory executable (mmap and mprotect), inheritance
/// by fork, and exec dropping READ_IMPLIES_EXEC but keeping
/// ADDR_NO_RANDOMIZE (/proc/self/personality of the new program).
#[test]
fn personality_is_kept_inherited_and_honoured_as_on_linux() {
    native_then_sandboxed("personality", &[], SHORT);
}

/// util-linux's setarch: `-R` (ADDR_NO_RANDOMIZE) seen by the program it
/// runs in /proc/self/personality, `i686` as uname's machine, and
/// `--uname-2.6` as a 2.6 release (its numbers differ with the kernel's,
/// so only the prefix is compared).
#[test]
fn setarch_personas_reach_the_program_as_on_linux() {
    require!(tests::host_program("/usr/bin/setarch", "util-linux"));
    let script = "setarch x86_64 -R cat /proc/self/personality; setarch i686 uname -m; \
                  setarch x86_64 --uname-2.6 uname -r | cut -c1-4";
    let cmd = Cmd::new(&["/bin/sh", "-c", script]).timeout(SHORT);
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout == "00040000\ni686\n2.6.\n",
        "{}",
        native.describe()
    );
    require!(sandbox());
    assert_same(&native, &cmd.run_sandboxed());
}

/// AF_UNIX sockets only SCM_RIGHTS messages in flight keep alive: a socket
/// queued in itself (stream, seqpacket, datagram, one sent to its own
/// name), two queued in each other, a listener in its own unaccepted
/// connection, closed, are collected and release what they carry (a
/// pipe's reader reads end of file, an open peer too); one a live
/// socket's queue or a peeked copy holds stays; 10,000 cycles under
/// RLIMIT_NOFILE 64 never hit the limit. The limit itself: ETOOMANYREFS
/// once a user's descriptors in flight exceed its RLIMIT_NOFILE, per
/// user, on every type, after the checks Linux makes first; a receive and
/// a closed queue give them back, a peek does not; root is exempt.
#[test]
fn unix_sockets_in_flight_are_collected_and_limited_as_on_linux() {
    native_then_sandboxed("unix_gc", &[], SHORT);
}
