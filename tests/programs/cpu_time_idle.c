/*
 * CPU time while waiting: a thread that sleeps 100 ms in 20 naps, with a
 * few quick system calls between them, has used almost no CPU time by
 * its thread clock, its process clock and getrusage, however busy the
 * host is (CPython's test_time asks for under 20 ms). Linux counts only
 * time on a CPU; the test runs it beside busy host threads, so that a
 * sandbox charging the time its stub waited for a host CPU shows it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rusage_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(void)
{
	double thread0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	double process0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	double rusage0 = rusage_s();
	double wall0 = clock_s(CLOCK_MONOTONIC);
	for (int i = 0; i < 20; i++) {
		struct timespec nap = {0, 5 * 1000 * 1000};
		nanosleep(&nap, NULL);
		for (int j = 0; j < 10; j++)
			getppid();
	}
	double wall = clock_s(CLOCK_MONOTONIC) - wall0;
	double thread = clock_s(CLOCK_THREAD_CPUTIME_ID) - thread0;
	double process = clock_s(CLOCK_PROCESS_CPUTIME_ID) - process0;
	double rusage = rusage_s() - rusage0;
	int ok = 1;
	printf("slept at least 100 ms: %s\n", wall >= 0.1 ? "yes" : "no");
	const char *names[] = {"thread clock", "process clock", "getrusage"};
	double used[] = {thread, process, rusage};
	for (int i = 0; i < 3; i++) {
		int small = used[i] < 0.020;
		ok &= small;
		printf("%s under 20 ms: %s\n", names[i], small ? "yes" : "no");
		if (!small)
			fprintf(stderr, "%s: %.1f ms in %.1f ms\n", names[i], used[i] * 1e3,
				wall * 1e3);
	}
	if (ok)
		printf("PASS\n");
	return !ok;
}
