/*
 * Application seccomp: a filter that denies getpid gives its errno and
 * survives fork and exec; TRAP's siginfo; KILL_PROCESS and KILL_THREAD as
 * the parent and the other threads see them; stacked filters and their
 * precedence; argument checks; strict mode; bad filters refused with
 * EINVAL; EACCES without no_new_privs for a non-root caller; TSYNC (and
 * the thread that cannot follow); GET_ACTION_AVAIL and GET_NOTIF_SIZES;
 * PR_GET_SECCOMP and /proc/self/status. Every case runs in a child
 * (filters cannot be removed), prints no pid, and the output is the same
 * on Linux and in the sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "common.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* SIGSYS's si_code for a seccomp trap */
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

static const char *self_exe;

static int seccomp(unsigned op, unsigned flags, void *args)
{
	return syscall(SYS_seccomp, op, flags, args);
}

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* A filter that answers `ret` for syscall `nr` and allows the rest. */
static int install_for(int nr, unsigned ret, unsigned flags)
{
	struct sock_filter f[] = {
		LOAD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, ret),
		ALLOW,
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };
	return seccomp(SECCOMP_SET_MODE_FILTER, flags, &p);
}

static void status_fields(const char *when, int base_filters)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int n;

		if (sscanf(line, "Seccomp: %d", &n) == 1)
			printf("%s: Seccomp %d\n", when, n);
		else if (sscanf(line, "Seccomp_filters: %d", &n) == 1)
			printf("%s: filters added %d\n", when, n - base_filters);
	}
	fclose(f);
}

static int filters_now(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "Seccomp_filters: %d", &n);
	if (f)
		fclose(f);
	return n;
}

static void no_core_dumps(void)
{
	struct rlimit zero = { 0, 0 };

	setrlimit(RLIMIT_CORE, &zero);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void describe(const char *what, int status)
{
	if (WIFEXITED(status))
		printf("%s: exited %d\n", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(status)));
	else
		printf("%s: status 0x%x\n", what, status);
}

/* Runs `fn` in a child and prints how it ended: `want` is the exit code
 * it must end with, or minus the signal that must kill it. */
static void in_child(const char *what, void (*fn)(void), int want)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		no_core_dumps();
		fn();
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	describe(what, st);
	if (want >= 0)
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want);
	else
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == -want);
}

static void action_avail(void)
{
	static const struct {
		const char *name;
		unsigned action;
	} actions[] = {
		{ "KILL_PROCESS", SECCOMP_RET_KILL_PROCESS },
		{ "KILL_THREAD", SECCOMP_RET_KILL_THREAD },
		{ "TRAP", SECCOMP_RET_TRAP },
		{ "ERRNO", SECCOMP_RET_ERRNO },
		{ "TRACE", SECCOMP_RET_TRACE },
		{ "LOG", SECCOMP_RET_LOG },
		{ "ALLOW", SECCOMP_RET_ALLOW },
		{ "0x12340000", 0x12340000 },
	};
	for (unsigned i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		long r = seccomp(SECCOMP_GET_ACTION_AVAIL, 0, (void *)&actions[i].action);
		printf("GET_ACTION_AVAIL %s %s\n", actions[i].name, err(r));
	}
	unsigned a = SECCOMP_RET_ALLOW;
	printf("GET_ACTION_AVAIL with flags %s\n", err(seccomp(SECCOMP_GET_ACTION_AVAIL, 1, &a)));
	printf("GET_ACTION_AVAIL of NULL %s\n", err(seccomp(SECCOMP_GET_ACTION_AVAIL, 0, NULL)));
	struct seccomp_notif_sizes sz;
	CHECK(seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sz) == 0);
	printf("notif sizes: notif %u resp %u data %u\n", sz.seccomp_notif,
	       sz.seccomp_notif_resp, sz.seccomp_data);
	printf("unknown operation %s\n", err(seccomp(99, 0, NULL)));
	printf("PR_GET_SECCOMP %s\n", err(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)));
}

static void bad_filters(void)
{
	struct sock_filter ret = ALLOW;
	struct {
		const char *what;
		struct sock_filter f[3];
		unsigned short len;
	} cases[] = {
		{ "empty program", { ret }, 0 },
		{ "unaligned load", { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), ret }, 2 },
		{ "load past seccomp_data", { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), ret }, 2 },
		{ "byte load", { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), ret }, 2 },
		{ "jump past the end", { BPF_STMT(BPF_JMP | BPF_JA, 1), ret }, 2 },
		{ "branch past the end", { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), ret }, 2 },
		{ "no return at the end", { LOAD_NR }, 1 },
		{ "modulo", { BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), ret }, 2 },
		{ "division by zero", { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), ret }, 2 },
		{ "shift by 32", { BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), ret }, 2 },
		{ "scratch read before write", { BPF_STMT(BPF_LD | BPF_MEM, 2), ret }, 2 },
		{ "scratch word 16", { BPF_STMT(BPF_ST, 16), ret }, 2 },
		{ "unknown opcode", { BPF_STMT(0xff, 0), ret }, 2 },
	};
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sock_fprog p = { cases[i].len, cases[i].f };
		printf("%s: %s\n", cases[i].what, err(seccomp(SECCOMP_SET_MODE_FILTER, 0, &p)));
	}
	static struct sock_filter big[BPF_MAXINSNS + 1];
	for (int i = 0; i <= BPF_MAXINSNS; i++)
		big[i] = ret;
	struct sock_fprog p = { BPF_MAXINSNS + 1, big };
	printf("4097 instructions: %s\n", err(seccomp(SECCOMP_SET_MODE_FILTER, 0, &p)));
	p.len = 1;
	printf("unknown flag: %s\n", err(seccomp(SECCOMP_SET_MODE_FILTER, 1 << 20, &p)));
	printf("NULL program: %s\n", err(seccomp(SECCOMP_SET_MODE_FILTER, 0, NULL)));
	p.filter = (void *)8;
	printf("instructions at a bad address: %s\n",
	       err(seccomp(SECCOMP_SET_MODE_FILTER, 0, &p)));
	printf("strict with flags: %s\n", err(seccomp(SECCOMP_SET_MODE_STRICT, 1, NULL)));
	printf("PR_SET_SECCOMP mode 3: %s\n", err(prctl(PR_SET_SECCOMP, 3, 0, 0, 0)));
	printf("still no filter: %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
}

static void needs_no_new_privs(void)
{
	/* An ordinary user: setresuid drops every capability. */
	CHECK(setresgid(65534, 65534, 65534) == 0);
	CHECK(setresuid(65534, 65534, 65534) == 0);
	struct sock_filter f[] = { ALLOW };
	struct sock_fprog p = { 1, f };
	printf("non-root without no_new_privs: seccomp %s\n",
	       err(seccomp(SECCOMP_SET_MODE_FILTER, 0, &p)));
	printf("non-root without no_new_privs: PR_SET_SECCOMP %s\n",
	       err(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0)));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	printf("non-root with no_new_privs: %s\n",
	       err(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0)));
}

static void denied_getpid(void)
{
	int base = filters_now();

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(install_for(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0) == 0);
	printf("getpid %s\n", err(syscall(SYS_getpid)));
	printf("getppid allowed: %d\n", syscall(SYS_getppid) > 0);
	printf("PR_GET_SECCOMP %s\n", err(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)));
	status_fields("after one filter", base);
	printf("strict over a filter: %s\n", err(seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL)));

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		printf("forked child: getpid %s\n", err(syscall(SYS_getpid)));
		status_fields("forked child", base);
		fflush(stdout);
		char basestr[16];
		snprintf(basestr, sizeof(basestr), "%d", base);
		execl(self_exe, self_exe, "after-exec", basestr, (char *)NULL);
		printf("FAIL exec: %s\n", strerror(errno));
		_exit(1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	describe("forked and exec'd child", st);
	CHECK(st == 0);
}

static void after_exec(int base)
{
	printf("after exec: getpid %s\n", err(syscall(SYS_getpid)));
	status_fields("after exec", base);
	printf("after exec: PR_GET_NO_NEW_PRIVS %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
}

static void errno_values(void)
{
	int base = filters_now();

	CHECK(install_for(SYS_getppid, SECCOMP_RET_ERRNO | 0xffff, 0) == 0);
	long r = syscall(SYS_getppid);
	printf("ERRNO 0xffff is capped: getppid returns %ld, errno %d\n", r, errno);
	/* The kernel's restart code as an errno reaches the program as it is. */
	CHECK(install_for(SYS_getsid, SECCOMP_RET_ERRNO | 512, 0) == 0);
	r = syscall(SYS_getsid, 0);
	printf("ERRNO 512 (ERESTARTSYS): getsid returns %ld, errno %d\n", r, errno);
	CHECK(install_for(SYS_getuid, SECCOMP_RET_ERRNO | 0, 0) == 0);
	printf("ERRNO 0: getuid %s\n", err(syscall(SYS_getuid)));
	CHECK(install_for(SYS_getgid, SECCOMP_RET_TRACE | 5, 0) == 0);
	printf("TRACE without a tracer: getgid %s\n", err(syscall(SYS_getgid)));
	CHECK(install_for(SYS_geteuid, SECCOMP_RET_USER_NOTIF, 0) == 0);
	printf("USER_NOTIF without a listener: geteuid %s\n", err(syscall(SYS_geteuid)));
	CHECK(install_for(SYS_getegid, SECCOMP_RET_LOG, SECCOMP_FILTER_FLAG_LOG) == 0);
	printf("LOG: getegid %s\n", err(syscall(SYS_getegid)));
	/* Stacked: an older ERRNO and a newer one of equal precedence on one
	 * call: the newer answers. A newer ALLOW does not undo an older
	 * ERRNO. */
	CHECK(install_for(SYS_getpgrp, SECCOMP_RET_ERRNO | EPERM, 0) == 0);
	CHECK(install_for(SYS_getpgrp, SECCOMP_RET_ERRNO | EACCES, 0) == 0);
	printf("two ERRNOs: getpgrp %s\n", err(syscall(SYS_getpgrp)));
	CHECK(install_for(SYS_getpgrp, SECCOMP_RET_ALLOW, 0) == 0);
	printf("a newer ALLOW: getpgrp %s\n", err(syscall(SYS_getpgrp)));
	/* Arguments: dup(12345) refused by the filter, dup(-1) not. */
	struct sock_filter f[] = {
		LOAD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 12345, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
		ALLOW,
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };
	CHECK(seccomp(SECCOMP_SET_MODE_FILTER, 0, &p) == 0);
	printf("dup(12345) %s\n", err(syscall(SYS_dup, 12345)));
	printf("dup(-1) %s\n", err(syscall(SYS_dup, -1)));
	/* The arch word is x86-64's. */
	struct sock_filter g[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		ALLOW,
	};
	struct sock_fprog q = { sizeof(g) / sizeof(g[0]), g };
	CHECK(seccomp(SECCOMP_SET_MODE_FILTER, 0, &q) == 0);
	printf("arch is x86-64: still alive\n");
	status_fields("after eleven filters", base);
}

static volatile siginfo_t trapped;
static volatile long trapped_rax, trapped_rip;

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	trapped = *si;
	trapped_rax = uc->uc_mcontext.gregs[REG_RAX];
	trapped_rip = uc->uc_mcontext.gregs[REG_RIP];
	/* What the trapped call returns. */
	uc->uc_mcontext.gregs[REG_RAX] = 1234;
}

static void trap(void)
{
	struct sigaction sa = { 0 };

	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGSYS, &sa, NULL) == 0);
	/* An older ERRNO on the same call loses to a newer TRAP. */
	CHECK(install_for(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0) == 0);
	CHECK(install_for(SYS_getppid, SECCOMP_RET_TRAP | 42, 0) == 0);
	long r = syscall(SYS_getppid);
	printf("getppid under TRAP returns what the handler set: %ld\n", r);
	printf("si_signo %s si_code %d (SYS_SECCOMP %d) si_errno %d\n",
	       sigabbrev_np(trapped.si_signo), trapped.si_code, SYS_SECCOMP, trapped.si_errno);
	printf("si_syscall is getppid: %d, si_arch is x86-64: %d\n",
	       trapped.si_syscall == SYS_getppid, trapped.si_arch == AUDIT_ARCH_X86_64);
	printf("si_call_addr is the rip after the syscall: %d\n",
	       (long)trapped.si_call_addr == trapped_rip);
	printf("rax in the handler holds the call's number: %d\n", trapped_rax == SYS_getppid);
	/* Blocked SIGSYS: the trap still kills, as a forced signal. */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	sigprocmask(SIG_BLOCK, &s, NULL);
	fflush(stdout);
	syscall(SYS_getppid);
	printf("FAIL: survived a TRAP with SIGSYS blocked\n");
}

static void kill_process(void)
{
	CHECK(install_for(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0) == 0);
	syscall(SYS_getppid);
	printf("FAIL: survived KILL_PROCESS\n");
}

static void kill_thread_alone(void)
{
	CHECK(install_for(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0) == 0);
	syscall(SYS_getppid);
	printf("FAIL: survived KILL_THREAD\n");
}

static void *call_getppid(void *arg)
{
	syscall(SYS_getppid);
	printf("FAIL: thread survived KILL_THREAD\n");
	return NULL;
}

static void kill_thread_of_many(void)
{
	pthread_t th;

	CHECK(install_for(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0) == 0);
	CHECK(pthread_create(&th, NULL, call_getppid, NULL) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	printf("KILL_THREAD ended only the thread; the process goes on\n");
}

static void strict_write_then_getpid(void)
{
	static const char msg[] = "strict: write works\n";

	CHECK(seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL) == 0);
	write(1, msg, sizeof(msg) - 1);
	syscall(SYS_getpid);
	write(1, "FAIL: getpid allowed in strict mode\n", 36);
	syscall(SYS_exit, 1);
}

static void strict_exit(void)
{
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) == 0);
	syscall(SYS_exit, 3);
}

static void strict_exit_group(void)
{
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) == 0);
	/* exit_group is not one of strict mode's four calls. */
	syscall(SYS_exit_group, 4);
}

static int pipefd[2], back[2];
static volatile pid_t thread_tid;

static void *wait_then_getpid(void *own_filter)
{
	char c;

	thread_tid = gettid();
	if (own_filter)
		CHECK(install_for(SYS_getuid, SECCOMP_RET_ERRNO | EIO, 0) == 0);
	write(back[1], "r", 1);
	CHECK(read(pipefd[0], &c, 1) == 1);
	long r = syscall(SYS_getpid);
	if (r > 0)
		printf("thread: getpid allowed\n");
	else
		printf("thread: getpid %s\n", err(r));
	printf("thread: no_new_privs %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	return NULL;
}

static void tsync(void)
{
	pthread_t th;
	char c;

	CHECK(pipe(pipefd) == 0 && pipe(back) == 0);
	CHECK(pthread_create(&th, NULL, wait_then_getpid, NULL) == 0);
	CHECK(read(back[0], &c, 1) == 1);
	/* no_new_privs on this thread only: TSYNC gives it to the other. */
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	printf("TSYNC: %s\n",
	       err(install_for(SYS_getpid, SECCOMP_RET_ERRNO | ESRCH, SECCOMP_FILTER_FLAG_TSYNC)));
	CHECK(write(pipefd[1], "g", 1) == 1);
	CHECK(pthread_join(th, NULL) == 0);
}

static void tsync_refused(void)
{
	pthread_t th;
	char c;

	CHECK(pipe(pipefd) == 0 && pipe(back) == 0);
	CHECK(pthread_create(&th, NULL, wait_then_getpid, (void *)1) == 0);
	CHECK(read(back[0], &c, 1) == 1);
	long r = install_for(SYS_getpid, SECCOMP_RET_ERRNO | ESRCH, SECCOMP_FILTER_FLAG_TSYNC);
	printf("TSYNC over a thread with its own filter names it: %d\n", r == thread_tid);
	printf("with TSYNC_ESRCH: %s\n",
	       err(install_for(SYS_getpid, SECCOMP_RET_ERRNO | ESRCH,
			       SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH)));
	printf("main: getpid still allowed: %d\n", syscall(SYS_getpid) > 0);
	CHECK(write(pipefd[1], "g", 1) == 1);
	CHECK(pthread_join(th, NULL) == 0);
}

static void too_many_instructions(void)
{
	static struct sock_filter big[BPF_MAXINSNS];
	struct sock_filter ret = ALLOW;
	int i, n;

	for (i = 0; i < BPF_MAXINSNS; i++)
		big[i] = ret;
	struct sock_fprog p = { BPF_MAXINSNS, big };
	for (n = 0; n < 20; n++)
		if (seccomp(SECCOMP_SET_MODE_FILTER, 0, &p) != 0)
			break;
	printf("4096-instruction filters before the limit: %d, then %s\n", n,
	       strerrorname_np(errno));
}

int main(int argc, char **argv)
{
	self_exe = "/proc/self/exe";
	if (argc > 2 && strcmp(argv[1], "after-exec") == 0) {
		after_exec(atoi(argv[2]));
		fflush(stdout);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	in_child("action availability", action_avail, 0);
	in_child("bad filters", bad_filters, 0);
	in_child("no_new_privs", needs_no_new_privs, 0);
	in_child("getpid denied", denied_getpid, 0);
	in_child("errno values and stacking", errno_values, 0);
	in_child("trap", trap, -SIGSYS);
	in_child("kill process", kill_process, -SIGSYS);
	in_child("kill thread alone", kill_thread_alone, -SIGSYS);
	in_child("kill one thread of two", kill_thread_of_many, 0);
	in_child("strict: write, then getpid", strict_write_then_getpid, -SIGKILL);
	in_child("strict: exit(3)", strict_exit, 3);
	in_child("strict: exit_group(4)", strict_exit_group, -SIGKILL);
	in_child("tsync", tsync, 0);
	in_child("tsync refused", tsync_refused, 0);
	in_child("instruction limit", too_many_instructions, 0);
	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
