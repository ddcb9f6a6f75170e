/*
 * stat(2)'s owner ids seen from a child user namespace, as root: before
 * any map every id reads as the overflow id 65534; with uid_map and
 * gid_map "0 0 1" (root mapped to itself, as `unshare -r` run by root)
 * root's files read 0 and a file of uid 1000 reads 65534; fstat and
 * statx agree.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(path);
		close(fd);
	}
}

static void show(const char *when, const char *path)
{
	struct stat st;
	struct statx sx;
	int fd = open(path, O_RDONLY);
	struct stat fst;
	if (stat(path, &st) != 0 || fd < 0 || fstat(fd, &fst) != 0 ||
	    statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &sx) != 0) {
		printf("%s %s: cannot stat\n", when,
		       strncmp(path, "/tmp", 4) ? path : "file");
		return;
	}
	close(fd);
	printf("%s %s: uid %u gid %u, fstat agrees %d, statx agrees %d\n",
	       when, strncmp(path, "/tmp", 4) ? path : "file",
	       st.st_uid, st.st_gid,
	       fst.st_uid == st.st_uid && fst.st_gid == st.st_gid,
	       sx.stx_uid == st.st_uid && sx.stx_gid == st.st_gid);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char file[] = "/tmp/userns_stat_XXXXXX";
	int fd = mkstemp(file);
	if (fd < 0 || fchown(fd, 1000, 1000) != 0 || fchmod(fd, 0644) != 0)
		return 1;
	close(fd);
	show("outside", "/");
	show("outside", file);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWUSER) != 0)
			_exit(1);
		show("no map", "/");
		show("no map", file);
		put("/proc/self/setgroups", "deny");
		put("/proc/self/uid_map", "0 0 1");
		put("/proc/self/gid_map", "0 0 1");
		show("mapped", "/");
		show("mapped", file);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	unlink(file);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	printf("PASS\n");
	return 0;
}
