// open+read+close (or stat) every file DIR/f00000 ... DIR/f(N-1) and
// prints the time per file in microseconds (measured inside, so sandbox
// start-up is not counted). Usage: smallfiles read|stat DIR N
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: smallfiles read|stat DIR N\n");
		return 2;
	}
	int do_read = strcmp(argv[1], "read") == 0;
	int n = atoi(argv[3]);
	char path[4096], buf[65536];
	long long bytes = 0;
	double t0 = now();
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/f%05d", argv[2], i);
		if (do_read) {
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				perror(path);
				return 1;
			}
			ssize_t r;
			while ((r = read(fd, buf, sizeof buf)) > 0)
				bytes += r;
			if (r < 0) {
				perror("read");
				return 1;
			}
			close(fd);
		} else {
			struct stat st;
			if (stat(path, &st) < 0) {
				perror(path);
				return 1;
			}
			bytes += st.st_size;
		}
	}
	double dt = now() - t0;
	printf("%.1f\n", dt / n * 1e6);
	fprintf(stderr, "smallfiles %s: %d files, %lld bytes, %.3f s\n", argv[1], n, bytes, dt);
	return 0;
}
