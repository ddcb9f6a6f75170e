/*
 * Pseudo-terminals: posix_openpt/grantpt/unlockpt/ptsname, the replica
 * locked until unlockpt, canonical input with echo and editing, ONLCR
 * output processing, raw mode (byte at a time), window size and SIGWINCH,
 * a controlling terminal taken with setsid + TIOCSCTTY, and VINTR killing
 * the foreground process group. Prints no pty numbers or pids, so native
 * and sandboxed output are the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common.h"

/* Reads what the other end has for us within a short time. */
static ssize_t read_some(int fd, char *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		int r = poll(&p, 1, got ? 50 : timeout_ms);
		if (r <= 0)
			break;
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* Prints bytes with control characters escaped. */
static void show(const char *what, const char *buf, ssize_t n)
{
	printf("%s: \"", what);
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

static volatile sig_atomic_t winches;

static void on_winch(int sig)
{
	(void)sig;
	winches++;
}

int main(void)
{
	char buf[256];
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);

	int m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(m >= 0);
	CHECK(grantpt(m) == 0);
	const char *name = ptsname(m);
	CHECK(name != NULL && strncmp(name, "/dev/pts/", 9) == 0);
	char path[64];
	snprintf(path, sizeof path, "%s", name ? name : "?");

	/* Locked until unlockpt, as Linux. */
	errno = 0;
	CHECK(open(path, O_RDWR | O_NOCTTY) == -1 && errno == EIO);
	CHECK(unlockpt(m) == 0);
	int s = open(path, O_RDWR | O_NOCTTY);
	CHECK(s >= 0);
	CHECK(isatty(s) && isatty(m));
	printf("replica is a tty\n");

	/* Linux's defaults on the replica. */
	struct termios t;
	CHECK(tcgetattr(s, &t) == 0);
	CHECK(t.c_lflag & ICANON && t.c_lflag & ECHO && t.c_lflag & ISIG);
	CHECK(t.c_iflag & ICRNL && t.c_oflag & ONLCR);
	CHECK(t.c_cc[VINTR] == 3 && t.c_cc[VERASE] == 0x7f && t.c_cc[VMIN] == 1);

	/* Canonical input: the line arrives whole; echo goes to the master. */
	CHECK(write(m, "hello\n", 6) == 6);
	n = read(s, buf, sizeof buf);
	show("replica read", buf, n);
	n = read_some(m, buf, sizeof buf, 1000);
	show("echo on master", buf, n);

	/* Editing: DEL erases, ^U kills; CR becomes NL (ICRNL). */
	CHECK(write(m, "abX\x7f" "c\r", 6) == 6);
	n = read(s, buf, sizeof buf);
	show("edited line", buf, n);
	n = read_some(m, buf, sizeof buf, 1000);
	show("its echo", buf, n);

	/* Output processing: ONLCR. */
	CHECK(write(s, "a\n", 2) == 2);
	n = read_some(m, buf, sizeof buf, 1000);
	show("ONLCR", buf, n);

	/* A line is not readable before its end. */
	CHECK(write(m, "par", 3) == 3);
	int avail = -1;
	CHECK(ioctl(s, FIONREAD, &avail) == 0);
	printf("FIONREAD before newline: %d\n", avail);
	CHECK(write(m, "t\n", 2) == 2);
	/* Linux hands input to the line discipline asynchronously. */
	struct pollfd ps = { .fd = s, .events = POLLIN };
	CHECK(poll(&ps, 1, 1000) == 1);
	CHECK(ioctl(s, FIONREAD, &avail) == 0);
	printf("FIONREAD after newline: %d\n", avail);
	n = read(s, buf, sizeof buf);
	show("line", buf, n);
	read_some(m, buf, sizeof buf, 200); /* drop the echo */

	/* Raw mode: bytes at once, no echo, no signals, no ONLCR. */
	struct termios raw = t;
	cfmakeraw(&raw);
	CHECK(tcsetattr(s, TCSANOW, &raw) == 0);
	CHECK(write(m, "xy\x03", 3) == 3);
	for (int i = 0; i < 3; i++) {
		char c;
		CHECK(read(s, &c, 1) == 1);
		printf("raw byte %d: 0x%02x\n", i, (unsigned char)c);
	}
	struct pollfd p = { .fd = m, .events = POLLIN };
	printf("echo in raw mode: %s\n", poll(&p, 1, 100) == 0 ? "none" : "some");
	CHECK(write(s, "b\n", 2) == 2);
	n = read_some(m, buf, sizeof buf, 1000);
	show("raw output", buf, n);
	/* VMIN=0 VTIME=0: a read that never waits. */
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	CHECK(tcsetattr(s, TCSANOW, &raw) == 0);
	printf("empty poll read: %zd\n", read(s, buf, sizeof buf));
	/* VMIN=0 VTIME=1: waits a tenth of a second at most. */
	raw.c_cc[VTIME] = 1;
	CHECK(tcsetattr(s, TCSANOW, &raw) == 0);
	printf("timed read: %zd\n", read(s, buf, sizeof buf));
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);

	/* Window size, from either end. */
	struct winsize ws = { .ws_row = 24, .ws_col = 80 }, got;
	CHECK(ioctl(m, TIOCSWINSZ, &ws) == 0);
	CHECK(ioctl(s, TIOCGWINSZ, &got) == 0);
	printf("window %dx%d\n", got.ws_col, got.ws_row);

	/* Not our controlling terminal (opened with O_NOCTTY). */
	pid_t pg;
	errno = 0;
	CHECK(ioctl(s, TIOCGPGRP, &pg) == -1 && errno == ENOTTY);

	/*
	 * A child in a new session takes the replica as its controlling
	 * terminal; ^C from the master kills it with SIGINT, SIGWINCH reaches
	 * it on a resize.
	 */
	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t child = fork();
	if (child == 0) {
		close(ready[0]);
		close(m);
		sigset_t winch, old;
		sigemptyset(&winch);
		sigaddset(&winch, SIGWINCH);
		sigprocmask(SIG_BLOCK, &winch, &old);
		signal(SIGWINCH, on_winch);
		/* A parent started in the background without job control
		 * ignores SIGINT, and the child would inherit that: ^C must
		 * kill it whatever the caller ignored. */
		signal(SIGINT, SIG_DFL);
		if (setsid() < 0)
			_exit(10);
		if (ioctl(s, TIOCSCTTY, 0) < 0)
			_exit(11);
		if (tcgetpgrp(s) != getpid())
			_exit(12);
		if (tcgetsid(s) != getpid())
			_exit(13);
		int tty = open("/dev/tty", O_RDWR);
		if (tty < 0)
			_exit(14);
		close(tty);
		if (write(ready[1], "r", 1) != 1)
			_exit(15);
		/* Wait for SIGWINCH, then for the ^C. */
		while (!winches)
			sigsuspend(&old);
		if (write(ready[1], "w", 1) != 1)
			_exit(16);
		for (;;)
			pause();
	}
	close(ready[1]);
	char c = 0;
	CHECK(read(ready[0], &c, 1) == 1 && c == 'r');
	printf("child took the terminal\n");
	ws.ws_col = 100;
	CHECK(ioctl(m, TIOCSWINSZ, &ws) == 0);
	CHECK(read(ready[0], &c, 1) == 1 && c == 'w');
	printf("child saw SIGWINCH\n");
	CHECK(write(m, "\x03", 1) == 1);
	int status = 0;
	CHECK(waitpid(child, &status, 0) == child);
	if (WIFSIGNALED(status))
		printf("child killed by %s\n", strsignal(WTERMSIG(status)));
	else
		printf("child exited %d\n", WEXITSTATUS(status));
	n = read_some(m, buf, sizeof buf, 1000);
	show("echo of ^C", buf, n);

	/* Closing the replica: the master reads EIO once drained. */
	close(s);
	errno = 0;
	n = read(m, buf, sizeof buf);
	printf("master read after replica close: %zd %s\n", n,
	       n < 0 ? strerror(errno) : "");

	/* Closing the master: the replica reads end of file, writes EIO. */
	int m2 = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(m2 >= 0 && grantpt(m2) == 0 && unlockpt(m2) == 0);
	int s2 = open(ptsname(m2), O_RDWR | O_NOCTTY);
	CHECK(s2 >= 0);
	close(m2);
	n = read(s2, buf, sizeof buf);
	printf("replica read after master close: %zd\n", n);
	errno = 0;
	n = write(s2, "x", 1);
	printf("replica write after master close: %zd %s\n", n,
	       n < 0 ? strerror(errno) : "");
	close(s2);
	close(m);

	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
