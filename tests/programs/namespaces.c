/*
 * Namespaces for applications: unshare(2), setns(2) and clone(2) with
 * CLONE_NEWUTS, NEWIPC, NEWNS, NEWUSER and NEWNET. Each part runs in a
 * forked child, so the caller (root on the host when run natively) keeps
 * its own namespaces:
 *   - UTS: a new hostname is not the parent's;
 *   - IPC: a SysV segment of the parent is not found in a new namespace;
 *   - user: an ordinary user's new namespace (unmapped ids show as 65534,
 *     uid_map and gid_map written once, setgroups "deny" first for
 *     gid_map, a foreign mapping refused), capabilities inside for the
 *     namespaces it owns, EPERM without them, EINVAL from a threaded
 *     process, the nesting limit;
 *   - mount: a tmpfs mounted in a new namespace is not in the parent's;
 *   - net: a new namespace has loopback only, and its own abstract
 *     AF_UNIX names;
 *   - /proc/PID/ns links: a new number per new namespace, equal to the
 *     inode of the opened file, and setns through them and through pidfds.
 * Prints no namespace number (they differ between kernels), only
 * comparisons.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* Runs f in a forked child; returns its exit status (its failures). */
static int in_child(int (*f)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		int r = f();
		fflush(stdout);
		_exit(r);
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	int r = write(fd, text, strlen(text));
	int e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}

static void read_line(const char *path, char *buf, size_t n)
{
	buf[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, n, f))
		buf[0] = 0;
	fclose(f);
}

static void ns_link(const char *kind, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/ns/%s", kind);
	ssize_t r = readlink(path, buf, n - 1);
	buf[r < 0 ? 0 : r] = 0;
}

/* ---- UTS ---- */

static int uts_child(void)
{
	char before[64], after[64];
	ns_link("uts", before, sizeof before);
	CHECK(unshare(CLONE_NEWUTS) == 0);
	ns_link("uts", after, sizeof after);
	printf("uts: link changes: %d\n", strcmp(before, after) != 0);
	CHECK(sethostname("inner-host", 10) == 0);
	struct utsname u;
	uname(&u);
	printf("uts: child sees %s\n", u.nodename);
	char proc[64];
	read_line("/proc/sys/kernel/hostname", proc, sizeof proc);
	printf("uts: /proc/sys/kernel/hostname %s", proc);
	return failures;
}

static void uts(void)
{
	struct utsname a, b;
	uname(&a);
	CHECK(in_child(uts_child) == 0);
	uname(&b);
	printf("uts: parent unchanged: %d\n", strcmp(a.nodename, b.nodename) == 0);
}

/* ---- IPC ---- */

static const key_t KEY = 0x6e730001;

static int ipc_child(void)
{
	printf("ipc: same namespace finds it: %s\n", ok_or_errname(shmget(KEY, 0, 0)));
	CHECK(unshare(CLONE_NEWIPC) == 0);
	printf("ipc: new namespace: %s\n", ok_or_errname(shmget(KEY, 0, 0)));
	int id = shmget(KEY, 4096, IPC_CREAT | 0600);
	printf("ipc: same key made anew: %s\n", ok_or_errname(id));
	return failures;
}

static void ipc(void)
{
	int id = shmget(KEY, 4096, IPC_CREAT | IPC_EXCL | 0600);
	CHECK(id >= 0);
	CHECK(in_child(ipc_child) == 0);
	printf("ipc: parent's segment still there: %s\n",
	       ok_or_errname(shmget(KEY, 0, 0)));
	shmctl(id, IPC_RMID, NULL);
}

/* ---- user ---- */

/* Uid 1000, still dumpable: Linux makes a process that changed its ids
 * non-dumpable, and its /proc files root's. */
static int become_user(void)
{
	return setresgid(1000, 1000, 1000) == 0 && setgroups(0, NULL) == 0 &&
	       setresuid(1000, 1000, 1000) == 0 &&
	       prctl(PR_SET_DUMPABLE, 1) == 0;
}

static int user_child(void)
{
	CHECK(become_user());
	printf("user: without a user namespace, NEWUTS: %s\n",
	       ok_or_errname(unshare(CLONE_NEWUTS)));
	CHECK(unshare(CLONE_NEWUSER) == 0);
	printf("user: unmapped ids: uid %d gid %d\n", (int)getuid(),
	       (int)getgid());
	char line[128];
	read_line("/proc/self/setgroups", line, sizeof line);
	printf("user: setgroups %s", line);
	printf("user: gid_map before deny: %s\n",
	       ok_or_errname(write_file("/proc/self/gid_map", "0 1000 1")));
	printf("user: foreign uid map: %s\n",
	       ok_or_errname(write_file("/proc/self/uid_map", "0 0 1")));
	printf("user: own uid map: %s\n",
	       ok_or_errname(write_file("/proc/self/uid_map", "0 1000 1")));
	printf("user: second write: %s\n",
	       ok_or_errname(write_file("/proc/self/uid_map", "0 1000 1")));
	printf("user: setgroups deny: %s\n",
	       ok_or_errname(write_file("/proc/self/setgroups", "deny")));
	printf("user: setgroups allow again: %s\n",
	       ok_or_errname(write_file("/proc/self/setgroups", "allow")));
	printf("user: own gid map: %s\n",
	       ok_or_errname(write_file("/proc/self/gid_map", "0 1000 1")));
	read_line("/proc/self/uid_map", line, sizeof line);
	printf("user: uid_map reads%s", line);
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	printf("user: ids %d %d %d gid %d\n", (int)r, (int)e, (int)s,
	       (int)getgid());
	printf("user: setuid(5) unmapped: %s\n", ok_or_errname(setuid(5)));
	printf("user: setgroups(2) denied: %s\n", ok_or_errname(setgroups(0, NULL)));
	/* Capabilities inside: a UTS namespace of its own. */
	printf("user: NEWUTS inside: %s\n", ok_or_errname(unshare(CLONE_NEWUTS)));
	printf("user: sethostname there: %s\n",
	       ok_or_errname(sethostname("userns", 6)));
	/* The files of the whole system stay closed. */
	printf("user: open /etc/shadow: %s\n",
	       ok_or_errname(open("/etc/shadow", O_RDONLY)));
	return failures;
}

static void *sleeper(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static int threaded_child(void)
{
	pthread_t th;
	pthread_create(&th, NULL, sleeper, NULL);
	printf("user: threaded process: %s\n", ok_or_errname(unshare(CLONE_NEWUSER)));
	return failures;
}

/* Enters a new user namespace mapping its own ids; -1 on failure. */
static int enter_userns(void)
{
	char map[64];
	uid_t u = getuid();
	gid_t g = getgid();
	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "0 %d 1", (int)u);
	if (write_file("/proc/self/uid_map", map) < 0)
		return -1;
	snprintf(map, sizeof map, "0 %d 1", (int)g);
	if (write_file("/proc/self/gid_map", map) < 0)
		return -1;
	return 0;
}

static int nesting_child(void)
{
	int levels = 0;
	while (levels < 100 && enter_userns() == 0)
		levels++;
	printf("user: nested levels %d, then %s\n", levels, strerrorname_np(errno));
	return failures;
}

static void user(void)
{
	CHECK(in_child(user_child) == 0);
	CHECK(in_child(threaded_child) == 0);
	CHECK(in_child(nesting_child) == 0);
}

/* ---- mount ---- */

static char dir[] = "/tmp/nsmntXXXXXX";

static int mount_child(void)
{
	CHECK(unshare(CLONE_NEWNS) == 0);
	/* The host's / may be shared: keep this namespace's mounts here. */
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mount("t", dir, "tmpfs", 0, NULL) == 0);
	char path[64];
	snprintf(path, sizeof path, "%s/inside", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	printf("mount: child sees its file: %d\n", access(path, F_OK) == 0);
	return failures;
}

static int userns_mount_child(void)
{
	CHECK(become_user());
	CHECK(enter_userns() == 0);
	printf("mount: NEWNS in own user ns: %s\n", ok_or_errname(unshare(CLONE_NEWNS)));
	printf("mount: tmpfs there: %s\n", ok_or_errname(mount("t", dir, "tmpfs", 0, NULL)));
	printf("mount: uid inside %d\n", (int)getuid());
	return failures;
}

static void mounts(void)
{
	CHECK(mkdtemp(dir) != NULL);
	chmod(dir, 0777);
	CHECK(in_child(mount_child) == 0);
	char path[64];
	snprintf(path, sizeof path, "%s/inside", dir);
	printf("mount: parent sees it: %d\n", access(path, F_OK) == 0);
	CHECK(in_child(userns_mount_child) == 0);
	rmdir(dir);
}

/* ---- net ---- */

static int net_child(void)
{
	CHECK(unshare(CLONE_NEWNET) == 0);
	struct if_nameindex *ifs = if_nameindex(), *i;
	printf("net: interfaces:");
	for (i = ifs; i && i->if_index; i++)
		printf(" %s", i->if_name);
	printf("\n");
	if_freenameindex(ifs);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, "\0nstest-abstract", 16);
	printf("net: parent's abstract name: %s\n",
	       ok_or_errname(connect(s, (struct sockaddr *)&a,
			   offsetof(struct sockaddr_un, sun_path) + 16)));
	return failures;
}

static void net(void)
{
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, "\0nstest-abstract", 16);
	CHECK(bind(l, (struct sockaddr *)&a,
		   offsetof(struct sockaddr_un, sun_path) + 16) == 0);
	CHECK(listen(l, 1) == 0);
	CHECK(in_child(net_child) == 0);
	close(l);
}

/* ---- ns files and setns ---- */

static int setns_pipe[2];

static int holder_child(void)
{
	CHECK(unshare(CLONE_NEWUTS) == 0);
	CHECK(sethostname("held", 4) == 0);
	char c = 1;
	write(setns_pipe[1], &c, 1);
	pause();
	return failures;
}

static int joiner_pid;

static int joiner_child(void)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/uts", joiner_pid);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	char link[64], mine[64];
	CHECK(readlink(path, link, sizeof link) > 0);
	ns_link("uts", mine, sizeof mine);
	unsigned long n = 0;
	sscanf(link, "uts:[%lu]", &n);
	printf("setns: link number is the file's inode: %d\n", n == st.st_ino);
	printf("setns: differs from mine: %d\n", strncmp(link, mine, strlen(mine)) != 0);
	printf("setns: wrong type: %s\n", ok_or_errname(setns(fd, CLONE_NEWIPC)));
	printf("setns: uts: %s\n", ok_or_errname(setns(fd, CLONE_NEWUTS)));
	struct utsname u;
	uname(&u);
	printf("setns: hostname now %s\n", u.nodename);
	ns_link("uts", mine, sizeof mine);
	readlink(path, link, sizeof link);
	printf("setns: same link now: %d\n", strncmp(link, mine, strlen(mine)) == 0);
	printf("setns: a plain file: %s\n",
	       ok_or_errname(setns(open("/proc/self/stat", O_RDONLY), 0)));
	return failures;
}

static int pidfd_joiner_child(void)
{
	int pfd = syscall(SYS_pidfd_open, joiner_pid, 0);
	CHECK(pfd >= 0);
	printf("setns: pidfd without a type: %s\n", ok_or_errname(setns(pfd, 0)));
	printf("setns: pidfd uts|ipc: %s\n",
	       ok_or_errname(setns(pfd, CLONE_NEWUTS | CLONE_NEWIPC)));
	struct utsname u;
	uname(&u);
	printf("setns: pidfd hostname now %s\n", u.nodename);
	return failures;
}

static int clone_child(void)
{
	char before[64], after[64];
	ns_link("uts", before, sizeof before);
	long r = syscall(SYS_clone, CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD, 0, 0,
			 0, 0);
	if (r == 0) {
		ns_link("uts", after, sizeof after);
		_exit(strcmp(before, after) != 0 ? 7 : 8);
	}
	int st;
	waitpid(r, &st, 0);
	printf("clone: NEWUTS child in its own namespace: %d\n",
	       WEXITSTATUS(st) == 7);
	printf("clone: NEWUSER|CLONE_FS: %s\n",
	       ok_or_errname(syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS | SIGCHLD, 0, 0,
			   0, 0)));
	printf("clone: NEWNS|CLONE_FS: %s\n",
	       ok_or_errname(syscall(SYS_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, 0, 0, 0,
			   0)));
	return failures;
}

static void ns_files(void)
{
	CHECK(pipe(setns_pipe) == 0);
	fflush(stdout);
	pid_t h = fork();
	if (h == 0)
		_exit(holder_child());
	char c;
	CHECK(read(setns_pipe[0], &c, 1) == 1);
	joiner_pid = h;
	CHECK(in_child(joiner_child) == 0);
	CHECK(in_child(pidfd_joiner_child) == 0);
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
	CHECK(in_child(clone_child) == 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	uts();
	ipc();
	user();
	mounts();
	net();
	ns_files();
	if (failures)
		return 1;
	printf("PASS\n");
	return 0;
}
