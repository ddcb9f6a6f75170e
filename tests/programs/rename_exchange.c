/*
 * renameat2 with RENAME_EXCHANGE and RENAME_NOREPLACE, and plain rename,
 * in the directory given as argument, which holds (made by the test
 * before): a = "lower a\n", b = "lower b\n", sym -> a. In the sandbox
 * that directory is on the host root, so under the overlay root the
 * files start in the lower layer and each exchange copies them up.
 * One line per step, then the directory's final state (names, types,
 * contents, link targets, subdirectory entries); nothing host-specific.
 * A directory with host contents cannot move under the overlay (EXDEV,
 * as Linux's overlayfs without redirect_dir), so none is exchanged.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *dir;

static char *P(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof bufs[0], "%s/%s", dir, rel);
	return b;
}

static void res(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

static int rename2(const char *a, const char *b, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, P(a), AT_FDCWD, P(b), flags);
}

/* "name: file "text"", "name: dir [entries]" or "name: link -> target". */
static void show(const char *rel)
{
	struct stat st;
	char buf[256];

	printf("  %s: ", rel);
	if (lstat(P(rel), &st) < 0) {
		printf("%s\n", strerrorname_np(errno));
		return;
	}
	if (S_ISREG(st.st_mode)) {
		int fd = open(P(rel), O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

		if (fd >= 0)
			close(fd);
		buf[n < 0 ? 0 : n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		printf("file %o \"%s\"\n", st.st_mode & 07777, buf);
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(P(rel), buf, sizeof buf - 1);

		buf[n < 0 ? 0 : n] = 0;
		printf("link -> %s\n", buf);
	} else if (S_ISDIR(st.st_mode)) {
		struct dirent **names;
		int n = scandir(P(rel), &names, NULL, alphasort);

		printf("dir %o ", st.st_mode & 07777);
		/*
		 * A merged directory's count is the overlay's guess (Linux's
		 * overlayfs says 1), not a fact to compare.
		 */
		if (strcmp(rel, "."))
			printf("nlink %ld ", (long)st.st_nlink);
		printf("[");
		for (int i = 0, first = 1; i < n; i++) {
			if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
				printf("%s%s", first ? "" : " ", names[i]->d_name);
				first = 0;
			}
			free(names[i]);
		}
		if (n >= 0)
			free(names);
		printf("]\n");
	} else {
		printf("mode %o\n", st.st_mode);
	}
}

static void make(const char *rel, const char *text, mode_t mode)
{
	int fd = open(P(rel), O_WRONLY | O_CREAT | O_EXCL, mode);

	if (fd < 0 || write(fd, text, strlen(text)) < 0) {
		printf("make %s: %s\n", rel, strerrorname_np(errno));
		exit(1);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];

	res("exchange a b (both from the host)", rename2("a", "b", RENAME_EXCHANGE));
	show("a");
	show("b");
	make("n", "new n\n", 0600);
	res("exchange a n (a new file)", rename2("a", "n", RENAME_EXCHANGE));
	show("a");
	show("n");
	res("exchange sym b", rename2("sym", "b", RENAME_EXCHANGE));
	show("sym");
	show("b");

	res("mkdir e1", mkdir(P("e1"), 0755));
	make("e1/x", "x\n", 0644);
	res("mkdir e2", mkdir(P("e2"), 0700));
	res("exchange e1 e2", rename2("e1", "e2", RENAME_EXCHANGE));
	show("e1");
	show("e2");
	show("e2/x");
	res("exchange n e2 (file and directory)", rename2("n", "e2", RENAME_EXCHANGE));
	show("n");
	show("e2");
	show("n/x");
	res("exchange a n/x (across directories)", rename2("a", "n/x", RENAME_EXCHANGE));
	show("a");
	show("n/x");
	res("exchange n n/x (into itself)", rename2("n", "n/x", RENAME_EXCHANGE));
	res("exchange n/x n (its parent)", rename2("n/x", "n", RENAME_EXCHANGE));
	res("exchange a missing", rename2("a", "missing", RENAME_EXCHANGE));
	res("exchange missing a", rename2("missing", "a", RENAME_EXCHANGE));
	res("exchange a a", rename2("a", "a", RENAME_EXCHANGE));
	res("exchange|noreplace", rename2("a", "b", RENAME_EXCHANGE | RENAME_NOREPLACE));

	res("noreplace a b", rename2("a", "b", RENAME_NOREPLACE));
	res("noreplace a c", rename2("a", "c", RENAME_NOREPLACE));
	show("a");
	show("c");
	res("rename b over c", rename(P("b"), P("c")));
	show("b");
	show("c");
	res("unlink e2", unlink(P("e2")));
	res("rename n e3", rename(P("n"), P("e3")));

	printf("final:\n");
	show(".");
	static const char *const all[] = {"a", "b", "c", "e1", "e2", "e3",
					  "e3/x", "n", "sym"};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		show(all[i]);
	printf("PASS\n");
	return 0;
}
