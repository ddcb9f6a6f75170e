/*
 * vmsplice: the application's bytes into a pipe through its write end,
 * and a pipe's bytes into the application's memory through its read end
 * (the direction comes from how the descriptor is open), with Linux's
 * checks: unknown flags EINVAL, a descriptor open neither way or not a
 * pipe EBADF (after the vector is read: an empty one is 0 even for a
 * regular file), IOV_MAX, bad vectors and buffers EFAULT,
 * SPLICE_F_NONBLOCK's EAGAIN both ways, EPIPE with SIGPIPE, end of file,
 * a short vector read, SPLICE_F_GIFT accepted, an O_RDWR FIFO, and a
 * reader that waits for a writer in another process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, ssize_t r)
{
	if (r < 0)
		printf("%s: %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %zd\n", what, r);
}

static int sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

int main(void)
{
	int p[2], q[2];
	char a[] = "hello ", b[] = "world", buf[64];
	struct iovec iov[2] = { { a, 6 }, { b, 5 } };
	ssize_t r;

	signal(SIGPIPE, on_sigpipe);
	if (pipe(p) < 0)
		return 1;

	show("unknown flag", vmsplice(p[1], iov, 2, 0x100));
	show("bad fd", vmsplice(99, iov, 2, 0));

	char tmpl[] = "/tmp/vmsplice.XXXXXX";
	int file = mkstemp(tmpl);
	unlink(tmpl);
	show("regular file", vmsplice(file, iov, 2, 0));
	show("regular file, no segments", vmsplice(file, iov, 0, 0));
	show("regular file, bad vector", vmsplice(file, (struct iovec *)8, 1, 0));
	close(file);
	int path = open("/tmp", O_PATH);
	show("O_PATH descriptor", vmsplice(path, iov, 1, 0));
	close(path);

	show("too many segments", vmsplice(p[1], iov, 1025, 0));
	show("bad vector", vmsplice(p[1], (struct iovec *)8, 1, 0));
	struct iovec bad = { (void *)8, 10 };
	show("bad buffer into the pipe", vmsplice(p[1], &bad, 1, 0));

	show("into the pipe", vmsplice(p[1], iov, 2, 0));
	memset(buf, 0, sizeof buf);
	r = read(p[0], buf, sizeof buf);
	printf("read back %zd: \"%s\"\n", r, buf);

	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(page, 'g', 4096);
	struct iovec gift = { page, 4096 };
	show("SPLICE_F_GIFT", vmsplice(p[1], &gift, 1, SPLICE_F_GIFT));
	/* Copy semantics would show here: the pipe holds the old bytes. */
	r = read(p[0], buf, 16);
	printf("gift read %zd: %.*s\n", r, (int)r, buf);
	r = read(p[0], page, 4096 - 16);
	printf("gift rest %zd\n", r);

	if (write(p[1], "abcdef", 6) != 6)
		return 1;
	char x[3], y[10];
	struct iovec out[2] = { { x, 3 }, { y, 10 } };
	memset(y, 0, sizeof y);
	show("out of the pipe", vmsplice(p[0], out, 2, 0));
	printf("got \"%.3s\" \"%s\"\n", x, y);

	show("empty pipe, SPLICE_F_NONBLOCK", vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK));
	if (write(p[1], "zz", 2) != 2)
		return 1;
	show("bad buffer out of the pipe", vmsplice(p[0], &bad, 1, 0));
	show("the bytes stayed", read(p[0], buf, sizeof buf));

	fcntl(p[1], F_SETPIPE_SZ, 4096);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], page, 4096) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
	show("full pipe, SPLICE_F_NONBLOCK", vmsplice(p[1], iov, 2, SPLICE_F_NONBLOCK));
	while (read(p[0], page, 4096) == 4096)
		break;

	/* A reader that waits for a writer in another process. */
	pid_t pid = fork();
	if (pid == 0) {
		usleep(100000);
		if (write(p[1], "late", 4) != 4)
			_exit(1);
		_exit(0);
	}
	memset(y, 0, sizeof y);
	struct iovec one = { y, sizeof y };
	show("waits for a writer", vmsplice(p[0], &one, 1, 0));
	printf("got \"%s\"\n", y);
	waitpid(pid, NULL, 0);

	close(p[1]);
	show("end of file", vmsplice(p[0], &one, 1, 0));
	if (pipe(q) < 0)
		return 1;
	close(q[0]);
	show("no reader", vmsplice(q[1], iov, 2, 0));
	printf("SIGPIPEs: %d\n", sigpipes);
	close(q[1]);
	close(p[0]);

	char fifo[] = "/tmp/vmsplice-fifo.XXXXXX";
	int tmpfd = mkstemp(fifo);
	close(tmpfd);
	unlink(fifo);
	if (mkfifo(fifo, 0600) < 0)
		return 1;
	int rw = open(fifo, O_RDWR);
	unlink(fifo);
	show("O_RDWR FIFO writes", vmsplice(rw, iov, 1, 0));
	memset(buf, 0, sizeof buf);
	r = read(rw, buf, sizeof buf);
	printf("FIFO read back %zd: \"%s\"\n", r, buf);
	close(rw);

	printf("PASS\n");
	return 0;
}
