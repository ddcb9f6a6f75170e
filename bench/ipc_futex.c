/* bench/ipc: two threads of one process hand a turn back and forth with
 * FUTEX_WAIT/FUTEX_WAKE, N times; each round trip is two wake-ups.
 * Prints the mean round trip. Usage: ipc_futex N */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int turn; /* 0: the main thread's, 1: the other's */
static long n;

static void wait_while(int v)
{
	while (atomic_load(&turn) == v)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void give(int v)
{
	atomic_store(&turn, v);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *other(void *arg)
{
	(void)arg;
	for (long i = 0; i < n; i++) {
		wait_while(0);
		give(0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	struct timespec t0, t1;

	n = argc > 1 ? atol(argv[1]) : 10000;
	if (pthread_create(&th, NULL, other, NULL))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		give(1);
		wait_while(1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("futex ping-pong: %.1f ns/round trip\n", ns / n);
	return 0;
}
