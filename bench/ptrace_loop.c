/*
 * The bare mechanism under the ptrace platform: a tracer that serves a
 * child's system calls with PTRACE_SYSEMU, as a Sentry thread serves a stub.
 * The child makes N raw getpid calls; for each, the tracer wakes from
 * waitpid, reads the registers, writes the answer into rax and resumes the
 * child with PTRACE_SYSEMU (the host never runs the call). The cost per
 * round trip is the floor for any ptrace-based sandbox on this machine.
 *
 * Usage: ptrace_loop [N]   (default 100000)
 * Prints: ptrace_loop: N round trips, X ns/round trip
 * Pin it with `taskset -c 0` to keep tracer and child on one CPU.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

#define FAKE_PID 4242

static inline long raw_syscall1(long nr, long a)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The traced child: only raw system calls, all served by the tracer. */
static void child(long n)
{
	long bad = 0;

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
		_exit(100);
	kill(getpid(), SIGSTOP); /* the tracer takes over from here */
	for (long i = 0; i < n; i++)
		if (raw_syscall1(SYS_getpid, 0) != FAKE_PID)
			bad++;
	raw_syscall1(SYS_exit_group, bad ? 1 : 0);
	for (;;)
		; /* not reached: the tracer kills us at exit_group */
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "ptrace_loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long served = 0, exit_code = -1;
	double t0 = 0, t1 = 0;
	struct user_regs_struct regs;
	int status;

	if (n <= 0) {
		fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		child(n);

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
		fprintf(stderr, "ptrace_loop: child did not stop (status 0x%x); is ptrace allowed?\n", status);
		return 1;
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL) != 0)
		die("PTRACE_SETOPTIONS");

	for (;;) {
		if (ptrace(PTRACE_SYSEMU, pid, NULL, NULL) != 0)
			die("PTRACE_SYSEMU");
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid");
		if (!WIFSTOPPED(status)) {
			fprintf(stderr, "ptrace_loop: child ended early (status 0x%x)\n", status);
			return 1;
		}
		if (WSTOPSIG(status) != SIGTRAP) {
			fprintf(stderr, "ptrace_loop: unexpected signal %d\n", WSTOPSIG(status));
			kill(pid, SIGKILL);
			return 1;
		}
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) != 0)
			die("PTRACE_GETREGS");
		if (regs.orig_rax == SYS_getpid) {
			if (served == 0)
				t0 = now_ns();
			regs.rax = FAKE_PID;
			if (++served == n)
				t1 = now_ns();
		} else if (regs.orig_rax == SYS_exit_group) {
			exit_code = (long)regs.rdi;
			break;
		} else {
			regs.rax = -ENOSYS;
		}
		if (ptrace(PTRACE_SETREGS, pid, NULL, &regs) != 0)
			die("PTRACE_SETREGS");
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (exit_code != 0 || served != n) {
		fprintf(stderr, "ptrace_loop: child saw wrong results (exit %ld, served %ld)\n",
			exit_code, served);
		return 1;
	}
	/* t0..t1 spans n - 1 round trips (first stop to last stop). */
	double per = n > 1 ? (t1 - t0) / (n - 1) : 0;
	printf("ptrace_loop: %ld round trips, %.1f ns/round trip\n", n, per);
	return 0;
}
