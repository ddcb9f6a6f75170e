/*
 * The inotify events Linux reports for a scripted sequence of file
 * operations in a fresh directory under /tmp (or the directory given as
 * argument: under the sandbox's overlay root, /var/tmp): after each step, the
 * events queued, one a line, as "watch MASK|NAMES name cookie", where
 * the watch is named by what it watches and a cookie by the order it
 * first appeared in (so IN_MOVED_FROM/IN_MOVED_TO pairs show as c1/c1).
 *
 * Three watches look at once: one on the directory, one on a file in it,
 * one on a subdirectory, so the output also pins down which watch hears
 * of what (a file's event reaches its directory's watch, with the name,
 * before its own) and when a watch ends (IN_DELETE_SELF, IN_IGNORED).
 * With "unmount" as second argument (root only), a tmpfs mounted in the
 * directory and unmounted ends the watch on its root with IN_UNMOUNT;
 * natively that happens in a private mount namespace.
 * Nothing host-specific (inode numbers, pids, times) is printed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static char base[256];
static int in;

static char *P(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof bufs[0], "%s/%s", base, rel);
	return b;
}

/* Watch descriptors and the names they are printed by. */
#define MAX_WATCHES 16
static struct {
	int wd;
	const char *name;
} watches[MAX_WATCHES];
static int nwatches;

static void add(const char *name, const char *rel, uint32_t mask)
{
	int wd = inotify_add_watch(in, rel ? P(rel) : base, mask);

	if (wd < 0) {
		printf("add %s: %s\n", name, strerrorname_np(errno));
		return;
	}
	for (int i = 0; i < nwatches; i++)
		if (watches[i].wd == wd) {
			printf("add %s: same watch as %s\n", name, watches[i].name);
			return;
		}
	if (nwatches < MAX_WATCHES) {
		watches[nwatches].wd = wd;
		watches[nwatches++].name = name;
	}
	printf("add %s: ok\n", name);
}

static const char *watch_name(int wd)
{
	for (int i = 0; i < nwatches; i++)
		if (watches[i].wd == wd)
			return watches[i].name;
	return wd == -1 ? "-" : "?";
}

static uint32_t cookies[64];
static int ncookies;

static int cookie_id(uint32_t c)
{
	for (int i = 0; i < ncookies; i++)
		if (cookies[i] == c)
			return i + 1;
	if (ncookies < 64)
		cookies[ncookies++] = c;
	return ncookies;
}

static const struct {
	uint32_t bit;
	const char *name;
} bits[] = {
	{IN_ACCESS, "ACCESS"},		{IN_MODIFY, "MODIFY"},
	{IN_ATTRIB, "ATTRIB"},		{IN_CLOSE_WRITE, "CLOSE_WRITE"},
	{IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
	{IN_MOVED_FROM, "MOVED_FROM"},	{IN_MOVED_TO, "MOVED_TO"},
	{IN_CREATE, "CREATE"},		{IN_DELETE, "DELETE"},
	{IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
	{IN_UNMOUNT, "UNMOUNT"},	{IN_Q_OVERFLOW, "Q_OVERFLOW"},
	{IN_IGNORED, "IGNORED"},	{IN_ISDIR, "ISDIR"},
};

/* Prints the events queued now, after the step `what`. */
static void events(const char *what)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	printf("%s:\n", what);
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);

		if (n < 0) {
			if (errno != EAGAIN)
				printf("  read: %s\n", strerrorname_np(errno));
			return;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			uint32_t m = ev->mask;

			printf("  %s ", watch_name(ev->wd));
			for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
				if (m & bits[i].bit) {
					m &= ~bits[i].bit;
					printf("%s%s", bits[i].name, m ? "|" : "");
				}
			if (m)
				printf("0x%x", m);
			if (ev->len)
				printf(" \"%s\"", ev->name);
			if (ev->cookie)
				printf(" c%d", cookie_id(ev->cookie));
			printf("\n");
			p += sizeof *ev + ev->len;
		}
	}
}

static void must(const char *what, long r)
{
	if (r < 0) {
		printf("%s: %s\n", what, strerrorname_np(errno));
		exit(1);
	}
}

static void write_file(const char *rel, const char *text, int flags)
{
	int fd = open(P(rel), O_WRONLY | O_CREAT | flags, 0644);

	must("open for writing", fd);
	must("write", write(fd, text, strlen(text)));
	close(fd);
}

static void read_file(const char *rel)
{
	char buf[64];
	int fd = open(P(rel), O_RDONLY);

	must("open for reading", fd);
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
}

static void list_dir(const char *rel)
{
	DIR *d = opendir(P(rel));

	if (!d) {
		printf("opendir: %s\n", strerrorname_np(errno));
		return;
	}
	while (readdir(d))
		;
	closedir(d);
}

int main(int argc, char **argv)
{
	const char *parent = argc > 1 ? argv[1] : "/tmp";
	int unmount = argc > 2 && !strcmp(argv[2], "unmount");

	snprintf(base, sizeof base, "%s/inotify-events-%d", parent, getpid());
	must("mkdir base", mkdir(base, 0755));
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	must("inotify_init1", in);
	add("dir", NULL, IN_ALL_EVENTS);

	write_file("f", "hello\n", O_EXCL);
	events("create and write f");
	add("f", "f", IN_ALL_EVENTS);
	read_file("f");
	events("read f");
	write_file("f", "again\n", O_TRUNC);
	events("truncate and write f");
	write_file("f", "more\n", O_APPEND);
	events("append to f");
	static char big[3 << 20];
	int fd = open(P("f"), O_RDWR);
	must("open big", fd);
	must("write big", write(fd, big, sizeof big));
	must("pread big", pread(fd, big, sizeof big, 0));
	must("sendfile", sendfile(fd, fd, &(off_t){0}, sizeof big));
	close(fd);
	events("write, pread and sendfile of 3 MiB in one call each");
	must("truncate", truncate(P("f"), 0));
	write_file("f", "again\n", 0);
	events("truncate(2) and write f");
	fd = open(P("f"), O_RDWR);
	must("open O_RDWR", fd);
	char c;
	must("pread", pread(fd, &c, 1, 0));
	must("pwrite", pwrite(fd, "A", 1, 0));
	must("ftruncate", ftruncate(fd, 3));
	close(fd);
	events("pread, pwrite, ftruncate through one O_RDWR descriptor");
	must("chmod", chmod(P("f"), 0600));
	struct timeval tv[2] = {{1, 0}, {2, 0}};
	must("utimes", utimes(P("f"), tv));
	events("chmod and utimes f");
	fd = open(P("f"), O_PATH);
	must("open O_PATH", fd);
	close(fd);
	events("O_PATH open and close (none)");
	int held = open(P("f"), O_RDONLY | O_CLOEXEC);
	must("open to hold", held);
	must("read of nothing", read(held, &c, 0));
	events("open and read of 0 bytes, kept open");

	must("link", link(P("f"), P("g")));
	events("link f g");
	must("rename", rename(P("g"), P("h")));
	events("rename g h (the watched file's second name)");
	must("unlink", unlink(P("h")));
	events("unlink h (f keeps a link)");
	must("rename", rename(P("f"), P("f2")));
	events("rename f f2");

	must("mkdir", mkdir(P("sub"), 0755));
	events("mkdir sub");
	add("sub", "sub", IN_ALL_EVENTS);
	write_file("sub/x", "x", 0);
	events("create sub/x");
	list_dir("sub");
	events("list sub");
	must("chmod dir", chmod(P("sub"), 0700));
	events("chmod sub");
	must("rename dir", rename(P("sub"), P("sub2")));
	events("rename sub sub2");
	must("unlink", unlink(P("sub2/x")));
	events("unlink sub2/x");
	must("rmdir", rmdir(P("sub2")));
	events("rmdir sub2");

	fd = open(P("f2"), O_RDONLY);
	must("open f2", fd);
	events("open f2");
	must("unlink f2", unlink(P("f2")));
	events("unlink f2 while open");
	close(fd);
	events("close f2 (the earlier descriptor still holds it)");
	close(held);
	events("close the last descriptor of f2");

	write_file("a", "a", 0);
	write_file("b", "b", 0);
	add("b", "b", IN_ALL_EVENTS);
	events("create a and b");
	must("rename over", rename(P("a"), P("b")));
	events("rename a over b");
	add("b2", "b", IN_ATTRIB | IN_MODIFY);
	must("unlink b", unlink(P("b")));
	events("unlink b (the old a)");

	write_file("x", "x", 0);
	must("mkdir y", mkdir(P("y"), 0755));
	add("x", "x", IN_MOVE_SELF);
	add("y", "y", IN_MOVE_SELF | IN_ONLYDIR);
	events("create x, mkdir y");
	must("exchange", syscall(SYS_renameat2, AT_FDCWD, P("x"), AT_FDCWD, P("y"),
				 RENAME_EXCHANGE));
	events("renameat2 x y RENAME_EXCHANGE");

	must("symlink", symlink("y", P("l")));
	add("l nofollow", "l", IN_ATTRIB | IN_DONT_FOLLOW);
	add("l follow", "l", IN_ATTRIB);
	add("y onlydir", "y", IN_ATTRIB | IN_ONLYDIR);
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	must("utimensat nofollow",
	     utimensat(AT_FDCWD, P("l"), ts, AT_SYMLINK_NOFOLLOW));
	events("symlink l, utimensat of l itself");
	add("oneshot", "x", IN_ACCESS | IN_ONESHOT);
	list_dir("x");
	list_dir("x");
	events("list the directory now at x twice, a one-shot watch on it");

	must("mkdir e", mkdir(P("e"), 0755));
	add("e", "e", IN_ALL_EVENTS | IN_EXCL_UNLINK);
	fd = open(P("e/z"), O_RDWR | O_CREAT, 0644);
	must("open e/z", fd);
	must("write e/z", write(fd, "z", 1));
	must("unlink e/z", unlink(P("e/z")));
	must("write e/z", write(fd, "z", 1));
	close(fd);
	must("rmdir e", rmdir(P("e")));
	events("IN_EXCL_UNLINK: write, unlink, write, close e/z; rmdir e");

	if (unmount) {
		/* In the sandbox the namespace is private anyway. */
		if (unshare(CLONE_NEWNS) == 0)
			must("private /", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
		must("mkdir m", mkdir(P("m"), 0755));
		must("mount m", mount("none", P("m"), "tmpfs", 0, NULL));
		add("m", "m", IN_ALL_EVENTS);
		write_file("m/f", "f", 0);
		events("mkdir m, mount a tmpfs there, create m/f");
		must("umount m", umount(P("m")));
		events("umount m");
		must("rmdir m", rmdir(P("m")));
		events("rmdir m");
	}

	must("unlink", unlink(P("l")));
	must("unlink", unlink(P("y")));
	must("rmdir", rmdir(P("x")));
	events("remove l, y and x");
	close(in);
	must("rmdir base", rmdir(base));
	printf("PASS\n");
	return 0;
}
