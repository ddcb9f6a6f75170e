/* eventfd, timerfd and epoll: counters, expirations, readiness, errno
 * cases. Deterministic output; timings are checked with slack. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	uint64_t v;

	/* eventfd: counter semantics. */
	int e = eventfd(3, EFD_NONBLOCK);
	v = 4;
	CHECK(write(e, &v, 8) == 8);
	CHECK(read(e, &v, 8) == 8);
	printf("eventfd read after 3+4: %lu\n", (unsigned long)v);
	TRY("eventfd read when zero (nonblocking)", read(e, &v, 8));
	TRY("eventfd read with a short buffer", read(e, &v, 4));
	v = UINT64_MAX;
	TRY("eventfd write of UINT64_MAX", write(e, &v, 8));
	int s = eventfd(2, EFD_SEMAPHORE);
	CHECK(read(s, &v, 8) == 8);
	printf("semaphore eventfd reads: %lu", (unsigned long)v);
	CHECK(read(s, &v, 8) == 8);
	printf(" %lu\n", (unsigned long)v);
	TRY("eventfd2 with bad flags", eventfd(0, 0x4000000));

	/* A blocked read is woken by a write from another process. */
	int b = eventfd(0, 0);
	pid_t p = fork();
	if (p == 0) {
		usleep(50000);
		uint64_t one = 1;
		_exit(write(b, &one, 8) == 8 ? 0 : 1);
	}
	CHECK(read(b, &v, 8) == 8 && v == 1);
	waitpid(p, NULL, 0);
	printf("blocked eventfd read woken by a child's write: yes\n");

	/* timerfd: one-shot and periodic expirations. */
	int t = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = { .it_value = { 0, 50 * 1000000 }, .it_interval = { 0, 20 * 1000000 } };
	double t0 = now();
	CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
	CHECK(read(t, &v, 8) == 8);
	double waited = now() - t0;
	printf("first expiration after ~50 ms: %s (count %s)\n", waited >= 0.045 && waited < 1 ? "yes" : "no", v >= 1 ? ">=1" : "0");
	usleep(100000);
	CHECK(read(t, &v, 8) == 8);
	printf("periodic expirations after 100 ms: %s\n", v >= 3 && v <= 7 ? "3..7" : "other");
	struct itimerspec cur;
	CHECK(timerfd_gettime(t, &cur) == 0);
	printf("interval reported: %ld ms\n", cur.it_interval.tv_nsec / 1000000);
	struct itimerspec off = { 0 };
	CHECK(timerfd_settime(t, 0, &off, NULL) == 0);
	CHECK(timerfd_gettime(t, &cur) == 0);
	printf("disarmed: value %ld\n", (long)(cur.it_value.tv_sec + cur.it_value.tv_nsec));
	TRY("timerfd_create with a bad clock", timerfd_create(12345, 0));
	TRY("timerfd_settime on an eventfd", timerfd_settime(e, 0, &its, NULL));

	/* epoll over a pipe, an eventfd and a timerfd. */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int pp[2];
	CHECK(pipe(pp) == 0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 111 };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev) == 0);
	ev.data.u64 = 222;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev) == 0);
	TRY("adding the same fd twice", epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev));
	TRY("epoll_ctl on a non-epoll fd", epoll_ctl(e, EPOLL_CTL_ADD, pp[0], &ev));
	TRY("deleting an fd never added", epoll_ctl(ep, EPOLL_CTL_DEL, pp[1], NULL));
	struct epoll_event out[8];
	TRY("epoll_wait with nothing ready, timeout 20 ms", epoll_wait(ep, out, 8, 20));
	CHECK(write(pp[1], "x", 1) == 1);
	int n = epoll_wait(ep, out, 8, 1000);
	printf("after a pipe write: %d ready, data %lu, EPOLLIN %d\n", n, (unsigned long)out[0].data.u64, !!(out[0].events & EPOLLIN));
	v = 1;
	CHECK(write(e, &v, 8) == 8);
	n = epoll_wait(ep, out, 8, 1000);
	printf("pipe and eventfd ready: %d\n", n);
	/* One-shot: reported once, then silent until EPOLL_CTL_MOD. */
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 222;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, e, &ev) == 0);
	char c;
	CHECK(read(pp[0], &c, 1) == 1);
	printf("oneshot first: %d\n", epoll_wait(ep, out, 8, 0));
	printf("oneshot again: %d\n", epoll_wait(ep, out, 8, 0));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, e, &ev) == 0);
	printf("after MOD: %d\n", epoll_wait(ep, out, 8, 0));
	/* A timerfd wakes epoll_wait. */
	struct epoll_event tev = { .events = EPOLLIN, .data.u64 = 333 };
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, t, &tev) == 0);
	struct itimerspec once = { .it_value = { 0, 30 * 1000000 } };
	CHECK(timerfd_settime(t, 0, &once, NULL) == 0);
	n = epoll_wait(ep, out, 8, 2000);
	printf("timerfd through epoll: %d ready, data %lu\n", n, (unsigned long)out[0].data.u64);
	TRY("epoll_wait with maxevents 0", epoll_wait(ep, out, 0, 0));
	/* Hang-up when the writer closes. */
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, t, NULL) == 0);
	close(pp[1]);
	n = epoll_wait(ep, out, 8, 1000);
	printf("writer closed: %d ready, EPOLLHUP %d\n", n, n > 0 && (out[0].events & EPOLLHUP));

	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
