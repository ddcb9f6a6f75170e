/*
 * AF_UNIX under load: 16 MiB through a stream in odd-sized writes and
 * reads (flow control and wake-ups on both sides), MSG_WAITALL, and 4
 * client processes making 50 connections each to a listener with a
 * backlog of 2 (connects wait for room) served by a poll loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)

#define TOTAL (16 << 20)

static uint32_t sum(uint32_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = h * 31 + p[i];
	return h;
}

static void bulk(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid_t c = fork();
	if (c == 0) {
		close(sv[0]);
		static unsigned char buf[70000];
		uint32_t h = 0;
		long got = 0;
		unsigned seed = 7;
		while (got < TOTAL) {
			size_t want = 1 + rand_r(&seed) % sizeof buf;
			if (want > (size_t)(TOTAL - got))
				want = TOTAL - got;
			ssize_t n = read(sv[1], buf, want);
			if (n <= 0)
				_exit(2);
			h = sum(h, buf, n);
			got += n;
		}
		/* MSG_WAITALL: one call, the whole tail. */
		ssize_t n = recv(sv[1], buf, 50000, MSG_WAITALL);
		h = sum(h, buf, n > 0 ? n : 0);
		(void)!write(sv[1], &h, sizeof h);
		(void)!write(sv[1], &n, sizeof n);
		_exit(0);
	}
	close(sv[1]);
	static unsigned char data[TOTAL + 50000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7 + i / 4096);
	long sent = 0;
	unsigned seed = 3;
	while (sent < TOTAL) {
		size_t want = 1 + rand_r(&seed) % 100000;
		if (want > (size_t)(TOTAL - sent))
			want = TOTAL - sent;
		ssize_t n = write(sv[0], data + sent, want);
		CHECK(n > 0);
		if (n <= 0)
			break;
		sent += n;
	}
	/* The tail in small pieces with pauses: WAITALL must keep waiting. */
	for (int i = 0; i < 5; i++) {
		CHECK(write(sv[0], data + TOTAL + i * 10000, 10000) == 10000);
		usleep(2000);
	}
	uint32_t h = 0, mine = sum(0, data, TOTAL + 50000);
	ssize_t tail = 0;
	CHECK(read(sv[0], &h, sizeof h) == sizeof h);
	CHECK(read(sv[0], &tail, sizeof tail) == sizeof tail);
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("bulk: checksum matches %d, WAITALL tail %zd\n", h == mine, tail);
	close(sv[0]);
}

static void many_clients(void)
{
	char dir[] = "/tmp/unix-stress-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s/s", dir);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(l, 2) == 0);
	enum { CLIENTS = 4, EACH = 50 };
	pid_t kids[CLIENTS];
	for (int k = 0; k < CLIENTS; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			for (int i = 0; i < EACH; i++) {
				int s = socket(AF_UNIX, SOCK_STREAM, 0);
				if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
					_exit(3);
				char msg[16], back[16] = { 0 };
				int n = snprintf(msg, sizeof msg, "%d-%d", k, i);
				if (write(s, msg, n) != n || read(s, back, sizeof back) != n || memcmp(msg, back, n))
					_exit(4);
				close(s);
			}
			_exit(0);
		}
	}
	int served = 0;
	struct pollfd fds[64];
	int n = 1;
	fds[0] = (struct pollfd){ .fd = l, .events = POLLIN };
	while (served < CLIENTS * EACH) {
		if (poll(fds, n, 10000) <= 0) {
			CHECK(!"poll timed out");
			break;
		}
		for (int i = n - 1; i >= 1; i--) {
			if (!fds[i].revents)
				continue;
			char buf[16];
			ssize_t r = read(fds[i].fd, buf, sizeof buf);
			if (r > 0)
				CHECK(write(fds[i].fd, buf, r) == r);
			close(fds[i].fd);
			fds[i] = fds[--n];
			served++;
		}
		if (fds[0].revents & POLLIN) {
			int c;
			while (n < 64 && (c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0)
				fds[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
		}
	}
	int ok = 1;
	for (int k = 0; k < CLIENTS; k++) {
		int st;
		ok &= waitpid(kids[k], &st, 0) == kids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	printf("clients: served %d, every client done %d\n", served, ok);
	close(l);
	unlink(a.sun_path);
	rmdir(dir);
}

int main(void)
{
	bulk();
	many_clients();
	if (fails) {
		printf("%d FAILED\n", fails);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
