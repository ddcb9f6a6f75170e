/*
 * Process and clock micro-benchmarks, one per run:
 *   procs fork N    fork, child _exit(0), parent waitpid     -> "X ns/op"
 *   procs exec N    fork, child execs /bin/true, waitpid     -> "X ns/op"
 *   procs clock N   clock_gettime(CLOCK_MONOTONIC)           -> "X ns/call"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
