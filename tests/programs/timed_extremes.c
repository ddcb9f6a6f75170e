/*
 * Timed calls with extreme times: tv_sec = LLONG_MAX (relative and
 * absolute), negative, and nanoseconds out of range. Each either fails with
 * Linux's errno, returns at once because what it waits for is already
 * there, or sleeps until a SIGALRM (1 s) interrupts it. A kernel that adds
 * such a time to its clock without care overflows: this pins down that
 * the sandbox answers as Linux does instead of dying.
 * Prints one line per call and PASS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	(void)sig;
}

static void show(const char *what, long r)
{
	printf("%-58s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

/* Arms a 1 s SIGALRM (no SA_RESTART) to end a call that sleeps. */
static void alarm_in_1s(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct timespec huge = {LLONG_MAX, 0};
	const struct timespec huge_ns = {LLONG_MAX, 999999999};
	const struct timespec negative = {-1, 0};
	const struct timespec bad_ns = {0, 1000000000};

	/* rt_sigtimedwait: the signal is already pending, so it returns it. */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	raise(SIGUSR1);
	show("sigtimedwait(pending SIGUSR1, LLONG_MAX s)", sigtimedwait(&usr1, NULL, &huge));
	show("sigtimedwait(nothing pending, -1 s)", sigtimedwait(&usr1, NULL, &negative));
	show("sigtimedwait(nothing pending, 1e9 ns)", sigtimedwait(&usr1, NULL, &bad_ns));

	/* setitimer: armed for ages, then disarmed. */
	struct itimerval it = {{0, 0}, {LONG_MAX, 0}};
	show("setitimer(ITIMER_REAL, LONG_MAX s)", setitimer(ITIMER_REAL, &it, NULL));
	struct itimerval off = {{0, 0}, {0, 0}};
	show("setitimer(ITIMER_REAL, 0) disarms it", setitimer(ITIMER_REAL, &off, NULL));
	struct itimerval bad = {{0, 0}, {0, 1000000}};
	show("setitimer(ITIMER_REAL, 1e6 us)", setitimer(ITIMER_REAL, &bad, NULL));
	setitimer(ITIMER_REAL, &off, NULL);

	/* futex: the word does not hold the value, so EAGAIN at once. */
	int word = 1;
	show("futex(WAIT_BITSET, absolute LLONG_MAX s, value differs)",
	     syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 0, &huge, NULL,
		     FUTEX_BITSET_MATCH_ANY));
	show("futex(WAIT_BITSET|CLOCK_REALTIME, absolute LLONG_MAX s)",
	     syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0,
		     &huge_ns, NULL, FUTEX_BITSET_MATCH_ANY));
	show("futex(WAIT, relative LLONG_MAX s, value differs)",
	     syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &huge, NULL, 0));
	show("futex(WAIT, relative -1 s)",
	     syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, &negative, NULL, 0));

	/* timerfd: armed absolute and relative for ages, then disarmed. */
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec far = {{0, 0}, huge};
	show("timerfd_settime(ABSTIME, LLONG_MAX s)",
	     timerfd_settime(tfd, TFD_TIMER_ABSTIME, &far, NULL));
	show("timerfd_settime(relative, LLONG_MAX s)", timerfd_settime(tfd, 0, &far, NULL));
	struct itimerspec far_interval = {huge, {1, 0}};
	show("timerfd_settime(interval LLONG_MAX s)", timerfd_settime(tfd, 0, &far_interval, NULL));
	struct itimerspec zero = {{0, 0}, {0, 0}};
	show("timerfd_settime(0) disarms it", timerfd_settime(tfd, 0, &zero, NULL));
	close(tfd);

	/* Waits on a descriptor that is ready at once. */
	int p[2];
	if (pipe(p) != 0 || write(p[1], "x", 1) != 1)
		return 1;
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	show("ppoll(ready pipe, LLONG_MAX s)", ppoll(&pf, 1, &huge, NULL));
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	struct timeval tv_huge = {LONG_MAX, 0};
	show("select(ready pipe, LONG_MAX s)", select(p[0] + 1, &rd, NULL, NULL, &tv_huge));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	struct epoll_event out;
	show("epoll_pwait2(ready pipe, LLONG_MAX s)",
	     syscall(SYS_epoll_pwait2, ep, &out, 1, &huge, NULL, 0));

	/* Sleeps that only a signal ends. */
	alarm_in_1s();
	show("nanosleep(LLONG_MAX s), ended by SIGALRM", nanosleep(&huge, NULL));
	alarm_in_1s();
	errno = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &huge, NULL);
	show("clock_nanosleep(ABSTIME LLONG_MAX s), ended by SIGALRM", errno ? -1 : 0);
	errno = clock_nanosleep(CLOCK_MONOTONIC, 0, &bad_ns, NULL);
	show("clock_nanosleep(1e9 ns)", errno ? -1 : 0);
	alarm_in_1s();
	sigset_t none;
	sigemptyset(&none);
	show("sigtimedwait(nothing pending, LLONG_MAX s), ended by SIGALRM",
	     sigtimedwait(&usr1, NULL, &huge));
	printf("PASS\n");
	return 0;
}
