/*
 * An idle event loop, as Go's netpoller is one: a pipe's two ends in an
 * epoll set, edge-triggered (the write end is writable the whole time),
 * and epoll_wait until one second has passed. Natively it wakes once (the
 * first edge) and sleeps; a sandbox that serves EPOLLET level-triggered
 * wakes it in a loop and burns a CPU. bench/run measures the CPU time of
 * the whole run from outside; this prints how often epoll_wait returned.
 *
 * Usage: idle [MILLISECONDS]   (default 1000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1000;
	int p[2];
	int ep = epoll_create1(0);
	if (pipe(p) != 0 || ep < 0) {
		perror("set-up");
		return 1;
	}
	struct epoll_event r = {.events = EPOLLIN | EPOLLET, .data.fd = p[0]};
	struct epoll_event w = {.events = EPOLLOUT | EPOLLET, .data.fd = p[1]};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &r) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &w) != 0) {
		perror("epoll_ctl");
		return 1;
	}
	long end = now_ms() + ms, wakeups = 0;
	for (long left = ms; left > 0; left = end - now_ms()) {
		struct epoll_event ev[4];
		if (epoll_wait(ep, ev, 4, (int)left) > 0)
			wakeups++;
	}
	printf("wakeups %ld in %ld ms\n", wakeups, ms);
	return 0;
}
