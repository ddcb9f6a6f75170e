/*
 * Unimplemented system calls and exit statuses.
 *
 *   enosys              syscall number 1000 (no such call on x86-64) fails
 *                       with ENOSYS; natively and in the sandbox.
 *   enosys unsupported  kexec_file_load, twice (a real Linux call the sandbox
 *                       does not implement): prints the errno. In the sandbox
 *                       it is ENOSYS and the debug log names it once.
 *                       Natively it fails too (invalid flags: EINVAL, or
 *                       EPERM), so it is harmless to run anywhere.
 *   enosys exit N       exits with status N.
 *   enosys signal N     kills itself with signal N (the exit status seen
 *                       by a shell is 128 + N).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EBADF: return "EBADF";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	long r;

	if (argc == 3 && strcmp(argv[1], "exit") == 0) {
		exit(atoi(argv[2]));
	}
	if (argc == 3 && strcmp(argv[1], "signal") == 0) {
		int sig = atoi(argv[2]);
		signal(sig, SIG_DFL);
		raise(sig);
		printf("still alive after raise(%d)\n", sig);
		return 1;
	}
	if (argc == 2 && strcmp(argv[1], "unsupported") == 0) {
		for (int i = 0; i < 2; i++) {
			errno = 0;
			/* kernel_fd -1, initrd_fd -1, no cmdline, invalid flags. */
			r = syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, ~0UL);
			printf("kexec_file_load: %ld %s\n", r, errname(errno));
		}
		return 0;
	}
	if (argc == 1) {
		errno = 0;
		r = syscall(1000, 1, 2, 3);
		printf("syscall 1000: %ld %s\n", r, errname(errno));
		errno = 0;
		r = syscall(-1L);
		printf("syscall -1: %ld %s\n", r, errname(errno));
		/* The process carries on normally afterwards. */
		printf("getpid works after ENOSYS: %s\n", getpid() > 0 ? "yes" : "no");
		return 0;
	}
	fprintf(stderr, "usage: %s [unsupported | exit N | signal N]\n", argv[0]);
	return 2;
}
