/*
 * MAP_SHARED of a file is coherent with read() and write() through other
 * descriptors, in one process and across processes, as on Linux:
 *  - write() through a second descriptor is seen by the mapping;
 *  - a store through the mapping is seen by read() of the other one;
 *  - a child's write() and its own mapping's stores are seen by the
 *    parent's mapping, and the parent's write by the child's mapping.
 * The file is made in /tmp (the host's, through the Gofer, when the
 * sandbox runs with --overlay=none). Prints one line per fact and PASS.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failed = 1;
}

int main(void)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/mapshared_coherent.%d", (int)getpid());
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600), fd2 = open(path, O_RDWR);
	check("opened twice", fd >= 0 && fd2 >= 0 && ftruncate(fd, 4096) == 0);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check("mapped", m != MAP_FAILED);
	check("write() through the other descriptor", pwrite(fd2, "hello", 5, 0) == 5);
	check("seen by the mapping", memcmp(m, "hello", 5) == 0);
	memcpy(m + 100, "store", 5);
	char b[8] = { 0 };
	check("a store seen by read() of the other descriptor",
	      pread(fd2, b, 5, 100) == 5 && memcmp(b, "store", 5) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int f = open(path, O_RDWR);
		char *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
		if (c == MAP_FAILED || pwrite(f, "child", 5, 200) != 5)
			_exit(2);
		memcpy(c + 300, "cmaps", 5);
		_exit(memcmp(c, "hello", 5) != 0);
	}
	int st;
	waitpid(pid, &st, 0);
	check("the child's mapping saw the parent's write", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check("the child's write() seen by the parent's mapping", memcmp(m + 200, "child", 5) == 0);
	check("the child's store seen by the parent's mapping", memcmp(m + 300, "cmaps", 5) == 0);
	munmap(m, 4096);
	close(fd);
	close(fd2);
	unlink(path);
	if (failed)
		return 1;
	printf("PASS\n");
	return 0;
}
