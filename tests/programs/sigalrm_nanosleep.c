/*
 * SIGALRM interrupts a sleep: nanosleep returns -1/EINTR and fills in the
 * time that was left, whether the timer is alarm() or setitimer(), and even
 * with SA_RESTART (nanosleep is never restarted). A read() from a pipe is
 * restarted under SA_RESTART and fails with EINTR without it. Timing checks
 * have wide margins so a slow machine still passes; only facts are printed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t alarms;
static int wake_pipe[2] = { -1, -1 };

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
	if (wake_pipe[1] >= 0) {
		char c = 'x';
		(void)!write(wake_pipe[1], &c, 1);
	}
}

static void install(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
}

static double secs(const struct timespec *t)
{
	return t->tv_sec + t->tv_nsec / 1e9;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return secs(&t);
}

static void arm_itimer(long usec)
{
	struct itimerval it = { { 0, 0 }, { usec / 1000000, usec % 1000000 } };

	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

/* Sleep `want` seconds, expect an interruption after about `after` seconds. */
static void interrupted_sleep(const char *what, double want, double after)
{
	struct timespec req = { (time_t)want, 0 }, rem = { -1, -1 };
	int before = alarms;
	double t0 = now();
	int r = nanosleep(&req, &rem);
	int err = errno;
	double slept = now() - t0, left = secs(&rem);

	printf("%s: nanosleep returns %d, errno %s, handler ran %d time(s)\n", what,
	       r, r == -1 && err == EINTR ? "EINTR" : strerror(err), alarms - before);
	CHECK(r == -1 && err == EINTR);
	CHECK(alarms - before == 1);
	/* Woken near `after`; `rem` is what was left of `want`. */
	CHECK(slept > after * 0.5 && slept < want - 0.2);
	CHECK(left > 0 && left <= want - after + 0.05 && left > want - after - 1.0);
	CHECK(left + slept > want - 0.2 && left + slept < want + 0.2);
	printf("%s: remaining time is filled in: %s\n", what,
	       left > 0 && left < want ? "yes" : "no");
}

static void pipe_read(const char *what, int flags)
{
	char c;
	ssize_t r;
	int err;

	CHECK(pipe(wake_pipe) == 0);
	install(flags);
	arm_itimer(100000);
	errno = 0;
	r = read(wake_pipe[0], &c, 1);
	err = errno;
	printf("%s: read returns %zd%s%s\n", what, r, r < 0 ? ", errno " : "",
	       r < 0 ? (err == EINTR ? "EINTR" : strerror(err)) : "");
	if (flags & SA_RESTART)
		CHECK(r == 1 && c == 'x');
	else
		CHECK(r == -1 && err == EINTR);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	wake_pipe[0] = wake_pipe[1] = -1;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	install(0);
	alarm(1);
	interrupted_sleep("alarm(1) during a 5 s sleep", 5, 1);
	CHECK(alarm(0) == 0);

	arm_itimer(200000);
	interrupted_sleep("setitimer(200 ms) during a 2 s sleep", 2, 0.2);

	install(SA_RESTART);
	arm_itimer(200000);
	interrupted_sleep("SA_RESTART, setitimer(200 ms) during a 2 s sleep", 2, 0.2);

	/* A timer that was disarmed does not fire. */
	arm_itimer(100000);
	arm_itimer(0);
	struct timespec req = { 0, 300000000 }, rem;
	int before = alarms;
	CHECK(nanosleep(&req, &rem) == 0);
	printf("disarmed timer: nanosleep completes, handler ran %d time(s)\n", alarms - before);
	CHECK(alarms == before);

	pipe_read("pipe read without SA_RESTART", 0);
	pipe_read("pipe read with SA_RESTART", SA_RESTART);

	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
