/*
 * Priority-inheritance futexes as Linux answers them: pthread mutexes
 * with PTHREAD_PRIO_INHERIT (contended, trylock, robust with an owner that
 * dies, before and while another thread waits: EOWNERDEAD), and the raw
 * calls: the owner-TID word, FUTEX_WAITERS, EDEADLK, EPERM, ESRCH,
 * EAGAIN, ETIMEDOUT on both clocks, ENOSYS for LOCK_PI with
 * FUTEX_CLOCK_REALTIME, the lock handed to a waiter on unlock, and
 * FUTEX_WAIT_REQUEUE_PI / FUTEX_CMP_REQUEUE_PI.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

static int failures;

static long futex(uint32_t *uaddr, int op, uint32_t val, const void *ts, uint32_t *uaddr2, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

static void expect(const char *what, long r, int err)
{
	int e = r < 0 ? errno : 0;

	printf("%s: %s\n", what, r < 0 ? strerrorname_np(e) : "ok");
	if (e != err) {
		printf("  FAIL: wanted %s\n", err ? strerrorname_np(err) : "ok");
		failures++;
	}
}

static void check(const char *what, int cond)
{
	printf("%s: %s\n", what, cond ? "yes" : "no");
	if (!cond)
		failures++;
}

/* Waits until thread `tid` of this process sleeps (state S in /proc),
 * so an order between threads does not rest on timing. */
static void wait_sleeping(pid_t tid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	for (;;) {
		FILE *f = fopen(path, "r");
		char *p = NULL;

		if (f) {
			if (fgets(buf, sizeof(buf), f))
				p = strrchr(buf, ')');
			fclose(f);
		}
		if (p && p[2] == 'S')
			return;
		usleep(1000);
	}
}

/* ---- pthread PI mutexes ---- */

static pthread_mutex_t pim;
static long counter;

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&pim);
		counter++;
		pthread_mutex_unlock(&pim);
	}
	return NULL;
}

static void *try_it(void *arg)
{
	return (void *)(long)pthread_mutex_trylock((pthread_mutex_t *)arg);
}

static void *lock_and_die(void *arg)
{
	pthread_mutex_lock((pthread_mutex_t *)arg);
	return NULL;
}

static volatile int holding;

static void *lock_hold_die(void *arg)
{
	pthread_mutex_lock((pthread_mutex_t *)arg);
	holding = 1;
	/* Dies once the main thread waits for the mutex. */
	usleep(20 * 1000);
	wait_sleeping(getpid());
	return NULL;
}

static void init_mutex(pthread_mutex_t *m, int robust)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static void pthread_cases(void)
{
	pthread_t t[4];
	void *r;

	init_mutex(&pim, 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("PI mutex, 4 threads x 20000: %ld\n", counter);

	pthread_mutex_lock(&pim);
	pthread_create(&t[0], NULL, try_it, &pim);
	pthread_join(t[0], &r);
	printf("trylock of a held PI mutex: %s\n", strerrorname_np((int)(long)r));
	pthread_mutex_unlock(&pim);
	pthread_create(&t[0], NULL, try_it, &pim);
	pthread_join(t[0], &r);
	printf("trylock of a free PI mutex: %d\n", (int)(long)r);

	/* Robust + PI: the owner died before anyone waited. */
	static pthread_mutex_t rm;
	init_mutex(&rm, 1);
	pthread_create(&t[0], NULL, lock_and_die, &rm);
	pthread_join(t[0], NULL);
	int e = pthread_mutex_lock(&rm);
	printf("robust PI mutex whose owner died: %s\n", strerrorname_np(e));
	printf("consistent: %d\n", pthread_mutex_consistent(&rm));
	pthread_mutex_unlock(&rm);
	printf("lock again: %d\n", pthread_mutex_lock(&rm));
	pthread_mutex_unlock(&rm);

	/* Robust + PI: the owner dies while this thread waits. */
	static pthread_mutex_t rm2;
	init_mutex(&rm2, 1);
	pthread_create(&t[0], NULL, lock_hold_die, &rm2);
	while (!holding)
		usleep(1000);
	e = pthread_mutex_lock(&rm2);
	printf("robust PI mutex whose owner died while we waited: %s\n", strerrorname_np(e));
	pthread_mutex_consistent(&rm2);
	pthread_mutex_unlock(&rm2);
	pthread_join(t[0], NULL);
}

/* ---- raw calls ---- */

static uint32_t word, f1, piw;
static volatile int step;
static int hold_unlock_errno;

static void *hold_word(void *arg)
{
	(void)arg;
	expect("other thread LOCK_PI", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	step = 1;
	while (step != 2)
		usleep(1000);
	/* Printed by the main thread once both are done: the waiter it hands
	 * the lock to may print first otherwise. */
	hold_unlock_errno = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) < 0 ? errno : 0;
	return NULL;
}

static volatile pid_t waiter_tid;

static void *wait_for_word(void *arg)
{
	(void)arg;
	waiter_tid = gettid_();
	long r = futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
	check("waiter got the lock handed over",
	      r == 0 && (word & FUTEX_TID_MASK) == (uint32_t)gettid_());
	check("  and the word shows FUTEX_WAITERS", (word & FUTEX_WAITERS) != 0);
	expect("waiter UNLOCK_PI", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	return NULL;
}

static long requeue_result = -1;
static int requeue_errno;

static void *wait_requeue(void *arg)
{
	(void)arg;
	requeue_result = futex(&f1, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &piw, 0);
	requeue_errno = errno;
	if (requeue_result == 0)
		futex(&piw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static volatile int timed_waiting;

static void *wait_requeue_timed(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 1;
	timed_waiting = 1;
	requeue_result = futex(&f1, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, &ts, &piw, 0);
	requeue_errno = errno;
	return NULL;
}

static void raw_cases(void)
{
	pid_t me = gettid_();
	struct timespec ts;
	pthread_t t, w;

	expect("LOCK_PI of a free word", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	check("word is our tid", word == (uint32_t)me);
	expect("LOCK_PI again", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
	expect("TRYLOCK_PI again", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
	expect("UNLOCK_PI", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	check("word is 0", word == 0);
	expect("UNLOCK_PI of a free word", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);
	expect("TRYLOCK_PI of a free word", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	expect("UNLOCK_PI", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);

	word = 0x3ffffff0; /* no such thread */
	expect("LOCK_PI of a dead owner's word", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), ESRCH);
	expect("TRYLOCK_PI of a dead owner's word", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), ESRCH);
	expect("UNLOCK_PI of another's word", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);
	word = FUTEX_OWNER_DIED;
	expect("LOCK_PI of a word whose owner died", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	check("word keeps FUTEX_OWNER_DIED with our tid", word == (FUTEX_OWNER_DIED | (uint32_t)me));
	expect("UNLOCK_PI", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	check("word is 0", word == 0);
	expect("LOCK_PI with FUTEX_CLOCK_REALTIME",
	       futex(&word, FUTEX_LOCK_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0), ENOSYS);
	expect("UNLOCK_PI with FUTEX_CLOCK_REALTIME",
	       futex(&word, FUTEX_UNLOCK_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0), ENOSYS);

	/* Held by another thread. */
	pthread_create(&t, NULL, hold_word, NULL);
	while (step != 1)
		usleep(1000);
	expect("TRYLOCK_PI of a held word", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
	check("  it set FUTEX_WAITERS", (word & FUTEX_WAITERS) != 0);
	expect("UNLOCK_PI of a word another holds", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	expect("LOCK_PI timing out (absolute, CLOCK_REALTIME)",
	       futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 50 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	expect("LOCK_PI2 timing out (absolute, CLOCK_MONOTONIC)",
	       futex(&word, FUTEX_LOCK_PI2 | FUTEX_PRIVATE_FLAG, 0, &ts, NULL, 0), ETIMEDOUT);
	/* A waiter gets the lock handed over when the owner unlocks. */
	pthread_create(&w, NULL, wait_for_word, NULL);
	while (!waiter_tid)
		usleep(1000);
	usleep(20 * 1000);
	wait_sleeping(waiter_tid);
	step = 2;
	pthread_join(t, NULL);
	pthread_join(w, NULL);
	errno = hold_unlock_errno;
	expect("other thread UNLOCK_PI", hold_unlock_errno ? -1 : 0, 0);
	check("word is 0 at the end", word == 0);

	/* Requeue-PI: the errnos, then a waiter requeued onto a free PI futex. */
	expect("WAIT_REQUEUE_PI onto itself", futex(&f1, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &f1, 0), EINVAL);
	expect("WAIT_REQUEUE_PI of a changed word", futex(&f1, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 1, NULL, &piw, 0), EAGAIN);
	expect("CMP_REQUEUE_PI waking 2", futex(&f1, FUTEX_CMP_REQUEUE_PI_PRIVATE, 2, 0, &piw, 0), EINVAL);
	expect("CMP_REQUEUE_PI onto itself", futex(&f1, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, 0, &f1, 0), EINVAL);
	expect("CMP_REQUEUE_PI of a changed word", futex(&f1, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, 0, &piw, 5), EAGAIN);
	expect("CMP_REQUEUE_PI with nobody waiting", futex(&f1, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, 0, &piw, 0), 0);
	pthread_create(&w, NULL, wait_requeue, NULL);
	long n = 0;
	for (int i = 0; i < 1000 && n == 0; i++) {
		usleep(2000);
		n = futex(&f1, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, 0, &piw, 0);
	}
	pthread_join(w, NULL);
	printf("CMP_REQUEUE_PI moved %ld; the waiter returned %ld (%s)\n", n, requeue_result,
	       requeue_result < 0 ? strerrorname_np(requeue_errno) : "owner");
	check("PI word free again", piw == 0);
	/* A requeue-PI waiter is not for FUTEX_WAKE (EINVAL); a timeout ends it. */
	requeue_result = 0;
	pthread_create(&w, NULL, wait_requeue_timed, NULL);
	while (!timed_waiting)
		usleep(1000);
	usleep(20 * 1000);
	expect("FUTEX_WAKE of a requeue-PI waiter", futex(&f1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL);
	pthread_join(w, NULL);
	printf("the requeue-PI waiter returned %ld (%s)\n", requeue_result,
	       requeue_result < 0 ? strerrorname_np(requeue_errno) : "owner");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_cases();
	raw_cases();
	printf(failures ? "FAILED\n" : "PASS\n");
	return failures != 0;
}
