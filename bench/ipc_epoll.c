/* bench/ipc: epoll_wait on a set of 1,000 eventfds of which one is ready
 * (level-triggered, so it stays ready), N calls. Prints the mean call.
 * Usage: ipc_epoll N */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum { FDS = 1000 };

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int ep = epoll_create1(0), ready = -1;
	struct epoll_event ev = { .events = EPOLLIN }, out[8];
	struct timespec t0, t1;

	for (int i = 0; i < FDS; i++) {
		int fd = eventfd(0, 0);
		if (fd < 0)
			return 1;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			return 1;
		if (i == FDS / 2)
			ready = fd;
	}
	if (eventfd_write(ready, 1))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		if (epoll_wait(ep, out, 8, -1) != 1 || out[0].data.fd != ready)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("epoll_wait, 1000 fds, one ready: %.1f ns/call\n", ns / n);
	return 0;
}
