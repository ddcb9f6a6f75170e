/*
 * Writes under the root filesystem: for each path given, create the file
 * (O_EXCL, so an existing host file is never touched), write, read back,
 * check the size, list it in its directory and print OK. Also creates and
 * removes a directory next to the first file. Run only in the sandbox:
 * the caller checks afterwards that none of the paths exist on the host.
 *
 * Usage: root_write PATH...
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int listed(const char *path)
{
	char *a = strdup(path), *b = strdup(path);
	DIR *d = opendir(dirname(a));
	const char *name = basename(b);
	struct dirent *e;
	int found = 0;

	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, name) == 0)
			found = 1;
	if (d)
		closedir(d);
	free(a);
	free(b);
	return found;
}

static int write_and_check(const char *path)
{
	char want[256], got[256] = { 0 };
	struct stat st;
	int fd, n;

	n = snprintf(want, sizeof(want), "written by root_write to %s\n", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		printf("%s: create: %s\n", path, strerror(errno));
		return 1;
	}
	if (write(fd, want, n) != n || close(fd) != 0) {
		printf("%s: write: %s\n", path, strerror(errno));
		return 1;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, got, sizeof(got) - 1) != n || strcmp(got, want) != 0) {
		printf("%s: read back differs\n", path);
		return 1;
	}
	if (fstat(fd, &st) != 0 || st.st_size != n) {
		printf("%s: wrong size\n", path);
		return 1;
	}
	close(fd);
	if (!listed(path)) {
		printf("%s: not listed in its directory\n", path);
		return 1;
	}
	printf("%s: OK\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[4096];
	int failures = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		failures += write_and_check(argv[i]);

	snprintf(dir, sizeof(dir), "%s.dir", argv[1]);
	if (mkdir(dir, 0755) != 0 || rmdir(dir) != 0) {
		printf("%s: mkdir/rmdir: %s\n", dir, strerror(errno));
		failures++;
	} else {
		printf("%s: mkdir and rmdir OK\n", dir);
	}
	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
