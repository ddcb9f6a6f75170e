/*
 * Escape attempts, run inside a sandbox. Each case prints one line,
 * "CASE blocked DETAIL" or "CASE ESCAPED DETAIL"; the caller compares the
 * cases with its list and checks the host afterwards (processes alive,
 * files and sysctls unchanged, no connection or datagram received).
 *
 * Arguments, each KEY=VALUE, all optional:
 *   outside=NAME     a file beside the container's root on the host (its
 *                    bundle's config.json): no path may reach it
 *   pid=LABEL:PID    a host process (the Sentry, a stub, the Gofer, a
 *                    host sleep): no signal, trace or memory read may reach it
 *   uds=PATH         a host Unix socket not in the spec: no connection
 *   tcp=IP:PORT      a host TCP listener: no connection (--network=none)
 *   udp=IP:PORT      a host UDP socket: no datagram (--network=none)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

static const char *outside;

static void report(const char *name, int escaped, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(const char *name, int escaped, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s ", name, escaped ? "ESCAPED" : "blocked");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Whether `path` opens the outside file (its name must not resolve). */
static void try_open(const char *name, const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		report(name, 0, "%s: %s", path, strerror(errno));
		return;
	}
	close(fd);
	report(name, 1, "%s opened", path);
}

static void dotdot_walks(void)
{
	char path[512];
	struct stat root, here;

	snprintf(path, sizeof(path), "/../../../../%s", outside);
	try_open("dotdot_absolute", path);
	if (chdir("/tmp") == 0) {
		snprintf(path, sizeof(path), "../../../../../%s", outside);
		try_open("dotdot_relative", path);
	}
	/* chdir("..") from / stays at /. */
	chdir("/");
	for (int i = 0; i < 32; i++)
		chdir("..");
	stat("/", &root);
	stat(".", &here);
	report("dotdot_chdir", here.st_ino != root.st_ino || here.st_dev != root.st_dev,
	       "cwd after 32 x chdir(..): ino %lu, root %lu", (unsigned long)here.st_ino,
	       (unsigned long)root.st_ino);
	chdir("/");
}

static void symlink_walks(void)
{
	char path[512];

	unlink("/tmp/escape-root");
	if (symlink("/", "/tmp/escape-root") != 0) {
		report("symlink_to_root", 0, "symlink: %s", strerror(errno));
	} else {
		snprintf(path, sizeof(path), "/tmp/escape-root/../%s", outside);
		try_open("symlink_to_root", path);
		unlink("/tmp/escape-root");
	}
	snprintf(path, sizeof(path), "/proc/self/root/../%s", outside);
	try_open("proc_self_root", path);
	snprintf(path, sizeof(path), "/proc/1/root/../%s", outside);
	try_open("proc_1_root", path);
}

static void hard_links(void)
{
	char path[512];

	snprintf(path, sizeof(path), "/../%s", outside);
	if (link(path, "/tmp/escape-link") == 0) {
		unlink("/tmp/escape-link");
		report("hardlink_outside", 1, "linked %s", path);
	} else {
		report("hardlink_outside", 0, "link %s: %s", path, strerror(errno));
	}
	snprintf(path, sizeof(path), "/proc/self/root/../%s", outside);
	if (linkat(AT_FDCWD, path, AT_FDCWD, "/tmp/escape-link", AT_SYMLINK_FOLLOW) == 0) {
		unlink("/tmp/escape-link");
		report("hardlink_proc_root", 1, "linked %s", path);
	} else {
		report("hardlink_proc_root", 0, "linkat %s: %s", path, strerror(errno));
	}
}

/* The classic: chroot into a subdirectory while keeping the cwd outside
 * it, climb with "..", chroot("."). */
static void chroot_escape(void)
{
	char path[512];
	int old = open("/", O_RDONLY | O_DIRECTORY);

	mkdir("/tmp/escape-jail", 0755);
	if (chroot("/tmp/escape-jail") != 0) {
		report("chroot_escape", 0, "chroot: %s", strerror(errno));
		close(old);
		return;
	}
	if (old >= 0)
		fchdir(old);
	for (int i = 0; i < 64; i++)
		chdir("..");
	chroot(".");
	snprintf(path, sizeof(path), "%s", outside);
	try_open("chroot_escape", path);
	if (old >= 0) {
		/* The jail goes, through the real root's descriptor. */
		unlinkat(old, "tmp/escape-jail", AT_REMOVEDIR);
		close(old);
	}
}

/* Block and character devices of the host: made, opened, read, mounted. */
static void devices(void)
{
	static const struct {
		unsigned int major, minor;
		mode_t type;
		const char *what;
	} devs[] = {
		{ 8, 0, S_IFBLK, "sda" },     { 8, 1, S_IFBLK, "sda1" },
		{ 252, 0, S_IFBLK, "vda" },   { 253, 0, S_IFBLK, "dm0" },
		{ 254, 0, S_IFBLK, "vda" },   { 254, 1, S_IFBLK, "vda1" },
		{ 259, 0, S_IFBLK, "nvme" },  { 7, 0, S_IFBLK, "loop0" },
		{ 1, 1, S_IFCHR, "mem" },     { 1, 11, S_IFCHR, "kmsg" },
		{ 10, 232, S_IFCHR, "kvm" },
	};
	char node[64], buf[512];

	mkdir("/tmp/escape-mnt", 0755);
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		char name[64];
		int fd;
		ssize_t n;

		snprintf(name, sizeof(name), "mknod_%s_%u_%u", devs[i].what, devs[i].major,
			 devs[i].minor);
		snprintf(node, sizeof(node), "/tmp/escape-dev%zu", i);
		unlink(node);
		if (mknod(node, devs[i].type | 0600, makedev(devs[i].major, devs[i].minor)) != 0) {
			report(name, 0, "mknod: %s", strerror(errno));
			if (devs[i].type == S_IFBLK) {
				snprintf(name, sizeof(name), "mount_%s_%u_%u", devs[i].what,
					 devs[i].major, devs[i].minor);
				report(name, 0, "no device node to mount");
			}
			continue;
		}
		fd = open(node, O_RDONLY | O_NONBLOCK);
		if (fd < 0) {
			report(name, 0, "made, open: %s", strerror(errno));
		} else {
			n = read(fd, buf, sizeof(buf));
			report(name, n > 0, "made and opened, read: %zd (%s)", n,
			       n < 0 ? strerror(errno) : "data");
			close(fd);
		}
		if (devs[i].type == S_IFBLK) {
			int r = mount(node, "/tmp/escape-mnt", "ext4", MS_RDONLY, NULL);

			snprintf(name, sizeof(name), "mount_%s_%u_%u", devs[i].what, devs[i].major,
				 devs[i].minor);
			report(name, r == 0, "mount: %s", r == 0 ? "mounted" : strerror(errno));
			if (r == 0)
				umount("/tmp/escape-mnt");
		}
		unlink(node);
	}
	rmdir("/tmp/escape-mnt");
}

/* Host pids do not exist inside: no signal, trace or memory read reaches
 * them (a pid that happens to name a sandbox process is reported too). */
static void host_process(const char *label, pid_t pid)
{
	char name[64], path[64], buf[64];
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)0x400000, sizeof(buf) };
	int fd;

	snprintf(name, sizeof(name), "kill_%s", label);
	if (kill(pid, SIGKILL) == 0)
		report(name, 1, "kill(%d, SIGKILL) succeeded", pid);
	else
		report(name, 0, "kill(%d): %s", pid, strerror(errno));

	snprintf(name, sizeof(name), "ptrace_%s", label);
	if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		report(name, 1, "PTRACE_ATTACH %d succeeded", pid);
	} else {
		report(name, 0, "PTRACE_ATTACH %d: %s", pid, strerror(errno));
	}

	snprintf(name, sizeof(name), "proc_mem_%s", label);
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = pread(fd, buf, sizeof(buf), 0x400000);

		report(name, n > 0, "%s opened, read %zd", path, n);
		close(fd);
	} else {
		report(name, 0, "%s: %s", path, strerror(errno));
	}

	snprintf(name, sizeof(name), "process_vm_readv_%s", label);
	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) > 0)
		report(name, 1, "read %d's memory", pid);
	else
		report(name, 0, "process_vm_readv %d: %s", pid, strerror(errno));
}

/* Numbers past the table, negative, and the x32 ABI's: ENOSYS, and the
 * sandbox goes on. */
static void syscall_numbers(void)
{
	static const struct {
		long nr;
		const char *name;
	} nrs[] = {
		{ 1000, "syscall_1000" },
		{ -1, "syscall_minus_1" },
		{ 0x40000000L | 39, "syscall_x32_getpid" },
		{ 0x40000000L | 512, "syscall_x32_512" },
		{ 0x7fffffffL, "syscall_int_max" },
		{ 335, "syscall_335_gap" },
	};

	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		long r = syscall(nrs[i].nr, 0, 0, 0, 0, 0, 0);

		report(nrs[i].name, !(r == -1 && errno == ENOSYS), "returned %ld (%s)", r,
		       r == -1 ? strerror(errno) : "no error");
	}
}

/* A sysctl written from inside must not change the host's (the caller
 * reads the host's before and after). */
static void proc_sys(void)
{
	static const char *files[] = { "/proc/sys/kernel/domainname",
				       "/proc/sys/kernel/hostname",
				       "/proc/sys/net/ipv4/ip_forward" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *value = strstr(files[i], "ip_forward") ? "1\n" : "escaped\n";
		char name[64];
		int fd = open(files[i], O_WRONLY);

		snprintf(name, sizeof(name), "proc_sys_%s", strrchr(files[i], '/') + 1);
		if (fd < 0) {
			report(name, 0, "open: %s", strerror(errno));
			continue;
		}
		/* Reaching the host is for the caller to see: the sandbox
		 * may keep sysctls of its own. */
		if (write(fd, value, strlen(value)) < 0)
			report(name, 0, "write: %s", strerror(errno));
		else
			report(name, 0, "written (the host's value is checked outside)");
		close(fd);
	}
}

static void unix_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
		report("host_unix_socket", 1, "connected to %s", path);
	else
		report("host_unix_socket", 0, "connect %s: %s", path, strerror(errno));
	close(s);
}

static int inet_addr_of(const char *spec, struct sockaddr_in *a)
{
	char ip[64];
	const char *colon = strrchr(spec, ':');

	if (!colon || (size_t)(colon - spec) >= sizeof(ip))
		return -1;
	memcpy(ip, spec, colon - spec);
	ip[colon - spec] = 0;
	a->sin_family = AF_INET;
	a->sin_port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static void tcp_connect(const char *spec)
{
	struct sockaddr_in a = { 0 };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (inet_addr_of(spec, &a) != 0) {
		report("tcp_host_listener", 1, "bad address %s", spec);
		return;
	}
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
		report("tcp_host_listener", 1, "connected to %s", spec);
	else
		report("tcp_host_listener", 0, "connect %s: %s", spec, strerror(errno));
	close(s);
}

static void udp_send(const char *spec, int n)
{
	struct sockaddr_in a = { 0 };
	char name[32];
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(name, sizeof(name), "udp_send_%d", n);
	if (inet_addr_of(spec, &a) != 0) {
		report(name, 1, "bad address %s", spec);
		return;
	}
	/* Whether it arrives is for the host to see. */
	if (sendto(s, "escape", 6, 0, (struct sockaddr *)&a, sizeof(a)) < 0)
		report(name, 0, "sendto %s: %s", spec, strerror(errno));
	else
		report(name, 0, "sent to %s (arrival is checked outside)", spec);
	close(s);
}

int main(int argc, char **argv)
{
	int udp = 0;

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "outside=", 8) == 0)
			outside = argv[i] + 8;
	if (outside) {
		/* The walks are only meaningful if the inside is reachable. */
		if (access("/bin", F_OK) != 0) {
			printf("no /bin inside: %s\n", strerror(errno));
			return 2;
		}
		dotdot_walks();
		symlink_walks();
		hard_links();
	}
	devices();
	syscall_numbers();
	proc_sys();
	for (int i = 1; i < argc; i++) {
		char *v = strchr(argv[i], '=');

		if (!v)
			continue;
		v++;
		if (strncmp(argv[i], "pid=", 4) == 0) {
			char *colon = strchr(v, ':');

			if (colon) {
				*colon = 0;
				host_process(v, atoi(colon + 1));
			}
		} else if (strncmp(argv[i], "uds=", 4) == 0) {
			unix_socket(v);
		} else if (strncmp(argv[i], "tcp=", 4) == 0) {
			tcp_connect(v);
		} else if (strncmp(argv[i], "udp=", 4) == 0) {
			udp_send(v, udp++);
		}
	}
	/* Last: chroot leaves this process in a jail. */
	if (outside)
		chroot_escape();
	printf("done\n");
	return 0;
}
