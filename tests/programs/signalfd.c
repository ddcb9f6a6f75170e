/* signalfd: blocked signals read as records, with poll and SIGCHLD. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

int main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	CHECK(fd >= 0);
	struct signalfd_siginfo si;
	TRY("read with nothing pending", read(fd, &si, sizeof si));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	printf("poll before: %d\n", poll(&p, 1, 0));
	CHECK(kill(getpid(), SIGUSR1) == 0);
	printf("poll after kill: %d revents POLLIN %d\n", poll(&p, 1, 0), !!(p.revents & POLLIN));
	CHECK(read(fd, &si, sizeof si) == sizeof si);
	printf("signal %s, code SI_USER %d, pid is mine %d\n", sigabbrev_np(si.ssi_signo), si.ssi_code == SI_USER, si.ssi_pid == (unsigned)getpid());
	TRY("read with a short buffer", read(fd, &si, 8));

	pid_t c = fork();
	if (c == 0)
		_exit(7);
	/* Blocking read: clear O_NONBLOCK by making a new signalfd. */
	int bfd = signalfd(-1, &set, 0);
	CHECK(read(bfd, &si, sizeof si) == sizeof si);
	printf("child: %s code CLD_EXITED %d status %d pid matches %d\n", sigabbrev_np(si.ssi_signo), si.ssi_code == CLD_EXITED, si.ssi_status, si.ssi_pid == (unsigned)c);
	waitpid(c, NULL, 0);

	/* Updating the mask of an existing descriptor. */
	sigset_t only2;
	sigemptyset(&only2);
	sigaddset(&only2, SIGUSR2);
	TRY("update mask", signalfd(fd, &only2, 0));
	TRY("update a non-signalfd", signalfd(0, &only2, 0));
	TRY("bad flags", signalfd(-1, &set, 0x12345));
	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
