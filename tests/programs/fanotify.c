/*
 * fanotify as Linux has it, compared line for line: fanotify_init's and
 * fanotify_mark's errnos; the events of inode marks on files and
 * directories (FAN_EVENT_ON_CHILD, FAN_ONDIR), mount and filesystem
 * marks; merging of events about one file by one process (and not
 * across processes); ignore masks (cleared by a modification unless
 * FAN_MARK_IGNORED_SURV_MODIFY); the event descriptor (event_f_flags,
 * its path, no events of its own); FAN_REPORT_FID / DIR_FID / NAME info
 * records for FAN_CREATE/DELETE/MOVED_*, FAN_ATTRIB and the *_SELF
 * events; FAN_Q_OVERFLOW; and permission events (FAN_OPEN_PERM,
 * FAN_ACCESS_PERM) denied and allowed, and an opener killed while it
 * waits for the answer.
 *
 * It works in a tmpfs it mounts on a fresh directory in /tmp (natively in
 * a private mount namespace), so a filesystem mark sees only its own
 * doings. Nothing host-specific is printed: pids are printed as who
 * they are (self, child), descriptors by the path they open, file ids by
 * the file they name (compared with name_to_handle_at).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

static char top[PATH_MAX / 2], base[PATH_MAX / 2];
static pid_t child_pid;
static int failures;

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static char *P(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	if (!rel || !*rel)
		snprintf(b, PATH_MAX, "%s", base);
	else
		snprintf(b, PATH_MAX, "%s/%s", base, rel);
	return b;
}

#define CHECK(what, call)                                                  \
	do {                                                               \
		errno = 0;                                                 \
		long r_ = (long)(call);                                    \
		printf("%s: %s\n", what, r_ < 0 ? ename(errno) : "ok");    \
	} while (0)

static const struct {
	uint64_t bit;
	const char *name;
} bits[] = {
	{FAN_ACCESS, "ACCESS"}, {FAN_MODIFY, "MODIFY"},
	{FAN_ATTRIB, "ATTRIB"}, {FAN_CLOSE_WRITE, "CLOSE_WRITE"},
	{FAN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {FAN_OPEN, "OPEN"},
	{FAN_MOVED_FROM, "MOVED_FROM"}, {FAN_MOVED_TO, "MOVED_TO"},
	{FAN_CREATE, "CREATE"}, {FAN_DELETE, "DELETE"},
	{FAN_DELETE_SELF, "DELETE_SELF"}, {FAN_MOVE_SELF, "MOVE_SELF"},
	{FAN_OPEN_EXEC, "OPEN_EXEC"}, {FAN_Q_OVERFLOW, "Q_OVERFLOW"},
	{FAN_OPEN_PERM, "OPEN_PERM"}, {FAN_ACCESS_PERM, "ACCESS_PERM"},
	{FAN_OPEN_EXEC_PERM, "OPEN_EXEC_PERM"}, {FAN_ONDIR, "ONDIR"},
};

static void print_mask(uint64_t m)
{
	const char *sep = "";

	for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
		if (m & bits[i].bit) {
			printf("%s%s", sep, bits[i].name);
			sep = "|";
			m &= ~bits[i].bit;
		}
	if (m)
		printf("%s0x%llx", sep, (unsigned long long)m);
}

static const char *who(int pid)
{
	if (pid == 0)
		return "pid0";
	if (pid == getpid())
		return "self";
	if (pid == child_pid)
		return "child";
	return "other";
}

/* File handles of the files the FID sections name. */
#define MAX_KNOWN 16
static struct {
	char name[32];
	unsigned char h[MAX_HANDLE_SZ + sizeof(struct file_handle)];
} known[MAX_KNOWN];
static int nknown;
static fsid_t fs_fsid;

static void remember(const char *name, const char *rel)
{
	struct file_handle *fh = (struct file_handle *)known[nknown].h;
	int mnt;

	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, P(rel), fh, &mnt, 0) < 0) {
		printf("handle %s: %s\n", name, ename(errno));
		return;
	}
	snprintf(known[nknown].name, sizeof known[0].name, "%s", name);
	nknown++;
}

static const char *fid_name(struct file_handle *fh)
{
	for (int i = nknown - 1; i >= 0; i--) {
		struct file_handle *k = (struct file_handle *)known[i].h;

		if (k->handle_type == fh->handle_type &&
		    k->handle_bytes == fh->handle_bytes &&
		    !memcmp(k->f_handle, fh->f_handle, fh->handle_bytes))
			return known[i].name;
	}
	return "?";
}

static void print_info(const char *p, const char *end)
{
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;

		if (h->len == 0 || p + h->len > end) {
			printf(" [bad record]");
			return;
		}
		if (h->info_type == FAN_EVENT_INFO_TYPE_FID ||
		    h->info_type == FAN_EVENT_INFO_TYPE_DFID ||
		    h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			const struct fanotify_event_info_fid *f = (const void *)p;
			struct file_handle *fh = (struct file_handle *)f->handle;
			const char *type = h->info_type == FAN_EVENT_INFO_TYPE_FID ? "fid" :
					   h->info_type == FAN_EVENT_INFO_TYPE_DFID ? "dfid" : "dfid_name";

			printf(" [%s %s%s", type, fid_name(fh),
			       memcmp(&f->fsid, &fs_fsid, sizeof fs_fsid) ? " fsid?" : "");
			if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
				printf(" '%s'", (const char *)fh->f_handle + fh->handle_bytes);
			printf(" len%s]", h->len % 4 ? "?" : "");
		} else {
			printf(" [type %d]", h->info_type);
		}
		p += h->len;
	}
}

/* The path an event's descriptor opens, relative to the tmpfs. */
static void print_fd(int fd)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	if (fd == FAN_NOFD) {
		printf(" nofd");
		return;
	}
	if (fd < 0) {
		printf(" fd%d", fd);
		return;
	}
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	if (n < 0) {
		printf(" fd:%s", ename(errno));
		return;
	}
	target[n] = 0;
	size_t bl = strlen(base);
	if (!strncmp(target, base, bl))
		printf(" fd:/%s", target[bl] == '/' ? target + bl + 1 : target + bl);
	else
		printf(" fd:(elsewhere)");
}

/* Prints the queued events (non-blocking group), closing their fds. */
static void drain(int fan, const char *label)
{
	char buf[65536] __attribute__((aligned(8)));
	int count = 0;

	printf("%s:", label);
	for (;;) {
		ssize_t n = read(fan, buf, sizeof buf);

		if (n < 0) {
			if (errno != EAGAIN)
				printf(" read:%s", ename(errno));
			break;
		}
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
		     m = FAN_EVENT_NEXT(m, n)) {
			if (m->vers != FANOTIFY_METADATA_VERSION || m->metadata_len != sizeof *m)
				printf(" [bad metadata]");
			printf("%s", count++ ? "\n  " : "\n  ");
			print_mask(m->mask);
			print_fd(m->fd);
			printf(" %s", who(m->pid));
			print_info((char *)m + m->metadata_len, (char *)m + m->event_len);
			if (m->fd >= 0)
				close(m->fd);
		}
	}
	if (!count)
		printf(" none");
	printf("\n");
}

static int group(unsigned flags, unsigned event_f_flags)
{
	int fan = fanotify_init(flags | FAN_NONBLOCK, event_f_flags);

	if (fan < 0) {
		printf("fanotify_init 0x%x: %s\n", flags, ename(errno));
		failures++;
	}
	return fan;
}

static int mark(int fan, unsigned flags, uint64_t mask, const char *rel)
{
	int r = fanotify_mark(fan, flags, mask, AT_FDCWD, P(rel));

	if (r < 0) {
		printf("mark %s: %s\n", rel ? rel : ".", ename(errno));
		failures++;
	}
	return r;
}

static void touch(const char *rel)
{
	int fd = open(P(rel), O_RDONLY);

	if (fd >= 0)
		close(fd);
}

static void write_file(const char *rel)
{
	int fd = open(P(rel), O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			printf("write %s: %s\n", rel, ename(errno));
		close(fd);
	}
}

static void read_file(const char *rel)
{
	char c;
	int fd = open(P(rel), O_RDONLY);

	if (fd >= 0) {
		if (read(fd, &c, 1) < 0)
			printf("read %s: %s\n", rel, ename(errno));
		close(fd);
	}
}

static void errnos(void)
{
	int fan, fid;

	printf("== errnos\n");
	CHECK("init CONTENT|PRE_CONTENT", fanotify_init(FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT, O_RDONLY));
	CHECK("init unknown flag", fanotify_init(0x80000000u, O_RDONLY));
	CHECK("init event_f_flags O_ACCMODE", fanotify_init(0, O_ACCMODE));
	CHECK("init event_f_flags O_CREAT", fanotify_init(0, O_RDONLY | O_CREAT));
	CHECK("init NAME without DIR_FID", fanotify_init(FAN_REPORT_NAME, O_RDONLY));
	CHECK("init FID with CLASS_CONTENT", fanotify_init(FAN_REPORT_FID | FAN_CLASS_CONTENT, O_RDONLY));
	fan = group(FAN_CLASS_NOTIF, O_RDONLY);
	fid = group(FAN_REPORT_FID, O_RDONLY);
	CHECK("mark mask 0", fanotify_mark(fan, FAN_MARK_ADD, 0, AT_FDCWD, P("f")));
	CHECK("mark ADD|REMOVE", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("mark no command", fanotify_mark(fan, 0, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("mark unknown flag", fanotify_mark(fan, FAN_MARK_ADD | 0x40000000, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("mark upper mask bits", fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN | (1ULL << 40), AT_FDCWD, P("f")));
	CHECK("mark unknown event", fanotify_mark(fan, FAN_MARK_ADD, 0x00002000, AT_FDCWD, P("f")));
	CHECK("mark MOUNT|FILESYSTEM", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("mark OPEN_PERM on NOTIF group", fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, P("f")));
	CHECK("mark CREATE without FID", fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, P("")));
	CHECK("mark ATTRIB without FID", fanotify_mark(fan, FAN_MARK_ADD, FAN_ATTRIB, AT_FDCWD, P("f")));
	CHECK("mark CREATE on mount", fanotify_mark(fid, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CREATE, AT_FDCWD, P("")));
	CHECK("mark CREATE on a file", fanotify_mark(fid, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, P("f")));
	CHECK("mark ONLYDIR on a file", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("mark missing path", fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, P("missing")));
	CHECK("mark bad fd", fanotify_mark(999, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("mark not a group", fanotify_mark(0, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("remove with no mark", fanotify_mark(fan, FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("FLUSH with ONLYDIR", fanotify_mark(fan, FAN_MARK_FLUSH | FAN_MARK_ONLYDIR, 0, AT_FDCWD, P("")));
	CHECK("FLUSH", fanotify_mark(fan, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL));
	CHECK("IGNORE with IGNORED_MASK", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORE | FAN_MARK_IGNORED_MASK, FAN_OPEN, AT_FDCWD, P("f")));
	CHECK("IGNORE on a dir without SURV_MODIFY", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORE, FAN_OPEN, AT_FDCWD, P("")));
	CHECK("mark by dirfd, NULL path", fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, open(P("f"), O_RDONLY), NULL));
	{
		char c;
		CHECK("read with a small buffer", read(fan, &c, 1));
	}
	drain(fan, "after marking by fd (its own open is before the mark)");
	close(fan);
	close(fid);
}

static void inode_marks(void)
{
	int fan = group(FAN_CLASS_NOTIF, O_RDONLY | O_CLOEXEC);
	int fd;
	char c;

	printf("== inode marks\n");
	mark(fan, FAN_MARK_ADD, FAN_OPEN | FAN_CLOSE | FAN_ACCESS | FAN_MODIFY, "f");
	fd = open(P("f"), O_RDWR);
	drain(fan, "open");
	if (write(fd, "ab", 2) != 2)
		printf("write: %s\n", ename(errno));
	drain(fan, "write");
	if (pread(fd, &c, 1, 0) != 1)
		printf("pread: %s\n", ename(errno));
	drain(fan, "pread");
	close(fd);
	drain(fan, "close");
	fd = open(P("f"), O_RDWR);
	if (write(fd, "ab", 2) != 2 || pread(fd, &c, 1, 0) != 1)
		printf("io: %s\n", ename(errno));
	close(fd);
	read_file("f");
	drain(fan, "open, write, read, close; open, read, close: merged");
	touch("g");
	drain(fan, "another file");

	/* The event fd: event_f_flags, and no events of its own. */
	touch("f");
	{
		char buf[4096] __attribute__((aligned(8)));
		ssize_t n = read(fan, buf, sizeof buf);
		struct fanotify_event_metadata *m = (void *)buf;

		if (n > 0 && FAN_EVENT_OK(m, n) && m->fd >= 0) {
			int fl = fcntl(m->fd, F_GETFL), fdf = fcntl(m->fd, F_GETFD);

			printf("event fd: %s%s%s\n",
			       (fl & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "not O_RDONLY",
			       fl & O_LARGEFILE ? "|O_LARGEFILE" : "",
			       fdf & FD_CLOEXEC ? " cloexec" : "");
			if (read(m->fd, &c, 1) < 0)
				printf("read event fd: %s\n", ename(errno));
			close(m->fd);
		} else {
			printf("event fd: none (%zd %s)\n", n, ename(errno));
		}
	}
	drain(fan, "after reading and closing the event fd");

	/* A child's open is its own event. */
	fflush(stdout);
	child_pid = fork();
	if (child_pid == 0) {
		touch("f");
		_exit(0);
	}
	waitpid(child_pid, NULL, 0);
	touch("f");
	drain(fan, "child then self");

	CHECK("remove OPEN", fanotify_mark(fan, FAN_MARK_REMOVE, FAN_OPEN | FAN_ACCESS | FAN_MODIFY, AT_FDCWD, P("f")));
	touch("f");
	drain(fan, "only CLOSE left");
	CHECK("remove CLOSE", fanotify_mark(fan, FAN_MARK_REMOVE, FAN_CLOSE, AT_FDCWD, P("f")));
	CHECK("remove again", fanotify_mark(fan, FAN_MARK_REMOVE, FAN_CLOSE, AT_FDCWD, P("f")));
	touch("f");
	drain(fan, "no mark");

	/* A directory: its children only with FAN_EVENT_ON_CHILD, itself
	 * only with FAN_ONDIR. */
	mark(fan, FAN_MARK_ADD, FAN_OPEN, "d");
	touch("d/x");
	touch("d");
	drain(fan, "dir mark, FAN_OPEN");
	mark(fan, FAN_MARK_ADD, FAN_OPEN | FAN_EVENT_ON_CHILD, "d");
	touch("d/x");
	touch("d");
	touch("d/sub");
	touch("d/sub/y");
	drain(fan, "with EVENT_ON_CHILD");
	mark(fan, FAN_MARK_ADD, FAN_OPEN | FAN_ONDIR, "d");
	touch("d/x");
	touch("d");
	touch("d/sub");
	drain(fan, "with ONDIR too");
	CHECK("ONLYDIR on a dir", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_CLOSE_NOWRITE, AT_FDCWD, P("d")));
	touch("d");
	drain(fan, "ONLYDIR mark");
	CHECK("FLUSH inode marks", fanotify_mark(fan, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL));
	touch("d/x");
	touch("d");
	drain(fan, "after FLUSH");
	close(fan);
}

static void mount_and_fs_marks(void)
{
	int fan;

	for (int kind = 0; kind < 2; kind++) {
		unsigned type = kind ? FAN_MARK_FILESYSTEM : FAN_MARK_MOUNT;

		printf("== %s mark\n", kind ? "filesystem" : "mount");
		fan = group(FAN_CLASS_NOTIF, O_RDONLY);
		mark(fan, FAN_MARK_ADD | type, FAN_OPEN | FAN_CLOSE_WRITE | FAN_MODIFY, "d");
		touch("f");
		write_file("d/x");
		touch("d/sub");
		drain(fan, "files anywhere in it; dirs not without ONDIR");
		mark(fan, FAN_MARK_ADD | type, FAN_ONDIR, "");
		touch("d/sub");
		drain(fan, "with ONDIR");
		/* An ignore mask on one file. */
		mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN, "g");
		touch("g");
		touch("f");
		drain(fan, "g's FAN_OPEN ignored");
		write_file("g");
		touch("g");
		drain(fan, "a write ended the ignore mask");
		mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN | FAN_MODIFY, "g");
		write_file("g");
		touch("g");
		drain(fan, "SURV_MODIFY: still ignored");
		CHECK("remove the ignore mask", fanotify_mark(fan, FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK, FAN_OPEN | FAN_MODIFY, AT_FDCWD, P("g")));
		touch("g");
		drain(fan, "ignore mask removed");
		/* An ignore mask on a directory with children: its children. */
		mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN, "d");
		touch("d/x");
		touch("d");
		drain(fan, "dir's ignore mask without ON_CHILD");
		mark(fan, FAN_MARK_ADD, FAN_EVENT_ON_CHILD | FAN_CLOSE_NOWRITE, "d");
		touch("d/x");
		drain(fan, "dir's ignore mask with ON_CHILD in its mask");
		CHECK("FLUSH other type", fanotify_mark(fan, FAN_MARK_FLUSH | (kind ? FAN_MARK_MOUNT : FAN_MARK_FILESYSTEM), 0, AT_FDCWD, NULL));
		touch("f");
		drain(fan, "still marked");
		CHECK("FLUSH", fanotify_mark(fan, FAN_MARK_FLUSH | type, 0, AT_FDCWD, NULL));
		touch("f");
		drain(fan, "flushed");
		close(fan);
	}
}

static void fid_groups(void)
{
	static const struct {
		unsigned flags;
		const char *name;
	} modes[] = {
		{FAN_REPORT_FID, "FID"},
		{FAN_REPORT_DIR_FID, "DIR_FID"},
		{FAN_REPORT_DFID_NAME, "DFID_NAME"},
		{FAN_REPORT_DFID_NAME | FAN_REPORT_FID, "DFID_NAME|FID"},
	};
	struct statfs sfs;

	statfs(base, &sfs);
	fs_fsid = sfs.f_fsid;
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		int fan;

		printf("== %s\n", modes[i].name);
		mkdir(P("e"), 0755);
		nknown = 0;
		remember("e", "e");
		remember("base", "");
		fan = group(modes[i].flags, O_RDONLY);
		mark(fan, FAN_MARK_ADD, FAN_CREATE | FAN_DELETE | FAN_MOVE | FAN_ONDIR | FAN_OPEN |
			 FAN_CLOSE | FAN_EVENT_ON_CHILD | FAN_ATTRIB | FAN_DELETE_SELF | FAN_MOVE_SELF, "e");
		close(open(P("e/a"), O_CREAT | O_WRONLY, 0644));
		remember("a", "e/a");
		drain(fan, "create a");
		mkdir(P("e/s"), 0755);
		remember("s", "e/s");
		drain(fan, "mkdir s");
		rename(P("e/a"), P("e/b"));
		drain(fan, "rename a b");
		chmod(P("e/b"), 0600);
		chmod(P("e"), 0700);
		drain(fan, "chmod b, chmod e");
		touch("e/s");
		touch("e");
		drain(fan, "open s, open e");
		unlink(P("e/b"));
		rmdir(P("e/s"));
		drain(fan, "unlink b, rmdir s");
		mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CREATE | FAN_ONDIR | FAN_MOVED_TO | FAN_OPEN, "");
		close(open(P("e/c"), O_CREAT | O_WRONLY, 0644));
		remember("c", "e/c");
		close(open(P("h"), O_CREAT | O_WRONLY, 0644));
		remember("h", "h");
		drain(fan, "filesystem mark: create e/c, h");
		rename(P("h"), P("e/h"));
		unlink(P("e/h"));
		unlink(P("e/c"));
		drain(fan, "rename h e/h, unlink both");
		rename(P("e"), P("e2"));
		rmdir(P("e2"));
		drain(fan, "rename e e2, rmdir e2");
		close(fan);
	}
}

static void overflow(void)
{
	int fan = group(FAN_REPORT_DFID_NAME, O_RDONLY);
	char buf[65536] __attribute__((aligned(8)));
	long events = 0, overflows = 0, last_overflow = 0;
	char name[64];

	printf("== overflow\n");
	mkdir(P("many"), 0755);
	mark(fan, FAN_MARK_ADD, FAN_CREATE, "many");
	for (int i = 0; i < 16400; i++) {
		snprintf(name, sizeof name, "many/%d", i);
		close(open(P(name), O_CREAT | O_WRONLY, 0644));
	}
	for (;;) {
		ssize_t n = read(fan, buf, sizeof buf);

		if (n <= 0)
			break;
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
		     m = FAN_EVENT_NEXT(m, n)) {
			last_overflow = 0;
			if (m->mask & FAN_Q_OVERFLOW) {
				overflows++;
				last_overflow = 1;
				printf("overflow event: fd %s, %s\n", m->fd == FAN_NOFD ? "FAN_NOFD" : "?", who(m->pid));
			} else {
				events++;
			}
		}
	}
	printf("%ld events, %ld overflow, last is overflow: %ld\n", events, overflows, last_overflow);
	close(open(P("many/more"), O_CREAT | O_WRONLY, 0644));
	drain(fan, "after the overflow was read");
	close(fan);
	for (int i = 0; i < 16400; i++) {
		snprintf(name, sizeof name, "many/%d", i);
		unlink(P(name));
	}
	unlink(P("many/more"));
	rmdir(P("many"));
}

/* The child tries `op` on f and reports through stdout; it does not
 * keep the group open (a group goes when its last descriptor does). */
static pid_t try_in_child(int fan, int op)
{
	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0) {
		char c;
		int fd;

		close(fan);
		fd = open(P("f"), O_RDONLY);

		if (op == 0 || fd < 0) {
			printf("child open: %s\n", fd < 0 ? ename(errno) : "ok");
		} else {
			ssize_t n = read(fd, &c, 1);
			printf("child read: %s\n", n < 0 ? ename(errno) : "ok");
		}
		fflush(stdout);
		_exit(0);
	}
	return pid;
}

static int read_perm(int fan, const char *label)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;
	int fd = -1;

	/* The group is non-blocking: wait for the child's question. */
	for (;;) {
		n = read(fan, buf, sizeof buf);
		if (n >= 0 || errno != EAGAIN)
			break;
		usleep(1000);
	}
	printf("%s:", label);
	for (struct fanotify_event_metadata *m = (void *)buf; n > 0 && FAN_EVENT_OK(m, n);
	     m = FAN_EVENT_NEXT(m, n)) {
		printf(" ");
		print_mask(m->mask);
		print_fd(m->fd);
		printf(" %s", who(m->pid));
		fd = m->fd;
	}
	printf("\n");
	return fd;
}

static void respond(int fan, int fd, unsigned r, const char *what)
{
	struct fanotify_response resp = {.fd = fd, .response = r};

	CHECK(what, write(fan, &resp, sizeof resp));
}

/* Answers the question the child waits on, and prints the result only
 * once the child (which prints what it got) is done. */
static void answer_and_wait(int fan, int fd, unsigned r, const char *what)
{
	struct fanotify_response resp = {.fd = fd, .response = r};
	ssize_t n = write(fan, &resp, sizeof resp);
	int e = errno;

	waitpid(child_pid, NULL, 0);
	printf("%s: %s\n", what, n < 0 ? ename(e) : "ok");
}

static void permissions(void)
{
	int fan = group(FAN_CLASS_CONTENT, O_RDONLY);
	int fd, status;

	printf("== permission events\n");
	mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_CLOSE_NOWRITE, "f");
	child_pid = try_in_child(fan, 0);
	fd = read_perm(fan, "asked");
	{
		struct fanotify_response bad = {.fd = fd, .response = 0};

		CHECK("response 0", write(fan, &bad, sizeof bad));
		CHECK("short response", write(fan, &bad, 4));
		bad.response = FAN_ALLOW | FAN_AUDIT;
		CHECK("FAN_AUDIT without ENABLE_AUDIT", write(fan, &bad, sizeof bad));
	}
	respond(fan, fd + 100, FAN_ALLOW, "response for another fd");
	answer_and_wait(fan, fd, FAN_DENY, "deny");
	respond(fan, fd, FAN_ALLOW, "answer again");
	close(fd);
	drain(fan, "after the denied open");

	child_pid = try_in_child(fan, 0);
	fd = read_perm(fan, "asked");
	answer_and_wait(fan, fd, FAN_ALLOW, "allow");
	close(fd);
	drain(fan, "after the allowed open");

	child_pid = try_in_child(fan, 1);
	fd = read_perm(fan, "asked to open");
	respond(fan, fd, FAN_ALLOW, "allow the open");
	close(fd);
	fd = read_perm(fan, "asked to read");
	answer_and_wait(fan, fd, FAN_DENY, "deny the read");
	close(fd);
	drain(fan, "after the denied read");

	/* An opener killed while it waits. */
	child_pid = try_in_child(fan, 0);
	fd = read_perm(fan, "asked");
	kill(child_pid, SIGKILL);
	waitpid(child_pid, &status, 0);
	printf("waiting opener: %s\n", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
	respond(fan, fd, FAN_ALLOW, "answer for the killed opener");
	close(fd);
	drain(fan, "after the kill");

	/* A group that goes answers its questions: allowed. */
	child_pid = try_in_child(fan, 0);
	fd = read_perm(fan, "asked");
	close(fd);
	close(fan);
	waitpid(child_pid, NULL, 0);
	printf("group closed\n");
}

/* Copies /bin/true into the tmpfs, to run it from there. */
static int copy_true(void)
{
	char buf[65536];
	int in = open("/bin/true", O_RDONLY), out = open(P("true"), O_CREAT | O_WRONLY | O_TRUNC, 0755);
	ssize_t n;

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	close(out);
	return 0;
}

static void run_true(void)
{
	fflush(stdout);
	child_pid = fork();
	if (child_pid == 0) {
		char *argv[] = {"true", NULL};

		execv(P("true"), argv);
		printf("child exec: %s\n", ename(errno));
		fflush(stdout);
		_exit(1);
	}
}

static void exec_events(void)
{
	int fan = group(FAN_CLASS_CONTENT, O_RDONLY), fd, status;

	printf("== exec\n");
	if (copy_true() < 0) {
		printf("copy /bin/true: %s\n", ename(errno));
		failures++;
		return;
	}
	mark(fan, FAN_MARK_ADD, FAN_OPEN_EXEC, "true");
	run_true();
	waitpid(child_pid, &status, 0);
	printf("true: exit %d\n", WEXITSTATUS(status));
	drain(fan, "FAN_OPEN_EXEC");
	CHECK("read it", open(P("true"), O_RDONLY));
	drain(fan, "a plain open is no exec");
	mark(fan, FAN_MARK_ADD, FAN_OPEN_EXEC_PERM, "true");
	run_true();
	fd = read_perm(fan, "asked");
	answer_and_wait(fan, fd, FAN_DENY, "deny the exec");
	close(fd);
	drain(fan, "after the denied exec");
	close(fan);
	unlink(P("true"));
}

static void event_f_flags(void)
{
	int fan = group(FAN_CLASS_NOTIF, O_RDWR | O_NONBLOCK | O_APPEND);
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;
	int avail = -1;

	printf("== event_f_flags O_RDWR|O_NONBLOCK|O_APPEND\n");
	mark(fan, FAN_MARK_ADD, FAN_OPEN, "f");
	touch("f");
	CHECK("FIONREAD", ioctl(fan, FIONREAD, &avail));
	printf("FIONREAD: %d\n", avail);
	n = read(fan, buf, sizeof buf);
	if (n > 0) {
		struct fanotify_event_metadata *m = (void *)buf;
		int fl = fcntl(m->fd, F_GETFL), fdf = fcntl(m->fd, F_GETFD);

		printf("event fd: %s%s%s%s\n", (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "not O_RDWR",
		       fl & O_NONBLOCK ? "|O_NONBLOCK" : "", fl & O_APPEND ? "|O_APPEND" : "",
		       fdf & FD_CLOEXEC ? " cloexec" : "");
		close(m->fd);
	}
	drain(fan, "its own open and close made none");
	close(fan);
}

/* Without CAP_SYS_ADMIN (as uid 65534): ids only, inode marks only, and
 * no pid of another process. */
static void unprivileged(void)
{
	int ready[2], go[2], status;
	char c = 0;

	printf("== unprivileged\n");
	if (pipe(ready) < 0 || pipe(go) < 0)
		return;
	fflush(stdout);
	child_pid = fork();
	if (child_pid == 0) {
		int fan;

		if (setgid(65534) < 0 || setuid(65534) < 0) {
			printf("setuid: %s\n", ename(errno));
			_exit(1);
		}
		CHECK("init NOTIF", fanotify_init(FAN_CLASS_NOTIF, O_RDONLY));
		CHECK("init CONTENT|FID", fanotify_init(FAN_CLASS_CONTENT | FAN_REPORT_FID, O_RDONLY));
		CHECK("init FID|UNLIMITED_QUEUE", fanotify_init(FAN_REPORT_FID | FAN_UNLIMITED_QUEUE, O_RDONLY));
		fan = fanotify_init(FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
		printf("init FID: %s\n", fan < 0 ? ename(errno) : "ok");
		CHECK("filesystem mark", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD, P("")));
		CHECK("mount mark", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN, AT_FDCWD, P("")));
		CHECK("inode mark", fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, P("f")));
		nknown = 0;
		remember("f", "f");
		child_pid = getppid();
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		touch("f");
		drain(fan, "the parent's open, then its own");
		fflush(stdout);
		_exit(0);
	}
	if (read(ready[0], &c, 1) == 1)
		touch("f");
	if (write(go[1], &c, 1) != 1)
		printf("go: %s\n", ename(errno));
	waitpid(child_pid, &status, 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

int main(int argc, char **argv)
{
	const char *parent = argc > 1 ? argv[1] : "/tmp";

	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	snprintf(top, sizeof top, "%s/fanotify.%d", parent, getpid());
	snprintf(base, sizeof base, "%s/fs", top);
	if (mkdir(top, 0755) < 0 || mkdir(base, 0755) < 0 ||
	    mount("tmpfs", base, "tmpfs", 0, "mode=755") < 0) {
		printf("setup: %s\n", ename(errno));
		return 1;
	}
	close(open(P("f"), O_CREAT | O_WRONLY, 0644));
	close(open(P("g"), O_CREAT | O_WRONLY, 0644));
	mkdir(P("d"), 0755);
	close(open(P("d/x"), O_CREAT | O_WRONLY, 0644));
	mkdir(P("d/sub"), 0755);
	close(open(P("d/sub/y"), O_CREAT | O_WRONLY, 0644));

	errnos();
	inode_marks();
	mount_and_fs_marks();
	fid_groups();
	overflow();
	permissions();
	exec_events();
	event_f_flags();
	unprivileged();

	umount2(base, MNT_DETACH);
	rmdir(base);
	rmdir(top);
	if (failures)
		printf("FAIL: %d setup failures\n", failures);
	else
		printf("PASS\n");
	return failures != 0;
}
