/*
 * AF_UNIX sockets: stream, datagram and seqpacket; socketpair, path and
 * abstract names; SCM_RIGHTS, SCM_CREDENTIALS, SO_PEERCRED; shutdown,
 * EOF, EPIPE and SIGPIPE; non-blocking calls, timeouts and poll; the
 * errnos Linux gives for misuse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

static char dir[64];

static socklen_t path_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static const char *events(short e)
{
	static char buf[128];
	buf[0] = 0;
	if (e & POLLIN) strcat(buf, "IN ");
	if (e & POLLOUT) strcat(buf, "OUT ");
	if (e & POLLHUP) strcat(buf, "HUP ");
	if (e & POLLRDHUP) strcat(buf, "RDHUP ");
	if (e & POLLERR) strcat(buf, "ERR ");
	if (!buf[0]) strcat(buf, "none ");
	return buf;
}

static short poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	CHECK(poll(&p, 1, 0) >= 0);
	return p.revents;
}

static void stream_pair(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct stat st;
	CHECK(fstat(sv[0], &st) == 0);
	printf("pair: S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
	char link[64], path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", sv[0]);
	ssize_t n = readlink(path, link, sizeof link - 1);
	CHECK(n > 0);
	link[n > 0 ? n : 0] = 0;
	printf("pair: fd link is socket: %d\n", strncmp(link, "socket:[", 8) == 0);
	printf("pair: poll fresh %s\n", events(poll_now(sv[0])));
	CHECK(write(sv[0], "hello", 5) == 5);
	CHECK(write(sv[0], " world", 6) == 6);
	int avail = -1;
	CHECK(ioctl(sv[1], FIONREAD, &avail) == 0);
	printf("pair: FIONREAD %d, poll %s\n", avail, events(poll_now(sv[1])));
	char buf[64] = { 0 };
	/* A stream joins the two writes. */
	TRY("pair: peek", recv(sv[1], buf, sizeof buf, MSG_PEEK));
	TRY("pair: read", read(sv[1], buf, sizeof buf));
	printf("pair: got '%s'\n", buf);
	TRY("pair: read nothing, nonblocking", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	printf("pair: after SHUT_WR, peer poll %s\n", events(poll_now(sv[1])));
	TRY("pair: read at EOF", read(sv[1], buf, sizeof buf));
	TRY("pair: write after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
	TRY("pair: shutdown bad how", shutdown(sv[0], 7));
	close(sv[1]);
	printf("pair: after peer close, poll %s\n", events(poll_now(sv[0])));
	signal(SIGPIPE, SIG_IGN);
	close(sv[0]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	TRY("pair: write to a closed peer (SIGPIPE ignored)", write(sv[0], "x", 1));
	close(sv[0]);
}

static void sigpipe_kills(void)
{
	pid_t c = fork();
	if (c == 0) {
		signal(SIGPIPE, SIG_DFL);
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		close(sv[1]);
		write(sv[0], "x", 1);
		_exit(0);
	}
	int status;
	CHECK(waitpid(c, &status, 0) == c);
	printf("sigpipe: killed by SIGPIPE %d\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
}

static void records(void)
{
	int sv[2];
	char buf[64];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	CHECK(send(sv[0], "one", 3, 0) == 3);
	CHECK(send(sv[0], "three", 5, 0) == 5);
	TRY("seqpacket: first record", recv(sv[1], buf, sizeof buf, 0));
	struct iovec iov = { buf, 2 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	TRY("seqpacket: cut record", recvmsg(sv[1], &m, 0));
	printf("seqpacket: MSG_TRUNC %d\n", !!(m.msg_flags & MSG_TRUNC));
	close(sv[0]);
	TRY("seqpacket: EOF", recv(sv[1], buf, sizeof buf, 0));
	close(sv[1]);

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK(send(sv[0], "ab", 2, 0) == 2);
	CHECK(send(sv[0], "cdef", 4, 0) == 4);
	TRY("dgram: first", recv(sv[1], buf, sizeof buf, 0));
	TRY("dgram: MSG_TRUNC returns the real length", recv(sv[1], buf, 1, MSG_TRUNC));
	TRY("dgram: empty, nonblocking", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	TRY("dgram: listen", listen(sv[0], 1));
	close(sv[0]);
	close(sv[1]);
}

static void named_stream(void)
{
	struct sockaddr_un a, got;
	socklen_t len = path_addr(&a, "srv");
	int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(srv >= 0);
	TRY("named: listen unbound", listen(srv, 5));
	TRY("named: bind", bind(srv, (struct sockaddr *)&a, len));
	TRY("named: bind again", bind(srv, (struct sockaddr *)&a, len));
	struct stat st;
	CHECK(stat(a.sun_path, &st) == 0);
	printf("named: node is a socket %d\n", S_ISSOCK(st.st_mode));
	int other = socket(AF_UNIX, SOCK_STREAM, 0);
	TRY("named: bind a used path", bind(other, (struct sockaddr *)&a, len));
	TRY("named: connect before listen", connect(other, (struct sockaddr *)&a, len));
	TRY("named: listen", listen(srv, 5));
	struct sockaddr_un second;
	socklen_t sl = path_addr(&second, "second");
	TRY("named: bind a bound socket to a second path", bind(srv, (struct sockaddr *)&second, sl));
	printf("named: the second path is left %d\n", access(second.sun_path, F_OK) == 0);
	socklen_t gl = sizeof got;
	CHECK(getsockname(srv, (struct sockaddr *)&got, &gl) == 0);
	printf("named: getsockname len ok %d, same path %d\n", gl == len, strcmp(got.sun_path, a.sun_path) == 0);
	fcntl(srv, F_SETFL, O_NONBLOCK);
	TRY("named: accept with none pending", accept(srv, NULL, NULL));
	TRY("named: connect", connect(other, (struct sockaddr *)&a, len));
	TRY("named: connect again", connect(other, (struct sockaddr *)&a, len));
	printf("named: listener poll %s\n", events(poll_now(srv)));
	struct sockaddr_un peer;
	socklen_t pl = sizeof peer;
	int conn = accept4(srv, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
	CHECK(conn >= 0);
	printf("named: accepted peer addrlen %d family %d\n", (int)pl, peer.sun_family);
	gl = sizeof got;
	CHECK(getpeername(other, (struct sockaddr *)&got, &gl) == 0);
	printf("named: client's peer is the path %d\n", strcmp(got.sun_path, a.sun_path) == 0);
	gl = sizeof got;
	CHECK(getsockname(conn, (struct sockaddr *)&got, &gl) == 0);
	printf("named: accepted socket's name is the path %d\n", strcmp(got.sun_path, a.sun_path) == 0);
	struct ucred cr;
	socklen_t cl = sizeof cr;
	CHECK(getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0);
	printf("named: SO_PEERCRED pid mine %d uid %d\n", cr.pid == getpid(), cr.uid == geteuid());
	int type = 0;
	socklen_t tl = sizeof type;
	CHECK(getsockopt(conn, SOL_SOCKET, SO_TYPE, &type, &tl) == 0);
	int acc = -1;
	tl = sizeof acc;
	CHECK(getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &acc, &tl) == 0);
	printf("named: SO_TYPE stream %d, SO_ACCEPTCONN %d\n", type == SOCK_STREAM, acc);
	TRY("named: unknown option", getsockopt(conn, SOL_SOCKET, 12345, &type, &tl));
	CHECK(write(other, "ping", 4) == 4);
	char buf[16] = { 0 };
	TRY("named: server reads", read(conn, buf, sizeof buf));
	printf("named: '%s'\n", buf);

	/* A receive timeout ends in EAGAIN. */
	struct timeval tv = { 0, 50000 };
	CHECK(setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	TRY("named: read past SO_RCVTIMEO", read(conn, buf, sizeof buf));
	close(conn);
	close(other);
	close(srv);
	int late = socket(AF_UNIX, SOCK_STREAM, 0);
	TRY("named: connect after the server closed", connect(late, (struct sockaddr *)&a, len));
	struct sockaddr_un none;
	socklen_t nl = path_addr(&none, "missing");
	TRY("named: connect to a missing path", connect(late, (struct sockaddr *)&none, nl));
	struct sockaddr_un file;
	socklen_t fl = path_addr(&file, "plain");
	close(open(file.sun_path, O_CREAT | O_WRONLY, 0600));
	TRY("named: connect to a plain file", connect(late, (struct sockaddr *)&file, fl));
	close(late);
}

static void abstract_and_dgram(void)
{
	struct sockaddr_un a, from;
	socklen_t len = abstract_addr(&a, "runsc-rs-test-abstract");
	int srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	TRY("abstract: bind", bind(srv, (struct sockaddr *)&a, len));
	int dup = socket(AF_UNIX, SOCK_DGRAM, 0);
	TRY("abstract: bind a used name", bind(dup, (struct sockaddr *)&a, len));
	/* /proc/net/unix lists it, with the descriptor's inode number. */
	struct stat sst;
	CHECK(fstat(srv, &sst) == 0);
	FILE *pn = fopen("/proc/net/unix", "r");
	CHECK(pn != NULL);
	char line[512];
	int listed = 0, header = 0;
	while (pn && fgets(line, sizeof line, pn)) {
		unsigned long ino;
		char path[256];
		if (strncmp(line, "Num       RefCount Protocol Flags    Type St Inode Path", 55) == 0)
			header = 1;
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %255s", &ino, path) == 2 &&
		    strcmp(path, "@runsc-rs-test-abstract") == 0)
			listed = ino == sst.st_ino;
	}
	if (pn)
		fclose(pn);
	printf("abstract: /proc/net/unix header %d, listed with its inode %d\n", header, listed);
	struct sockaddr_un ca;
	socklen_t cal = path_addr(&ca, "dgram-client");
	CHECK(bind(dup, (struct sockaddr *)&ca, cal) == 0);
	TRY("abstract: sendto", sendto(dup, "datagram", 8, 0, (struct sockaddr *)&a, len));
	char buf[32] = { 0 };
	socklen_t froml = sizeof from;
	TRY("abstract: recvfrom", recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &froml));
	printf("abstract: '%s' from the client's path %d\n", buf, strcmp(from.sun_path, ca.sun_path) == 0);
	struct sockaddr_un got;
	socklen_t gl = sizeof got;
	CHECK(getsockname(srv, (struct sockaddr *)&got, &gl) == 0);
	printf("abstract: getsockname len ok %d leading NUL %d\n", gl == len, got.sun_path[0] == 0);
	TRY("abstract: send unconnected", send(srv, "x", 1, 0));
	TRY("abstract: connect", connect(srv, (struct sockaddr *)&ca, cal));
	TRY("abstract: send connected", send(srv, "back", 4, 0));
	memset(buf, 0, sizeof buf);
	TRY("abstract: client reads", recv(dup, buf, sizeof buf, 0));
	/* A socket connected elsewhere takes datagrams only from its peer. */
	int third = socket(AF_UNIX, SOCK_DGRAM, 0);
	TRY("abstract: sendto a socket connected elsewhere", sendto(third, "x", 1, 0, (struct sockaddr *)&a, len));
	struct sockaddr_un un = { .sun_family = AF_UNSPEC };
	TRY("abstract: disconnect", connect(srv, (struct sockaddr *)&un, sizeof un.sun_family));
	TRY("abstract: sendto after disconnect", sendto(third, "y", 1, 0, (struct sockaddr *)&a, len));
	/* Autobind: an empty name gets five hex digits. */
	int au = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un e = { .sun_family = AF_UNIX };
	TRY("abstract: autobind", bind(au, (struct sockaddr *)&e, sizeof e.sun_family));
	gl = sizeof got;
	CHECK(getsockname(au, (struct sockaddr *)&got, &gl) == 0);
	printf("abstract: autobind name length %d\n", (int)gl - (int)offsetof(struct sockaddr_un, sun_path));
	close(au);
	close(third);
	close(dup);
	close(srv);
}

static void rights_and_credentials(void)
{
	int sv[2], p[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "through", 7) == 7);
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = { "R", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(2 * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int fds[2] = { p[0], p[1] };
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	TRY("rights: sendmsg", sendmsg(sv[0], &m, 0));
	CHECK(write(sv[0], "after", 5) == 5);
	close(p[0]);
	close(p[1]);

	char data[16] = { 0 };
	char rbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec riov = { data, sizeof data };
	struct msghdr r = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = rbuf, .msg_controllen = sizeof rbuf };
	TRY("rights: recvmsg stops after the message with descriptors", recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC));
	struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
	CHECK(rc != NULL);
	if (rc) {
		int got[2];
		memcpy(got, CMSG_DATA(rc), sizeof got);
		printf("rights: level %d type %d len %d\n", rc->cmsg_level == SOL_SOCKET, rc->cmsg_type == SCM_RIGHTS, (int)rc->cmsg_len == (int)CMSG_LEN(sizeof got));
		char pb[16] = { 0 };
		TRY("rights: read the passed pipe", read(got[0], pb, sizeof pb));
		printf("rights: '%s', cloexec %d\n", pb, fcntl(got[0], F_GETFD) == FD_CLOEXEC);
		close(got[0]);
		close(got[1]);
	}
	TRY("rights: next read", read(sv[1], data, sizeof data));

	/* Too small a control buffer: MSG_CTRUNC, and no descriptor leaks. */
	int q[2];
	CHECK(pipe(q) == 0);
	memcpy(CMSG_DATA(c), (int[]){ q[0], q[1] }, 2 * sizeof(int));
	CHECK(sendmsg(sv[0], &m, 0) == 1);
	char small[CMSG_SPACE(sizeof(int))];
	struct msghdr s = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = small, .msg_controllen = sizeof small };
	TRY("rights: recvmsg into a small buffer", recvmsg(sv[1], &s, 0));
	printf("rights: MSG_CTRUNC %d controllen %d\n", !!(s.msg_flags & MSG_CTRUNC), (int)s.msg_controllen);
	if (CMSG_FIRSTHDR(&s)) {
		int one;
		memcpy(&one, CMSG_DATA(CMSG_FIRSTHDR(&s)), sizeof one);
		close(one);
	}
	close(q[0]);
	close(q[1]);

	/* Bad descriptors and bad control messages. */
	memcpy(CMSG_DATA(c), (int[]){ 999, 998 }, 2 * sizeof(int));
	TRY("rights: a closed descriptor", sendmsg(sv[0], &m, 0));
	c->cmsg_len = 200;
	TRY("rights: a header longer than the buffer", sendmsg(sv[0], &m, 0));

	/* SO_PASSCRED: every message says who sent it. */
	int on = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	CHECK(write(sv[0], "c", 1) == 1);
	char cr[CMSG_SPACE(sizeof(struct ucred))];
	struct msghdr rm = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = cr, .msg_controllen = sizeof cr };
	TRY("creds: recvmsg", recvmsg(sv[1], &rm, 0));
	struct cmsghdr *cc = CMSG_FIRSTHDR(&rm);
	CHECK(cc && cc->cmsg_type == SCM_CREDENTIALS);
	if (cc && cc->cmsg_type == SCM_CREDENTIALS) {
		struct ucred u;
		memcpy(&u, CMSG_DATA(cc), sizeof u);
		printf("creds: pid mine %d uid %d gid %d\n", u.pid == getpid(), u.uid == getuid(), u.gid == getgid());
	}
	/* Claiming another pid is EPERM for an unprivileged sender, and
	 * allowed for root: print which. */
	struct ucred fake = { .pid = 1, .uid = getuid(), .gid = getgid() };
	char fb[CMSG_SPACE(sizeof fake)];
	struct msghdr fm = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = fb, .msg_controllen = sizeof fb };
	struct cmsghdr *fc = CMSG_FIRSTHDR(&fm);
	fc->cmsg_level = SOL_SOCKET;
	fc->cmsg_type = SCM_CREDENTIALS;
	fc->cmsg_len = CMSG_LEN(sizeof fake);
	memcpy(CMSG_DATA(fc), &fake, sizeof fake);
	errno = 0;
	long fr = sendmsg(sv[0], &fm, 0);
	printf("creds: another pid allowed %d (root %d)\n", fr == 1, geteuid() == 0);
	close(sv[0]);
	close(sv[1]);
}

static void across_fork_and_epoll(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid_t c = fork();
	if (c == 0) {
		close(sv[0]);
		char buf[8];
		ssize_t n = read(sv[1], buf, sizeof buf);
		write(sv[1], buf, n > 0 ? n : 0);
		_exit(0);
	}
	close(sv[1]);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = sv[0] };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == 0);
	CHECK(write(sv[0], "echo", 4) == 4);
	struct epoll_event out;
	TRY("fork: epoll_wait", epoll_wait(ep, &out, 1, 5000));
	char buf[8] = { 0 };
	TRY("fork: echo back", read(sv[0], buf, sizeof buf));
	TRY("fork: EOF once the child exits", read(sv[0], buf, sizeof buf));
	waitpid(c, NULL, 0);
	close(ep);
	close(sv[0]);
}

static void misuse(void)
{
	int fd = open("/dev/null", O_RDONLY);
	char b;
	TRY("misuse: recv on a file", recv(fd, &b, 1, 0));
	TRY("misuse: bind a bad fd", bind(999, NULL, 0));
	close(fd);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	TRY("misuse: read unconnected stream", read(s, &b, 1));
	TRY("misuse: write unconnected stream", send(s, &b, 1, MSG_NOSIGNAL));
	TRY("misuse: getpeername unconnected", getpeername(s, NULL, NULL));
	TRY("misuse: shutdown unconnected", shutdown(s, SHUT_RD));
	struct sockaddr_un a = { .sun_family = AF_INET };
	TRY("misuse: bind another family", bind(s, (struct sockaddr *)&a, sizeof a));
	TRY("misuse: bind a huge length", bind(s, (struct sockaddr *)&a, 4096));
	TRY("misuse: connect to an empty name", connect(s, (struct sockaddr *)&(struct sockaddr_un){ .sun_family = AF_UNIX }, 2));
	TRY("misuse: socket bad type", socket(AF_UNIX, 42, 0));
	TRY("misuse: socket bad protocol", socket(AF_UNIX, SOCK_STREAM, 7));
	TRY("misuse: socket bad flags", socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
	TRY("misuse: accept4 bad flags", accept4(s, NULL, NULL, 0x40));
	int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
	TRY("misuse: dgram sendto nowhere", sendto(dg, "x", 1, 0, (struct sockaddr *)&(struct sockaddr_un){ .sun_family = AF_UNIX, .sun_path = "\0runsc-rs-no-such-name" }, 25));
	close(dg);
	close(s);
}

int main(void)
{
	strcpy(dir, "/tmp/unix-sockets-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	stream_pair();
	sigpipe_kills();
	records();
	named_stream();
	abstract_and_dgram();
	rights_and_credentials();
	across_fork_and_epoll();
	misuse();
	const char *made[] = { "srv", "plain", "dgram-client" };
	for (unsigned i = 0; i < sizeof made / sizeof *made; i++) {
		char p[128];
		snprintf(p, sizeof p, "%s/%s", dir, made[i]);
		CHECK(unlink(p) == 0);
	}
	CHECK(rmdir(dir) == 0);
	if (fails) {
		printf("%d FAILED\n", fails);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
