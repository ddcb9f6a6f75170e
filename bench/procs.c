/*
 * Process and clock micro-benchmarks, one per run:
 *   procs fork N    fork, child _exit(0), parent waitpid     -> "X ns/op"
 *   procs exec N    fork, child execs /bin/true, waitpid     -> "X ns/op"
 *   procs clock N   clock_gettime(CLOCK_MONOTONIC)           -> "X ns/call"
 *   procs unix N    1-byte round trip to a child over an AF_UNIX
 *                   socketpair (write, the child echoes, read) -> "X ns/op"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = atol(argv[2]);
	double t0 = now();
	if (strcmp(argv[1], "clock") == 0) {
		struct timespec ts;
		for (long i = 0; i < n; i++)
			clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("clock_gettime: %.1f ns/call\n", (now() - t0) / n);
		return 0;
	}
	if (strcmp(argv[1], "unix") == 0) {
		int sv[2];
		char c = 'x';
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			return 1;
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p == 0) {
			close(sv[0]);
			while (read(sv[1], &c, 1) == 1)
				if (write(sv[1], &c, 1) != 1)
					_exit(1);
			_exit(0);
		}
		close(sv[1]);
		t0 = now();
		for (long i = 0; i < n; i++)
			if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1)
				return 1;
		double per = (now() - t0) / n;
		close(sv[0]);
		waitpid(p, NULL, 0);
		printf("unix: %.1f ns/op\n", per);
		return 0;
	}
	int exec = strcmp(argv[1], "exec") == 0;
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p == 0) {
			if (exec)
				execl("/bin/true", "true", (char *)NULL);
			_exit(0);
		}
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	}
	printf("%s: %.1f ns/op\n", argv[1], (now() - t0) / n);
	return 0;
}
