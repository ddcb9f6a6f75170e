/*
 * TCP over loopback inside one sandbox, a forked child at the far end:
 *   tcp rr N        N 1-byte round trips (write, the child echoes, read)
 *                   with TCP_NODELAY                        -> "X ns/op"
 *   tcp stream MIB  MIB MiB sent in 64 KiB writes; the child reads all
 *                   and answers one byte at the end          -> "X MiB/s"
 * Between two hosts (bench/veth):
 *   tcp serve PORT        listen on 0.0.0.0:PORT; echo what each connection
 *                         sends, one connection at a time, forever
 *   tcp rr-to ADDR PORT N N 1-byte round trips to a `tcp serve`, with
 *                         TCP_NODELAY, after 100 uncounted  -> "X ns/op"
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* A connected pair over 127.0.0.1: *a the client, *b the accepted end. */
static int pair(int *a, int *b)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	if (l < 0 || bind(l, (void *)&sa, sizeof sa) || listen(l, 1) || getsockname(l, (void *)&sa, &len))
		return -1;
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*a, (void *)&sa, sizeof sa))
		return -1;
	*b = accept(l, NULL, NULL);
	close(l);
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return *b < 0 ? -1 : 0;
}

/* tcp serve PORT: an echo server, one connection at a time. */
static int serve(int port)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[65536];
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l < 0 || bind(l, (void *)&sa, sizeof sa) || listen(l, 16)) {
		perror("tcp serve");
		return 1;
	}
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		ssize_t r;
		while ((r = read(c, buf, sizeof buf)) > 0)
			if (write(c, buf, r) != r)
				break;
		close(c);
	}
}

/* tcp rr-to ADDR PORT N: N timed 1-byte round trips to `tcp serve`. */
static int rr_to(const char *addr, int port, long n)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	char c = 'x';
	if (s < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || connect(s, (void *)&sa, sizeof sa)) {
		perror("tcp rr-to");
		return 1;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	for (int i = 0; i < 100; i++) /* warm-up: ARP, windows, wake-ups */
		if (write(s, &c, 1) != 1 || read(s, &c, 1) != 1)
			return 1;
	double t0 = now();
	for (long i = 0; i < n; i++)
		if (write(s, &c, 1) != 1 || read(s, &c, 1) != 1)
			return 1;
	printf("tcp rr: %.1f ns/op\n", (now() - t0) / n);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "rr-to") == 0)
		return rr_to(argv[2], atoi(argv[3]), atol(argv[4]));
	if (argc != 3)
		return 2;
	long n = atol(argv[2]);
	int a, b;
	if (pair(&a, &b))
		return 1;
	int rr = strcmp(argv[1], "rr") == 0;
	static char buf[65536];
	pid_t p = fork();
	if (p < 0)
		return 1;
	if (p == 0) {
		close(a);
		ssize_t r;
		long total = 0;
		while ((r = read(b, buf, rr ? 1 : sizeof buf)) > 0) {
			if (rr && write(b, buf, 1) != 1)
				_exit(1);
			total += r;
			if (!rr && total == n << 20 && write(b, "k", 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(b);
	double t0 = now();
	if (rr) {
		char c = 'x';
		for (long i = 0; i < n; i++)
			if (write(a, &c, 1) != 1 || read(a, &c, 1) != 1)
				return 1;
		printf("tcp rr: %.1f ns/op\n", (now() - t0) / n);
	} else {
		for (long left = n << 20; left > 0;) {
			ssize_t w = write(a, buf, left < (long)sizeof buf ? left : (long)sizeof buf);
			if (w <= 0)
				return 1;
			left -= w;
		}
		char c;
		if (read(a, &c, 1) != 1)
			return 1;
		printf("tcp stream: %.1f MiB/s\n", n / ((now() - t0) / 1e9));
	}
	close(a);
	waitpid(p, NULL, 0);
	return 0;
}
