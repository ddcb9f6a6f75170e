/*
 * Page-fault cost, ns per fault, measured inside the program:
 *
 *   faults anon N   map N fresh anonymous pages and write one byte to each:
 *                   N first-touch faults (each a zero page allocated)
 *   faults cow N    write N pages, fork, and have the child write one byte
 *                   to each again: N copy-on-write faults, timed in the child
 *
 * Prints "anon: X ns/fault" or "cow: X ns/fault" (bench/report parses the
 * "X ns/" part). MAP_POPULATE is not used: the point is the fault.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void touch(volatile char *p, long pages, long page)
{
	for (long i = 0; i < pages; i++)
		p[i * page] = (char)i;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "anon") && strcmp(argv[1], "cow"))) {
		fprintf(stderr, "usage: faults anon|cow N\n");
		return 2;
	}
	long n = atol(argv[2]);
	long page = sysconf(_SC_PAGESIZE);
	if (n <= 0 || page <= 0) {
		fprintf(stderr, "faults: N must be > 0\n");
		return 2;
	}
	char *p = mmap(NULL, (size_t)n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (!strcmp(argv[1], "anon")) {
		double t0 = now_ns();
		touch(p, n, page);
		printf("anon: %.1f ns/fault\n", (now_ns() - t0) / n);
		return 0;
	}
	touch(p, n, page);
	fflush(stdout);
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		double t0 = now_ns();
		touch(p, n, page);
		printf("cow: %.1f ns/fault\n", (now_ns() - t0) / n);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "faults: the child failed\n");
		return 1;
	}
	return 0;
}
