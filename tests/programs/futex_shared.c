/*
 * futex between processes over MAP_SHARED|MAP_ANONYMOUS memory, with raw
 * syscall(SYS_futex) and the shared (non-private) operations:
 *  - FUTEX_WAIT returns EAGAIN at once when the word differs from the value;
 *  - FUTEX_WAIT with a timeout returns ETIMEDOUT;
 *  - a waiter in another process is woken (FUTEX_WAKE returns 1 once the
 *    child is asleep, and the child's FUTEX_WAIT returns 0);
 *  - FUTEX_WAKE with INT_MAX wakes three sleeping processes;
 *  - parent and child ping-pong a counter 10000 times.
 */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define ROUNDS 10000

struct shared {
	_Atomic uint32_t wake_word;
	_Atomic uint32_t many_word;
	_Atomic uint32_t pingpong;
	_Atomic int child_result;
	_Atomic int ready;
};

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, (uint32_t *)uaddr, op, val, timeout, NULL, 0);
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EAGAIN: return "EAGAIN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINTR: return "EINTR";
	default: return strerror(e);
	}
}

static void short_sleep(void)
{
	struct timespec t = { 0, 1000000 };

	nanosleep(&t, NULL);
}

/* waitpid() that gives up after `limit` seconds (returns 0). */
static pid_t wait_deadline(pid_t pid, int *status, double limit)
{
	for (double waited = 0; waited < limit; waited += 0.001) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r != 0)
			return r;
		short_sleep();
	}
	return 0;
}

/* Wake `n` waiters on `word`, retrying until all of them were asleep. */
static int wake_sleepers(_Atomic uint32_t *word, int n)
{
	int woken = 0;

	for (int tries = 0; woken < n && tries < 100000; tries++) {
		long r = futex(word, FUTEX_WAKE, INT_MAX, NULL);
		if (r < 0)
			return -1;
		woken += (int)r;
		if (woken < n)
			short_sleep();
	}
	return woken;
}

int main(void)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status;
	long r;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (sh == MAP_FAILED) {
		printf("FAIL: mmap\n");
		return 1;
	}

	/* Value mismatch. */
	atomic_store(&sh->wake_word, 5);
	errno = 0;
	r = futex(&sh->wake_word, FUTEX_WAIT, 4, NULL);
	printf("FUTEX_WAIT on a changed word: %ld %s\n", r, errname(errno));
	CHECK(r == -1 && errno == EAGAIN);

	/* Timeout. */
	struct timespec timeout = { 0, 50000000 };
	errno = 0;
	r = futex(&sh->wake_word, FUTEX_WAIT, 5, &timeout);
	printf("FUTEX_WAIT with a 50 ms timeout: %ld %s\n", r, errname(errno));
	CHECK(r == -1 && errno == ETIMEDOUT);

	/* One waiter in a child process. */
	atomic_store(&sh->wake_word, 0);
	atomic_store(&sh->child_result, -1);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		long cr;
		do {
			errno = 0;
			cr = futex(&sh->wake_word, FUTEX_WAIT, 0, NULL);
		} while (cr == -1 && errno == EINTR);
		atomic_store(&sh->child_result, cr == 0 ? 0 : errno);
		_exit(0);
	}
	r = wake_sleepers(&sh->wake_word, 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("FUTEX_WAKE of a sleeping child: woke %ld, child's FUTEX_WAIT returned %s\n",
	       r, errname(atomic_load(&sh->child_result)));
	CHECK(r == 1 && atomic_load(&sh->child_result) == 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A count of 0 (or a negative one) still wakes one waiter: Linux
	 * compares after waking. Retried until the child sleeps. */
	atomic_store(&sh->wake_word, 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		while (futex(&sh->wake_word, FUTEX_WAIT, 0, NULL) != 0)
			;
		_exit(0);
	}
	r = 0;
	for (int tries = 0; r == 0 && tries < 100000; tries++) {
		r = futex(&sh->wake_word, FUTEX_WAKE, tries % 2 ? 0 : -1, NULL);
		if (r == 0)
			short_sleep();
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("FUTEX_WAKE with a count of 0 or -1: woke %ld\n", r);
	CHECK(r == 1);

	/* Three waiters, one wake-all. Each child announces itself before it
	 * sleeps; a child that was not asleep yet at the wake sees the changed
	 * word (EAGAIN) and exits too, so every child must exit after one call. */
	atomic_store(&sh->many_word, 0);
	atomic_store(&sh->ready, 0);
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		CHECK(kids[i] >= 0);
		if (kids[i] == 0) {
			atomic_fetch_add(&sh->ready, 1);
			while (atomic_load(&sh->many_word) == 0)
				futex(&sh->many_word, FUTEX_WAIT, 0, NULL);
			_exit(10 + i);
		}
	}
	while (atomic_load(&sh->ready) < 3)
		short_sleep();
	for (int i = 0; i < 20; i++)
		short_sleep();
	atomic_store(&sh->many_word, 1);
	r = futex(&sh->many_word, FUTEX_WAKE, INT_MAX, NULL);
	CHECK(r >= 0 && r <= 3);
	int sum = 0, exited = 0;
	for (int i = 0; i < 3; i++) {
		if (wait_deadline(kids[i], &status, 10.0) != kids[i]) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], &status, 0);
			continue;
		}
		exited++;
		if (WIFEXITED(status))
			sum += WEXITSTATUS(status);
	}
	printf("one FUTEX_WAKE(INT_MAX): %d of 3 waiters exited, exit codes sum %d\n", exited, sum);
	CHECK(exited == 3 && sum == 33);

	/* Ping-pong: the parent moves the counter from even to odd, the child
	 * from odd to even. */
	atomic_store(&sh->pingpong, 0);
	pid = fork();
	CHECK(pid >= 0);
	int parity = pid == 0 ? 1 : 0;
	for (int i = 0; i < ROUNDS; i++) {
		uint32_t v;
		while (((v = atomic_load(&sh->pingpong)) & 1) != (uint32_t)parity)
			futex(&sh->pingpong, FUTEX_WAIT, v, NULL);
		atomic_fetch_add(&sh->pingpong, 1);
		futex(&sh->pingpong, FUTEX_WAKE, 1, NULL);
	}
	if (pid == 0)
		_exit(0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("ping-pong between processes: counter %u after %d rounds each\n",
	       atomic_load(&sh->pingpong), ROUNDS);
	CHECK(atomic_load(&sh->pingpong) == 2 * ROUNDS);

	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
