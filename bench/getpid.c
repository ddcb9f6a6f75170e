/*
 * getpid round trip: N raw getpid system calls (inline `syscall`, no libc
 * wrapper, no vDSO), timed with CLOCK_MONOTONIC. Run natively, under
 * runsc-rs and under gVisor to compare the cost of one trapped call.
 *
 * Usage: getpid [N] [exit]    (default 1000000)
 * With "exit", a seccomp filter that allows every call is installed
 * first: a sandbox must then see each call (runsc-rs's KVM platform
 * answers getpid in the guest otherwise), so this is the exiting path.
 * Prints: getpid: N calls, X ns/call
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

static inline long raw_getpid(void)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_getpid)
			 : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec t0, t1;
	long first, pid = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: %s [N > 0] [exit]\n", argv[0]);
		return 2;
	}
	if (argc > 2 && strcmp(argv[2], "exit") == 0) {
		struct sock_filter allow[] = {
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { 1, allow };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
			perror("seccomp");
			return 1;
		}
	}
	first = raw_getpid();
	for (long i = 0; i < n / 100 + 10; i++) /* warm up */
		pid = raw_getpid();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		pid = raw_getpid();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (pid != first || pid <= 0) {
		fprintf(stderr, "getpid returned %ld then %ld\n", first, pid);
		return 1;
	}
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("getpid: %ld calls, %.1f ns/call\n", n, ns / n);
	return 0;
}
