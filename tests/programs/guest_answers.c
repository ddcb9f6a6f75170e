/*
 * The calls a platform may answer without leaving the application (under
 * KVM: getpid, gettid, getppid, getuid, geteuid, getgid, getegid from the
 * vCPU's answers page) answer what Linux answers, whenever they are asked:
 * checked against /proc (served by the kernel itself), after setresuid and
 * setresgid (and only for the calling thread, as the raw calls change
 * only it), in a forked child, in threads, after the parent exits
 * (reparenting) while the child spins in user code, with a seccomp filter
 * denying getpid (also one installed by another thread with TSYNC while
 * this one spins), and under a ptrace tracer stopping at each call.
 * Needs root (setresuid). Prints no pid or uid that differs between runs.
 *
 * Usage: guest_answers          the checks; prints PASS
 *        guest_answers calls    getpid, gettid, getuid 3 times each (for
 *                               --strace, which must show every one)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* A bare `syscall`, as the benchmarks make it: no libc cache or wrapper. */
static long raw(long nr)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"(nr) : "rcx", "r11", "memory");
	return ret;
}

/* The number after `key` in /proc/thread-self/status (the kernel's view,
 * never answered in place). For Uid and Gid: the field'th of the four. */
static long status_field(const char *key, int field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/thread-self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(key);
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			char *p = line + n + 1;
			for (int i = 0; i <= field; i++)
				v = strtol(p, &p, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Every served call against /proc's answer. */
static void check_against_proc(const char *where)
{
	struct {
		long nr;
		const char *key;
		int field;
	} calls[] = {
		{ SYS_getpid, "Tgid", 0 },  { SYS_gettid, "Pid", 0 },
		{ SYS_getppid, "PPid", 0 }, { SYS_getuid, "Uid", 0 },
		{ SYS_geteuid, "Uid", 1 },  { SYS_getgid, "Gid", 0 },
		{ SYS_getegid, "Gid", 1 },
	};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		long got = raw(calls[i].nr), want = status_field(calls[i].key, calls[i].field);
		if (got != want) {
			printf("FAIL %s: call %ld answered %ld, /proc says %ld\n", where,
			       calls[i].nr, got, want);
			failures++;
		}
	}
}

static void *thread_checks(void *arg)
{
	long *tid = arg;

	*tid = raw(SYS_gettid);
	check_against_proc("thread");
	return NULL;
}

static void threads(void)
{
	pthread_t t[4];
	long tids[4];

	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, thread_checks, &tids[i]) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++) {
		CHECK(tids[i] != raw(SYS_getpid));
		for (int j = 0; j < i; j++)
			CHECK(tids[i] != tids[j]);
	}
	printf("4 threads: distinct gettid, getpid the group's\n");
}

static void forked(void)
{
	int p[2];
	long parent = raw(SYS_getpid), seen[3];

	CHECK(pipe(p) == 0);
	pid_t c = fork();
	if (c == 0) {
		long mine[3] = { raw(SYS_getpid), raw(SYS_gettid), raw(SYS_getppid) };
		check_against_proc("child");
		(void)!write(p[1], mine, sizeof mine);
		_exit(failures);
	}
	CHECK(read(p[0], seen, sizeof seen) == sizeof seen);
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(seen[0] == c && seen[1] == c && seen[2] == parent);
	close(p[0]);
	close(p[1]);
	printf("fork: the child answers its own pid and its parent's\n");
}

/* The child forks a grandchild and exits; the grandchild, spinning on
 * getppid in user code all along, sees its new parent: the one /proc
 * names (init, or the nearest subreaper natively). */
static void reparented(void)
{
	int ready[2], out[2];

	CHECK(pipe(ready) == 0 && pipe(out) == 0);
	pid_t c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			long first = raw(SYS_getppid), now = first;
			char r[2] = { 0, 0 };
			struct timespec t0, t;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			(void)!write(ready[1], "x", 1);
			/* Up to 20 s (the vDSO's clock: no kernel entry). */
			do {
				now = raw(SYS_getppid);
				clock_gettime(CLOCK_MONOTONIC, &t);
			} while (now == first && t.tv_sec - t0.tv_sec < 20);
			r[0] = now != first;
			r[1] = now == status_field("PPid", 0);
			(void)!write(out[1], r, 2);
			_exit(0);
		}
		char x;
		(void)!read(ready[0], &x, 1);
		_exit(0);
	}
	int st;
	char r[2] = { 0, 0 };
	CHECK(waitpid(c, &st, 0) == c);
	CHECK(read(out[0], r, 2) == 2);
	CHECK(r[0] == 1);
	CHECK(r[1] == 1);
	printf("reparent: a spinning grandchild sees its new parent\n");
}

static volatile int other_go, other_done;
static long other_uid;

static void *other_thread(void *arg)
{
	(void)arg;
	while (!other_go)
		;
	other_uid = raw(SYS_getuid);
	other_done = 1;
	return NULL;
}

static void credentials(void)
{
	pid_t c = fork();
	if (c == 0) {
		pthread_t t;
		CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
		/* Raw calls: they change this thread only (glibc's wrappers
		 * would change every thread). */
		CHECK(syscall(SYS_setresgid, 1000, 1001, 1002) == 0);
		CHECK(syscall(SYS_setresuid, 2000, 2001, 2002) == 0);
		CHECK(raw(SYS_getuid) == 2000 && raw(SYS_geteuid) == 2001);
		CHECK(raw(SYS_getgid) == 1000 && raw(SYS_getegid) == 1001);
		check_against_proc("after setresuid");
		other_go = 1;
		pthread_join(t, NULL);
		CHECK(other_uid == 0);
		printf("setresuid/setresgid: 2000 2001 1000 1001; the other thread keeps %ld\n",
		       other_uid);
		fflush(stdout);
		_exit(failures);
	}
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int deny_getpid(unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 42),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static volatile int filtered, spinner_go;
static long spinner_saw;

static void *spinner(void *arg)
{
	(void)arg;
	while (!spinner_go)
		raw(SYS_gettid);
	/* The filter came while this thread ran without entering the kernel's
	 * slow path: its next getpid must meet it. */
	while (!filtered)
		;
	spinner_saw = raw(SYS_getpid);
	return NULL;
}

static void seccomp_denies(void)
{
	pid_t c = fork();
	if (c == 0) {
		long before = raw(SYS_getpid);
		CHECK(before > 0);
		CHECK(deny_getpid(0) == 0);
		CHECK(raw(SYS_getpid) == -42);
		CHECK(raw(SYS_gettid) == before);
		printf("seccomp: getpid denied with errno 42, gettid still answered\n");
		fflush(stdout);
		_exit(failures);
	}
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	c = fork();
	if (c == 0) {
		pthread_t t;
		CHECK(pthread_create(&t, NULL, spinner, NULL) == 0);
		spinner_go = 1;
		usleep(10000);
		CHECK(deny_getpid(SECCOMP_FILTER_FLAG_TSYNC) == 0);
		filtered = 1;
		pthread_join(t, NULL);
		CHECK(spinner_saw == -42);
		printf("seccomp TSYNC: the other thread's next getpid is denied (%ld)\n",
		       spinner_saw);
		fflush(stdout);
		_exit(failures);
	}
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A tracer stopping at each call sees every getpid and gettid. */
static void traced(void)
{
	pid_t c = fork();
	if (c == 0) {
		CHECK(ptrace(PTRACE_TRACEME, 0, 0, 0) == 0);
		raise(SIGSTOP);
		for (int i = 0; i < 3; i++) {
			raw(SYS_getpid);
			raw(SYS_gettid);
		}
		_exit(0);
	}
	int st, getpids = 0, gettids = 0, entering = 1;
	CHECK(waitpid(c, &st, 0) == c && WIFSTOPPED(st));
	CHECK(ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESYSGOOD) == 0);
	for (;;) {
		CHECK(ptrace(PTRACE_SYSCALL, c, 0, 0) == 0);
		if (waitpid(c, &st, 0) != c || WIFEXITED(st))
			break;
		if (WIFSTOPPED(st) && WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			struct user_regs_struct r;
			CHECK(ptrace(PTRACE_GETREGS, c, 0, &r) == 0);
			if (entering && r.orig_rax == SYS_getpid)
				getpids++;
			if (entering && r.orig_rax == SYS_gettid)
				gettids++;
			entering = !entering;
		}
	}
	CHECK(getpids == 3 && gettids == 3);
	printf("ptrace: the tracer stops at %d getpid and %d gettid\n", getpids, gettids);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "calls") == 0) {
		for (int i = 0; i < 3; i++) {
			raw(SYS_getpid);
			raw(SYS_gettid);
			raw(SYS_getuid);
		}
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	check_against_proc("main");
	threads();
	forked();
	reparented();
	credentials();
	seccomp_denies();
	traced();
	if (failures)
		return 1;
	printf("PASS\n");
	return 0;
}
