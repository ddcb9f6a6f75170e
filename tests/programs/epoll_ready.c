/*
 * epoll's ready list against Linux, fact by fact:
 *  - of 1,000 eventfds, the ones written are reported, and only they;
 *    a level-triggered one is reported again while it stays readable and
 *    no more once drained;
 *  - more ready descriptors than maxevents take turns: every one is
 *    reported within a round of calls;
 *  - EPOLLONESHOT fires once until EPOLL_CTL_MOD re-arms it;
 *  - EPOLLET reports each write once; EPOLLWAKEUP and EPOLLEXCLUSIVE are
 *    accepted;
 *  - an epoll inside an epoll: the outer one's sleeper is woken when a
 *    descriptor of the inner one becomes ready, and poll() on an epoll
 *    descriptor sleeps until one of its descriptors is ready;
 *  - a descriptor closed (and not deleted) is reported no more;
 *  - two threads asleep in epoll_wait on one level-triggered descriptor:
 *    both wake (the list stays non-empty after the first reports it).
 * Prints one line per fact and PASS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { FDS = 1000 };

static int failed;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failed = 1;
}

static int wait_events(int ep, struct epoll_event *ev, int max, int timeout_ms)
{
	int n;
	do
		n = epoll_wait(ep, ev, max, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n;
}

static int add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void many(void)
{
	static int fds[FDS];
	int ep = epoll_create1(0), ok = 1;
	struct epoll_event ev[16];

	for (int i = 0; i < FDS; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK);
		ok &= fds[i] >= 0 && add(ep, fds[i], EPOLLIN) == 0;
	}
	check("1000 eventfds added", ok);
	check("none ready: timeout", wait_events(ep, ev, 16, 0) == 0);
	eventfd_write(fds[7], 1);
	eventfd_write(fds[500], 1);
	eventfd_write(fds[999], 1);
	int n = wait_events(ep, ev, 16, 0), seen = 0;
	for (int i = 0; i < n; i++)
		seen |= (ev[i].data.fd == fds[7]) | (ev[i].data.fd == fds[500]) << 1 |
			(ev[i].data.fd == fds[999]) << 2;
	check("the three written, and only they", n == 3 && seen == 7);
	n = wait_events(ep, ev, 16, 0);
	check("level-triggered: reported again", n == 3);
	eventfd_t v;
	eventfd_read(fds[500], &v);
	n = wait_events(ep, ev, 16, 0);
	check("drained one: two left", n == 2);
	/* Three ready, two per call: each is seen within two calls. */
	seen = 0;
	for (int round = 0; round < 2; round++) {
		eventfd_write(fds[500], 1);
		n = wait_events(ep, ev, 2, 0);
		for (int i = 0; i < n; i++)
			seen |= (ev[i].data.fd == fds[7]) | (ev[i].data.fd == fds[500]) << 1 |
				(ev[i].data.fd == fds[999]) << 2;
	}
	check("more ready than maxevents take turns", seen == 7);
	for (int i = 0; i < FDS; i++)
		close(fds[i]);
	check("closed descriptors are reported no more", wait_events(ep, ev, 16, 0) == 0);
	close(ep);
}

static void oneshot_edge_flags(void)
{
	int ep = epoll_create1(0), a = eventfd(0, 0), b = eventfd(0, 0), c = eventfd(0, 0);
	struct epoll_event ev[4];

	check("EPOLLONESHOT added", add(ep, a, EPOLLIN | EPOLLONESHOT) == 0);
	eventfd_write(a, 1);
	check("oneshot fires", wait_events(ep, ev, 4, 0) == 1);
	check("oneshot then silent", wait_events(ep, ev, 4, 0) == 0);
	eventfd_write(a, 1);
	check("silent after another write", wait_events(ep, ev, 4, 0) == 0);
	struct epoll_event mod = { .events = EPOLLIN | EPOLLONESHOT, .data.fd = a };
	check("EPOLL_CTL_MOD re-arms", epoll_ctl(ep, EPOLL_CTL_MOD, a, &mod) == 0 &&
					       wait_events(ep, ev, 4, 0) == 1);
	epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL);

	check("EPOLLET|EPOLLWAKEUP added", add(ep, b, EPOLLIN | EPOLLET | EPOLLWAKEUP) == 0);
	eventfd_write(b, 1);
	check("edge: reported once", wait_events(ep, ev, 4, 0) == 1 &&
					     (ev[0].events & EPOLLIN) &&
					     wait_events(ep, ev, 4, 0) == 0);
	eventfd_write(b, 1);
	check("edge: a new write, once more", wait_events(ep, ev, 4, 0) == 1 &&
						      wait_events(ep, ev, 4, 0) == 0);
	epoll_ctl(ep, EPOLL_CTL_DEL, b, NULL);

	check("EPOLLEXCLUSIVE added", add(ep, c, EPOLLIN | EPOLLEXCLUSIVE) == 0);
	eventfd_write(c, 1);
	check("exclusive reported", wait_events(ep, ev, 4, 0) == 1);
	close(a);
	close(b);
	close(c);
	close(ep);
}

struct nest {
	int outer, inner_fd;
	int got;
};

static void *write_later(void *arg)
{
	usleep(50000);
	eventfd_write(*(int *)arg, 1);
	return NULL;
}

static void nested(void)
{
	int outer = epoll_create1(0), inner = epoll_create1(0), fd = eventfd(0, 0);
	struct epoll_event ev[4];
	pthread_t th;

	add(inner, fd, EPOLLIN);
	check("an epoll watches an epoll", add(outer, inner, EPOLLIN) == 0);
	check("nothing ready in either", wait_events(outer, ev, 4, 0) == 0);
	pthread_create(&th, NULL, write_later, &fd);
	int n = wait_events(outer, ev, 4, 5000);
	pthread_join(th, NULL);
	check("the outer sleeper wakes for the inner descriptor",
	      n == 1 && ev[0].data.fd == inner && ev[0].events == EPOLLIN);
	eventfd_t v;
	eventfd_read(fd, &v);
	check("drained: the outer is quiet", wait_events(outer, ev, 4, 0) == 0);

	struct pollfd p = { .fd = inner, .events = POLLIN };
	check("poll on an epoll with nothing ready", poll(&p, 1, 0) == 0);
	pthread_create(&th, NULL, write_later, &fd);
	n = poll(&p, 1, 5000);
	pthread_join(th, NULL);
	check("poll on an epoll wakes for its descriptor", n == 1 && p.revents == POLLIN);
	close(fd);
	close(inner);
	close(outer);
}

static int shared_ep, woke;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *sleeper(void *arg)
{
	struct epoll_event ev[1];
	(void)arg;
	if (wait_events(shared_ep, ev, 1, 5000) == 1) {
		pthread_mutex_lock(&mu);
		woke++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void two_sleepers(void)
{
	int fd = eventfd(0, 0);
	pthread_t a, b;

	shared_ep = epoll_create1(0);
	add(shared_ep, fd, EPOLLIN);
	pthread_create(&a, NULL, sleeper, NULL);
	pthread_create(&b, NULL, sleeper, NULL);
	usleep(100000);
	eventfd_write(fd, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	check("two sleepers on a level-triggered descriptor both wake", woke == 2);
	close(fd);
	close(shared_ep);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	many();
	oneshot_edge_flags();
	nested();
	two_sleepers();
	if (failed)
		return 1;
	printf("PASS\n");
	return 0;
}
