/* Advisory locks between processes: fcntl record locks (F_SETLK, F_SETLKW,
 * F_GETLK), open-file-description locks, flock; release on close and exit.
 * The file lives under /tmp and is removed at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[64];
static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)

static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	return fcntl(fd, cmd, &fl);
}

/* Runs f in a child process and returns its exit status. */
static int in_child(int (*f)(void))
{
	pid_t p = fork();
	if (p == 0)
		_exit(f());
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int child_tries_write_lock(void)
{
	int fd = open(path, O_RDWR);
	errno = 0;
	int r = lk(fd, F_SETLK, F_WRLCK, 0, 10);
	return r == 0 ? 0 : (errno == EAGAIN || errno == EACCES) ? 1 : 2;
}

static int child_getlk(void)
{
	int fd = open(path, O_RDWR);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1 };
	if (fcntl(fd, F_GETLK, &fl) != 0)
		return 3;
	printf("  F_GETLK in child: type %s start %ld len %ld pid-is-parent %d\n",
	       fl.l_type == F_WRLCK ? "WRLCK" : fl.l_type == F_RDLCK ? "RDLCK" : "UNLCK",
	       (long)fl.l_start, (long)fl.l_len, fl.l_pid == getppid());
	fflush(stdout);
	return 0;
}

static int child_flock_nb(void)
{
	int fd = open(path, O_RDWR);
	errno = 0;
	int r = flock(fd, LOCK_EX | LOCK_NB);
	return r == 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2;
}

static int child_waits_for_lock(void)
{
	int fd = open(path, O_RDWR);
	return lk(fd, F_SETLKW, F_WRLCK, 0, 0) == 0 ? 0 : 2;
}

int main(void)
{
	strcpy(path, "/tmp/locksXXXXXX");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "0123456789abcdef", 16) == 16);

	CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 10) == 0);
	printf("child write lock on a locked range: %d (1 = refused)\n", in_child(child_tries_write_lock));
	printf("child F_GETLK:\n");
	fflush(stdout);
	in_child(child_getlk);

	/* Unlocking the middle splits the lock. */
	CHECK(lk(fd, F_SETLK, F_UNLCK, 3, 4) == 0);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	CHECK(fcntl(fd, F_GETLK, &fl) == 0);
	printf("own locks never conflict with self: %s\n", fl.l_type == F_UNLCK ? "yes" : "no");

	/* Closing any descriptor of the file drops the process's locks. */
	int fd2 = open(path, O_RDONLY);
	close(fd2);
	printf("after closing another fd, child write lock: %d (0 = granted)\n", in_child(child_tries_write_lock));

	/* A blocked F_SETLKW is granted when the holder unlocks. */
	CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 0) == 0);
	pid_t p = fork();
	if (p == 0)
		_exit(child_waits_for_lock());
	usleep(100000);
	CHECK(lk(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
	int st;
	waitpid(p, &st, 0);
	printf("F_SETLKW waiter got the lock after unlock: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");

	/* Bad requests. */
	{
		errno = 0;
		int r_ = lk(fd, F_SETLK, 99, 0, 1);
		printf("F_SETLK with a bad type: %d %s\n", r_, r_ < 0 ? strerrorname_np(errno) : "-");
	}
	int ro = open(path, O_RDONLY);
	{
		errno = 0;
		int r_ = lk(ro, F_SETLK, F_WRLCK, 0, 1);
		printf("write lock on a read-only fd: %d %s\n", r_, r_ < 0 ? strerrorname_np(errno) : "-");
	}
	close(ro);

	/* OFD locks belong to the description: a second open conflicts even in
	 * the same process. */
	int a = open(path, O_RDWR), b = open(path, O_RDWR);
	CHECK(lk(a, F_OFD_SETLK, F_WRLCK, 0, 1) == 0);
	{
		errno = 0;
		int r_ = lk(b, F_OFD_SETLK, F_WRLCK, 0, 1);
		printf("OFD lock from a second description: %d %s\n", r_, r_ < 0 ? strerrorname_np(errno) : "-");
	}
	close(a);
	printf("after closing the holder: %d\n", lk(b, F_OFD_SETLK, F_WRLCK, 0, 1));
	close(b);

	/* flock. */
	int c = open(path, O_RDWR);
	CHECK(flock(c, LOCK_EX) == 0);
	printf("child flock LOCK_EX|LOCK_NB while held: %d (1 = EWOULDBLOCK)\n", in_child(child_flock_nb));
	CHECK(flock(c, LOCK_UN) == 0);
	printf("after LOCK_UN: %d\n", in_child(child_flock_nb));
	{
		errno = 0;
		int r_ = flock(c, 0);
		printf("flock with a bad op: %d %s\n", r_, r_ < 0 ? strerrorname_np(errno) : "-");
	}
	close(c);

	unlink(path);
	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
