/*
 * Calls system calls with hostile arguments: unmapped and kernel pointers,
 * huge lengths, negative descriptors, garbage flags. The sandbox must answer
 * each with an errno (or a harmless result) and keep running: no panic, no
 * hang, no dead Sentry. Prints how many calls it made and "survived".
 *
 * SANDBOX ONLY: some calls could change the calling process or the host if
 * run natively, so it refuses to run unless uname reports the sandbox's
 * kernel version (4.4.0).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Calls that would end or reshape the calling program itself, or wait
 * for ever as Linux would (a SysV queue or set the hostile semget and
 * msgget calls made, with nothing to take). */
static int skipped(long nr)
{
	switch (nr) {
	case SYS_exit: case SYS_exit_group: case SYS_rt_sigreturn:
	case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:
	case SYS_execve: case SYS_execveat: case SYS_pause: case SYS_rt_sigsuspend:
	case SYS_munmap: case SYS_mremap: case SYS_mprotect: case SYS_brk: case SYS_madvise:
	case SYS_mmap: case SYS_arch_prctl: case SYS_alarm: case SYS_setitimer:
	case SYS_kill: case SYS_tkill: case SYS_tgkill: case SYS_rt_sigqueueinfo:
	case SYS_rt_tgsigqueueinfo: case SYS_rt_sigaction: case SYS_rt_sigprocmask:
	case SYS_set_tid_address: case SYS_setrlimit: case SYS_prlimit64:
	case SYS_close: case SYS_close_range: case SYS_dup2: case SYS_dup3:
	case SYS_setuid: case SYS_setgid: case SYS_setreuid: case SYS_setregid:
	case SYS_setresuid: case SYS_setresgid: case SYS_setgroups: case SYS_setsid:
	case SYS_setpgid: case SYS_sigaltstack: case SYS_chdir: case SYS_fchdir:
	case SYS_chroot: case SYS_umask: case SYS_prctl: case SYS_personality:
	case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_select: case SYS_pselect6:
	case SYS_poll: case SYS_ppoll: case SYS_epoll_wait: case SYS_epoll_pwait:
	case SYS_read: case SYS_readv: case SYS_futex: case SYS_wait4: case SYS_waitid:
	case SYS_rt_sigtimedwait: case SYS_sched_yield: case SYS_sethostname:
	case SYS_setdomainname: case SYS_unlink: case SYS_unlinkat: case SYS_rmdir:
	case SYS_rename: case SYS_renameat: case SYS_renameat2:
	case SYS_semop: case SYS_semtimedop: case SYS_msgsnd: case SYS_msgrcv:
		return 1;
	}
	return 0;
}

int main(void)
{
	struct utsname u;
	if (uname(&u) != 0 || strcmp(u.release, "4.4.0") != 0) {
		printf("not in the sandbox: refusing to run\n");
		return 77;
	}
	const uint64_t values[] = {
		0x8,                    /* unmapped, below mmap_min_addr */
		0xffffffffffff0000ull,  /* kernel half */
		0x7ffffffff000ull,      /* top of user space */
		(uint64_t)-1,
		1ull << 40,             /* huge length */
		0x80000000ull,
	};
	const int nv = sizeof(values) / sizeof(values[0]);
	long calls = 0;
	for (long nr = 0; nr < 450; nr++) {
		if (skipped(nr))
			continue;
		for (int i = 0; i < nv; i++) {
			uint64_t a = values[i], b = values[(i + 1) % nv], c = values[(i + 2) % nv];
			/* First argument small, as a descriptor or flag would be. */
			syscall(nr, (long)(i % 3 == 0 ? -1 : i * 1000), a, b, c, a, b);
			syscall(nr, a, b, c, a, b, c);
			calls += 2;
		}
	}
	/* The socket calls again, on real sockets of each kind. */
	const long socket_calls[] = {
		SYS_bind, SYS_listen, SYS_accept, SYS_accept4, SYS_connect,
		SYS_getsockname, SYS_getpeername, SYS_shutdown, SYS_getsockopt,
		SYS_setsockopt, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg,
		SYS_sendmmsg, SYS_recvmmsg, SYS_write, SYS_ioctl,
	};
	const int kinds[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	/* A shut-down stream's EPIPE is expected; its SIGPIPE would end the
	 * program. */
	signal(SIGPIPE, SIG_IGN);
	for (int k = 0; k < 3; k++) {
		int sv[2];
		if (socketpair(AF_UNIX, kinds[k] | SOCK_NONBLOCK, 0, sv) != 0) {
			printf("socketpair: %s\n", strerror(errno));
			return 1;
		}
		for (unsigned n = 0; n < sizeof socket_calls / sizeof *socket_calls; n++) {
			for (int i = 0; i < nv; i++) {
				uint64_t a = values[i], b = values[(i + 1) % nv], c = values[(i + 2) % nv];
				syscall(socket_calls[n], sv[0], a, b, c, a, b);
				syscall(socket_calls[n], sv[1], 16, a, MSG_DONTWAIT, b, c);
				calls += 2;
			}
		}
		close(sv[0]);
		close(sv[1]);
	}
	printf("made %ld calls with hostile arguments\nsurvived\n", calls);
	return 0;
}
