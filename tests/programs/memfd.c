/* memfd_create: an anonymous file, writable, mappable MAP_SHARED across
 * fork, with its name in /proc/self/fd, and its errno cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %s %s\n", label, r_ < 0 ? "-1" : "ok", r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

int main(void)
{
	int fd = memfd_create("scratch", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write(fd, "hello memfd", 11) == 11);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	printf("size %ld, regular %d, mode %o\n", (long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
	printf("cloexec %d\n", !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	char link[64], path[128];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n >= 0)
		path[n] = 0;
	printf("link: %s\n", n >= 0 ? path : "?");
	CHECK(ftruncate(fd, 4096) == 0);
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	pid_t c = fork();
	if (c == 0) {
		memcpy(p + 100, "from child", 10);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	char buf[16] = { 0 };
	CHECK(pread(fd, buf, 10, 100) == 10);
	printf("child's store seen by pread: %s\n", buf);
	printf("first bytes through the mapping: %.11s\n", p);
	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	TRY("name too long", memfd_create(longname, 0));
	TRY("unknown flag", memfd_create("x", 0x100));
	TRY("bad name pointer", memfd_create((char *)8, 0));
	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
