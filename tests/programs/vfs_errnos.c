/*
 * The VFS calls and their errnos, as Linux gives them: one line per
 * check, "what: ok" or "what: ENAME" (or a deterministic value), so a
 * comparison with the native run pins down each difference.
 *
 * It works in a tmpfs it mounts itself on a fresh directory in /tmp
 * (natively after moving into a private mount namespace; in the sandbox
 * unshare may be refused and the namespace is private anyway), so the
 * filesystem is the same in both runs whatever the host's /tmp is. A
 * second, read-only tmpfs gives EROFS; the parent /tmp gives EXDEV.
 * Non-root checks run in forked children that setgid/setuid to 65534.
 * Nothing host-specific (inode numbers, times, pids) is printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <poll.h>
#include <utime.h>
#include <unistd.h>

static char base[80];	/* the mount point of the scratch tmpfs */
static char top[64];	/* its parent, made in /tmp */

static char *P(const char *rel)
{
	static char bufs[8][PATH_MAX + 600];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, sizeof bufs[0], "%s/%s", base, rel);
	return b;
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* Prints "what: ok" for r >= 0, else the errno's name. */
static void res(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, ename(errno));
	else
		printf("%s: ok\n", what);
}

#define CHECK(what, expr) res(what, (long)(expr))

static void closing(const char *what, int fd)
{
	res(what, fd);
	if (fd >= 0)
		close(fd);
}

#define OPEN(what, ...) closing(what, open(__VA_ARGS__))

static void touch(const char *rel, mode_t mode)
{
	int fd = open(P(rel), O_CREAT | O_WRONLY | O_TRUNC, mode);

	if (fd < 0) {
		printf("setup %s: %s\n", rel, ename(errno));
		exit(1);
	}
	if (write(fd, "hello", 5) != 5)
		exit(1);
	fchmod(fd, mode);
	close(fd);
}

static void mode_of(const char *what, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		printf("%s: %s\n", what, ename(errno));
	else
		printf("%s: mode %o size %lld nlink %ld uid %u gid %u\n", what,
		       st.st_mode, (long long)st.st_size, (long)st.st_nlink,
		       st.st_uid, st.st_gid);
}

/* Runs fn in a child as uid/gid 65534 with supplementary group `extra`
 * (-1: none), and waits. */
static void as_nobody(void (*fn)(void), gid_t extra)
{
	pid_t pid = fork();

	if (pid == 0) {
		gid_t groups[1] = { extra };

		if (setgroups(extra == (gid_t)-1 ? 0 : 1, groups) < 0 ||
		    setgid(65534) < 0 || setuid(65534) < 0) {
			printf("drop privileges: %s\n", ename(errno));
			_exit(1);
		}
		fn();
		fflush(stdout);
		_exit(0);
	}
	int status;

	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		printf("child failed: %x\n", status);
}

static void eacces_checks(void)
{
	int fd;

	OPEN("nobody open 0600 file O_RDONLY", P("private"), O_RDONLY);
	OPEN("nobody open 0644 file O_WRONLY", P("public"), O_WRONLY);
	OPEN("nobody open 0644 file O_RDONLY", P("public"), O_RDONLY);
	OPEN("nobody creat in 0755 root dir", P("d/new"), O_CREAT | O_WRONLY, 0644);
	CHECK("nobody mkdir in 0755 root dir", mkdir(P("d/newdir"), 0755));
	CHECK("nobody unlink in 0755 root dir", unlink(P("d/f")));
	CHECK("nobody rename in 0755 root dir", rename(P("d/f"), P("d/g")));
	CHECK("nobody stat through 0700 dir", access(P("closed/f"), F_OK));
	OPEN("nobody open through 0700 dir", P("closed/f"), O_RDONLY);
	CHECK("nobody chmod root file", chmod(P("public"), 0666));
	CHECK("nobody chown root file to self", chown(P("public"), 65534, 65534));
	CHECK("nobody truncate 0644 root file", truncate(P("public"), 0));
	CHECK("nobody utimes NULL root 0644 file", utimes(P("public"), NULL));
	CHECK("nobody utimes NULL root 0666 file", utimes(P("world"), NULL));
	struct timeval tv[2] = { { 1, 0 }, { 2, 0 } };
	CHECK("nobody utimes explicit root 0666 file", utimes(P("world"), tv));
	CHECK("nobody access W_OK 0644", access(P("public"), W_OK));
	CHECK("nobody access R_OK 0644", access(P("public"), R_OK));
	CHECK("nobody access X_OK 0755 dir", access(P("d"), X_OK));
	CHECK("nobody rmdir in 0755 root dir", rmdir(P("d/sub3")));
	CHECK("nobody link in 0755 root dir", link(P("public"), P("d/l")));
	CHECK("nobody symlink in 0755 root dir", symlink("x", P("d/s")));
	CHECK("nobody mknod fifo in 0755 root dir", mknod(P("d/fifo"), S_IFIFO | 0644, 0));
	CHECK("nobody setxattr user on root 0644 file", setxattr(P("public"), "user.a", "1", 1, 0));
	CHECK("nobody getxattr user on root 0600 file", getxattr(P("private"), "user.a", NULL, 0));
	/* The sticky directory: nobody owns "mine", root owns "theirs". */
	fd = open(P("sticky/mine"), O_CREAT | O_WRONLY, 0644);
	closing("nobody creat in sticky dir", fd);
	CHECK("nobody unlink root's file in sticky dir", unlink(P("sticky/theirs")));
	CHECK("nobody rename root's file in sticky dir", rename(P("sticky/theirs"), P("sticky/x")));
	CHECK("nobody unlink own file in sticky dir", unlink(P("sticky/mine")));
	CHECK("nobody mkdir in sticky dir", mkdir(P("sticky/own"), 0755));
	CHECK("nobody rmdir own dir in sticky dir", rmdir(P("sticky/own")));
}

static void group_checks(void)
{
	/* "grp" is root:4242 0060: readable through the supplementary group
	 * only. */
	OPEN("nobody+4242 open 0060 group file O_RDONLY", P("grp"), O_RDONLY);
	OPEN("nobody+4242 open 0060 group file O_RDWR", P("grp"), O_RDWR);
	CHECK("nobody+4242 access R_OK", access(P("grp"), R_OK));
	CHECK("nobody+4242 chown own group 4242 on root file", chown(P("grp"), -1, 4242));
	OPEN("nobody+4242 open 0600 root file", P("private"), O_RDONLY);
}

static void group_none(void)
{
	OPEN("nobody open 0060 group file O_RDONLY", P("grp"), O_RDONLY);
	CHECK("nobody access R_OK 0060", access(P("grp"), R_OK));
}

static void read_events(int in, const char *what)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd pfd = { .fd = in, .events = POLLIN };

	printf("%s: poll %d\n", what, poll(&pfd, 1, 1000));
	ssize_t n = read(in, buf, sizeof buf);

	if (n < 0) {
		printf("%s: read %s\n", what, ename(errno));
		return;
	}
	for (char *p = buf; p < buf + n;) {
		struct inotify_event *ev = (struct inotify_event *)p;

		printf("%s: event mask %x cookie%s name \"%s\"\n", what,
		       ev->mask, ev->cookie ? "!=0" : "=0",
		       ev->len ? ev->name : "");
		p += sizeof *ev + ev->len;
	}
}

static void inotify_checks(void)
{
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	res("inotify_init1", in);
	if (in < 0)
		return;
	CHECK("inotify_init1 bad flags", inotify_init1(0x1));
	CHECK("inotify_add_watch missing", inotify_add_watch(in, P("nowhere"), IN_ALL_EVENTS));
	CHECK("inotify_add_watch zero mask", inotify_add_watch(in, P("w"), 0));
	int wd = inotify_add_watch(in, P("w"), IN_CREATE | IN_DELETE | IN_MODIFY |
				   IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
				   IN_ATTRIB);
	printf("inotify_add_watch: %s\n", wd >= 0 ? "ok" : ename(errno));
	int wd2 = inotify_add_watch(in, P("w"), IN_CREATE);
	printf("inotify_add_watch again same wd: %d\n", wd2 == wd);
	wd = inotify_add_watch(in, P("w"), IN_CREATE | IN_DELETE | IN_MODIFY |
			       IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
			       IN_ATTRIB);
	char buf[64];

	CHECK("inotify read empty", read(in, buf, sizeof buf));
	int fd = open(P("w/a"), O_CREAT | O_WRONLY, 0644);

	read_events(in, "inotify create");
	if (write(fd, "x", 1) != 1)
		printf("write failed\n");
	read_events(in, "inotify modify");
	close(fd);
	read_events(in, "inotify close_write");
	chmod(P("w/a"), 0600);
	read_events(in, "inotify attrib");
	rename(P("w/a"), P("w/b"));
	read_events(in, "inotify rename");
	unlink(P("w/b"));
	read_events(in, "inotify delete");
	mkdir(P("w/dir"), 0755);
	read_events(in, "inotify mkdir");
	rmdir(P("w/dir"));
	read_events(in, "inotify rmdir");
	fd = open(P("w/c"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK("inotify read too small", read(in, buf, 8));
	read_events(in, "inotify after small read");
	CHECK("inotify_rm_watch", inotify_rm_watch(in, wd));
	read_events(in, "inotify after rm_watch");
	CHECK("inotify_rm_watch again", inotify_rm_watch(in, wd));
	close(in);
}

int main(void)
{
	char name[300], longpath[PATH_MAX + 100];
	struct stat st;
	struct statfs sfs;
	int fd, fd2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	/* A private mount namespace natively; the sandbox's is private. */
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	snprintf(top, sizeof top, "/tmp/vfs_errnos.%d", getpid());
	snprintf(base, sizeof base, "%s/fs", top);
	if (mkdir(top, 0755) < 0 || mkdir(base, 0755) < 0 ||
	    mount("tmpfs", base, "tmpfs", 0, "mode=755") < 0) {
		printf("setup: %s\n", ename(errno));
		return 1;
	}

	/* ---- creation: EEXIST, ENOENT, ENOTDIR, EISDIR ---- */
	touch("f", 0644);
	CHECK("mkdir d", mkdir(P("d"), 0755));
	CHECK("mkdir d again", mkdir(P("d"), 0755));
	CHECK("mkdir f (a file)", mkdir(P("f"), 0755));
	CHECK("mkdir missing/x", mkdir(P("missing/x"), 0755));
	CHECK("mkdir f/x", mkdir(P("f/x"), 0755));
	CHECK("mkdirat AT_FDCWD", mkdirat(AT_FDCWD, P("d/sub"), 0755));
	fd = open(P("d"), O_RDONLY | O_DIRECTORY);
	CHECK("mkdirat dirfd", mkdirat(fd, "sub2", 0700));
	CHECK("mkdirat file fd", mkdirat(open(P("f"), O_RDONLY), "x", 0700));
	CHECK("mkdirat bad fd", mkdirat(999, "x", 0700));
	mode_of("stat d/sub2", P("d/sub2"));
	close(fd);
	OPEN("open O_CREAT|O_EXCL existing", P("f"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	OPEN("open O_CREAT|O_EXCL new", P("excl"), O_CREAT | O_EXCL | O_WRONLY, 0640);
	mode_of("stat excl", P("excl"));
	OPEN("open missing", P("nope"), O_RDONLY);
	OPEN("open f/x", P("f/x"), O_RDONLY);
	OPEN("open dir O_WRONLY", P("d"), O_WRONLY);
	OPEN("open dir O_RDWR", P("d"), O_RDWR);
	OPEN("open file O_DIRECTORY", P("f"), O_RDONLY | O_DIRECTORY);
	OPEN("open dir O_DIRECTORY", P("d"), O_RDONLY | O_DIRECTORY);
	OPEN("open O_CREAT trailing slash", P("new/"), O_CREAT | O_WRONLY, 0644);
	OPEN("open O_CREAT on dir", P("d"), O_CREAT | O_RDONLY, 0644);
	OPEN("open O_CREAT|O_DIRECTORY", P("cd"), O_CREAT | O_DIRECTORY | O_RDONLY, 0644);
	OPEN("open file trailing slash", P("f/"), O_RDONLY);

	/* ---- O_TRUNC, O_APPEND, O_CLOEXEC, O_PATH ---- */
	fd = open(P("f"), O_WRONLY | O_TRUNC);
	res("open O_TRUNC", fd);
	fstat(fd, &st);
	printf("size after O_TRUNC: %lld\n", (long long)st.st_size);
	CHECK("write", write(fd, "abcdef", 6));
	close(fd);
	fd = open(P("f"), O_WRONLY | O_APPEND);
	lseek(fd, 0, SEEK_SET);
	CHECK("write O_APPEND", write(fd, "XY", 2));
	printf("offset after O_APPEND write: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	printf("pwrite O_APPEND: %zd\n", pwrite(fd, "Z", 1, 0));
	fstat(fd, &st);
	printf("size after O_APPEND: %lld\n", (long long)st.st_size);
	printf("fcntl GETFL has O_APPEND: %d\n", !!(fcntl(fd, F_GETFL) & O_APPEND));
	close(fd);
	fd = open(P("f"), O_RDONLY | O_CLOEXEC);
	printf("O_CLOEXEC sets FD_CLOEXEC: %d\n", fcntl(fd, F_GETFD));
	close(fd);
	fd = open(P("f"), O_PATH);
	res("open O_PATH", fd);
	CHECK("read O_PATH", read(fd, name, 1));
	CHECK("write O_PATH", write(fd, name, 1));
	CHECK("fstat O_PATH", fstat(fd, &st));
	CHECK("fchmod O_PATH", fchmod(fd, 0644));
	CHECK("fchown O_PATH", fchown(fd, 0, 0));
	CHECK("ftruncate O_PATH", ftruncate(fd, 0));
	CHECK("fstatfs O_PATH", fstatfs(fd, &sfs));
	CHECK("fstatat O_PATH AT_EMPTY_PATH", fstatat(fd, "", &st, AT_EMPTY_PATH));
	CHECK("fstatat O_PATH empty no flag", fstatat(fd, "", &st, 0));
	CHECK("fchmodat O_PATH AT_EMPTY_PATH", syscall(452, fd, "", 0644, AT_EMPTY_PATH));
	CHECK("fchownat O_PATH AT_EMPTY_PATH", fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
	CHECK("linkat O_PATH AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, P("flink"), AT_EMPTY_PATH));
	mode_of("stat flink", P("flink"));
	close(fd);

	/* ---- symlinks: ELOOP, O_NOFOLLOW ---- */
	CHECK("symlink", symlink("f", P("sl")));
	CHECK("symlink existing", symlink("f", P("sl")));
	CHECK("symlink empty target", symlink("", P("empty")));
	CHECK("symlinkat dirfd", symlinkat("../f", (fd = open(P("d"), O_RDONLY)), "up"));
	close(fd);
	CHECK("symlink loop a->b", symlink("loop_b", P("loop_a")));
	CHECK("symlink loop b->a", symlink("loop_a", P("loop_b")));
	OPEN("open loop", P("loop_a"), O_RDONLY);
	CHECK("stat loop", stat(P("loop_a"), &st));
	CHECK("lstat loop", lstat(P("loop_a"), &st));
	CHECK("mkdir loop/x", mkdir(P("loop_a/x"), 0755));
	OPEN("open O_NOFOLLOW symlink", P("sl"), O_RDONLY | O_NOFOLLOW);
	OPEN("open O_NOFOLLOW|O_PATH symlink", P("sl"), O_PATH | O_NOFOLLOW);
	OPEN("open O_NOFOLLOW file", P("f"), O_RDONLY | O_NOFOLLOW);
	OPEN("open O_CREAT|O_EXCL symlink", P("sl"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	OPEN("open O_CREAT symlink O_NOFOLLOW", P("sl"), O_CREAT | O_WRONLY | O_NOFOLLOW, 0644);
	OPEN("open symlink to dir trailing", P("d/up/"), O_RDONLY);
	CHECK("fchmodat AT_SYMLINK_NOFOLLOW", fchmodat(AT_FDCWD, P("sl"), 0644, AT_SYMLINK_NOFOLLOW));
	CHECK("lchown symlink", lchown(P("sl"), 0, 0));
	char lbuf[64];
	ssize_t ln = readlink(P("d/up"), lbuf, sizeof lbuf);

	printf("readlink d/up: %.*s\n", (int)(ln > 0 ? ln : 0), lbuf);
	CHECK("readlink file", readlink(P("f"), lbuf, sizeof lbuf));
	/* A chain of 41 links is too long; 40 is fine. */
	for (int i = 0; i < 41; i++) {
		char a[32], b[32];

		snprintf(a, sizeof a, "chain%d", i);
		snprintf(b, sizeof b, "chain%d", i + 1);
		symlink(b, P(a));
	}
	touch("chain41", 0644);
	OPEN("open 41-link chain", P("chain0"), O_RDONLY);
	OPEN("open 40-link chain", P("chain1"), O_RDONLY);

	/* ---- ENAMETOOLONG ---- */
	memset(name, 'n', 256);
	name[256] = 0;
	OPEN("open 256-byte name", P(name), O_CREAT | O_WRONLY, 0644);
	CHECK("mkdir 256-byte name", mkdir(P(name), 0755));
	CHECK("stat 256-byte name", stat(P(name), &st));
	name[255] = 0;
	OPEN("open 255-byte name", P(name), O_CREAT | O_WRONLY, 0644);
	CHECK("unlink 255-byte name", unlink(P(name)));
	memset(longpath, 0, sizeof longpath);
	for (int i = 0; i < PATH_MAX + 10; i += 2)
		memcpy(longpath + i, "./", 2);
	CHECK("stat 4106-byte path", stat(longpath, &st));
	OPEN("open 4106-byte path", longpath, O_RDONLY);
	CHECK("mkdir 4106-byte path", mkdir(longpath, 0755));
	char *target = calloc(1, 5001);

	memset(target, 'x', 5000);
	CHECK("symlink 5000-byte target", symlink(target, P("longtarget")));
	free(target);

	/* ---- chmod family ---- */
	CHECK("chmod", chmod(P("f"), 04755));
	mode_of("stat after chmod", P("f"));
	CHECK("chmod missing", chmod(P("nope"), 0644));
	fd = open(P("f"), O_RDONLY);
	CHECK("fchmod", fchmod(fd, 0600));
	mode_of("stat after fchmod", P("f"));
	CHECK("fchmod bad fd", fchmod(999, 0600));
	CHECK("fchmodat", fchmodat(AT_FDCWD, P("f"), 0644, 0));
	CHECK("fchmodat bad flag", fchmodat(AT_FDCWD, P("f"), 0644, 0x1));
	CHECK("fchmodat symlink follow", fchmodat(AT_FDCWD, P("sl"), 0640, 0));
	mode_of("stat f after fchmodat via symlink", P("f"));

	/* ---- chown family ---- */
	CHECK("chown", chown(P("f"), 1000, 1000));
	mode_of("stat after chown", P("f"));
	CHECK("fchown", fchown(fd, 2000, -1));
	CHECK("lchown", lchown(P("f"), -1, 3000));
	CHECK("fchownat", fchownat(AT_FDCWD, P("sl"), 0, 0, 0));
	CHECK("fchownat bad flag", fchownat(AT_FDCWD, P("f"), 0, 0, 0x1));
	mode_of("stat after chowns", P("f"));
	CHECK("fchmod setuid", fchmod(fd, 06755));
	CHECK("chown clears setuid", chown(P("f"), 5, 5));
	mode_of("stat after chown of setuid", P("f"));
	CHECK("chown back", chown(P("f"), 0, 0));
	CHECK("chmod back", chmod(P("f"), 0644));
	close(fd);

	/* ---- times ---- */
	struct timeval tv[2] = { { 100, 5 }, { 200, 7 } };
	struct utimbuf ub = { 300, 400 };
	struct timespec ts[2] = { { 500, 11 }, { 600, 13 } };

	CHECK("utimes", utimes(P("f"), tv));
	stat(P("f"), &st);
	printf("utimes times: %lld.%ld %lld.%ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	CHECK("utime", utime(P("f"), &ub));
	stat(P("f"), &st);
	printf("utime times: %lld %lld\n", (long long)st.st_atime, (long long)st.st_mtime);
	CHECK("futimesat", syscall(SYS_futimesat, AT_FDCWD, P("f"), tv));
	stat(P("f"), &st);
	printf("futimesat times: %lld %lld\n", (long long)st.st_atime, (long long)st.st_mtime);
	CHECK("utimensat", utimensat(AT_FDCWD, P("f"), ts, 0));
	stat(P("f"), &st);
	printf("utimensat times: %lld.%ld %lld.%ld\n", (long long)st.st_atim.tv_sec,
	       st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 700, 0 } };
	CHECK("utimensat UTIME_OMIT", utimensat(AT_FDCWD, P("f"), omit, 0));
	stat(P("f"), &st);
	printf("UTIME_OMIT times: %lld %lld\n", (long long)st.st_atime, (long long)st.st_mtime);
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
	CHECK("utimensat bad nsec", utimensat(AT_FDCWD, P("f"), bad, 0));
	struct timeval badtv[2] = { { 0, 1000000 }, { 0, 0 } };
	CHECK("utimes bad usec", utimes(P("f"), badtv));
	CHECK("utimes missing", utimes(P("nope"), NULL));
	CHECK("utime missing", utime(P("nope"), NULL));
	CHECK("utime NULL", utime(P("f"), NULL));
	CHECK("utimensat symlink nofollow", utimensat(AT_FDCWD, P("sl"), ts, AT_SYMLINK_NOFOLLOW));
	CHECK("utimensat bad flag", utimensat(AT_FDCWD, P("f"), ts, 0x1));
	fd = open(P("f"), O_RDONLY);
	CHECK("futimens", futimens(fd, ts));
	CHECK("utimensat fd NULL path", syscall(SYS_utimensat, fd, NULL, ts, 0));
	close(fd);

	/* ---- truncate, ftruncate, fallocate ---- */
	CHECK("truncate", truncate(P("f"), 3));
	stat(P("f"), &st);
	printf("size after truncate: %lld\n", (long long)st.st_size);
	CHECK("truncate negative", truncate(P("f"), -1));
	CHECK("truncate dir", truncate(P("d"), 0));
	CHECK("truncate missing", truncate(P("nope"), 0));
	CHECK("truncate fifo-less symlink", truncate(P("sl"), 10));
	stat(P("f"), &st);
	printf("size after truncate via symlink: %lld\n", (long long)st.st_size);
	fd = open(P("f"), O_RDONLY);
	CHECK("ftruncate read-only fd", ftruncate(fd, 0));
	CHECK("fallocate read-only fd", fallocate(fd, 0, 0, 100));
	close(fd);
	fd = open(P("f"), O_RDWR);
	CHECK("ftruncate", ftruncate(fd, 8192));
	CHECK("ftruncate negative", ftruncate(fd, -5));
	CHECK("fallocate", fallocate(fd, 0, 0, 20000));
	fstat(fd, &st);
	printf("size after fallocate: %lld\n", (long long)st.st_size);
	CHECK("fallocate KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 40000));
	fstat(fd, &st);
	printf("size after KEEP_SIZE: %lld\n", (long long)st.st_size);
	pwrite(fd, "abcdefgh", 8, 4094);
	pwrite(fd, "ijkl", 4, 9000);
	CHECK("fallocate PUNCH_HOLE", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4095, 4096 + 4));
	memset(lbuf, '?', 16);
	printf("after punch: %zd", pread(fd, lbuf, 8, 4094));
	for (int i = 0; i < 8; i++)
		printf(" %02x", (unsigned char)lbuf[i]);
	printf(" | %zd %.4s\n", pread(fd, lbuf, 4, 9000), lbuf);
	CHECK("fallocate PUNCH_HOLE alone", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	CHECK("fallocate zero len", fallocate(fd, 0, 0, 0));
	CHECK("fallocate negative offset", fallocate(fd, 0, -1, 10));
	CHECK("fallocate bad mode", fallocate(fd, 0x100, 0, 10));
	fstat(fd, &st);
	printf("size after fallocates: %lld\n", (long long)st.st_size);
	CHECK("ftruncate 0", ftruncate(fd, 0));
	close(fd);
	fd = open(P("d"), O_RDONLY);
	CHECK("ftruncate dir", ftruncate(fd, 0));
	CHECK("fallocate dir", fallocate(fd, 0, 0, 10));
	close(fd);
	int pfd[2];

	if (pipe(pfd) == 0) {
		CHECK("ftruncate pipe", ftruncate(pfd[1], 0));
		CHECK("fallocate pipe", fallocate(pfd[1], 0, 0, 10));
		CHECK("fsync pipe", fsync(pfd[1]));
		close(pfd[0]);
		close(pfd[1]);
	}

	/* ---- rename family ---- */
	touch("r1", 0644);
	touch("r2", 0600);
	CHECK("mkdir rd", mkdir(P("rd"), 0755));
	CHECK("mkdir rd2", mkdir(P("rd2"), 0755));
	touch("rd2/inside", 0644);
	CHECK("rename file over file", rename(P("r1"), P("r2")));
	mode_of("stat r2 after rename", P("r2"));
	CHECK("rename missing", rename(P("r1"), P("r3")));
	CHECK("rename file over dir", rename(P("r2"), P("rd")));
	CHECK("rename dir over file", rename(P("rd"), P("r2")));
	CHECK("rename dir over non-empty dir", rename(P("rd"), P("rd2")));
	CHECK("rename dir into itself", rename(P("rd"), P("rd/x")));
	CHECK("rename dir over empty dir", rename(P("rd2/.."), P("rd")));
	CHECK("rename to .", rename(P("rd"), P(".")));
	CHECK("renameat", renameat(AT_FDCWD, P("r2"), AT_FDCWD, P("r1")));
	CHECK("renameat2 NOREPLACE existing", syscall(SYS_renameat2, AT_FDCWD, P("r1"), AT_FDCWD, P("f"), RENAME_NOREPLACE));
	CHECK("renameat2 NOREPLACE new", syscall(SYS_renameat2, AT_FDCWD, P("r1"), AT_FDCWD, P("r4"), RENAME_NOREPLACE));
	touch("x1", 0601);
	CHECK("mkdir x2", mkdir(P("x2"), 0711));
	CHECK("renameat2 EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, P("x1"), AT_FDCWD, P("x2"), RENAME_EXCHANGE));
	mode_of("stat x1 after exchange", P("x1"));
	mode_of("stat x2 after exchange", P("x2"));
	CHECK("renameat2 EXCHANGE missing", syscall(SYS_renameat2, AT_FDCWD, P("x1"), AT_FDCWD, P("nope"), RENAME_EXCHANGE));
	CHECK("renameat2 EXCHANGE|NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, P("x1"), AT_FDCWD, P("x2"), RENAME_EXCHANGE | RENAME_NOREPLACE));
	CHECK("renameat2 bad flags", syscall(SYS_renameat2, AT_FDCWD, P("x1"), AT_FDCWD, P("x2"), 0x100));
	CHECK("rename across mounts", rename(P("r4"), "/tmp/vfs_errnos_xdev"));
	char other[128];

	snprintf(other, sizeof other, "%s/other", top);
	fd = open(other, O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK("rename into mount from parent fs", rename(other, P("other")));
	CHECK("link across mounts", link(other, P("other")));
	unlink(other);

	/* ---- link family ---- */
	CHECK("link", link(P("r4"), P("r5")));
	mode_of("stat r5", P("r5"));
	CHECK("link existing", link(P("r4"), P("r5")));
	CHECK("link missing", link(P("nope"), P("r6")));
	CHECK("link dir", link(P("d"), P("dlink")));
	CHECK("link into missing dir", link(P("r4"), P("missing/x")));
	CHECK("linkat symlink nofollow", linkat(AT_FDCWD, P("sl"), AT_FDCWD, P("sl2"), 0));
	mode_of("stat sl2 (a symlink)", P("sl2"));
	CHECK("linkat AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, P("sl"), AT_FDCWD, P("sl3"), AT_SYMLINK_FOLLOW));
	mode_of("stat sl3 (the file)", P("sl3"));
	CHECK("linkat bad flag", linkat(AT_FDCWD, P("r4"), AT_FDCWD, P("r7"), 0x1));
	fd = open(P("r4"), O_RDONLY);
	CHECK("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, P("r8"), AT_EMPTY_PATH));
	CHECK("linkat empty path no flag", linkat(fd, "", AT_FDCWD, P("r9"), 0));
	char procpath[64];

	snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fd);
	CHECK("linkat /proc/self/fd FOLLOW", linkat(AT_FDCWD, procpath, AT_FDCWD, P("r10"), AT_SYMLINK_FOLLOW));
	mode_of("stat r4 nlink", P("r4"));
	close(fd);

	/* ---- unlink family ---- */
	CHECK("unlink", unlink(P("r5")));
	CHECK("unlink missing", unlink(P("r5")));
	CHECK("unlink dir", unlink(P("d")));
	CHECK("unlink trailing slash file", unlink(P("r4/")));
	CHECK("unlinkat", unlinkat(AT_FDCWD, P("r8"), 0));
	CHECK("unlinkat AT_REMOVEDIR file", unlinkat(AT_FDCWD, P("r10"), AT_REMOVEDIR));
	CHECK("unlinkat bad flag", unlinkat(AT_FDCWD, P("r10"), 0x1));
	CHECK("rmdir non-empty", rmdir(P("d")));
	CHECK("rmdir file", rmdir(P("f")));
	CHECK("rmdir missing", rmdir(P("nope")));
	CHECK("rmdir .", rmdir(P("d/sub/.")));
	CHECK("rmdir ..", rmdir(P("d/sub/..")));
	CHECK("rmdir", rmdir(P("d/sub2")));
	CHECK("unlinkat AT_REMOVEDIR", unlinkat(AT_FDCWD, P("d/sub"), AT_REMOVEDIR));
	CHECK("rmdir mount point", rmdir(base));

	/* ---- mknod ---- */
	CHECK("mknod fifo", mknod(P("fifo"), S_IFIFO | 0640, 0));
	mode_of("stat fifo", P("fifo"));
	CHECK("mkfifo existing", mkfifo(P("fifo"), 0644));
	fd = open(P("fifo"), O_RDONLY | O_NONBLOCK);
	res("open fifo O_RDONLY|O_NONBLOCK", fd);
	fd2 = open(P("fifo"), O_WRONLY | O_NONBLOCK);
	res("open fifo O_WRONLY|O_NONBLOCK with reader", fd2);
	printf("fifo write: %zd\n", write(fd2, "pipe", 4));
	memset(lbuf, 0, sizeof lbuf);
	printf("fifo read: %zd %s\n", read(fd, lbuf, sizeof lbuf), lbuf);
	close(fd);
	close(fd2);
	OPEN("open fifo O_WRONLY|O_NONBLOCK no reader", P("fifo"), O_WRONLY | O_NONBLOCK);
	CHECK("mknodat socket", mknodat(AT_FDCWD, P("sock"), S_IFSOCK | 0644, 0));
	mode_of("stat sock", P("sock"));
	OPEN("open socket node", P("sock"), O_RDONLY);
	CHECK("mknod regular", mknod(P("reg"), S_IFREG | 0644, 0));
	mode_of("stat reg", P("reg"));
	CHECK("mknod type 0", mknod(P("reg0"), 0644, 0));
	mode_of("stat reg0", P("reg0"));
	CHECK("mknod dir type", mknod(P("dirnode"), S_IFDIR | 0755, 0));
	CHECK("mknod bad type", mknod(P("bad"), 0170000 | 0644, 0));
	CHECK("mknod char dev 1:3 as root", mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)));
	fd = open(P("null"), O_WRONLY);
	res("open char dev 1:3", fd);
	printf("write to it: %zd\n", write(fd, "x", 1));
	close(fd);
	CHECK("mknod block dev as root", mknod(P("blk"), S_IFBLK | 0600, makedev(7, 0)));

	/* ---- statfs, sync ---- */
	CHECK("statfs", statfs(P("f"), &sfs));
	printf("statfs type tmpfs: %d namelen %ld\n", sfs.f_type == 0x01021994, (long)sfs.f_namelen);
	CHECK("statfs missing", statfs(P("nope"), &sfs));
	fd = open(P("f"), O_RDONLY);
	CHECK("fstatfs", fstatfs(fd, &sfs));
	CHECK("fstatfs bad fd", fstatfs(999, &sfs));
	sync();
	printf("sync: ok\n");
	CHECK("syncfs", syncfs(fd));
	CHECK("syncfs bad fd", syncfs(999));
	CHECK("fsync", fsync(fd));
	CHECK("fdatasync", fdatasync(fd));
	CHECK("fsync bad fd", fsync(999));
	close(fd);
	fd = open(P("d"), O_RDONLY);
	CHECK("fsync dir", fsync(fd));
	close(fd);

	/* ---- O_TMPFILE ---- */
	fd = open(P("d"), O_TMPFILE | O_RDWR, 0600);
	res("open O_TMPFILE", fd);
	if (fd >= 0) {
		CHECK("O_TMPFILE write", write(fd, "tmp", 3));
		fstat(fd, &st);
		printf("O_TMPFILE stat: mode %o nlink %ld size %lld\n", st.st_mode,
		       (long)st.st_nlink, (long long)st.st_size);
		snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fd);
		CHECK("linkat O_TMPFILE via /proc/self/fd", linkat(AT_FDCWD, procpath, AT_FDCWD, P("d/tmp1"), AT_SYMLINK_FOLLOW));
		CHECK("linkat O_TMPFILE AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, P("d/tmp2"), AT_EMPTY_PATH));
		mode_of("stat d/tmp1", P("d/tmp1"));
		close(fd);
	}
	fd = open(P("d"), O_TMPFILE | O_RDWR | O_EXCL, 0600);
	res("open O_TMPFILE|O_EXCL", fd);
	if (fd >= 0) {
		snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fd);
		CHECK("linkat O_TMPFILE|O_EXCL", linkat(AT_FDCWD, procpath, AT_FDCWD, P("d/tmp3"), AT_SYMLINK_FOLLOW));
		close(fd);
	}
	OPEN("open O_TMPFILE read-only", P("d"), O_TMPFILE | O_RDONLY, 0600);
	OPEN("open O_TMPFILE on file", P("f"), O_TMPFILE | O_RDWR, 0600);
	OPEN("open O_TMPFILE missing dir", P("nope"), O_TMPFILE | O_RDWR, 0600);

	/* ---- xattrs ---- */
	CHECK("setxattr user.a", setxattr(P("f"), "user.a", "one", 3, 0));
	CHECK("setxattr user.a XATTR_CREATE", setxattr(P("f"), "user.a", "two", 3, XATTR_CREATE));
	CHECK("setxattr user.b XATTR_REPLACE", setxattr(P("f"), "user.b", "two", 3, XATTR_REPLACE));
	CHECK("setxattr user.b", setxattr(P("f"), "user.b", "", 0, 0));
	CHECK("setxattr bad flags", setxattr(P("f"), "user.c", "x", 1, 4));
	CHECK("setxattr no namespace", setxattr(P("f"), "plain", "x", 1, 0));
	CHECK("setxattr empty name", setxattr(P("f"), "", "x", 1, 0));
	CHECK("setxattr trusted.t as root", setxattr(P("f"), "trusted.t", "tv", 2, 0));
	CHECK("setxattr user on symlink", lsetxattr(P("sl"), "user.a", "x", 1, 0));
	CHECK("setxattr user on fifo", setxattr(P("fifo"), "user.a", "x", 1, 0));
	char xv[64];
	ssize_t xn = getxattr(P("f"), "user.a", xv, sizeof xv);

	printf("getxattr user.a: %zd %.*s\n", xn, (int)(xn > 0 ? xn : 0), xv);
	printf("getxattr size query: %zd\n", getxattr(P("f"), "user.a", NULL, 0));
	CHECK("getxattr too small", getxattr(P("f"), "user.a", xv, 1));
	CHECK("getxattr missing", getxattr(P("f"), "user.zz", xv, sizeof xv));
	printf("getxattr empty value: %zd\n", getxattr(P("f"), "user.b", xv, sizeof xv));
	xn = listxattr(P("f"), xv, sizeof xv);
	printf("listxattr:");
	for (ssize_t i = 0; i < xn; i += strlen(xv + i) + 1)
		printf(" %s", xv + i);
	printf(" (%zd)\n", xn);
	printf("listxattr size query: %zd\n", listxattr(P("f"), NULL, 0));
	CHECK("listxattr too small", listxattr(P("f"), xv, 3));
	fd = open(P("f"), O_RDONLY);
	xn = fgetxattr(fd, "user.a", xv, sizeof xv);
	printf("fgetxattr: %zd\n", xn);
	CHECK("fsetxattr", fsetxattr(fd, "user.c", "c", 1, 0));
	CHECK("fremovexattr", fremovexattr(fd, "user.c"));
	close(fd);
	CHECK("removexattr user.a", removexattr(P("f"), "user.a"));
	CHECK("removexattr user.a again", removexattr(P("f"), "user.a"));
	CHECK("removexattr trusted.t", removexattr(P("f"), "trusted.t"));
	xn = listxattr(P("f"), xv, sizeof xv);
	printf("listxattr after remove: %zd\n", xn);
	CHECK("setxattr on dir", setxattr(P("d"), "user.d", "dv", 2, 0));
	printf("getxattr on dir: %zd\n", getxattr(P("d"), "user.d", xv, sizeof xv));
	CHECK("getxattr missing file", getxattr(P("nope"), "user.a", xv, sizeof xv));

	/* ---- as nobody ---- */
	touch("private", 0600);
	touch("public", 0644);
	touch("world", 0666);
	touch("d/f", 0644);
	touch("grp", 0060);
	chown(P("grp"), 0, 4242);
	setxattr(P("private"), "user.a", "1", 1, 0);
	mkdir(P("closed"), 0700);
	mkdir(P("d/sub3"), 0755);
	touch("closed/f", 0644);
	mkdir(P("sticky"), 01777);
	chmod(P("sticky"), 01777);
	touch("sticky/theirs", 0666);
	as_nobody(eacces_checks, (gid_t)-1);
	as_nobody(group_checks, 4242);
	as_nobody(group_none, (gid_t)-1);
	CHECK("root open 0000 file", chmod(P("private"), 0));
	OPEN("root open mode 0 file", P("private"), O_RDWR);

	/* ---- inotify ---- */
	mkdir(P("w"), 0755);
	inotify_checks();

	/* ---- EROFS ---- */
	char ro[128];

	snprintf(ro, sizeof ro, "%s/ro", top);
	mkdir(ro, 0755);
	if (mount("tmpfs", ro, "tmpfs", 0, "mode=755") == 0) {
		char rf[160], rd[160];

		snprintf(rf, sizeof rf, "%s/file", ro);
		snprintf(rd, sizeof rd, "%s/dir", ro);
		fd = open(rf, O_CREAT | O_WRONLY, 0644);
		close(fd);
		mkdir(rd, 0755);
		CHECK("remount ro", mount(NULL, ro, NULL, MS_REMOUNT | MS_RDONLY, NULL));
		snprintf(name, sizeof name, "%s/new", ro);
		OPEN("ro open O_CREAT", name, O_CREAT | O_WRONLY, 0644);
		OPEN("ro open O_WRONLY", rf, O_WRONLY);
		OPEN("ro open O_RDONLY", rf, O_RDONLY);
		CHECK("ro mkdir", mkdir(name, 0755));
		CHECK("ro mkdir existing", mkdir(rd, 0755));
		CHECK("ro unlink", unlink(rf));
		CHECK("ro rmdir", rmdir(rd));
		CHECK("ro rename", rename(rf, name));
		CHECK("ro chmod", chmod(rf, 0600));
		CHECK("ro chown", chown(rf, 1, 1));
		CHECK("ro truncate", truncate(rf, 0));
		CHECK("ro utimes", utimes(rf, NULL));
		CHECK("ro symlink", symlink("x", name));
		CHECK("ro link", link(rf, name));
		CHECK("ro mknod", mknod(name, S_IFIFO | 0644, 0));
		CHECK("ro setxattr", setxattr(rf, "user.a", "x", 1, 0));
		fd = open(rf, O_RDONLY);
		CHECK("ro fchmod", fchmod(fd, 0600));
		CHECK("ro fallocate", fallocate(fd, 0, 0, 10));
		close(fd);
		CHECK("ro access W_OK", access(rf, W_OK));
		umount(ro);
	} else {
		printf("ro mount: %s\n", ename(errno));
	}
	rmdir(ro);

	CHECK("umount scratch", umount2(base, MNT_DETACH));
	rmdir(base);
	CHECK("rmdir top", rmdir(top));
	printf("PASS\n");
	return 0;
}
