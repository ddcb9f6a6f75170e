/*
 * openat2: the checks on struct open_how (size, unknown flags, a mode
 * without O_CREAT, O_PATH's companions, RESOLVE_CACHED with creation),
 * then each RESOLVE_* restriction on a tree made in a fresh directory
 * under /tmp:
 *   a/b/file, a/link_rel -> b/file, a/link_abs -> /tmp,
 *   a/link_up -> ../../, a/dotdot -> ..
 * with the scope a/ for BENEATH and IN_ROOT, /proc for magic links and
 * mounts. One line per call: "ok" plus what was opened, or the errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int openat2(int dirfd, const char *path, struct open_how *how, size_t size)
{
	return syscall(SYS_openat2, dirfd, path, how, size);
}

/* What an opened descriptor is: its file type and, for a regular file,
 * its size (every file made here has a distinct one). */
static void what(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		printf(" fstat %s", strerrorname_np(errno));
		return;
	}
	if (S_ISDIR(st.st_mode))
		printf(" dir");
	else if (S_ISLNK(st.st_mode))
		printf(" symlink");
	else if (S_ISREG(st.st_mode))
		printf(" file size %lld", (long long)st.st_size);
	else
		printf(" other");
}

static void try(const char *name, int dirfd, const char *path, uint64_t flags, uint64_t mode,
		uint64_t resolve)
{
	struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
	int fd = openat2(dirfd, path, &how, sizeof how);

	printf("%s: ", name);
	if (fd < 0) {
		printf("%s\n", strerrorname_np(errno));
		return;
	}
	printf("ok");
	what(fd);
	printf("\n");
	close(fd);
}

static void sizes(int dirfd)
{
	struct {
		struct open_how how;
		uint64_t extra;
	} big = { { .flags = O_RDONLY } };
	int fd;

	fd = openat2(dirfd, "b/file", &big.how, 0);
	printf("size 0: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	fd = openat2(dirfd, "b/file", &big.how, 23);
	printf("size 23: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	fd = openat2(dirfd, "b/file", &big.how, 4097);
	printf("size 4097: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	fd = openat2(dirfd, "b/file", &big.how, sizeof big);
	printf("size 32, zero tail: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	if (fd >= 0)
		close(fd);
	big.extra = 1;
	fd = openat2(dirfd, "b/file", &big.how, sizeof big);
	printf("size 32, non-zero tail: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	fd = openat2(dirfd, "b/file", NULL, sizeof big.how);
	printf("NULL how: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	/* The flags are checked before the path is read. */
	big.how.mode = 0644;
	fd = openat2(dirfd, NULL, &big.how, sizeof big.how);
	printf("mode without O_CREAT, NULL path: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	big.how.mode = 0;
	fd = openat2(dirfd, NULL, &big.how, sizeof big.how);
	printf("NULL path: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
}

int main(void)
{
	char tmpl[] = "/tmp/openat2.XXXXXX";
	char path[4096], magic[64];
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC };
	int a, proc, root, pself, fd;

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/a", tmpl);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/a/b", tmpl);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/a/b/file", tmpl);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "12345", 5) != 5) {
		perror("file");
		return 1;
	}
	close(fd);
	a = open(tmpl, O_PATH | O_DIRECTORY);
	fd = openat(a, "a", O_PATH | O_DIRECTORY);
	close(a);
	a = fd;
	if (symlinkat("b/file", a, "link_rel") || symlinkat("/tmp", a, "link_abs") ||
	    symlinkat("../../", a, "link_up") || symlinkat("..", a, "dotdot")) {
		perror("symlink");
		return 1;
	}

	sizes(a);
	try("unknown open flag", a, "b/file", 1ULL << 40, 0, 0);
	try("unknown resolve flag", a, "b/file", 0, 0, 0x40);
	try("BENEATH|IN_ROOT", a, "b/file", 0, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT);
	try("mode without O_CREAT", a, "b/file", 0, 0644, 0);
	try("mode with file-type bits", a, "b/new0", O_CREAT | O_WRONLY, 0100644, 0);
	try("O_PATH|O_RDWR", a, "b", O_PATH | O_RDWR, 0, 0);
	try("O_CREAT|O_DIRECTORY", a, "b/new1", O_CREAT | O_DIRECTORY, 0644, 0);
	try("O_TMPFILE read-only", a, "b", O_TMPFILE | O_RDONLY, 0600, 0);
	try("CACHED with O_CREAT", a, "b/new2", O_CREAT | O_WRONLY, 0644, RESOLVE_CACHED);
	try("CACHED with O_TRUNC", a, "b/file", O_TRUNC | O_WRONLY, 0, RESOLVE_CACHED);
	try("CACHED lookup", a, "b/file", O_RDONLY, 0, RESOLVE_CACHED);

	fd = openat2(a, "b/file", &how, sizeof how);
	printf("O_CLOEXEC: %s\n", fcntl(fd, F_GETFD) == FD_CLOEXEC ? "set" : "not set");
	close(fd);

	try("plain link_up", a, "link_up", O_RDONLY | O_DIRECTORY, 0, 0);
	try("BENEATH b/file", a, "b/file", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH b/../b/file", a, "b/../b/file", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH ../a/b/file", a, "../a/b/file", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH b/../../a", a, "b/../../a", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH /tmp", a, "/tmp", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH link_rel", a, "link_rel", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH link_abs", a, "link_abs", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH link_up", a, "link_up", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH dotdot", a, "dotdot", O_RDONLY, 0, RESOLVE_BENEATH);
	try("BENEATH b/dotdot-free", a, "b", O_RDONLY | O_DIRECTORY, 0, RESOLVE_BENEATH);
	try("BENEATH create b/new3", a, "b/new3", O_CREAT | O_WRONLY, 0644, RESOLVE_BENEATH);
	try("BENEATH create ../new4", a, "../new4", O_CREAT | O_WRONLY, 0644, RESOLVE_BENEATH);
	try("BENEATH . ", a, ".", O_RDONLY | O_DIRECTORY, 0, RESOLVE_BENEATH);

	try("IN_ROOT ../b/file", a, "../b/file", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try("IN_ROOT /b/file", a, "/b/file", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try("IN_ROOT link_up/b/file", a, "link_up/b/file", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try("IN_ROOT dotdot/dotdot/link_rel", a, "dotdot/dotdot/link_rel", O_RDONLY, 0,
	    RESOLVE_IN_ROOT);
	try("IN_ROOT link_abs", a, "link_abs", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try("IN_ROOT /", a, "/", O_RDONLY | O_DIRECTORY, 0, RESOLVE_IN_ROOT);

	try("NO_SYMLINKS link_rel", a, "link_rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS);
	try("NO_SYMLINKS dotdot/a/b/file", a, "dotdot/a/b/file", O_RDONLY, 0,
	    RESOLVE_NO_SYMLINKS);
	try("NO_SYMLINKS O_PATH|O_NOFOLLOW link_rel", a, "link_rel", O_PATH | O_NOFOLLOW, 0,
	    RESOLVE_NO_SYMLINKS);
	try("NO_SYMLINKS b/file", a, "b/file", O_RDONLY, 0, RESOLVE_NO_SYMLINKS);
	try("NO_SYMLINKS O_NOFOLLOW link_rel", a, "link_rel", O_RDONLY | O_NOFOLLOW, 0,
	    RESOLVE_NO_SYMLINKS);

	snprintf(magic, sizeof magic, "/proc/self/fd/%d", a);
	try("magic link", AT_FDCWD, magic, O_RDONLY | O_DIRECTORY, 0, 0);
	try("NO_MAGICLINKS magic link", AT_FDCWD, magic, O_RDONLY | O_DIRECTORY, 0,
	    RESOLVE_NO_MAGICLINKS);
	try("NO_MAGICLINKS /proc/self/fd", AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY, 0,
	    RESOLVE_NO_MAGICLINKS);
	try("NO_MAGICLINKS O_PATH|O_NOFOLLOW magic link", AT_FDCWD, magic, O_PATH | O_NOFOLLOW,
	    0, RESOLVE_NO_MAGICLINKS);
	try("NO_SYMLINKS magic link", AT_FDCWD, magic, O_RDONLY | O_DIRECTORY, 0,
	    RESOLVE_NO_SYMLINKS);
	pself = open("/proc/self", O_PATH | O_DIRECTORY);
	snprintf(magic, sizeof magic, "fd/%d", a);
	try("BENEATH /proc/self fd/N", pself, magic, O_RDONLY | O_DIRECTORY, 0, RESOLVE_BENEATH);
	try("IN_ROOT /proc/self exe", pself, "exe", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try("BENEATH /proc/self fd", pself, "fd", O_RDONLY | O_DIRECTORY, 0, RESOLVE_BENEATH);

	root = open("/", O_PATH | O_DIRECTORY);
	proc = open("/proc", O_PATH | O_DIRECTORY);
	try("NO_XDEV / proc", root, "proc", O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV);
	try("NO_XDEV / proc/self", root, "proc/self", O_RDONLY | O_DIRECTORY, 0,
	    RESOLVE_NO_XDEV);
	try("NO_XDEV /proc ..", proc, "..", O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV);
	try("NO_XDEV /proc self/..", proc, "self/..", O_RDONLY | O_DIRECTORY, 0,
	    RESOLVE_NO_XDEV);
	try("NO_XDEV / .", root, ".", O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV);
	try("NO_XDEV a b/file", a, "b/file", O_RDONLY, 0, RESOLVE_NO_XDEV);
	try("NO_XDEV /proc /proc", proc, "/proc", O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV);
	try("NO_XDEV /proc /", proc, "/", O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV);

	snprintf(path, sizeof path, "rm -rf %s", tmpl);
	if (system(path) != 0)
		return 1;
	printf("PASS\n");
	return 0;
}
