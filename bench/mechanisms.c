/*
 * What catching one system call can cost on this machine, mechanism by
 * mechanism, each measured bare (no Sentry): the floor of any sandbox
 * design built on it.
 *
 *   same-cpu-switch   a futex handoff between two processes pinned to one
 *                     CPU and back: the two address-space switches every
 *                     tracer/tracee round trip (ptrace) pays
 *   cross-cpu-wake    the same handoff with the processes on two CPUs: a
 *                     wake-up of a sleeping CPU each way
 *   cross-cpu-spin    a handoff through shared memory with both sides
 *                     spinning on two CPUs (a systrap-style platform's best
 *                     case, which keeps a second CPU busy)
 *   sigsys-trap       seccomp SECCOMP_RET_TRAP, a SIGSYS handler in the
 *                     calling thread and rt_sigreturn (a systrap-style
 *                     platform's entry and exit, without the handoff)
 *   kvm-exit          KVM_RUN of a guest that executes `out` in a loop: one
 *                     VM exit and re-entry (a KVM platform whose Sentry runs
 *                     on the host, as issue 8 describes it); skipped without
 *                     a usable /dev/kvm
 *
 * Usage: mechanisms [N [NAME]]   (default 100000 round trips each; with
 * NAME only that mechanism, as bench/report measures a platform's floor)
 * Prints one line per mechanism: NAME NS_PER_ROUND_TRIP (or NAME - WHY).
 * Needs two CPUs for the cross-CPU rows (else they print "-").
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sched_setaffinity(0, sizeof s, &s);
}

static long futex(atomic_int *a, int op, int v)
{
	return syscall(SYS_futex, a, op, v, NULL, NULL, 0);
}

/* The CPUs this process may use: the first two, or -1. */
static void two_cpus(int *a, int *b)
{
	cpu_set_t s;

	*a = *b = -1;
	if (sched_getaffinity(0, sizeof s, &s) != 0)
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &s))
			continue;
		if (*a < 0)
			*a = c;
		else if (*b < 0) {
			*b = c;
			return;
		}
	}
}

/*
 * A ping-pong of n rounds between this process (on cpu_a) and a child (on
 * cpu_b) through the shared word *w: odd values are pings, even pongs.
 * spin: busy-wait on both sides; else futex wait/wake.
 */
static double handoff(atomic_int *w, int n, int cpu_a, int cpu_b, int spin)
{
	atomic_store(w, 0);
	pid_t child = fork();

	if (child < 0) {
		perror("fork");
		exit(1);
	}
	if (child == 0) {
		pin(cpu_b);
		for (int i = 0; i < n; i++) {
			while (atomic_load(w) != 2 * i + 1)
				if (!spin)
					futex(w, FUTEX_WAIT, 2 * i);
			atomic_store(w, 2 * i + 2);
			if (!spin)
				futex(w, FUTEX_WAKE, 1);
		}
		_exit(0);
	}
	pin(cpu_a);
	double t = now_ns();

	for (int i = 0; i < n; i++) {
		atomic_store(w, 2 * i + 1);
		if (!spin)
			futex(w, FUTEX_WAKE, 1);
		while (atomic_load(w) != 2 * i + 2)
			if (!spin)
				futex(w, FUTEX_WAIT, 2 * i + 1);
	}
	t = (now_ns() - t) / n;
	waitpid(child, NULL, 0);
	return t;
}

static volatile long trapped;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	/* Answer the call, as a platform's handler would. */
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RAX] = 4242;
	trapped++;
}

/* In a child (the filter stays with it): getpid trapped n times. */
static double sigsys_trap(int n)
{
	int p[2];

	if (pipe(p) != 0)
		return -1;
	pid_t child = fork();

	if (child == 0) {
		struct sigaction sa;
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { sizeof f / sizeof f[0], f };
		double t = -1;

		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0) {
			t = now_ns();
			for (int i = 0; i < n; i++)
				syscall(SYS_getpid);
			t = (now_ns() - t) / n;
			if (trapped != n)
				t = -1;
		}
		if (write(p[1], &t, sizeof t) != sizeof t)
			_exit(1);
		_exit(0);
	}
	double t = -1;

	close(p[1]);
	if (read(p[0], &t, sizeof t) != sizeof t)
		t = -1;
	close(p[0]);
	waitpid(child, NULL, 0);
	return t;
}

/* A real-mode guest at 0x1000: `out %al, $0x10; jmp .-2`. */
static double kvm_exit(int n, const char **why)
{
	static const unsigned char code[] = { 0xe6, 0x10, 0xeb, 0xfc };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0) {
		*why = "no /dev/kvm";
		return -1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	unsigned char *mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0x1000,
		.memory_size = 0x1000,
		.userspace_addr = (unsigned long)mem,
	};

	*why = "KVM set-up failed";
	if (vm < 0 || mem == MAP_FAILED)
		return -1;
	memcpy(mem, code, sizeof code);
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -1;
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (vcpu < 0 || size <= 0)
		return -1;
	struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	memset(&regs, 0, sizeof regs);
	regs.rip = 0x1000;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return -1;
	double t = now_ns();

	for (int i = 0; i < n; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_IO) {
			*why = "the guest did not exit with KVM_EXIT_IO";
			return -1;
		}
	}
	return (now_ns() - t) / n;
}

static void report(const char *name, double ns, const char *why)
{
	if (ns < 0)
		printf("%s - %s\n", name, why);
	else
		printf("%s %.1f\n", name, ns);
	fflush(stdout);
}

/* Whether mechanism NAME is measured: all of them, or the one asked for. */
static const char *only;
static int wanted(const char *name)
{
	return !only || !strcmp(only, name);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	only = argc > 2 ? argv[2] : NULL;
	int a, b;
	const char *why = "";
	atomic_int *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (n <= 0 || w == MAP_FAILED) {
		fprintf(stderr, "usage: mechanisms [N [NAME]]\n");
		return 2;
	}
	two_cpus(&a, &b);
	if (wanted("same-cpu-switch"))
		report("same-cpu-switch", handoff(w, n, a, a, 0), "");
	/* An idle CPU's wake-up can take tens of microseconds: fewer rounds. */
	if (wanted("cross-cpu-wake"))
		report("cross-cpu-wake", b < 0 ? -1 : handoff(w, n / 10 + 1, a, b, 0), "one CPU");
	if (wanted("cross-cpu-spin"))
		report("cross-cpu-spin", b < 0 ? -1 : handoff(w, n, a, b, 1), "one CPU");
	if (wanted("sigsys-trap"))
		report("sigsys-trap", sigsys_trap(n), "seccomp refused");
	if (wanted("kvm-exit")) {
		double k = kvm_exit(n, &why);

		report("kvm-exit", k, why);
	}
	return 0;
}
