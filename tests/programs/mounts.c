/*
 * mount(2) and umount2(2) as Linux does them: new tmpfs mounts with
 * options, /proc/self/mounts and mountinfo lines, statfs flags, umount
 * while busy, MNT_DETACH, MNT_EXPIRE, bind mounts of directories and
 * files, read-only remounts (EROFS from every write call), noexec, nodev,
 * MS_MOVE, propagation types, and the errno of each refusal.
 *
 * Natively it first moves into a private mount namespace of its own, so
 * nothing it mounts reaches the host (it must run as root). In the
 * sandbox unshare is ENOSYS and the sandbox's namespace is private
 * anyway. Mount points are under a fresh directory in /tmp; printed
 * paths have that directory replaced by "B".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static char base[64];
static int failures;

static char *p(const char *rel)
{
	static char bufs[8][256];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 256, "%s/%s", base, rel);
	return b;
}

/* A call that must fail with `want` (0: must succeed). */
static void expect(const char *what, long rc, int want)
{
	int got = rc < 0 ? errno : 0;

	if (got == want) {
		printf("%s: %s\n", what, want ? strerrorname_np(want) : "ok");
	} else {
		printf("%s: got %s, want %s\n", what, got ? strerrorname_np(got) : "ok",
		       want ? strerrorname_np(want) : "ok");
		failures++;
	}
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		printf("put %s: %s\n", path, strerror(errno));
		failures++;
	}
	if (fd >= 0)
		close(fd);
}

static void show(const char *what, const char *path)
{
	char buf[256] = { 0 };
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0) {
		printf("%s: %s\n", what, strerror(errno));
		failures++;
	} else {
		printf("%s: %s", what, buf);
	}
	if (fd >= 0)
		close(fd);
}

/* Prints the lines of `file` about the mount point `mp`, with the base
 * directory shown as B, and the ids and device numbers of mountinfo
 * left out. */
static void table_lines(const char *file, const char *mp)
{
	char line[1024];
	FILE *f = fopen(file, "r");
	int info = strstr(file, "mountinfo") != NULL;
	int found = 0;

	while (f && fgets(line, sizeof(line), f)) {
		char *fields[32];
		int n = 0;
		char *save, *tok;

		for (tok = strtok_r(line, " \n", &save); tok && n < 32;
		     tok = strtok_r(NULL, " \n", &save))
			fields[n++] = tok;
		if (n < 6 || strcmp(fields[info ? 4 : 1], mp) != 0)
			continue;
		found = 1;
		printf("  %s:", info ? "mountinfo" : "mounts");
		for (int i = info ? 3 : 0; i < n; i++) {
			if (strcmp(fields[i], mp) == 0)
				printf(" MP");
			else if (strncmp(fields[i], base, strlen(base)) == 0)
				printf(" B%s", fields[i] + strlen(base));
			else
				printf(" %s", fields[i]);
		}
		printf("\n");
	}
	if (!found)
		printf("  %s: MP not listed\n", info ? "mountinfo" : "mounts");
	if (f)
		fclose(f);
}

static void statfs_flags(const char *what, const char *path)
{
	struct statvfs s;

	if (statvfs(path, &s) != 0) {
		printf("%s: statvfs %s\n", what, strerror(errno));
		failures++;
		return;
	}
	printf("%s:%s%s%s%s%s%s\n", what, s.f_flag & ST_RDONLY ? " ro" : " rw",
	       s.f_flag & ST_NOSUID ? " nosuid" : "", s.f_flag & ST_NODEV ? " nodev" : "",
	       s.f_flag & ST_NOEXEC ? " noexec" : "", s.f_flag & ST_NOATIME ? " noatime" : "",
	       s.f_flag & ST_RELATIME ? " relatime" : "");
}

static void new_tmpfs(void)
{
	struct statfs s;
	int fd;

	mkdir(p("t"), 0755);
	expect("mount tmpfs size=1m,mode=750", mount("tmpfs", p("t"), "tmpfs", MS_NOSUID,
						    "size=1m,mode=750"), 0);
	put(p("t/f"), "in tmpfs\n");
	show("read back", p("t/f"));
	table_lines("/proc/self/mounts", p("t"));
	table_lines("/proc/self/mountinfo", p("t"));
	statfs(p("t"), &s);
	printf("statfs: tmpfs %d, %ld bytes\n", s.f_type == 0x01021994,
	       (long)(s.f_blocks * s.f_bsize));
	statfs_flags("statfs flags", p("t"));

	fd = open(p("t/f"), O_RDONLY);
	expect("umount with a file open", umount(p("t")), EBUSY);
	close(fd);
	if (chdir(p("t")) == 0) {
		expect("umount of the cwd", umount(p("t")), EBUSY);
		chdir("/");
	}
	mkdir(p("t/sub"), 0755);
	expect("mount on a subdirectory", mount("none", p("t/sub"), "tmpfs", 0, NULL), 0);
	expect("umount with a submount", umount(p("t")), EBUSY);
	expect("umount the submount", umount(p("t/sub")), 0);
	expect("umount after close", umount(p("t")), 0);
	table_lines("/proc/self/mounts", p("t"));
	expect("file gone with the mount", access(p("t/f"), F_OK), ENOENT);

	expect("mount again", mount("tmpfs", p("t"), "tmpfs", 0, NULL), 0);
	put(p("t/f"), "detached\n");
	fd = open(p("t/f"), O_RDONLY);
	expect("MNT_DETACH while busy", umount2(p("t"), MNT_DETACH), 0);
	{
		char buf[32] = { 0 };

		expect("read after detach", read(fd, buf, sizeof(buf)), 0);
		printf("  got %s", buf);
	}
	close(fd);

	expect("mount for MNT_EXPIRE", mount("tmpfs", p("t"), "tmpfs", 0, NULL), 0);
	expect("MNT_EXPIRE|MNT_DETACH", umount2(p("t"), MNT_EXPIRE | MNT_DETACH), EINVAL);
	expect("MNT_EXPIRE first", umount2(p("t"), MNT_EXPIRE), EAGAIN);
	expect("MNT_EXPIRE second", umount2(p("t"), MNT_EXPIRE), 0);
}

static void refusals(void)
{
	put(p("file"), "x\n");
	mkdir(p("t"), 0755);
	expect("umount of a non-mount point", umount(p("t")), EINVAL);
	expect("umount of a missing path", umount(p("none")), ENOENT);
	expect("umount2 unknown flag", umount2(p("t"), 0x100), EINVAL);
	expect("unknown fs type", mount("x", p("t"), "nosuchfs", 0, NULL), ENODEV);
	expect("no type", mount("x", p("t"), NULL, 0, NULL), EINVAL);
	expect("missing mount point", mount("x", p("none"), "tmpfs", 0, NULL), ENOENT);
	expect("mount point under a file", mount("x", p("file/x"), "tmpfs", 0, NULL), ENOTDIR);
	expect("new mount over a file", mount("x", p("file"), "tmpfs", 0, NULL), ENOTDIR);
	expect("bad type pointer", mount("x", p("t"), (char *)1, 0, NULL), EFAULT);
	expect("bad target pointer", mount("x", (char *)1, "tmpfs", 0, NULL), EFAULT);
	expect("unknown tmpfs option", mount("x", p("t"), "tmpfs", 0, "bogus=1"), EINVAL);
	expect("bad size", mount("x", p("t"), "tmpfs", 0, "size=lots"), EINVAL);
	expect("remount of a non-mount point", mount(NULL, p("t"), NULL, MS_REMOUNT, NULL),
	       EINVAL);
	expect("propagation of a non-mount point", mount(NULL, p("t"), NULL, MS_PRIVATE, NULL),
	       EINVAL);
	expect("bind of a missing path", mount(p("none"), p("t"), NULL, MS_BIND, NULL), ENOENT);
	expect("bind a directory over a file", mount(p("t"), p("file"), NULL, MS_BIND, NULL),
	       ENOTDIR);
	expect("bind a file over a directory", mount(p("file"), p("t"), NULL, MS_BIND, NULL),
	       ENOTDIR);
}

static void as_nobody(void)
{
	pid_t pid;
	int status;

	chmod(base, 0755);
	mkdir(p("t"), 0755);
	expect("mount for nobody", mount("tmpfs", p("t"), "tmpfs", 0, NULL), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		expect("mount as nobody", mount("tmpfs", p("t"), "tmpfs", 0, NULL), EPERM);
		expect("umount as nobody", umount(p("t")), EPERM);
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		failures++;
	expect("umount as root", umount(p("t")), 0);
}

static void binds(void)
{
	int fd;

	mkdir(p("src"), 0755);
	mkdir(p("src/sub"), 0755);
	mkdir(p("dst"), 0755);
	put(p("src/a"), "a in src\n");
	expect("bind a directory", mount(p("src"), p("dst"), NULL, MS_BIND, NULL), 0);
	show("original through the bind", p("dst/a"));
	put(p("dst/b"), "written through the bind\n");
	show("bind's write at the original", p("src/b"));
	table_lines("/proc/self/mountinfo", p("dst"));
	expect("rmdir of a bind mount point", rmdir(p("dst")), EBUSY);
	expect("rename across binds", rename(p("dst/b"), p("src/c")), EXDEV);

	put(p("f1"), "file one\n");
	put(p("f2"), "file two\n");
	expect("bind a file", mount(p("f1"), p("f2"), NULL, MS_BIND, NULL), 0);
	show("file through the bind", p("f2"));
	put(p("f2"), "rewritten through f2\n");
	show("original file", p("f1"));
	expect("unlink of a bound file", unlink(p("f2")), EBUSY);
	expect("umount the file bind", umount(p("f2")), 0);
	show("covered file again", p("f2"));

	/* Read-only by a bind remount: the original stays writable. */
	mkdir(p("src/d"), 0755);
	fd = open(p("dst/a"), O_RDWR);
	expect("ro remount with a writer", mount(NULL, p("dst"), NULL,
						 MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), EBUSY);
	close(fd);
	expect("ro remount", mount(NULL, p("dst"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL),
	       0);
	table_lines("/proc/self/mountinfo", p("dst"));
	statfs_flags("statfs flags of the ro bind", p("dst"));
	show("read through ro", p("dst/a"));
	expect("open O_WRONLY", open(p("dst/a"), O_WRONLY), EROFS);
	expect("open O_RDWR", open(p("dst/a"), O_RDWR), EROFS);
	expect("open O_TRUNC", open(p("dst/a"), O_WRONLY | O_TRUNC), EROFS);
	expect("open O_CREAT new", open(p("dst/new"), O_WRONLY | O_CREAT, 0644), EROFS);
	expect("open O_CREAT|O_EXCL existing", open(p("dst/a"), O_WRONLY | O_CREAT | O_EXCL, 0644),
	       EEXIST);
	expect("open O_CREAT in a missing dir", open(p("dst/no/new"), O_WRONLY | O_CREAT, 0644),
	       ENOENT);
	expect("mkdir", mkdir(p("dst/m"), 0755), EROFS);
	expect("mkdir existing", mkdir(p("dst/d"), 0755), EEXIST);
	expect("mkdir in a missing dir", mkdir(p("dst/no/m"), 0755), ENOENT);
	expect("unlink", unlink(p("dst/a")), EROFS);
	expect("unlink missing", unlink(p("dst/none")), EROFS);
	expect("rmdir", rmdir(p("dst/d")), EROFS);
	expect("rename", rename(p("dst/a"), p("dst/z")), EROFS);
	expect("link", link(p("dst/a"), p("dst/l")), EROFS);
	expect("symlink", symlink("a", p("dst/s")), EROFS);
	expect("chmod", chmod(p("dst/a"), 0600), EROFS);
	expect("chown", chown(p("dst/a"), 0, 0), EROFS);
	expect("truncate", truncate(p("dst/a"), 0), EROFS);
	expect("utimes", utimensat(AT_FDCWD, p("dst/a"), NULL, 0), EROFS);
	expect("setxattr", setxattr(p("dst/a"), "user.x", "v", 1, 0), EROFS);
	expect("removexattr", removexattr(p("dst/a"), "user.x"), EROFS);
	fd = open(p("dst/a"), O_RDONLY);
	expect("fchmod", fchmod(fd, 0600), EROFS);
	expect("fchown", fchown(fd, 0, 0), EROFS);
	expect("futimens", futimens(fd, NULL), EROFS);
	close(fd);
	put(p("src/a"), "original still writable\n");
	show("through the ro bind", p("dst/a"));
	expect("rw remount", mount(NULL, p("dst"), NULL, MS_REMOUNT | MS_BIND, NULL), 0);
	put(p("dst/new"), "writable again\n");
	show("after rw remount", p("dst/new"));
	expect("mkdir after rw remount", mkdir(p("dst/m"), 0755), 0);

	/* Recursive binds bring submounts along. */
	expect("tmpfs under src", mount("tmpfs", p("src/sub"), "tmpfs", 0, "size=64k"), 0);
	put(p("src/sub/x"), "in the submount\n");
	mkdir(p("rec"), 0755);
	mkdir(p("norec"), 0755);
	expect("MS_BIND|MS_REC", mount(p("src"), p("rec"), NULL, MS_BIND | MS_REC, NULL), 0);
	expect("MS_BIND alone", mount(p("src"), p("norec"), NULL, MS_BIND, NULL), 0);
	show("submount through MS_REC", p("rec/sub/x"));
	expect("no submount without MS_REC", access(p("norec/sub/x"), F_OK), ENOENT);
	table_lines("/proc/self/mounts", p("rec/sub"));
	expect("umount rec with its submount", umount(p("rec")), EBUSY);
	expect("umount2 rec MNT_DETACH", umount2(p("rec"), MNT_DETACH), 0);
	table_lines("/proc/self/mounts", p("rec/sub"));
	expect("umount norec", umount(p("norec")), 0);
	expect("umount src/sub", umount(p("src/sub")), 0);
	expect("umount dst", umount(p("dst")), 0);
}

static void superblock_ro(void)
{
	mkdir(p("s"), 0755);
	mkdir(p("s2"), 0755);
	expect("tmpfs for remount", mount("tmpfs", p("s"), "tmpfs", 0, NULL), 0);
	expect("bind of it", mount(p("s"), p("s2"), NULL, MS_BIND, NULL), 0);
	expect("remount ro", mount(NULL, p("s"), NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	table_lines("/proc/self/mountinfo", p("s"));
	table_lines("/proc/self/mountinfo", p("s2"));
	expect("write through the other bind", open(p("s2/f"), O_WRONLY | O_CREAT, 0644), EROFS);
	expect("remount rw", mount(NULL, p("s"), NULL, MS_REMOUNT, NULL), 0);
	put(p("s2/f"), "rw again\n");
	show("after remount rw", p("s/f"));
	expect("ro at mount time", mount("tmpfs", p("s2"), "tmpfs", MS_RDONLY, NULL), 0);
	expect("write to a ro tmpfs", mkdir(p("s2/x"), 0755), EROFS);
	table_lines("/proc/self/mounts", p("s2"));
	umount(p("s2"));
	umount(p("s2"));
	umount(p("s"));
}

static void noexec_nodev(void)
{
	void *m;
	int fd, status;
	pid_t pid;

	mkdir(p("x"), 0755);
	expect("noexec tmpfs", mount("tmpfs", p("x"), "tmpfs", MS_NOEXEC, NULL), 0);
	put(p("x/run"), "#!/bin/sh\nexit 0\n");
	chmod(p("x/run"), 0755);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "run", NULL };

		execve(p("x/run"), argv, argv + 1);
		_exit(errno);
	}
	waitpid(pid, &status, 0);
	printf("execve on noexec: %s\n", strerrorname_np(WEXITSTATUS(status)));
	fd = open(p("x/run"), O_RDONLY);
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	expect("mmap PROT_EXEC on noexec", m == MAP_FAILED ? -1 : 0, EPERM);
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	expect("mmap PROT_READ on noexec", m == MAP_FAILED ? -1 : 0, 0);
	expect("mprotect PROT_EXEC on noexec", mprotect(m, 4096, PROT_READ | PROT_EXEC), EACCES);
	munmap(m, 4096);
	close(fd);
	statfs_flags("statfs flags of noexec", p("x"));
	umount(p("x"));

	put(p("null"), "");
	expect("bind /dev/null", mount("/dev/null", p("null"), NULL, MS_BIND, NULL), 0);
	fd = open(p("null"), O_WRONLY);
	expect("open the bound device", fd, 0);
	close(fd);
	expect("remount it nodev", mount(NULL, p("null"), NULL, MS_REMOUNT | MS_BIND | MS_NODEV,
					  NULL), 0);
	expect("open a device on nodev", open(p("null"), O_WRONLY), EACCES);
	umount(p("null"));
}

static void move_and_propagation(void)
{
	mkdir(p("m1"), 0755);
	mkdir(p("m2"), 0755);
	expect("tmpfs to move", mount("tmpfs", p("m1"), "tmpfs", 0, NULL), 0);
	put(p("m1/f"), "moved\n");
	expect("MS_MOVE into itself", mount(p("m1"), p("m1"), NULL, MS_MOVE, NULL), ELOOP);
	expect("MS_MOVE", mount(p("m1"), p("m2"), NULL, MS_MOVE, NULL), 0);
	show("after the move", p("m2/f"));
	expect("old place empty", access(p("m1/f"), F_OK), ENOENT);
	table_lines("/proc/self/mounts", p("m2"));
	expect("MS_MOVE of a non-mount point", mount(p("m1"), p("m2"), NULL, MS_MOVE, NULL), EINVAL);
	expect("MS_SHARED|MS_PRIVATE", mount(NULL, p("m2"), NULL, MS_SHARED | MS_PRIVATE, NULL),
	       EINVAL);
	expect("MS_UNBINDABLE", mount(NULL, p("m2"), NULL, MS_UNBINDABLE, NULL), 0);
	table_lines("/proc/self/mountinfo", p("m2"));
	expect("bind of an unbindable mount", mount(p("m2"), p("m1"), NULL, MS_BIND, NULL), EINVAL);
	expect("MS_PRIVATE", mount(NULL, p("m2"), NULL, MS_PRIVATE, NULL), 0);
	expect("MS_SLAVE of a private mount", mount(NULL, p("m2"), NULL, MS_SLAVE, NULL), 0);
	table_lines("/proc/self/mountinfo", p("m2"));
	expect("umount the moved mount", umount(p("m2")), 0);
}

int main(void)
{
	int own_ns = unshare(CLONE_NEWNS) == 0;

	if (!own_ns && errno != ENOSYS) {
		printf("unshare: %s (run natively as root)\n", strerror(errno));
		return 1;
	}
	if (own_ns && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		printf("private /: %s\n", strerror(errno));
		return 1;
	}
	strcpy(base, "/tmp/mounts.XXXXXX");
	if (!mkdtemp(base)) {
		printf("mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Everything happens in a tmpfs, the same natively and sandboxed. */
	if (mount("tmpfs", base, "tmpfs", 0, "mode=755") != 0) {
		printf("tmpfs on the base: %s\n", strerror(errno));
		return 1;
	}
	printf("== new tmpfs\n");
	new_tmpfs();
	printf("== refusals\n");
	refusals();
	printf("== as nobody\n");
	as_nobody();
	printf("== binds\n");
	binds();
	printf("== superblock read-only\n");
	superblock_ro();
	printf("== noexec, nodev\n");
	noexec_nodev();
	printf("== move, propagation\n");
	move_and_propagation();
	expect("umount the base", umount2(base, MNT_DETACH), 0);
	expect("rmdir the base", rmdir(base), 0);
	if (failures) {
		printf("%d FAILED\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
