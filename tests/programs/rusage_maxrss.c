/*
 * The peak resident size (ru_maxrss, in kB) as Linux keeps it, checked
 * in a fresh child so no earlier process's peak counts:
 *   - touching N MiB raises RUSAGE_SELF and RUSAGE_THREAD by about N MiB,
 *     and /proc/self/status VmHWM agrees; VmRSS too;
 *   - after munmap VmRSS falls, the peak and VmHWM stay;
 *   - wait4's rusage and RUSAGE_CHILDREN give a reaped child's peak
 *     (and the largest so far, not the last), not the parent's own;
 *   - a child that touched memory and then exec'd reports the old image's
 *     peak in RUSAGE_SELF and RUSAGE_THREAD (not in VmHWM, which is the
 *     new image's), and its parent sees it in wait4;
 *   - a grandchild's peak reaches its grandparent through the child's
 *     RUSAGE_CHILDREN (wait4 gives a child's own and its children's).
 * Sizes differ between Linux and the sandbox, so only comparisons print.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB 1024L
/* Room for what libc, stacks and /proc reads touch besides. */
#define SLACK (8 * MIB)

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL line %d: %s\n", __LINE__, #cond);         \
			failures++;                                            \
		}                                                              \
	} while (0)

static long maxrss(int who)
{
	struct rusage ru;
	if (getrusage(who, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

/* A "Key:  N kB" line of /proc/self/status, read without stdio's heap. */
static long status_kb(const char *key)
{
	static char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	size_t k = strlen(key);
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, key, k) == 0 && p[k] == ':')
			return strtol(p + k + 1, NULL, 10);
	return -1;
}

static char *touch(long kb)
{
	char *p = mmap(NULL, kb * 1024, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	for (long i = 0; i < kb * 1024; i += 4096)
		p[i] = 1;
	return p;
}

static long wait_maxrss(pid_t pid)
{
	struct rusage ru;
	int st;
	memset(&ru, 0, sizeof ru);
	if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return ru.ru_maxrss;
}

static int measured(void)
{
	long r0 = maxrss(RUSAGE_SELF);
	char *p = touch(32 * MIB);
	CHECK(p != NULL);
	long r1 = maxrss(RUSAGE_SELF);
	long thr = maxrss(RUSAGE_THREAD);
	long hwm = status_kb("VmHWM"), rss = status_kb("VmRSS");
	printf("32 MiB touched: self grew by it %d, thread = self %d\n",
	       r1 >= r0 + 32 * MIB && r1 < r0 + 32 * MIB + SLACK, thr == r1);
	printf("VmHWM agrees %d, VmRSS has it %d\n", labs(hwm - r1) < SLACK,
	       rss >= 32 * MIB);

	munmap(p, 32 * MIB * 1024);
	long r2 = maxrss(RUSAGE_SELF);
	long hwm2 = status_kb("VmHWM"), rss2 = status_kb("VmRSS");
	printf("after munmap: peak kept %d, VmHWM kept %d, VmRSS fell %d\n",
	       r2 >= r1, hwm2 >= hwm, rss2 < rss - 24 * MIB);
	printf("no child yet: children 0 %d\n", maxrss(RUSAGE_CHILDREN) == 0);

	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(touch(48 * MIB) ? 0 : 1);
	long w = wait_maxrss(c);
	long ch = maxrss(RUSAGE_CHILDREN);
	printf("48 MiB child: wait4 has it %d, children = wait4 %d, self "
	       "below %d\n",
	       w >= 48 * MIB, ch == w, maxrss(RUSAGE_SELF) < 48 * MIB);

	c = fork();
	if (c == 0)
		_exit(touch(8 * MIB) ? 0 : 1);
	long w2 = wait_maxrss(c);
	printf("smaller child: wait4 small %d, children keep the largest %d\n",
	       w2 > 0 && w2 < 48 * MIB, maxrss(RUSAGE_CHILDREN) == ch);

	c = fork();
	if (c == 0) {
		if (!touch(64 * MIB))
			_exit(1);
		execl("/proc/self/exe", "rusage_maxrss", "after-exec", NULL);
		_exit(2);
	}
	long w3 = wait_maxrss(c);
	printf("64 MiB then exec: wait4 has it %d\n", w3 >= 64 * MIB);

	c = fork();
	if (c == 0) {
		fflush(stdout);
		pid_t g = fork();
		if (g == 0)
			_exit(touch(80 * MIB) ? 0 : 1);
		long wg = wait_maxrss(g);
		_exit(wg >= 80 * MIB && maxrss(RUSAGE_SELF) < 80 * MIB ? 0 : 1);
	}
	long w4 = wait_maxrss(c);
	printf("80 MiB grandchild: wait4 of the child has it %d, children "
	       "%d\n",
	       w4 >= 80 * MIB, maxrss(RUSAGE_CHILDREN) >= 80 * MIB);
	fflush(stdout);
	return failures != 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
		/* The image before exec touched 64 MiB. */
		long self = maxrss(RUSAGE_SELF);
		long hwm = status_kb("VmHWM");
		printf("after exec: self keeps the old peak %d, VmHWM is the "
		       "new image's %d, thread = self %d\n",
		       self >= 64 * MIB, hwm < 64 * MIB,
		       maxrss(RUSAGE_THREAD) == self);
		return 0;
	}
	struct rusage ru;
	errno = 0;
	int r = getrusage(42, &ru);
	printf("getrusage(42): %d %s\n", r, strerrorname_np(errno));
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(measured());
	int st;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("measured child failed\n");
		return 1;
	}
	printf("PASS\n");
	return 0;
}
