/*
 * fork+exit+wait of a process with touched heap:
 *   forkmem MIB N   malloc MIB MiB, write every page, then N times: fork,
 *                   child _exit(0), parent waitpid   -> "X ns/op"
 * What copy-on-write fork saves: a fork that copied the touched pages
 * costs in proportion to them.
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
	size_t mib = strtoul(argv[1], NULL, 10);
	long n = atol(argv[2]);
	char *heap = malloc(mib << 20);
	if (!heap)
		return 1;
	memset(heap, 1, mib << 20);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p == 0)
			_exit(0);
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	}
	printf("fork %zu MiB: %.1f ns/op\n", mib, (now() - t0) / n);
	return heap[12345] == 1 ? 0 : 1;
}
