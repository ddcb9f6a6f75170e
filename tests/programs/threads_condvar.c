/*
 * 8 threads pass a token around a ring, one mutex and one condition variable
 * per thread: thread i waits until it holds the token, counts one handoff and
 * passes the token to thread (i + 1) % 8. Every handoff wakes a sleeping
 * thread, so the program is a stress test of futex wait/wake.
 *
 * Usage: threads_condvar [HANDOFFS_PER_THREAD]   (default 100000)
 * Prints the configuration and the final total; exits 0 when every handoff
 * happened in ring order and the total is right.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cond[NTHREADS];
static int turn;            /* which thread holds the token */
static long total;          /* handoffs so far */
static long out_of_order;   /* handoffs seen by the wrong thread */
static long per_thread;

static void *worker(void *arg)
{
	int me = (int)(long)arg;

	for (long k = 0; k < per_thread; k++) {
		pthread_mutex_lock(&lock);
		while (turn != me)
			pthread_cond_wait(&turn_cond[me], &lock);
		if (total % NTHREADS != me)
			out_of_order++;
		total++;
		turn = (me + 1) % NTHREADS;
		pthread_cond_signal(&turn_cond[turn]);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[NTHREADS];

	per_thread = argc > 1 ? atol(argv[1]) : 100000;
	if (per_thread <= 0) {
		fprintf(stderr, "usage: %s [HANDOFFS_PER_THREAD > 0]\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_cond_init(&turn_cond[i], NULL);
	for (int i = 0; i < NTHREADS; i++) {
		int err = pthread_create(&threads[i], NULL, worker, (void *)(long)i);
		if (err) {
			printf("FAIL: pthread_create %d: error %d\n", i, err);
			return 1;
		}
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(threads[i], NULL);

	printf("threads %d, handoffs per thread %ld\n", NTHREADS, per_thread);
	printf("total %ld\n", total);
	printf("out of order %ld\n", out_of_order);
	if (total != NTHREADS * per_thread || out_of_order != 0) {
		printf("FAIL\n");
		return 1;
	}
	printf("PASS\n");
	return 0;
}
