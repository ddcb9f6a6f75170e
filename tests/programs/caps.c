/*
 * Capabilities as Linux enforces them, run as root: each capability is
 * dropped in turn (capset, in a forked child) and the calls it guards are
 * tried, one line per call with its result ("ok" or the errno's name);
 * then capget/capset's own rules, the uid-change and execve
 * transformations, the bounding and ambient sets, securebits and
 * no_new_privs. Everything happens in a fresh directory under /tmp.
 *
 * At the start the program drops CAP_SYS_RESOURCE from all its sets (a
 * test machine's root may lack it), so that every set printed is the same
 * natively and in the sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static char base[64], D[96];
static const char *self_exe;

static char *P(const char *rel)
{
	static char bufs[4][256];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof bufs[0], "%s/%s", D, rel);
	return b;
}

static void res(const char *what, long r)
{
	printf("  %s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

struct sets {
	unsigned long long e, p, i;
};

static struct sets get_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	struct sets s;

	if (syscall(SYS_capget, &h, d) != 0) {
		perror("capget");
		exit(1);
	}
	s.e = d[0].effective | (unsigned long long)d[1].effective << 32;
	s.p = d[0].permitted | (unsigned long long)d[1].permitted << 32;
	s.i = d[0].inheritable | (unsigned long long)d[1].inheritable << 32;
	return s;
}

static int set_caps(struct sets s)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (unsigned)s.e, (unsigned)s.p, (unsigned)s.i },
		{ (unsigned)(s.e >> 32), (unsigned)(s.p >> 32), (unsigned)(s.i >> 32) },
	};

	return syscall(SYS_capset, &h, d);
}

#define BIT(c) (1ULL << (c))

/* Drops `mask` from the effective, permitted and inheritable sets. */
static void drop(unsigned long long mask)
{
	struct sets s = get_caps();

	s.e &= ~mask;
	s.p &= ~mask;
	s.i &= ~mask;
	if (set_caps(s) != 0) {
		perror("capset");
		exit(1);
	}
}

static void show_sets(const char *what)
{
	struct sets s = get_caps();

	printf("  %s: eff %llx prm %llx inh %llx\n", what, s.e, s.p, s.i);
}

/* The Cap* and NoNewPrivs lines of /proc/self/status. */
static void show_status(const char *what)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	printf("  %s:", what);
	while (f && fgets(line, sizeof line, f)) {
		if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10)) {
			line[strcspn(line, "\n")] = 0;
			printf(" [%s]", line);
		}
	}
	printf("\n");
	if (f)
		fclose(f);
}

static void fixture(void);

/* Runs `fn` in a child with `mask` dropped, in a fresh fixture. */
static void with_dropped(const char *title, unsigned long long mask, void (*fn)(void))
{
	static int n;
	int st;
	pid_t p;

	snprintf(D, sizeof D, "%s/%d", base, n++);
	if (mkdir(D, 0755)) {
		perror("mkdir");
		exit(1);
	}
	fixture();
	printf("%s\n", title);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		drop(mask);
		fn();
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("  child status %#x\n", st);
}

static void dac_calls(void)
{
	int fd;
	struct stat st;

	fd = open(P("u600"), O_RDONLY);
	res("open u600 O_RDONLY", fd);
	if (fd >= 0)
		close(fd);
	fd = open(P("u600"), O_WRONLY);
	res("open u600 O_WRONLY", fd);
	if (fd >= 0)
		close(fd);
	res("access u600 R_OK", access(P("u600"), R_OK));
	res("access u600 W_OK", access(P("u600"), W_OK));
	res("stat d700/f", stat(P("d700/f"), &st));
	res("mkdir r555/x", mkdir(P("r555/x"), 0755));
	res("rename d700/f", rename(P("d700/f"), P("moved")));
	res("unlink d700/f", unlink(P("d700/f")));
	res("symlink r555/s", symlink("x", P("r555/s")));
	res("setxattr u600 user.a", setxattr(P("u600"), "user.a", "1", 1, 0));
	res("opendir r700", open(P("r700"), O_RDONLY | O_DIRECTORY));
	res("access u700 X_OK (no x bit)", access(P("u700"), X_OK));
	res("chdir d700", chdir(P("d700")));
	res("chroot d700", chroot(P("d700")));
}

static void fowner_calls(void)
{
	struct timeval tv[2] = { { 1, 0 }, { 2, 0 } };

	res("chmod u600 0640", chmod(P("u600"), 0640));
	res("utimes u600", utimes(P("u600"), tv));
	res("unlink sticky/u", unlink(P("sticky/u")));
}

static void chown_calls(void)
{
	res("chown r644 to 1000", chown(P("r644"), 1000, -1));
	res("chown r644 group 4242", chown(P("r644"), -1, 4242));
	res("chown r644 to itself", chown(P("r644"), 0, -1));
}

static void fsetid_calls(void)
{
	struct stat st;

	res("chmod g4242 02755", chmod(P("g4242"), 02755));
	stat(P("g4242"), &st);
	printf("  mode %o\n", st.st_mode & 07777);
}

static void setid_calls(void)
{
	gid_t g = 0;

	res("setgroups", setgroups(1, &g));
	res("setgid 1000", setgid(1000));
	res("setresgid 0 0 1000", setresgid(0, 0, 1000));
	res("setuid 1000", setuid(1000));
	res("setresuid 0 0 1000", setresuid(0, 0, 1000));
	res("setfsuid 1000 (returns old)", setfsuid(1000) == 0 ? 0 : -1);
	res("setfsuid back", setfsuid(-1) == 0 ? 0 : -1);
}

static pid_t other_user;

static void kill_calls(void)
{
	res("kill uid-1000 process, 0", kill(other_user, 0));
	res("kill uid-1000 process, SIGCONT", kill(other_user, SIGCONT));
}

static void sys_admin_calls(void)
{
	res("sethostname", sethostname("x", 1));
	res("setdomainname", setdomainname("x", 1));
	res("mount tmpfs", mount("none", D, "tmpfs", 0, NULL));
	res("umount2 tmp dir", umount2(D, 0));
	res("setxattr trusted.a", setxattr(P("r644"), "trusted.a", "1", 1, 0));
}

static void chroot_calls(void)
{
	res("chroot dir", chroot(D));
}

static void mknod_calls(void)
{
	res("mknod char 1:3", mknod(P("null"), S_IFCHR | 0600, makedev(1, 3)));
	res("mknod fifo", mknod(P("fifo"), S_IFIFO | 0600, 0));
}

static void net_raw_calls(void)
{
	res("socket SOCK_RAW ICMP", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	res("socket SOCK_RAW ICMPv6", socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
}

static void bind_calls(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons(81);
	res("bind 127.0.0.1:81", bind(s, (struct sockaddr *)&a, sizeof a));
	close(s);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons(0);
	res("bind udp port 0", bind(s, (struct sockaddr *)&a, sizeof a));
	close(s);
}

static void resource_calls(void)
{
	struct rlimit r;

	getrlimit(RLIMIT_NOFILE, &r);
	r.rlim_cur = 100;
	r.rlim_max = 200;
	res("setrlimit NOFILE lower", setrlimit(RLIMIT_NOFILE, &r));
	r.rlim_max = 300;
	res("setrlimit NOFILE raise hard", setrlimit(RLIMIT_NOFILE, &r));
}

static void nice_calls(void)
{
	res("setpriority 5", setpriority(PRIO_PROCESS, 0, 5));
	res("setpriority -5", setpriority(PRIO_PROCESS, 0, -5));
}

static void ipc_lock_calls(void)
{
	struct rlimit r = { 0, 0 };
	static char page[4096] __attribute__((aligned(4096)));

	setrlimit(RLIMIT_MEMLOCK, &r);
	res("mlock with a zero limit", mlock(page, sizeof page));
	res("mlockall with a zero limit", mlockall(MCL_CURRENT));
}

static int shm_id;

static void ipc_owner_calls(void)
{
	void *p = shmat(shm_id, NULL, 0);

	res("shmat uid-1000 0600 segment", p == (void *)-1 ? -1 : 0);
}

static void setpcap_calls(void)
{
	res("PR_CAPBSET_DROP", prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0));
	res("PR_SET_SECUREBITS", prctl(PR_SET_SECUREBITS, SECBIT_NOROOT, 0, 0, 0));
	printf("  CAPBSET_READ SYS_BOOT: %d\n", prctl(PR_CAPBSET_READ, CAP_SYS_BOOT, 0, 0, 0));
}

static void capset_rules(void)
{
	struct __user_cap_header_struct h = { 0x12345678, 0 };
	struct __user_cap_data_struct d[2];
	struct sets s;

	res("capget bad version", syscall(SYS_capget, &h, d));
	printf("  version written back: %#x\n", h.version);
	h.version = 0x12345678;
	res("capget bad version, NULL data", syscall(SYS_capget, &h, NULL));
	h.version = _LINUX_CAPABILITY_VERSION_1;
	res("capget v1", syscall(SYS_capget, &h, d));
	printf("  v1 permitted: %x\n", d[0].permitted);
	h.version = _LINUX_CAPABILITY_VERSION_3;
	h.pid = getppid();
	res("capget of the parent", syscall(SYS_capget, &h, d));
	h.pid = 999999;
	res("capget of no process", syscall(SYS_capget, &h, d));
	h.pid = -1;
	res("capget pid -1", syscall(SYS_capget, &h, d));
	h.pid = getppid();
	d[0].effective = d[0].permitted = d[0].inheritable = 0;
	d[1] = d[0];
	res("capset of the parent", syscall(SYS_capset, &h, d));

	drop(BIT(CAP_NET_RAW));
	s = get_caps();
	s.p |= BIT(CAP_NET_RAW);
	res("capset raising permitted", set_caps(s));
	s = get_caps();
	s.p &= ~BIT(CAP_KILL);
	res("capset effective beyond permitted", set_caps(s));
	s = get_caps();
	s.i |= BIT(CAP_NET_RAW);
	res("capset inheritable beyond permitted", set_caps(s));
	s = get_caps();
	s.e &= ~BIT(CAP_KILL);
	res("capset dropping effective only", set_caps(s));
	s.e |= BIT(CAP_KILL);
	res("capset raising it back", set_caps(s));
	show_sets("after");
}

static void setuid_transforms(void)
{
	pid_t p;
	int st;

	printf("setuid transformations\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		res("setresuid 0 1000 0", setresuid(0, 1000, 0));
		show_sets("euid 1000");
		res("seteuid 0", seteuid(0));
		show_sets("euid 0 again");
		res("setfsuid 1000", setfsuid(1000) == 0 ? 0 : -1);
		show_sets("fsuid 1000");
		setfsuid(0);
		show_sets("fsuid 0");
		res("setuid 1000", setuid(1000));
		show_sets("uid 1000");
		res("setuid 0", setuid(0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, &st, 0);
	if ((p = fork()) == 0) {
		res("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
		res("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
		printf("  keepcaps %d securebits %#x\n", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0),
		       prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
		res("setresuid 1000 1000 1000", setresuid(1000, 1000, 1000));
		show_sets("kept");
		struct sets s = get_caps();

		s.e = BIT(CAP_NET_BIND_SERVICE);
		res("capset effective from permitted", set_caps(s));
		bind_calls();
		show_status("status");
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, &st, 0);
}

static void bounding_and_ambient(void)
{
	pid_t p;
	int st;

	printf("bounding and ambient sets\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		printf("  CAPBSET_READ CHOWN: %d\n", prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0));
		res("CAPBSET_READ 63", prctl(PR_CAPBSET_READ, 63, 0, 0, 0));
		res("CAPBSET_DROP CHOWN", prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0));
		printf("  CAPBSET_READ CHOWN: %d\n", prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0));
		res("AMBIENT_RAISE without inheritable",
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
		struct sets s = get_caps();

		s.i |= BIT(CAP_NET_RAW) | BIT(CAP_NET_BIND_SERVICE);
		res("capset inheritable", set_caps(s));
		res("AMBIENT_RAISE NET_RAW", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
		res("AMBIENT_RAISE 99", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 99, 0, 0));
		res("AMBIENT bad op", prctl(PR_CAP_AMBIENT, 9, CAP_NET_RAW, 0, 0));
		printf("  IS_SET NET_RAW %d, NET_ADMIN %d\n",
		       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0),
		       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0));
		s = get_caps();
		s.i &= ~BIT(CAP_NET_RAW);
		set_caps(s);
		printf("  IS_SET NET_RAW after dropping inheritable %d\n",
		       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0));
		s.i |= BIT(CAP_NET_RAW);
		set_caps(s);
		/* An ordinary user that keeps NET_RAW across exec. */
		prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
		res("AMBIENT_RAISE NET_RAW", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
		res("setresuid 1000 1000 1000", setresuid(1000, 1000, 1000));
		printf("  IS_SET NET_RAW after the uid change %d\n",
		       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0));
		res("AMBIENT_RAISE NET_RAW again", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
		show_status("before exec");
		fflush(stdout);
		execl(self_exe, self_exe, "show", NULL);
		perror("exec");
		_exit(1);
	}
	waitpid(p, &st, 0);
}

static void exec_transforms(void)
{
	pid_t p;
	int st;

	printf("execve as root\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		drop(BIT(CAP_NET_RAW) | BIT(CAP_MKNOD));
		show_status("before exec");
		fflush(stdout);
		execl(self_exe, self_exe, "show", NULL);
		_exit(1);
	}
	waitpid(p, &st, 0);
	printf("execve as root with no_new_privs\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		drop(BIT(CAP_NET_RAW));
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		fflush(stdout);
		execl(self_exe, self_exe, "show", NULL);
		_exit(1);
	}
	waitpid(p, &st, 0);
	printf("execve as root without the bounding set's CHOWN\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0);
		execl(self_exe, self_exe, "show", NULL);
		_exit(1);
	}
	waitpid(p, &st, 0);
	printf("execve with SECBIT_NOROOT\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		res("PR_SET_SECUREBITS NOROOT", prctl(PR_SET_SECUREBITS, SECBIT_NOROOT, 0, 0, 0));
		fflush(stdout);
		execl(self_exe, self_exe, "show", NULL);
		_exit(1);
	}
	waitpid(p, &st, 0);
}

/* A copy of this program owned by uid 1000, set-user-ID. */
static void setuid_exec(void)
{
	char path[128], cmd[600];
	pid_t p;
	int st;

	snprintf(path, sizeof path, "%s/suid", base);
	snprintf(cmd, sizeof cmd, "cp /proc/%d/exe %s && chown 1000:1000 %s && chmod 4755 %s",
		 getpid(), path, path, path);
	if (system(cmd) != 0) {
		printf("cannot make %s\n", path);
		return;
	}
	printf("execve of a set-user-ID program\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		execl(path, path, "show", NULL);
		_exit(1);
	}
	waitpid(p, &st, 0);
	printf("execve of a set-user-ID program under no_new_privs\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		execl(path, path, "show", NULL);
		_exit(1);
	}
	waitpid(p, &st, 0);
}

static void *thread_nnp(void *arg)
{
	(void)arg;
	return (void *)(long)prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

static void no_new_privs(void)
{
	pid_t p;
	int st;
	pthread_t th;
	void *v;

	printf("no_new_privs\n");
	fflush(stdout);
	if ((p = fork()) == 0) {
		printf("  get: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		res("set 0", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
		res("set 1 with arg3", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
		res("get with arg2", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
		res("set 1", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
		printf("  get: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		pthread_create(&th, NULL, thread_nnp, NULL);
		pthread_join(th, &v);
		printf("  a new thread: %ld\n", (long)v);
		fflush(stdout);
		if (fork() == 0) {
			printf("  a child: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
			show_status("child status");
			fflush(stdout);
			_exit(0);
		}
		wait(NULL);
		_exit(0);
	}
	waitpid(p, &st, 0);
}

/* After an exec: the sets, and what they allow. */
static int show(void)
{
	show_status("after exec");
	printf("  uid %d euid %d AT_SECURE %lu\n", getuid(), geteuid(), getauxval(AT_SECURE));
	net_raw_calls();
	fflush(stdout);
	return 0;
}

static void mkfile(const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	int fd = open(P(rel), O_CREAT | O_WRONLY | O_EXCL, mode);

	if (fd < 0 || fchown(fd, uid, gid) || fchmod(fd, mode)) {
		perror(rel);
		exit(1);
	}
	close(fd);
}

static void mkdir_owned(const char *rel, mode_t mode, uid_t uid)
{
	if (mkdir(P(rel), mode) || chown(P(rel), uid, uid) || chmod(P(rel), mode)) {
		perror(rel);
		exit(1);
	}
}

static void fixture(void)
{
	mkfile("u600", 0600, 1000, 1000);
	mkfile("u700", 0600, 1000, 1000);
	mkfile("r644", 0644, 0, 0);
	mkfile("g4242", 0755, 0, 4242);
	mkdir_owned("d700", 0755, 1000);
	mkfile("d700/f", 0644, 1000, 1000);
	chmod(P("d700"), 0700);
	mkdir_owned("r555", 0555, 1000);
	mkdir_owned("r700", 0300, 1000);
	mkdir_owned("sticky", 01777, 1000);
	mkfile("sticky/u", 0644, 1000, 1000);
}

static void run_with_kill_target(void)
{
	other_user = fork();
	if (other_user == 0) {
		if (setresuid(1000, 1000, 1000))
			_exit(1);
		pause();
		_exit(0);
	}
	usleep(100000);
	with_dropped("CAP_KILL dropped", BIT(CAP_KILL), kill_calls);
	with_dropped("CAP_KILL kept", 0, kill_calls);
	kill(other_user, SIGKILL);
	waitpid(other_user, NULL, 0);
}

static void run_with_segment(void)
{
	key_t key = 0x5a000000 | getpid();
	pid_t p = fork();

	/* Made by an ordinary user: root neither owns nor created it. */
	if (p == 0) {
		if (setresuid(1000, 1000, 1000) || shmget(key, 4096, IPC_CREAT | 0600) < 0)
			_exit(1);
		_exit(0);
	}
	waitpid(p, NULL, 0);
	shm_id = shmget(key, 0, 0);
	res("shmget uid-1000 segment", shm_id);
	with_dropped("CAP_IPC_OWNER dropped", BIT(CAP_IPC_OWNER), ipc_owner_calls);
	with_dropped("CAP_IPC_OWNER kept", 0, ipc_owner_calls);
	shmctl(shm_id, IPC_RMID, NULL);
}

int main(int argc, char **argv)
{
	self_exe = "/proc/self/exe";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "show"))
		return show();
	if (geteuid() != 0) {
		printf("must run as root\n");
		return 1;
	}
	/* The same starting sets natively and in the sandbox. */
	prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
	drop(BIT(CAP_SYS_RESOURCE));
	show_status("start");

	strcpy(base, "/tmp/capsXXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}

	with_dropped("nothing dropped", 0, dac_calls);
	with_dropped("CAP_DAC_OVERRIDE dropped", BIT(CAP_DAC_OVERRIDE), dac_calls);
	with_dropped("CAP_DAC_READ_SEARCH dropped", BIT(CAP_DAC_READ_SEARCH), dac_calls);
	with_dropped("both DAC capabilities dropped",
		     BIT(CAP_DAC_OVERRIDE) | BIT(CAP_DAC_READ_SEARCH), dac_calls);
	with_dropped("CAP_FOWNER dropped", BIT(CAP_FOWNER), fowner_calls);
	with_dropped("CAP_CHOWN dropped", BIT(CAP_CHOWN), chown_calls);
	with_dropped("CAP_FSETID dropped", BIT(CAP_FSETID), fsetid_calls);
	with_dropped("CAP_FSETID kept", 0, fsetid_calls);
	with_dropped("CAP_SETUID and CAP_SETGID dropped", BIT(CAP_SETUID) | BIT(CAP_SETGID),
		     setid_calls);
	run_with_kill_target();
	with_dropped("CAP_SYS_ADMIN dropped", BIT(CAP_SYS_ADMIN), sys_admin_calls);
	with_dropped("CAP_SYS_CHROOT dropped", BIT(CAP_SYS_CHROOT), chroot_calls);
	with_dropped("CAP_MKNOD dropped", BIT(CAP_MKNOD), mknod_calls);
	with_dropped("CAP_NET_RAW dropped", BIT(CAP_NET_RAW), net_raw_calls);
	with_dropped("CAP_NET_BIND_SERVICE dropped", BIT(CAP_NET_BIND_SERVICE), bind_calls);
	with_dropped("CAP_NET_BIND_SERVICE kept", 0, bind_calls);
	with_dropped("CAP_SYS_RESOURCE dropped", 0, resource_calls);
	with_dropped("CAP_SYS_NICE dropped", BIT(CAP_SYS_NICE), nice_calls);
	with_dropped("CAP_IPC_LOCK dropped", BIT(CAP_IPC_LOCK), ipc_lock_calls);
	run_with_segment();
	with_dropped("CAP_SETPCAP dropped", BIT(CAP_SETPCAP), setpcap_calls);
	with_dropped("capget and capset rules", 0, capset_rules);
	setuid_transforms();
	bounding_and_ambient();
	exec_transforms();
	setuid_exec();
	no_new_privs();

	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf %s", base);
		if (system(cmd) != 0)
			printf("cleanup failed\n");
	}
	printf("PASS\n");
	return 0;
}
