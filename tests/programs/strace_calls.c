/* A fixed set of system calls for --strace's comparison with strace(1):
 * each call's arguments and result are the same natively and in the
 * sandbox (no addresses that matter, no host-specific values), so the
 * lines strace -f prints natively are the lines `runsc-rs --strace` must
 * print, once addresses, pids and timings are normalised.
 * Usage: strace_calls DIR (an empty scratch directory). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: strace_calls DIR\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/data.txt", argv[1]);

	/* Files: open, write, lseek, read, pread, stat, fstat, close. */
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	CHECK(fd == 3);
	CHECK(write(fd, "hello, strace\n", 14) == 14);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	char buf[64];
	CHECK(read(fd, buf, sizeof buf) == 14);
	CHECK(pread(fd, buf, 5, 7) == 5);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	CHECK(stat(path, &st) == 0);
	CHECK(close(fd) == 0);
	CHECK(open("/nonexistent/file", O_RDONLY) == -1 && errno == ENOENT);
	CHECK(access("/nonexistent", F_OK) == -1);
	CHECK(mkdir(path, 0755) == -1 && errno == EEXIST);
	CHECK(unlink(path) == 0);

	/* Memory: mmap, mprotect, madvise, munmap. */
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(mprotect(p, 4096, PROT_READ) == 0);
	CHECK(madvise(p, 8192, MADV_DONTNEED) == 0);
	CHECK(munmap(p, 8192) == 0);

	/* Pipes, fcntl, poll, dup. */
	int pfd[2];
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	CHECK(fcntl(pfd[0], F_GETFD) == FD_CLOEXEC);
	CHECK(fcntl(pfd[1], F_SETFL, O_NONBLOCK) == 0);
	CHECK(write(pfd[1], "ping", 4) == 4);
	struct pollfd pl = {.fd = pfd[0], .events = POLLIN};
	CHECK(poll(&pl, 1, 0) == 1);
	int avail = 0;
	CHECK(ioctl(pfd[0], FIONREAD, &avail) == 0 && avail == 4);
	CHECK(ioctl(pfd[0], TCGETS, buf) == -1 && errno == ENOTTY);
	CHECK(dup3(pfd[0], 10, O_CLOEXEC) == 10);
	CHECK(close(10) == 0);
	CHECK(close(pfd[0]) == 0);
	CHECK(close(pfd[1]) == 0);
	CHECK(close(pfd[1]) == -1 && errno == EBADF);

	/* Sockets: a Unix socket connecting to no one. */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s == 3);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	strcpy(sun.sun_path, "/nonexistent.sock");
	CHECK(connect(s, (struct sockaddr *)&sun, sizeof sun) == -1 && errno == ENOENT);
	shutdown(s, SHUT_RDWR); /* Linux lets an unconnected Unix socket shut down */
	CHECK(close(s) == 0);

	/* Signals. */
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);

	/* Limits and time. */
	struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000};
	CHECK(nanosleep(&ts, NULL) == 0);

	/* A child: fork is clone; the child only exits. */
	pid_t child = fork();
	if (child == 0)
		_exit(7);
	int status;
	CHECK(waitpid(child, &status, 0) == child && WEXITSTATUS(status) == 7);

	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
