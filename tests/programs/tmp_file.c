/*
 * A file in /tmp: create, write, lseek, read back, pread/pwrite, fstat size,
 * a hole past the end reads as zeros, O_APPEND, ftruncate, rename, the file
 * in a directory listing, unlink while open (nlink 0, data still readable),
 * and ENOENT afterwards. Also mkdir/rmdir. The name contains the pid so
 * parallel native runs do not collide; no pid is printed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
