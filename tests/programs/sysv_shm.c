/* System V shared memory as Linux serves it: shmget's keys, flags and
 * errnos, shmat's addresses and flags, sharing across fork, the attach
 * count through fork, shmdt, exec and exit, IPC_RMID while attached,
 * IPC_STAT/IPC_SET/SHM_STAT/IPC_INFO/SHM_INFO, /proc/sysvipc/shm, and a
 * SHM_RDONLY attach whose stores fault.
 *
 * Natively it runs in the host's IPC namespace: keys are picked to be
 * free, and nothing host-wide (other segments, identifiers, totals) is
 * printed, only facts about this program's own segments. Non-root checks
 * run in forked children that setuid to 65534. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
/* Prints a call's outcome: "ok" or its errno's name. */
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %s\n", label, r_ == -1 ? strerrorname_np(errno) : "ok"); } while (0)
#define SHM_FAILED ((void *)-1)

/* A key no segment of the host has: made with IPC_EXCL. */
static key_t fresh_key(size_t size, int mode, int *id)
{
	static int n;
	for (;;) {
		key_t k = (key_t)((getpid() << 8) + ++n);
		*id = shmget(k, size, IPC_CREAT | IPC_EXCL | mode);
		if (*id >= 0)
			return k;
		if (errno != EEXIST) {
			printf("FAIL: shmget of a fresh key: %s\n", strerrorname_np(errno));
			exit(1);
		}
	}
}

static struct shmid_ds stat_of(int id)
{
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (shmctl(id, IPC_STAT, &ds) < 0)
		printf("IPC_STAT %s\n", strerrorname_np(errno));
	return ds;
}

static unsigned long nattch(int id)
{
	return stat_of(id).shm_nattch;
}

static int wait_status(pid_t c)
{
	int st = 0;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static void creation_and_errnos(void)
{
	time_t before = time(NULL);
	int id;
	key_t k = fresh_key(56, 0600, &id);
	time_t after = time(NULL);
	struct shmid_ds ds = stat_of(id);
	printf("new: segsz %zu nattch %lu mode %o key mine %d\n", ds.shm_segsz,
	       ds.shm_nattch, ds.shm_perm.mode, ds.shm_perm.__key == k);
	printf("new: cpid mine %d lpid %d atime %ld dtime %ld ctime now %d\n",
	       ds.shm_cpid == getpid(), ds.shm_lpid, (long)ds.shm_atime, (long)ds.shm_dtime,
	       ds.shm_ctime >= before && ds.shm_ctime <= after);
	printf("new: owner and creator me %d\n",
	       ds.shm_perm.uid == geteuid() && ds.shm_perm.cuid == geteuid() &&
	       ds.shm_perm.gid == getegid() && ds.shm_perm.cgid == getegid());

	printf("same key, no flags, size 0: same id %d\n", shmget(k, 0, 0) == id);
	printf("same key, IPC_CREAT, smaller: same id %d\n", shmget(k, 10, IPC_CREAT | 0600) == id);
	TRY("same key, IPC_CREAT|IPC_EXCL", shmget(k, 56, IPC_CREAT | IPC_EXCL | 0600));
	TRY("same key, larger size", shmget(k, 57, 0600));
	TRY("unknown key without IPC_CREAT", shmget(k + 0x40000000, 56, 0600));
	TRY("size 0", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
	TRY("size above SHMMAX", shmget(IPC_PRIVATE, (size_t)-1 - (1 << 24) + 1, IPC_CREAT | 0600));
	int p1 = shmget(IPC_PRIVATE, 56, 0600), p2 = shmget(IPC_PRIVATE, 56, IPC_CREAT | IPC_EXCL | 0600);
	printf("IPC_PRIVATE: two new segments %d\n", p1 >= 0 && p2 >= 0 && p1 != p2 && p1 != id);
	shmctl(p1, IPC_RMID, NULL);
	shmctl(p2, IPC_RMID, NULL);

	/* PostgreSQL's interlock: a small segment, IPC_CREAT|IPC_EXCL|0600. */
	int pg;
	fresh_key(56, 03600 & 0777, &pg);
	printf("postgres-style segment made %d\n", pg >= 0);
	shmctl(pg, IPC_RMID, NULL);

	/* An unattached segment goes at once, and its key with it. */
	CHECK(shmctl(id, IPC_RMID, NULL) == 0);
	TRY("IPC_STAT after IPC_RMID", shmctl(id, IPC_STAT, &ds));
	TRY("shmget of its key", shmget(k, 0, 0));
	TRY("shmat of its id", shmat(id, NULL, 0));
}

static void sharing_and_attach_counts(void)
{
	int id = shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
	CHECK(id >= 0);
	char *a = shmat(id, NULL, 0);
	CHECK(a != SHM_FAILED);
	printf("attach: page aligned %d, zero-filled %d\n", ((unsigned long)a & 4095) == 0,
	       a[0] == 0 && a[(1 << 20) - 1] == 0);
	struct shmid_ds ds = stat_of(id);
	printf("after shmat: nattch %lu lpid mine %d atime set %d\n", ds.shm_nattch,
	       ds.shm_lpid == getpid(), ds.shm_atime != 0);
	char *b = shmat(id, NULL, 0);
	CHECK(b != SHM_FAILED && b != a);
	strcpy(a + 5000, "through a");
	printf("second attach sees the first's store: %s, nattch %lu\n", b + 5000, nattch(id));

	int ready[2], hold[2];
	CHECK(pipe(ready) == 0 && pipe(hold) == 0);
	pid_t c = fork();
	if (c == 0) {
		char buf[4];
		/* The child's copies of both attaches count. */
		printf("child: sees %s, nattch %lu\n", a + 5000, nattch(id));
		for (int i = 0; i < (1 << 20); i += 4096)
			a[i] = (char)(i >> 12);
		strcpy(b + 9000, "from the child");
		CHECK(shmdt(b) == 0);
		printf("child: after shmdt nattch %lu\n", nattch(id));
		fflush(stdout);
		close(hold[1]);
		(void)!write(ready[1], "r", 1);
		(void)!read(hold[0], buf, 1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	char ch;
	CHECK(read(ready[0], &ch, 1) == 1);
	/* Parent's two, the child's one left. */
	ds = stat_of(id);
	printf("parent, child alive: nattch %lu lpid child %d\n", ds.shm_nattch, ds.shm_lpid == c);
	close(hold[1]);
	close(ready[0]);
	wait_status(c);
	int pattern = 1;
	for (int i = 0; i < (1 << 20); i += 4096)
		pattern &= a[i] == (char)(i >> 12);
	printf("parent: child's stores seen %d, %s\n", pattern, a + 9000);
	ds = stat_of(id);
	printf("child exited: nattch %lu lpid child %d dtime set %d\n", ds.shm_nattch,
	       ds.shm_lpid == c, ds.shm_dtime != 0);

	char maps[256];
	snprintf(maps, sizeof maps, "grep -c 'rw-s .*/SYSV00000000 (deleted)' /proc/%d/maps", getpid());
	fflush(stdout);
	printf("maps lines of the segment: ");
	fflush(stdout);
	(void)!system(maps);

	TRY("shmdt unaligned", shmdt(a + 1));
	TRY("shmdt inside the attach", shmdt(a + 4096));
	CHECK(shmdt(a) == 0);
	TRY("shmdt again", shmdt(a));
	printf("after shmdt: nattch %lu lpid mine %d\n", nattch(id), stat_of(id).shm_lpid == getpid());
	CHECK(shmdt(b) == 0);
	printf("all detached: nattch %lu\n", nattch(id));
	shmctl(id, IPC_RMID, NULL);
}

static void exec_detaches(void)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	int sync[2], hold[2];
	CHECK(pipe2(sync, O_CLOEXEC) == 0 && pipe(hold) == 0);
	pid_t c = fork();
	if (c == 0) {
		CHECK(shmat(id, NULL, 0) != SHM_FAILED);
		dup2(hold[0], 0);
		close(hold[1]);
		close(sync[0]);
		/* exec closes `sync`: the parent's read ends there. */
		execl("/bin/sh", "sh", "-c", "read x", (char *)NULL);
		_exit(127);
	}
	close(sync[1]);
	close(hold[0]);
	char ch;
	while (read(sync[0], &ch, 1) > 0)
		;
	printf("child exec'd: nattch %lu lpid child %d\n", nattch(id), stat_of(id).shm_lpid == c);
	close(hold[1]);
	wait_status(c);
	shmctl(id, IPC_RMID, NULL);
}

static void rmid_while_attached(void)
{
	int id;
	key_t k = fresh_key(8192, 0600, &id);
	char *a = shmat(id, NULL, 0);
	CHECK(a != SHM_FAILED);
	strcpy(a, "still here");
	CHECK(shmctl(id, IPC_RMID, NULL) == 0);
	struct shmid_ds ds = stat_of(id);
	printf("removed, attached: mode %o key %d nattch %lu\n", ds.shm_perm.mode, ds.shm_perm.__key,
	       ds.shm_nattch);
	TRY("shmget of the freed key", shmget(k, 0, 0));
	int id2 = shmget(k, 8192, IPC_CREAT | IPC_EXCL | 0600);
	printf("the key makes a new segment: %d\n", id2 >= 0 && id2 != id);
	char *b = shmat(id, NULL, 0);
	printf("removed segment still attachable: %d, sees %s, nattch %lu\n", b != SHM_FAILED,
	       b != SHM_FAILED ? b : "-", nattch(id));
	CHECK(shmdt(b) == 0);
	pid_t c = fork();
	if (c == 0)
		_exit(nattch(id) == 2 ? 0 : 1);
	printf("child saw its inherited attach: %d\n", WEXITSTATUS(wait_status(c)) == 0);
	CHECK(shmdt(a) == 0);
	TRY("IPC_STAT after the last detach", shmctl(id, IPC_STAT, &ds));
	shmctl(id2, IPC_RMID, NULL);
}

static void addresses_and_flags(void)
{
	int id = shmget(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600);
	/* A free address: map and unmap. */
	char *hole = mmap(NULL, 16 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hole != MAP_FAILED);
	munmap(hole, 16 * 4096);
	char *want = hole + 4 * 4096;
	char *a = shmat(id, want, 0);
	printf("at an address: there %d\n", a == want);
	TRY("again there without SHM_REMAP", shmat(id, want, 0));
	TRY("overlapping its end", shmat(id, want + 2 * 4096, 0));
	char *r = shmat(id, want, SHM_REMAP);
	printf("again there with SHM_REMAP: there %d, nattch %lu\n", r == want, nattch(id));
	TRY("unaligned without SHM_RND", shmat(id, want + 8 * 4096 + 100, 0));
	char *rnd = shmat(id, want + 8 * 4096 + 100, SHM_RND);
	printf("unaligned with SHM_RND: rounded down %d\n", rnd == want + 8 * 4096);
	TRY("SHM_REMAP without an address", shmat(id, NULL, SHM_REMAP));
	TRY("negative id", shmat(-1, NULL, 0));
	TRY("its id with another sequence", shmat(id + (1 << 15), NULL, 0));
	shmdt(r);
	shmdt(rnd);

	/* A read-only attach: readable, never writable. */
	char *w = shmat(id, NULL, 0);
	strcpy(w, "written");
	char *ro = shmat(id, NULL, SHM_RDONLY);
	CHECK(ro != SHM_FAILED);
	printf("read-only attach reads: %s\n", ro);
	TRY("mprotect it writable", mprotect(ro, 4096, PROT_READ | PROT_WRITE));
	pid_t c = fork();
	if (c == 0) {
		ro[0] = 'X';
		_exit(0);
	}
	int st = wait_status(c);
	printf("store through it: killed by %s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "nothing");
	printf("segment unchanged: %s\n", w);
	shmdt(w);
	shmdt(ro);
	shmctl(id, IPC_RMID, NULL);
}

static void control(void)
{
	int id = shmget(IPC_PRIVATE, 100, IPC_CREAT | 0600);
	struct shmid_ds ds = stat_of(id);
	ds.shm_perm.mode = 0640 | 0100000;
	ds.shm_segsz = 1;
	sleep(1);
	time_t before = time(NULL);
	CHECK(shmctl(id, IPC_SET, &ds) == 0);
	struct shmid_ds now = stat_of(id);
	printf("IPC_SET: mode %o segsz %zu ctime moved %d\n", now.shm_perm.mode, now.shm_segsz,
	       now.shm_ctime >= before);
	ds.shm_perm.uid = (uid_t)-1;
	TRY("IPC_SET uid -1", shmctl(id, IPC_SET, &ds));

	int idx = id & 0x7fff;
	printf("SHM_STAT of its index: its id %d\n", shmctl(idx, SHM_STAT, &ds) == id);
	printf("SHM_STAT_ANY of its index: its id %d\n", shmctl(idx, SHM_STAT_ANY, &ds) == id);
	TRY("IPC_STAT of its index with another sequence", shmctl(id + (1 << 15), IPC_STAT, &ds));
	TRY("IPC_STAT to a bad buffer", shmctl(id, IPC_STAT, (struct shmid_ds *)8));
	TRY("IPC_SET from a bad buffer", shmctl(id, IPC_SET, (struct shmid_ds *)8));
	TRY("unknown command", shmctl(id, 99, &ds));
	TRY("negative id", shmctl(-1, IPC_STAT, &ds));
	TRY("IPC_STAT|IPC_64", shmctl(id, IPC_STAT | 0x100, &ds));

	struct shminfo info;
	int max = shmctl(0, IPC_INFO, (struct shmid_ds *)&info);
	printf("IPC_INFO: covers our index %d, shmmin %lu shmmni %lu shmseg %lu default max %d all %d\n",
	       max >= idx, info.shmmin, info.shmmni, info.shmseg,
	       info.shmmax == (unsigned long)-1 - (1 << 24), info.shmall == (unsigned long)-1 - (1 << 24));
	struct shm_info use;
	max = shmctl(0, SHM_INFO, (struct shmid_ds *)&use);
	printf("SHM_INFO: covers our index %d, ids %d, pages %d\n", max >= idx, use.used_ids >= 1,
	       use.shm_tot >= 1);

	char cmd[160];
	snprintf(cmd, sizeof cmd, "awk '$2 == %d { print \"proc:\", $3, $4, $7 }' /proc/sysvipc/shm", id);
	fflush(stdout);
	(void)!system(cmd);
	fflush(stdout);
	(void)!system("head -c 60 /proc/sysvipc/shm; echo; cat /proc/sys/kernel/shmmni");
	fflush(stdout);

	/* Someone else. */
	int id6 = shmget(IPC_PRIVATE, 100, IPC_CREAT | 0604);
	int id7;
	key_t k7 = fresh_key(100, 0600, &id7);
	pid_t c = fork();
	if (c == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0) {
			printf("setuid failed\n");
			_exit(1);
		}
		TRY("nobody: IPC_STAT of a 0640 segment", shmctl(id, IPC_STAT, &ds));
		TRY("nobody: SHM_STAT_ANY of it", shmctl(idx, SHM_STAT_ANY, &ds));
		TRY("nobody: shmat of it", shmat(id, NULL, 0));
		TRY("nobody: IPC_RMID of it", shmctl(id, IPC_RMID, NULL));
		TRY("nobody: IPC_SET of it", shmctl(id, IPC_SET, &ds));
		TRY("nobody: read-only shmat of a 0604 segment", shmat(id6, NULL, SHM_RDONLY));
		TRY("nobody: read-write shmat of it", shmat(id6, NULL, 0));
		TRY("nobody: shmget 0600 of a 0600 key", shmget(k7, 0, 0600));
		TRY("nobody: shmget 0 of it", shmget(k7, 0, 0));
		TRY("nobody: SHM_LOCK of it", shmctl(id7, SHM_LOCK, NULL));
		fflush(stdout);
		_exit(0);
	}
	wait_status(c);
	CHECK(shmctl(id, SHM_LOCK, NULL) == 0);
	printf("SHM_LOCK: locked flag %o\n", stat_of(id).shm_perm.mode & 02000);
	CHECK(shmctl(id, SHM_UNLOCK, NULL) == 0);
	printf("SHM_UNLOCK: locked flag %o\n", stat_of(id).shm_perm.mode & 02000);
	shmctl(id, IPC_RMID, NULL);
	shmctl(id6, IPC_RMID, NULL);
	shmctl(id7, IPC_RMID, NULL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	creation_and_errnos();
	sharing_and_attach_counts();
	exec_detaches();
	rmid_while_attached();
	addresses_and_flags();
	control();
	printf(fails ? "FAIL\n" : "PASS\n");
	return fails != 0;
}
