/*
 * epoll as Go's netpoller uses it, fact by fact against Linux:
 *  - EPOLLET reports a ready descriptor once per change, level-triggered
 *    reports it at every call;
 *  - /dev/null, /dev/zero, /dev/urandom and regular files cannot be
 *    watched (EPERM), /dev/random can;
 *  - a pipe's write end closed (deleted from the set first) while another
 *    thread sleeps in epoll_wait hangs up the read end, and the sleeper
 *    sees it: the set must not keep the closed end alive;
 *  - a descriptor added while another thread sleeps wakes it;
 *  - epolls watching one another in a loop are refused (ELOOP), and
 *    EPOLLEXCLUSIVE goes only on ADD, not on an epoll, and its interest
 *    cannot be modified (EINVAL).
 * Prints one line per fact and PASS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int failed;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failed = 1;
}

static int wait_events(int ep, int timeout_ms, struct epoll_event *ev)
{
	int n;
	do
		n = epoll_wait(ep, ev, 8, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n;
}

static void edge_and_level(void)
{
	int p[2];
	pipe2(p, O_NONBLOCK);
	int et = epoll_create1(0), lt = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.fd = p[1]};
	epoll_ctl(et, EPOLL_CTL_ADD, p[1], &ev);
	ev.events = EPOLLOUT;
	epoll_ctl(lt, EPOLL_CTL_ADD, p[1], &ev);
	struct epoll_event out[8];
	check("edge-triggered: a writable pipe is reported once after ADD",
	      wait_events(et, 0, out) == 1 && wait_events(et, 0, out) == 0);
	check("level-triggered: it is reported at every call",
	      wait_events(lt, 0, out) == 1 && wait_events(lt, 0, out) == 1);

	ev.events = EPOLLIN | EPOLLET;
	ev.data.fd = p[0];
	epoll_ctl(et, EPOLL_CTL_ADD, p[0], &ev);
	check("edge-triggered: an empty read end is not reported", wait_events(et, 0, out) == 0);
	if (write(p[1], "x", 1) != 1)
		failed = 1;
	int n = wait_events(et, 0, out);
	int saw_in = 0;
	for (int i = 0; i < n; i++)
		saw_in |= out[i].data.fd == p[0] && (out[i].events & EPOLLIN);
	check("edge-triggered: a write reports the read end", saw_in);
	n = wait_events(et, 0, out);
	saw_in = 0;
	for (int i = 0; i < n; i++)
		saw_in |= out[i].data.fd == p[0];
	check("edge-triggered: unread data is not reported again", !saw_in);
	close(et);
	close(lt);
	close(p[0]);
	close(p[1]);
}

static void unpollable(void)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET};
	const char *eperm[] = {"/dev/null", "/dev/zero", "/dev/urandom", "/proc/self/exe"};
	for (int i = 0; i < 4; i++) {
		int fd = open(eperm[i], O_RDONLY);
		char what[80];
		snprintf(what, sizeof what, "%s cannot be watched (EPERM)", eperm[i]);
		check(what, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1 && errno == EPERM);
		close(fd);
	}
	int fd = open("/dev/random", O_RDONLY);
	check("/dev/random can be watched", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	close(fd);
	close(ep);
}

struct sleeper {
	int ep;
	int want;     /* the fd whose event ends the sleep */
	unsigned got; /* its events */
};

static void *sleep_in_epoll(void *arg)
{
	struct sleeper *s = arg;
	struct epoll_event out[8];
	for (;;) {
		int n = wait_events(s->ep, 10000, out);
		if (n <= 0)
			return NULL;
		for (int i = 0; i < n; i++)
			if (out[i].data.fd == s->want) {
				s->got = out[i].events;
				return NULL;
			}
	}
}

static void close_while_asleep(void)
{
	int p[2];
	pipe2(p, O_NONBLOCK);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = p[0]};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	ev.events = EPOLLOUT | EPOLLET;
	ev.data.fd = p[1];
	epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
	struct epoll_event out[8];
	wait_events(ep, 0, out); /* consume the initial edges */
	struct sleeper s = {.ep = ep, .want = p[0]};
	pthread_t t;
	pthread_create(&t, NULL, sleep_in_epoll, &s);
	usleep(100000);
	epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
	close(p[1]);
	pthread_join(t, NULL);
	check("a write end closed during epoll_wait hangs up the sleeper's read end",
	      (s.got & EPOLLHUP) != 0);
	close(p[0]);
	close(ep);
}

static void add_while_asleep(void)
{
	int p[2];
	pipe2(p, O_NONBLOCK);
	int ep = epoll_create1(0);
	struct sleeper s = {.ep = ep, .want = p[0]};
	pthread_t t;
	pthread_create(&t, NULL, sleep_in_epoll, &s);
	usleep(100000);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = p[0]};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	usleep(100000);
	if (write(p[1], "x", 1) != 1)
		failed = 1;
	pthread_join(t, NULL);
	check("a pipe added during epoll_wait wakes the sleeper when written",
	      (s.got & EPOLLIN) != 0);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void loops_and_exclusive(void)
{
	int a = epoll_create1(0), b = epoll_create1(0), p[2];
	pipe(p);
	struct epoll_event ev = {.events = EPOLLIN};
	check("an epoll watches another", epoll_ctl(a, EPOLL_CTL_ADD, b, &ev) == 0);
	check("the other watching it back is ELOOP",
	      epoll_ctl(b, EPOLL_CTL_ADD, a, &ev) == -1 && errno == ELOOP);
	check("an epoll watching itself is EINVAL",
	      epoll_ctl(a, EPOLL_CTL_ADD, a, &ev) == -1 && errno == EINVAL);
	check("after the delete the reverse watch works",
	      epoll_ctl(a, EPOLL_CTL_DEL, b, NULL) == 0 && epoll_ctl(b, EPOLL_CTL_ADD, a, &ev) == 0);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	int c = epoll_create1(0);
	check("EPOLLEXCLUSIVE on an epoll is EINVAL",
	      epoll_ctl(c, EPOLL_CTL_ADD, a, &ev) == -1 && errno == EINVAL);
	check("EPOLLEXCLUSIVE on a pipe is fine", epoll_ctl(c, EPOLL_CTL_ADD, p[0], &ev) == 0);
	ev.events = EPOLLIN;
	check("modifying an exclusive interest is EINVAL",
	      epoll_ctl(c, EPOLL_CTL_MOD, p[0], &ev) == -1 && errno == EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	check("EPOLL_CTL_MOD with EPOLLEXCLUSIVE is EINVAL",
	      epoll_ctl(b, EPOLL_CTL_MOD, a, &ev) == -1 && errno == EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	check("EPOLLEXCLUSIVE with EPOLLONESHOT is EINVAL",
	      epoll_ctl(c, EPOLL_CTL_ADD, p[1], &ev) == -1 && errno == EINVAL);
	close(a);
	close(b);
	close(c);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	edge_and_level();
	unpollable();
	close_while_asleep();
	add_while_asleep();
	loops_and_exclusive();
	if (failed)
		return 1;
	printf("PASS\n");
	return 0;
}
