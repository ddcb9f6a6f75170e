/*
 * A file in /tmp: create, write, lseek, read back, pread/pwrite, fstat size,
 * a hole past the end reads as zeros, O_APPEND, ftruncate, rename, the file
 * in a directory listing, unlink while open (nlink 0, data still readable),
 * and ENOENT afterwards. Also mkdir/rmdir. The name contains the pid so
 * parallel native runs do not collide; no pid is printed.
 *
 * Then the application's buffers as read(2) and write(2) see them (the
 * sandbox copies straight between them and the file's pages): uneven
 * iovecs across pages, a read into and a write from a shared mapping of
 * the same file, a read into a buffer after fork (the child's own copy),
 * and a preadv whose second buffer cannot be written (a short read).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL line %d: %s (errno %s)\n", __LINE__, #cond,\
			       strerror(errno));                               \
			failures++;                                            \
		}                                                              \
	} while (0)

static off_t size_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

static int listed(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, name) == 0)
			found = 1;
	closedir(d);
	return found;
}

/* The application buffers of read(2) and write(2) on a file in /tmp. */
static void buffers(const char *path)
{
	static char a[100000], b[100000];
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(unlink(path) == 0);
	for (int i = 0; i < (int)sizeof(a); i++)
		a[i] = (char)(i * 7 + i / 251);

	struct iovec w[3] = {{a, 1}, {a + 1, 5000}, {a + 5001, 70000}};
	CHECK(pwritev(fd, w, 3, 10) == 75001);
	struct iovec r[4] = {{b, 3}, {b + 3, 4093}, {b + 4096, 1}, {b + 4097, 90000}};
	ssize_t n = preadv(fd, r, 4, 10);
	printf("pwritev and preadv with uneven iovecs: %zd bytes, same %s\n", n,
	       n == 75001 && memcmp(a, b, 75001) == 0 ? "yes" : "no");
	CHECK(n == 75001 && memcmp(a, b, 75001) == 0);

	char *m = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	if (m != MAP_FAILED) {
		n = pread(fd, m + 8192, 4096, 0);
		CHECK(n == 4096 && memcmp(m + 8192 + 10, a, 4086) == 0);
		CHECK(pwrite(fd, m + 10, 1000, 20000) == 1000);
		CHECK(pread(fd, b, 1000, 20000) == 1000 && memcmp(b, a, 1000) == 0);
		int same = memcmp(m + 8192 + 10, a, 4086) == 0 && memcmp(b, a, 1000) == 0;
		printf("read into and write from a shared mapping of the file: %s\n",
		       same ? "ok" : "wrong");
		munmap(m, 16384);
	}

	/* After fork the buffer's page is shared copy-on-write: a read in the
	 * child fills the child's copy only. */
	memset(b, 'p', 4096);
	pid_t pid = fork();
	if (pid == 0) {
		_exit(pread(fd, b, 4096, 10) == 4096 && memcmp(b, a, 4096) == 0 ? 0 : 1);
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("read in a forked child: child %s, parent's buffer untouched %s\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "wrong",
	       b[0] == 'p' && b[4095] == 'p' ? "yes" : "no");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && b[0] == 'p');

	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED) {
		CHECK(mprotect(p + 4096, 4096, PROT_NONE) == 0);
		struct iovec r2[2] = {{b, 100}, {p + 4096, 100}};
		n = preadv(fd, r2, 2, 0);
		printf("preadv whose second buffer is not writable: %zd\n", n);
		CHECK(n == 100);
		errno = 0;
		CHECK(pread(fd, p + 4096, 100, 0) == -1 && errno == EFAULT);
		munmap(p, 8192);
	}
	close(fd);
}

int main(void)
{
	char path[128], path2[128], dir[128], name2[64], buf[64];
	const char *text = "hello, world\n";
	struct stat st;
	int fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	umask(022);
	snprintf(path, sizeof(path), "/tmp/runsc_tmp_file.%d", (int)getpid());
	snprintf(name2, sizeof(name2), "runsc_tmp_file.%d.renamed", (int)getpid());
	snprintf(path2, sizeof(path2), "/tmp/%s", name2);
	snprintf(dir, sizeof(dir), "/tmp/runsc_tmp_dir.%d", (int)getpid());

	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0640);
	CHECK(fd >= 0);
	if (fd < 0)
		return 1;
	CHECK(fstat(fd, &st) == 0);
	printf("new file: size %lld, mode %o, regular %s\n", (long long)st.st_size,
	       st.st_mode & 07777, S_ISREG(st.st_mode) ? "yes" : "no");
	CHECK(st.st_size == 0 && (st.st_mode & 07777) == 0640);

	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	printf("after write: offset %lld, size %lld\n", (long long)lseek(fd, 0, SEEK_CUR),
	       (long long)size_of(fd));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	memset(buf, 0, sizeof(buf));
	CHECK(read(fd, buf, sizeof(buf)) == (ssize_t)strlen(text));
	printf("read back: \"%.*s\"\n", (int)strlen(text) - 1, buf);
	CHECK(strcmp(buf, text) == 0);
	CHECK(read(fd, buf, sizeof(buf)) == 0);

	CHECK(pwrite(fd, "WORLD", 5, 7) == 5);
	printf("pwrite leaves the offset: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	memset(buf, 0, sizeof(buf));
	CHECK(pread(fd, buf, 12, 0) == 12);
	printf("pread: \"%s\"\n", buf);
	CHECK(strcmp(buf, "hello, WORLD") == 0);

	printf("SEEK_END: %lld\n", (long long)lseek(fd, 0, SEEK_END));
	CHECK(lseek(fd, 100, SEEK_SET) == 100);
	CHECK(write(fd, "end", 3) == 3);
	printf("write at 100 makes the size %lld\n", (long long)size_of(fd));
	CHECK(size_of(fd) == 103);
	memset(buf, 'x', sizeof(buf));
	CHECK(pread(fd, buf, 10, 50) == 10);
	int zeros = 1;
	for (int i = 0; i < 10; i++)
		zeros &= buf[i] == 0;
	printf("the hole reads as zeros: %s\n", zeros ? "yes" : "no");
	CHECK(zeros);
	errno = 0;
	CHECK(lseek(fd, -1, SEEK_SET) == -1 && errno == EINVAL);

	CHECK(ftruncate(fd, 5) == 0);
	printf("ftruncate: size %lld\n", (long long)size_of(fd));
	CHECK(size_of(fd) == 5);
	close(fd);

	fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK(write(fd, "!", 1) == 1);
	close(fd);
	fd = open(path, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	CHECK(read(fd, buf, sizeof(buf)) == 6);
	printf("O_APPEND writes at the end: \"%s\"\n", buf);
	CHECK(strcmp(buf, "hello!") == 0);
	close(fd);

	errno = 0;
	CHECK(open(path, O_RDWR | O_CREAT | O_EXCL, 0600) == -1 && errno == EEXIST);
	printf("O_EXCL on an existing file: %s\n", errno == EEXIST ? "EEXIST" : strerror(errno));

	CHECK(rename(path, path2) == 0);
	printf("after rename: old name listed %s, new name listed %s\n",
	       listed("/tmp", path + 5) ? "yes" : "no", listed("/tmp", name2) ? "yes" : "no");
	CHECK(!listed("/tmp", path + 5) && listed("/tmp", name2));

	fd = open(path2, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(unlink(path2) == 0);
	CHECK(fstat(fd, &st) == 0);
	memset(buf, 0, sizeof(buf));
	CHECK(pread(fd, buf, sizeof(buf), 0) == 6);
	printf("unlinked while open: nlink %ld, still readable \"%s\"\n", (long)st.st_nlink, buf);
	CHECK(st.st_nlink == 0);
	close(fd);
	errno = 0;
	CHECK(open(path2, O_RDONLY) == -1 && errno == ENOENT);
	printf("open after unlink: %s\n", errno == ENOENT ? "ENOENT" : strerror(errno));

	CHECK(mkdir(dir, 0755) == 0);
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
	errno = 0;
	CHECK(mkdir(dir, 0755) == -1 && errno == EEXIST);
	CHECK(rmdir(dir) == 0);
	errno = 0;
	CHECK(stat(dir, &st) == -1 && errno == ENOENT);
	printf("mkdir, mkdir again (EEXIST), rmdir, stat (ENOENT): done\n");

	buffers(path);

	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
