/* sendfile, copy_file_range, splice and tee, with their errno cases. Files
 * live under /tmp (mkstemp) and are removed at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)

/* Prints a call's result and, when it failed, its errno name. */
#define TRY(label, expr) do { errno = 0; ssize_t r_ = (expr); \
	printf("%s: %zd %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

static int tmpfile_with(const char *data, char *name)
{
	strcpy(name, "/tmp/spliceXXXXXX");
	int fd = mkstemp(name);
	if (data)
		CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
	return fd;
}

int main(void)
{
	char a[64], b[64], buf[256];
	int in = tmpfile_with("hello, splice world\n", a);
	int out = tmpfile_with(NULL, b);
	int p[2], q[2];

	/* sendfile with an explicit offset leaves the file position alone. */
	off_t off = 7;
	CHECK(pipe(p) == 0);
	ssize_t n = sendfile(p[1], in, &off, 6);
	printf("sendfile offset 7 len 6: %zd, offset now %ld\n", n, (long)off);
	n = read(p[0], buf, sizeof buf);
	printf("pipe got: %.*s\n", (int)n, buf);
	CHECK(lseek(in, 0, SEEK_CUR) == 20);

	/* copy_file_range between regular files, with and without offsets. */
	off_t ioff = 0, ooff = 0;
	n = copy_file_range(in, &ioff, out, &ooff, 100, 0);
	printf("copy_file_range: %zd (in off %ld, out off %ld)\n", n, (long)ioff, (long)ooff);
	n = pread(out, buf, sizeof buf, 0);
	printf("copied: %.*s", (int)n, buf);
	TRY("copy_file_range flags=1", copy_file_range(in, &ioff, out, &ooff, 1, 1));
	TRY("copy_file_range to a pipe", copy_file_range(in, NULL, p[1], NULL, 1, 0));

	/* splice file -> pipe -> file. */
	off_t soff = 0;
	n = splice(in, &soff, p[1], NULL, 5, 0);
	printf("splice file->pipe: %zd (off %ld)\n", n, (long)soff);
	CHECK(pipe(q) == 0);
	n = tee(p[0], q[1], 100, 0);
	printf("tee: %zd\n", n);
	n = splice(p[0], NULL, out, NULL, 100, 0);
	printf("splice pipe->file: %zd\n", n);
	n = read(q[0], buf, sizeof buf);
	printf("tee copy: %.*s\n", (int)n, buf);
	TRY("splice with an offset on a pipe", splice(p[0], &soff, out, NULL, 1, 0));
	TRY("splice file->file", splice(in, NULL, out, NULL, 1, 0));
	TRY("tee on files", tee(in, out, 1, 0));
	TRY("tee empty nonblocking", tee(p[0], q[1], 1, SPLICE_F_NONBLOCK));
	TRY("sendfile from a write-only fd", sendfile(p[1], p[1], NULL, 1));

	unlink(a);
	unlink(b);
	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
