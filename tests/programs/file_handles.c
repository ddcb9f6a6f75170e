/*
 * name_to_handle_at / open_by_handle_at on a tmpfs the program mounts
 * (under a fresh directory in /tmp; the test runs as root): EOVERFLOW with
 * the size needed, EINVAL for bad flags and sizes, handles of a file and a
 * directory opened again, the same handle through AT_EMPTY_PATH, a stale
 * handle once the file is gone (ESTALE) but not while it is open, bad
 * handles, EBADF for the mount descriptor, EPERM without
 * CAP_DAC_READ_SEARCH, and procfs: EOPNOTSUPP, but an id with
 * AT_HANDLE_FID. Handle bytes and mount ids are not printed (they differ
 * between kernels); only sizes and comparisons.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif

static char dir[64];

static char *P(const char *rel)
{
	static char buf[4][256];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, sizeof buf[0], "%s/%s", dir, rel);
	return b;
}

struct handle {
	struct file_handle fh;
	unsigned char bytes[MAX_HANDLE_SZ];
};

static int get(const char *path, struct handle *h, int *mnt, int flags)
{
	h->fh.handle_bytes = MAX_HANDLE_SZ;
	return name_to_handle_at(AT_FDCWD, path, &h->fh, mnt, flags);
}

static void show(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

static void open_show(const char *what, int mfd, struct handle *h, int flags)
{
	int fd = open_by_handle_at(mfd, &h->fh, flags);
	char buf[32] = "";
	struct stat st;

	printf("%s: ", what);
	if (fd < 0) {
		printf("%s\n", strerrorname_np(errno));
		return;
	}
	fstat(fd, &st);
	if (S_ISDIR(st.st_mode)) {
		printf("ok dir\n");
	} else {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		printf("ok read %zd \"%s\"\n", n, n > 0 ? buf : "");
	}
	close(fd);
}

int main(void)
{
	struct handle h, h2, hd, hg, hk;
	int mnt, mnt2, fd;

	snprintf(dir, sizeof dir, "/tmp/handles.XXXXXX");
	if (!mkdtemp(dir) || mount("none", dir, "tmpfs", 0, "size=1m") < 0) {
		perror("tmpfs");
		return 1;
	}
	fd = open(P("f"), O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "data", 4) != 4)
		return 1;
	close(fd);
	mkdir(P("d"), 0755);
	int mfd = open(dir, O_RDONLY | O_DIRECTORY);

	h.fh.handle_bytes = 0;
	show("no room", name_to_handle_at(AT_FDCWD, P("f"), &h.fh, &mnt, 0));
	printf("needed %u, type %d\n", h.fh.handle_bytes, h.fh.handle_type);
	h.fh.handle_bytes = MAX_HANDLE_SZ + 1;
	show("room over MAX_HANDLE_SZ", name_to_handle_at(AT_FDCWD, P("f"), &h.fh, &mnt, 0));
	show("unknown flag", get(P("f"), &h, &mnt, 0x8000));
	show("missing file", get(P("nope"), &h, &mnt, 0));
	show("bad handle pointer", name_to_handle_at(AT_FDCWD, P("f"), NULL, &mnt, 0));

	show("file", get(P("f"), &h, &mnt, 0));
	printf("bytes %u, type %d\n", h.fh.handle_bytes, h.fh.handle_type);
	fd = open(P("f"), O_RDONLY);
	h2.fh.handle_bytes = MAX_HANDLE_SZ;
	show("AT_EMPTY_PATH", name_to_handle_at(fd, "", &h2.fh, &mnt2, AT_EMPTY_PATH));
	close(fd);
	printf("same handle: %s, same mount id: %s\n",
	       h.fh.handle_bytes == h2.fh.handle_bytes &&
			       !memcmp(h.fh.f_handle, h2.fh.f_handle, h.fh.handle_bytes)
		       ? "yes"
		       : "no",
	       mnt == mnt2 ? "yes" : "no");
	show("directory", get(P("d"), &hd, &mnt2, 0));
	show("FID of a tmpfs file", get(P("f"), &h2, &mnt2, AT_HANDLE_FID));

	open_show("open file", mfd, &h, O_RDONLY);
	open_show("open directory", mfd, &hd, O_RDONLY | O_DIRECTORY);
	open_show("open file O_DIRECTORY", mfd, &h, O_RDONLY | O_DIRECTORY);
	open_show("bad mount fd", 99, &h, O_RDONLY);
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	printf("O_CLOEXEC: %s\n", fcntl(fd, F_GETFD) == FD_CLOEXEC ? "set" : "not set");
	close(fd);

	struct handle bad = h;
	bad.fh.handle_bytes = 0;
	open_show("zero bytes", mfd, &bad, O_RDONLY);
	bad.fh.handle_bytes = MAX_HANDLE_SZ + 1;
	open_show("too many bytes", mfd, &bad, O_RDONLY);
	bad = h;
	bad.fh.handle_type = -1;
	open_show("negative type", mfd, &bad, O_RDONLY);
	bad = h;
	bad.bytes[0] ^= 0x55;
	bad.bytes[4] ^= 0x55;
	open_show("garbled handle", mfd, &bad, O_RDONLY);
	show("open with a NULL handle", open_by_handle_at(mfd, NULL, O_RDONLY));

	fd = open(P("g"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	get(P("g"), &hg, &mnt2, 0);
	unlink(P("g"));
	open_show("unlinked file", mfd, &hg, O_RDONLY);
	fd = open(P("k"), O_CREAT | O_RDWR, 0644);
	if (write(fd, "kept", 4) != 4)
		return 1;
	get(P("k"), &hk, &mnt2, 0);
	unlink(P("k"));
	open_show("unlinked file still open", mfd, &hk, O_RDONLY);
	close(fd);

	show("procfs", get("/proc/self/status", &h2, &mnt2, 0));
	show("procfs with AT_HANDLE_FID", get("/proc/self/status", &h2, &mnt2, AT_HANDLE_FID));

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct data[2];

		if (syscall(SYS_capget, &hdr, data))
			_exit(1);
		/* Only the effective set: the bounding set stays. */
		data[0].effective &= ~(1u << CAP_DAC_READ_SEARCH);
		if (syscall(SYS_capset, &hdr, data))
			_exit(1);
		open_show("without CAP_DAC_READ_SEARCH", mfd, &h, O_RDONLY);
		show("name_to_handle_at without it",
		     get(P("f"), &h2, &mnt2, 0));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	fflush(stdout);

	close(mfd);
	if (umount2(dir, MNT_DETACH) || rmdir(dir))
		return 1;
	printf("PASS\n");
	return 0;
}
