/* memfd_create: an anonymous file, writable, mappable MAP_SHARED across
 * fork, with its name in /proc/self/fd, and its errno cases; its seals
 * (F_ADD_SEALS, F_GET_SEALS) and what each forbids. */
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

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x20
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x8
#define MFD_EXEC 0x10
#endif

static void seals(void)
{
	int plain = memfd_create("plain", 0);
	TRY("seals of a memfd without MFD_ALLOW_SEALING", fcntl(plain, F_GET_SEALS));
	printf("  = %d\n", fcntl(plain, F_GET_SEALS));
	TRY("add a seal there", fcntl(plain, F_ADD_SEALS, F_SEAL_GROW));
	int pfd[2];
	pipe(pfd);
	TRY("seals of a pipe", fcntl(pfd[0], F_GET_SEALS));

	int fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	printf("seals at start: %d\n", fcntl(fd, F_GET_SEALS));
	CHECK(write(fd, "abcd", 4) == 4);
	CHECK(ftruncate(fd, 8192) == 0);
	TRY("unknown seal", fcntl(fd, F_ADD_SEALS, 0x40));
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int ro = open(self, O_RDONLY);
	TRY("add through a read-only descriptor", fcntl(ro, F_ADD_SEALS, F_SEAL_GROW));
	TRY("F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	TRY("shrink", ftruncate(fd, 4096));
	TRY("grow", ftruncate(fd, 16384));
	TRY("F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	TRY("grow", ftruncate(fd, 32768));
	TRY("write past the end", pwrite(fd, "x", 1, 16384));
	TRY("write inside", pwrite(fd, "x", 1, 100));
	TRY("fallocate past the end", fallocate(fd, 0, 0, 65536));
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(w != MAP_FAILED);
	TRY("F_SEAL_WRITE with a writable shared mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(w, 4096);
	TRY("F_SEAL_WRITE after munmap", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	TRY("write", pwrite(fd, "y", 1, 0));
	TRY("shared writable mapping", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	TRY("shared read-only mapping", r == MAP_FAILED ? -1 : 0);
	printf("  reads %.4s\n", r);
	TRY("mprotect it writable", mprotect(r, 4096, PROT_READ | PROT_WRITE));
	char *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	TRY("private writable mapping", priv == MAP_FAILED ? -1 : 0);
	priv[0] = 'P';
	printf("  file still reads %.4s\n", r);
	TRY("punch a hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	printf("seals now: %#x\n", fcntl(fd, F_GET_SEALS));
	TRY("F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	TRY("another seal after it", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	printf("seals now: %#x\n", fcntl(fd, F_GET_SEALS));

	int fw = memfd_create("future", MFD_ALLOW_SEALING);
	CHECK(ftruncate(fw, 4096) == 0);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fw, 0);
	TRY("F_SEAL_FUTURE_WRITE with a writable mapping", fcntl(fw, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	m[0] = 'm';
	char c = 0;
	pread(fw, &c, 1, 0);
	printf("  the old mapping still writes: %c\n", c);
	TRY("write", write(fw, "z", 1));
	TRY("new shared writable mapping", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fw, 0));

	int nx = memfd_create("noexec", MFD_NOEXEC_SEAL);
	struct stat st;
	fstat(nx, &st);
	printf("MFD_NOEXEC_SEAL: mode %o seals %#x\n", st.st_mode & 0777, fcntl(nx, F_GET_SEALS));
	TRY("chmod +x", fchmod(nx, 0777));
	TRY("chmod 0600", fchmod(nx, 0600));
	TRY("MFD_EXEC with MFD_NOEXEC_SEAL", memfd_create("both", MFD_EXEC | MFD_NOEXEC_SEAL));
}

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
	seals();
	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
