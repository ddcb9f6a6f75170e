/* The name a #! script's interpreter is given for it, as Linux passes
 * it: the path execve got (a symlink's own path, a relative path as
 * written), /dev/fd/N/PATH for execveat relative to a directory
 * descriptor, and ENOENT up front when that descriptor is close-on-exec
 * (the name would be gone). Debian's /usr/bin/psql is a symlink to a
 * Perl wrapper that picks the program from this name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static int fails;
static char dir[64];

/* Runs `run` in a child with $D and $F set, so the script can print its
 * name without the temporary directory's or the descriptor's number. */
static void child(const char *label, int fd, int (*run)(int fd))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char f[16];
		snprintf(f, sizeof f, "%d", fd);
		setenv("D", dir, 1);
		setenv("F", f, 1);
		run(fd);
		printf("%s: exec failed: %s\n", label, strerrorname_np(errno));
		exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("FAIL %s: status %#x\n", label, st);
		fails++;
	}
}

static char *const args[] = { "script", NULL };

static int via_link(int fd)
{
	char p[128];
	(void)fd;
	snprintf(p, sizeof p, "%s/link", dir);
	return execve(p, args, environ);
}

static int relative(int fd)
{
	(void)fd;
	if (chdir(dir) < 0)
		return -1;
	return execve("./link", args, environ);
}

static int at_dir(int fd)
{
	return syscall(SYS_execveat, fd, "link", args, environ, 0);
}

int main(void)
{
	strcpy(dir, "/tmp/script_names.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char p[128];
	snprintf(p, sizeof p, "%s/s.sh", dir);
	FILE *f = fopen(p, "w");
	fputs("#!/bin/sh\nn=${0#\"$D\"}\necho \"name: ${n#/dev/fd/$F}\"\n", f);
	fclose(f);
	chmod(p, 0755);
	char l[128];
	snprintf(l, sizeof l, "%s/link", dir);
	if (symlink("s.sh", l) < 0)
		perror("symlink");

	child("symlink", -1, via_link);
	child("relative", -1, relative);
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	child("execveat", d, at_dir);
	int dc = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	child("execveat from a close-on-exec descriptor", dc, at_dir);

	unlink(l);
	unlink(p);
	rmdir(dir);
	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
