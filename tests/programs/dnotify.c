// dnotify: fcntl(dir, F_NOTIFY, mask) and the SIGIO it sends. Each step
// prints whether SIGIO came (it is blocked and collected with
// sigtimedwait); the test compares the output with Linux's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static sigset_t io;
/* The descriptor F_NOTIFY was last asked on, which si_fd must name. */
static int notify_fd = -1;

// Whether SIGIO is pending (waits a little: delivery is synchronous in
// both kernels, the wait only guards against a slow machine).
static void expect(const char *what)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	siginfo_t si;
	int s = sigtimedwait(&io, &si, &ts);
	if (s == SIGIO)
		printf("%s: SIGIO code %#x\n", what, si.si_code);
	else if (s == SIGRTMIN + 1)
		printf("%s: SIGRTMIN+1 code %d fd %s band %#lx\n", what, si.si_code,
		       si.si_fd == notify_fd ? "as asked" : "wrong", si.si_band);
	else
		printf("%s: nothing (%s)\n", what, strerror(errno));
}

static void touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static void notify(int fd, unsigned long mask, const char *what)
{
	notify_fd = fd;
	int r = fcntl(fd, F_NOTIFY, mask);
	printf("F_NOTIFY %s: %d %s\n", what, r, r ? strerror(errno) : "");
}

int main(void)
{
	char dir[] = "/tmp/dnotify-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (chdir(dir) != 0)
		return 1;
	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	sigprocmask(SIG_BLOCK, &io, NULL);

	int pf = open("plain", O_CREAT | O_WRONLY, 0644);
	if (pf < 0 || write(pf, "data", 4) != 4)
		return 1;
	close(pf);
	pf = open("plain", O_RDONLY);
	notify(pf, DN_CREATE, "on a file");
	close(pf);

	int d = open(".", O_RDONLY | O_DIRECTORY);
	notify(d, DN_CREATE, "create, once");
	touch("a");
	expect("create a");
	touch("b");
	expect("create b (the one-shot request has ended)");

	notify(d, DN_DELETE | DN_MULTISHOT, "delete, multishot");
	unlink("a");
	expect("unlink a");
	unlink("b");
	expect("unlink b");
	touch("c");
	expect("create c (not asked for)");

	notify(d, DN_MODIFY | DN_MULTISHOT, "modify too");
	int w = open("c", O_WRONLY);
	if (write(w, "x", 1) != 1)
		return 1;
	expect("write c");
	close(w);
	unlink("c");
	expect("unlink c (still asked for)");

	notify(d, DN_ATTRIB | DN_RENAME | DN_ACCESS | DN_MULTISHOT, "attrib, rename, access");
	chmod("plain", 0600);
	expect("chmod plain");
	rename("plain", "renamed");
	expect("rename plain");
	int r = open("renamed", O_RDONLY);
	char buf[4];
	if (read(r, buf, sizeof buf) < 0)
		return 1;
	close(r);
	expect("read renamed");

	notify(d, 0, "nothing (ends the request)");
	touch("e");
	expect("create e");
	unlink("e");
	expect("unlink e");

	int d2 = open(".", O_RDONLY | O_DIRECTORY);
	notify(d2, DN_CREATE | DN_MULTISHOT, "create, on a second descriptor");
	close(d2);
	touch("f");
	expect("create f (its descriptor closed)");

	// A child's change reaches the owner, the process that asked.
	notify(d, DN_CREATE | DN_MULTISHOT, "create, for a child's changes");
	fflush(stdout);
	if (fork() == 0) {
		touch("g");
		_exit(0);
	}
	expect("a child creates g");

	// F_SETSIG: that signal instead, with the descriptor and the band.
	sigaddset(&io, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &io, NULL);
	printf("F_SETSIG: %d\n", fcntl(d, F_SETSIG, SIGRTMIN + 1));
	printf("F_GETSIG gives it: %d\n", fcntl(d, F_GETSIG) == SIGRTMIN + 1);
	touch("h");
	expect("create h");
	r = fcntl(d, F_SETSIG, 65);
	printf("F_SETSIG 65: %d %s\n", r, strerror(errno));
	printf("F_SETSIG 0: %d\n", fcntl(d, F_SETSIG, 0));
	unlink("h");
	expect("unlink h (not asked for)");
	touch("i");
	expect("create i");

	close(d);
	unlink("f");
	unlink("g");
	unlink("i");
	unlink("renamed");
	chdir("/");
	if (rmdir(dir) != 0)
		perror("rmdir");
	printf("PASS\n");
	return 0;
}
