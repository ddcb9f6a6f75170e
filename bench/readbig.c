// Reads a file sequentially with read(2) in 1 MiB chunks and prints the
// throughput in MiB/s (time measured inside, so sandbox start-up is not
// counted). Usage: readbig FILE [CHUNK_BYTES]
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: readbig FILE [CHUNK]\n");
		return 2;
	}
	size_t chunk = argc > 2 ? strtoul(argv[2], NULL, 0) : 1 << 20;
	char *buf = malloc(chunk);
	if (!buf)
		return 1;
	double t0 = now();
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	long long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, chunk);
		if (n < 0) {
			perror("read");
			return 1;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	double dt = now() - t0;
	printf("%.0f\n", total / 1048576.0 / dt);
	fprintf(stderr, "readbig: %lld bytes in %.3f s\n", total, dt);
	return 0;
}
