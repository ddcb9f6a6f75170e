/*
 * unix_client PATH LINE: connects to the AF_UNIX stream socket at PATH,
 * sends LINE and a newline, and prints the line that comes back (or the
 * connect errno's name). Built static, to run in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		printf("connect: %s\n", strerrorname_np(errno));
		return 0;
	}
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%s\n", argv[2]);
	if (write(s, buf, n) != n)
		return 1;
	ssize_t got = 0, r;
	while (got < (ssize_t)sizeof buf - 1 && (r = read(s, buf + got, sizeof buf - 1 - got)) > 0) {
		got += r;
		if (buf[got - 1] == '\n')
			break;
	}
	buf[got] = 0;
	fputs(buf, stdout);
	return 0;
}
