/*
 * Extended attributes in the directory given as argument, which the test
 * made before with: f (a regular file) with user.a = "1" and user.b =
 * "two", d (a directory) with user.dir = "x", g (a file without any), and
 * sym -> f. In the sandbox that directory is on the host root: the files
 * start in the overlay's lower layer (served by the Gofer), and setting
 * an attribute copies the file up. One line per call (result, value or
 * errno name); lists are printed sorted, since the order is the
 * filesystem's. Only user.* names are looked at: a host may add
 * security.* ones of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *dir;

static char *P(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof bufs[0], "%s/%s", dir, rel);
	return b;
}

static void res(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

static void get(const char *rel, const char *name)
{
	char buf[256];
	ssize_t n = getxattr(P(rel), name, buf, sizeof buf);

	if (n < 0)
		printf("get %s %s: %s\n", rel, name, strerrorname_np(errno));
	else
		printf("get %s %s: \"%.*s\" (%zd)\n", rel, name, (int)n, buf, n);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The user.* names of a listing, sorted; l: lgetxattr's view. */
static void list(const char *rel, int l)
{
	char buf[4096], *names[64];
	ssize_t n = l ? llistxattr(P(rel), buf, sizeof buf) : listxattr(P(rel), buf, sizeof buf);
	int count = 0;

	printf("%slist %s:", l ? "l" : "", rel);
	if (n < 0) {
		printf(" %s\n", strerrorname_np(errno));
		return;
	}
	for (char *p = buf; p < buf + n && count < 64; p += strlen(p) + 1)
		if (strncmp(p, "user.", 5) == 0)
			names[count++] = p;
	qsort(names, count, sizeof names[0], cmp);
	for (int i = 0; i < count; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static void set(const char *rel, const char *name, const char *value, int flags)
{
	char what[128];

	snprintf(what, sizeof what, "set %s %s=%s%s", rel, name, value,
		 flags == XATTR_CREATE ? " CREATE" : flags == XATTR_REPLACE ? " REPLACE" : "");
	res(what, setxattr(P(rel), name, value, strlen(value), flags));
}

static void rm(const char *rel, const char *name)
{
	char what[128];

	snprintf(what, sizeof what, "remove %s %s", rel, name);
	res(what, removexattr(P(rel), name));
}

struct xattr_args_v0 {
	unsigned long long value;
	unsigned int size;
	unsigned int flags;
};

static void at_calls(void)
{
	char buf[64];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct xattr_args_v0 a = { (unsigned long)"at", 2, 0 };
	long r;

	r = syscall(463, dfd, "moved", 0, "user.at", &a, sizeof a);
	res("setxattrat moved user.at", r);
	a.flags = XATTR_CREATE;
	r = syscall(463, dfd, "moved", 0, "user.at", &a, sizeof a);
	res("setxattrat moved user.at XATTR_CREATE", r);
	a = (struct xattr_args_v0){ (unsigned long)buf, sizeof buf, 0 };
	r = syscall(464, dfd, "moved", 0, "user.at", &a, sizeof a);
	printf("getxattrat moved user.at: %ld \"%.*s\"\n", r, r > 0 ? (int)r : 0, buf);
	r = syscall(464, dfd, "moved", 0, "user.at", &a, 8);
	res("getxattrat with an 8-byte struct", r);
	a.flags = 1;
	r = syscall(464, dfd, "moved", 0, "user.at", &a, sizeof a);
	res("getxattrat with flags", r);
	r = syscall(464, dfd, "moved", 0x8000, "user.at", &a, sizeof a);
	res("getxattrat with an unknown at_flag", r);
	r = syscall(465, dfd, "sym", AT_SYMLINK_NOFOLLOW, NULL, 0);
	printf("listxattrat sym nofollow size: %ld\n", r);
	int fd = openat(dfd, "moved", O_RDONLY);
	a = (struct xattr_args_v0){ (unsigned long)buf, sizeof buf, 0 };
	r = syscall(464, fd, "", AT_EMPTY_PATH, "user.at", &a, sizeof a);
	printf("getxattrat fd AT_EMPTY_PATH: %ld\n", r);
	r = syscall(464, fd, "", 0, "user.at", &a, sizeof a);
	res("getxattrat fd empty path without AT_EMPTY_PATH", r);
	close(fd);
	r = syscall(466, dfd, "moved", 0, "user.at");
	res("removexattrat moved user.at", r);
	r = syscall(466, dfd, "moved", 0, "user.at");
	res("removexattrat moved user.at again", r);
	close(dfd);
}

int main(int argc, char **argv)
{
	char small[2];
	ssize_t n;

	if (argc != 2 && !(argc == 3 && strcmp(argv[2], "at") == 0)) {
		fprintf(stderr, "usage: xattrs DIR [at]\n");
		return 2;
	}
	dir = argv[1];

	/* What the host set. */
	get("f", "user.a");
	get("f", "user.b");
	get("f", "user.none");
	get("d", "user.dir");
	get("g", "user.a");
	list("f", 0);
	list("d", 0);
	list("g", 0);
	list("sym", 0);
	list("sym", 1);

	/* Sizes: the probe with size 0, then a buffer too small. */
	n = getxattr(P("f"), "user.b", NULL, 0);
	printf("size of user.b: %zd\n", n);
	n = getxattr(P("f"), "user.b", small, sizeof small);
	printf("get user.b into 2 bytes: %s\n", n < 0 ? strerrorname_np(errno) : "fits");
	n = listxattr(P("f"), NULL, 0);
	printf("list size probe: %s\n", n < 0 ? strerrorname_np(errno) : n > 0 ? "positive" : "0");
	n = listxattr(P("f"), small, sizeof small);
	printf("list into 2 bytes: %s\n", n < 0 ? strerrorname_np(errno) : "fits");

	/* Changes: flags, replacement, removal, on a file and a directory. */
	set("f", "user.a", "new", XATTR_CREATE);
	set("f", "user.c", "3", XATTR_REPLACE);
	set("f", "user.a", "replaced", XATTR_REPLACE);
	set("f", "user.c", "3", XATTR_CREATE);
	set("f", "user.empty", "", 0);
	get("f", "user.a");
	get("f", "user.c");
	get("f", "user.empty");
	rm("f", "user.b");
	rm("f", "user.b");
	get("f", "user.b");
	list("f", 0);
	set("d", "user.dir", "y", 0);
	set("d", "user.more", "z", XATTR_CREATE);
	rm("d", "user.nothing");
	get("d", "user.dir");
	list("d", 0);
	set("g", "user.first", "1", 0);
	list("g", 0);
	/* Through the link, onto its target. */
	set("sym", "user.via", "link", 0);
	get("f", "user.via");
	res("lsetxattr sym user.x", lsetxattr(P("sym"), "user.x", "1", 1, 0));
	set("f", "bogus.name", "1", 0);
	get("f", "bogus.name");

	/* The attributes move with the file. */
	res("rename f -> moved", rename(P("f"), P("moved")));
	get("moved", "user.a");
	get("f", "user.a");
	list("moved", 0);
	/* A directory from the host cannot move under the overlay (EXDEV, as
	 * overlayfs without redirect_dir): a new one does. */
	res("mkdir nd", mkdir(P("nd"), 0755));
	set("nd", "user.n", "1", 0);
	res("rename nd -> ndmoved", rename(P("nd"), P("ndmoved")));
	list("ndmoved", 0);
	res("rename g -> gmoved", rename(P("g"), P("gmoved")));
	get("gmoved", "user.first");
	rm("moved", "user.a");
	list("moved", 0);

	/* And through a descriptor. */
	int fd = open(P("moved"), O_RDONLY);
	res("fsetxattr moved user.fd", fsetxattr(fd, "user.fd", "f", 1, 0));
	n = fgetxattr(fd, "user.fd", small, sizeof small);
	printf("fgetxattr moved user.fd: %zd\n", n);
	close(fd);
	list("moved", 0);

	/* Linux 6.13's *at family, by raw number (glibc has no wrappers),
	 * when the test says the host kernel has them. */
	if (argc == 3)
		at_calls();
	else
		printf("*xattrat: not tried (host kernel before 6.13)\n");
	printf("PASS\n");
	return 0;
}
