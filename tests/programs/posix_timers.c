/*
 * POSIX timers and the clocks around them, as facts about Linux:
 * timer_create with SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE on
 * CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID and
 * CLOCK_THREAD_CPUTIME_ID; the siginfo a timer signal carries; overruns
 * counted while the signal stays blocked; timer_gettime of a disarmed and
 * of a SIGEV_NONE timer; timer_settime's old value; a deleted timer;
 * timers gone in a fork child and after exec; glibc's SIGEV_THREAD;
 * clock_nanosleep on the process CPU clock waiting for CPU time another
 * thread burns; ITIMER_VIRTUAL firing in a loop without syscalls;
 * RUSAGE_CHILDREN; adjtimex and clock_adjtime reads; restart_syscall with
 * nothing to restart; and Linux's errnos.
 *
 * No timing value is printed: only facts ("fired", counts within bounds).
 * Prints one line per check and PASS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok)
{
	printf("%-64s %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failures++;
}

/* A raw syscall's errno name, for errno checks. */
static void expect_errno(const char *what, long r, int want)
{
	int ok = r == -1 && errno == want;
	printf("%-64s %s\n", what, ok ? strerrorname_np(want) : "NO");
	if (!ok) {
		printf("  got %ld errno %s\n", r, strerrorname_np(errno));
		failures++;
	}
}

static long timer_create_raw(clockid_t c, struct sigevent *ev, void *id)
{
	return syscall(SYS_timer_create, c, ev, id);
}

static long timer_settime_raw(int id, int flags, const void *new, void *old)
{
	return syscall(SYS_timer_settime, id, flags, new, old);
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static double ts_sec(struct timespec t)
{
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_now(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return ts_sec(t);
}

static double mono_now(void)
{
	return cpu_now(CLOCK_MONOTONIC);
}

static struct itimerspec its(long v_ms, long i_ms)
{
	struct itimerspec s = {
		.it_value = {v_ms / 1000, (v_ms % 1000) * 1000000},
		.it_interval = {i_ms / 1000, (i_ms % 1000) * 1000000},
	};
	return s;
}

/* ---- what the handler saw ---- */

static volatile sig_atomic_t fired;
static volatile int seen_code, seen_timerid, seen_overrun;
static volatile long seen_value;
static volatile pid_t seen_tid;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	seen_code = si->si_code;
	seen_timerid = si->si_timerid;
	seen_overrun = si->si_overrun;
	seen_value = (long)si->si_value.sival_ptr;
	seen_tid = gettid_();
	fired++;
}

static void handle(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_timer;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(sig, &sa, NULL);
}

/* Waits (up to 10 s of wall time) for the handler, in sigsuspend. */
static int wait_fired(int want)
{
	double end = mono_now() + 10;
	sigset_t none;
	sigemptyset(&none);
	while (fired < want && mono_now() < end) {
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
	return fired >= want;
}

/* Burns CPU (no syscalls but the clock's vDSO) until the handler ran or
 * 10 s of wall time passed. */
static int burn_until_fired(int want)
{
	double end = mono_now() + 10;
	while (fired < want) {
		for (volatile int i = 0; i < 100000; i++)
			;
		if (mono_now() > end)
			return 0;
	}
	return 1;
}

/* ---- SIGEV_SIGNAL on the host clocks ---- */

static void signal_on(clockid_t c, const char *name)
{
	char what[128];
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	ev.sigev_value.sival_ptr = (void *)0x5eed;
	timer_t t;
	if (timer_create(c, &ev, &t) != 0) {
		printf("timer_create(%s): %s\n", name, strerror(errno));
		failures++;
		return;
	}
	fired = 0;
	struct itimerspec s = its(20, 0);
	timer_settime(t, 0, &s, NULL);
	snprintf(what, sizeof(what), "%s SIGEV_SIGNAL one-shot fired once", name);
	check(what, wait_fired(1) && fired == 1);
	snprintf(what, sizeof(what), "%s siginfo: SI_TIMER, its id, its value, overrun 0", name);
	check(what, seen_code == SI_TIMER && seen_timerid == (int)(long)t &&
			    seen_value == 0x5eed && seen_overrun == 0);
	/* Periodic: three more expiries. */
	fired = 0;
	s = its(5, 5);
	timer_settime(t, 0, &s, NULL);
	snprintf(what, sizeof(what), "%s periodic timer fires again and again", name);
	check(what, wait_fired(3));
	s = its(0, 0);
	timer_settime(t, 0, &s, NULL);
	/* Absolute, already past: fires at once. */
	fired = 0;
	struct itimerspec abs = {{0, 0}, {0, 0}};
	clock_gettime(c, &abs.it_value);
	abs.it_value.tv_sec -= 1;
	timer_settime(t, TIMER_ABSTIME, &abs, NULL);
	snprintf(what, sizeof(what), "%s TIMER_ABSTIME in the past fires", name);
	check(what, wait_fired(1));
	timer_delete(t);
}

/* ---- SIGEV_THREAD_ID ---- */

static pid_t worker_tid;
static sem_t worker_ready;
static volatile int worker_code, worker_value;

static void *sigwait_worker(void *arg)
{
	(void)arg;
	worker_tid = gettid_();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sem_post(&worker_ready);
	siginfo_t si;
	struct timespec limit = {10, 0};
	if (sigtimedwait(&set, &si, &limit) == SIGRTMIN + 1) {
		worker_code = si.si_code;
		worker_value = si.si_value.sival_int;
	}
	return NULL;
}

static void thread_id_target(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sem_init(&worker_ready, 0, 0);
	pthread_t th;
	pthread_create(&th, NULL, sigwait_worker, NULL);
	sem_wait(&worker_ready);
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN + 1;
	ev.sigev_value.sival_int = 77;
	ev._sigev_un._tid = worker_tid;
	timer_t t;
	check("timer_create SIGEV_THREAD_ID to a thread of the process",
	      timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);
	struct itimerspec s = its(10, 0);
	timer_settime(t, 0, &s, NULL);
	pthread_join(th, NULL);
	check("SIGEV_THREAD_ID: that thread's sigtimedwait took it (SI_TIMER, value)",
	      worker_code == SI_TIMER && worker_value == 77);
	timer_delete(t);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- SIGEV_NONE ---- */

static void sigev_none(void)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_NONE;
	timer_t t;
	check("timer_create SIGEV_NONE", timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);
	struct itimerspec s = its(30, 0), cur;
	timer_settime(t, 0, &s, NULL);
	timer_gettime(t, &cur);
	double left = ts_sec(cur.it_value);
	check("SIGEV_NONE: gettime counts down (0 < left <= 30 ms)", left > 0 && left <= 0.030);
	struct timespec d = {0, 50000000};
	nanosleep(&d, NULL);
	timer_gettime(t, &cur);
	check("SIGEV_NONE: expired one-shot reads 0",
	      cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	s = its(5, 7);
	timer_settime(t, 0, &s, NULL);
	nanosleep(&d, NULL);
	timer_gettime(t, &cur);
	left = ts_sec(cur.it_value);
	check("SIGEV_NONE periodic: the time to the next period (0 < left <= 7 ms)",
	      left > 0 && left <= 0.007 && cur.it_interval.tv_nsec == 7000000);
	check("SIGEV_NONE: nothing to overrun", timer_getoverrun(t) == 0);
	timer_delete(t);
}

/* ---- CPU clocks ---- */

static void process_cpu_timer(void)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	timer_t t;
	check("timer_create CLOCK_PROCESS_CPUTIME_ID",
	      timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t) == 0);
	fired = 0;
	double start = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	struct itimerspec s = its(50, 0);
	timer_settime(t, 0, &s, NULL);
	check("process CPU timer fires in a loop without syscalls", burn_until_fired(1));
	check("... after at least its 50 ms of CPU time",
	      cpu_now(CLOCK_PROCESS_CPUTIME_ID) - start >= 0.049);
	/* It does not fire while the process sleeps. */
	fired = 0;
	s = its(30, 0);
	timer_settime(t, 0, &s, NULL);
	struct timespec d = {0, 100000000};
	nanosleep(&d, NULL);
	check("process CPU timer does not fire while the process sleeps", fired == 0);
	check("... and then fires when it burns", burn_until_fired(1));
	timer_delete(t);

	/* The clock of clock_getcpuclockid(0) works as well. */
	clockid_t cid;
	clock_getcpuclockid(0, &cid);
	check("timer_create on clock_getcpuclockid(0)", timer_create(cid, &ev, &t) == 0);
	fired = 0;
	s = its(20, 0);
	timer_settime(t, 0, &s, NULL);
	check("... fires", burn_until_fired(1));
	timer_delete(t);
}

static volatile int thread_timer_ok;

static void *thread_cpu_worker(void *arg)
{
	(void)arg;
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN;
	ev._sigev_un._tid = gettid_();
	timer_t t;
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t) != 0)
		return NULL;
	double start = cpu_now(CLOCK_THREAD_CPUTIME_ID);
	struct itimerspec s = its(40, 0);
	timer_settime(t, 0, &s, NULL);
	int ok = burn_until_fired(1);
	thread_timer_ok = ok && seen_tid == gettid_() &&
			  cpu_now(CLOCK_THREAD_CPUTIME_ID) - start >= 0.039;
	timer_delete(t);
	return NULL;
}

static void thread_cpu_timer(void)
{
	fired = 0;
	pthread_t th;
	pthread_create(&th, NULL, thread_cpu_worker, NULL);
	pthread_join(th, NULL);
	check("thread CPU timer fires on that thread after its 40 ms of CPU", thread_timer_ok);
}

static atomic_int stop_burning;

static void *burner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_burning))
		for (volatile int i = 0; i < 100000; i++)
			;
	return NULL;
}

static void cpu_nanosleep(void)
{
	atomic_store(&stop_burning, 0);
	pthread_t th;
	pthread_create(&th, NULL, burner, NULL);
	double before = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	struct timespec d = {0, 100000000};
	int r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &d, NULL);
	double after = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	check("clock_nanosleep(PROCESS_CPUTIME, 100 ms) returns 0", r == 0);
	check("... after the other thread burned 100 ms of CPU", after - before >= 0.099);
	struct timespec target;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &target);
	target.tv_nsec += 50000000;
	if (target.tv_nsec >= 1000000000) {
		target.tv_sec++;
		target.tv_nsec -= 1000000000;
	}
	r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &target, NULL);
	check("TIMER_ABSTIME on the process CPU clock reaches the target",
	      r == 0 && cpu_now(CLOCK_PROCESS_CPUTIME_ID) >= ts_sec(target));
	atomic_store(&stop_burning, 1);
	pthread_join(th, NULL);
	expect_errno("clock_nanosleep(CLOCK_THREAD_CPUTIME_ID)",
		     syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL), EOPNOTSUPP);
	expect_errno("clock_nanosleep(CLOCK_MONOTONIC_RAW)",
		     syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, &d, NULL), EOPNOTSUPP);
	pthread_t self = pthread_self();
	clockid_t own_thread;
	pthread_getcpuclockid(self, &own_thread);
	expect_errno("clock_nanosleep(pthread_getcpuclockid(self))",
		     syscall(SYS_clock_nanosleep, own_thread, 0, &d, NULL), EINVAL);
	check("glibc's clock_nanosleep(CLOCK_THREAD_CPUTIME_ID) answers EINVAL",
	      clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL) == EINVAL);
}

/* ---- overruns ---- */

static void overrun(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN + 2;
	timer_t t;
	timer_create(CLOCK_MONOTONIC, &ev, &t);
	struct itimerspec s = its(1, 1);
	timer_settime(t, 0, &s, NULL);
	struct timespec d = {0, 100000000};
	nanosleep(&d, NULL);
	check("getoverrun is 0 before the blocked signal is taken", timer_getoverrun(t) == 0);
	siginfo_t si;
	int sig = sigwaitinfo(&set, &si);
	check("sigwaitinfo takes the timer's signal once", sig == SIGRTMIN + 2);
	check("si_overrun counts the periods missed meanwhile (>= 20)", si.si_overrun >= 20);
	check("timer_getoverrun then reports the same count", timer_getoverrun(t) == si.si_overrun);
	check("the next period's signal follows",
	      sigtimedwait(&set, &si, &(struct timespec){5, 0}) == SIGRTMIN + 2 &&
		      si.si_code == SI_TIMER);
	s = its(0, 0);
	timer_settime(t, 0, &s, NULL);
	/* Disarmed: a pending signal may remain; nothing more comes. */
	sigtimedwait(&set, &si, &(struct timespec){0, 0});
	check("a disarmed timer sends nothing more",
	      sigtimedwait(&set, &si, &(struct timespec){0, 20000000}) == -1 && errno == EAGAIN);
	timer_delete(t);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- settime, gettime, delete ---- */

static void settime_gettime_delete(void)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	timer_t t;
	timer_create(CLOCK_REALTIME, &ev, &t);
	struct itimerspec cur;
	memset(&cur, 0xff, sizeof(cur));
	timer_gettime(t, &cur);
	check("gettime of a disarmed timer: all zero",
	      cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 &&
		      cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 0);
	struct itimerspec s = its(10000, 1000), old;
	timer_settime(t, 0, &s, NULL);
	s = its(20000, 0);
	timer_settime(t, 0, &s, &old);
	double left = ts_sec(old.it_value);
	check("settime's old value: the time left (9 s < left <= 10 s) and interval",
	      left > 9 && left <= 10 && old.it_interval.tv_sec == 1 &&
		      old.it_interval.tv_nsec == 0);
	s = its(0, 0);
	timer_settime(t, 0, &s, &old);
	left = ts_sec(old.it_value);
	check("disarming returns the setting it replaced", left > 19 && left <= 20);
	timer_gettime(t, &cur);
	check("... and the timer reads zero", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	check("getoverrun of a timer that never fired: 0", timer_getoverrun(t) == 0);
	int id = (int)(long)t;
	check("timer_delete", timer_delete(t) == 0);
	s = its(10, 0);
	expect_errno("timer_settime of a deleted timer", timer_settime_raw(id, 0, &s, NULL), EINVAL);
	expect_errno("timer_gettime of a deleted timer", syscall(SYS_timer_gettime, id, &cur),
		     EINVAL);
	expect_errno("timer_getoverrun of a deleted timer", syscall(SYS_timer_getoverrun, id),
		     EINVAL);
	expect_errno("timer_delete of a deleted timer", syscall(SYS_timer_delete, id), EINVAL);
}

/* ---- fork, exec ---- */

static void fork_and_exec(const char *self)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	timer_t t;
	timer_create(CLOCK_MONOTONIC, &ev, &t);
	struct itimerspec s = its(60000, 0), cur;
	timer_settime(t, 0, &s, NULL);
	int id = (int)(long)t;
	pid_t pid = fork();
	if (pid == 0) {
		long r = syscall(SYS_timer_gettime, id, &cur);
		_exit(r == -1 && errno == EINVAL ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	check("a fork child has none of its parent's timers", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check("... and the parent keeps its own", syscall(SYS_timer_gettime, id, &cur) == 0);
	pid = fork();
	if (pid == 0) {
		char arg[32];
		snprintf(arg, sizeof(arg), "%d", id);
		execl(self, self, "after-exec", arg, (char *)NULL);
		_exit(2);
	}
	waitpid(pid, &st, 0);
	check("exec deletes the process's timers", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	timer_delete(t);
}

/* ---- glibc's SIGEV_THREAD ---- */

static sem_t thread_notified;
static atomic_int notify_value;

static void notify_fn(union sigval v)
{
	atomic_store(&notify_value, v.sival_int);
	sem_post(&thread_notified);
}

static void sigev_thread(void)
{
	sem_init(&thread_notified, 0, 0);
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = notify_fn;
	ev.sigev_value.sival_int = 4242;
	timer_t t;
	check("timer_create SIGEV_THREAD (glibc)", timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);
	struct itimerspec s = its(10, 10);
	timer_settime(t, 0, &s, NULL);
	struct timespec limit;
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 10;
	int ok = sem_timedwait(&thread_notified, &limit) == 0 &&
		 sem_timedwait(&thread_notified, &limit) == 0;
	check("SIGEV_THREAD runs the function in a thread, periodically, with the value",
	      ok && atomic_load(&notify_value) == 4242);
	timer_delete(t);
}

/* ---- ITIMER_VIRTUAL, rusage ---- */

static void itimer_virtual(void)
{
	handle(SIGVTALRM);
	fired = 0;
	struct itimerval v = {{0, 0}, {0, 30000}};
	setitimer(ITIMER_VIRTUAL, &v, NULL);
	check("ITIMER_VIRTUAL fires in a loop without syscalls", burn_until_fired(1));
	check("... with SIGVTALRM's SI_KERNEL", seen_code == SI_KERNEL);
}

static void rusage_children(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		double start = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
		while (cpu_now(CLOCK_PROCESS_CPUTIME_ID) - start < 0.1)
			for (volatile int i = 0; i < 100000; i++)
				;
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		     ru.ru_stime.tv_usec / 1e6;
	check("RUSAGE_CHILDREN counts a reaped child's 100 ms of CPU", cpu >= 0.09);
}

/* ---- adjtimex, clock_adjtime ---- */

static void adjtime_reads(void)
{
	struct timex tx;
	memset(&tx, 0, sizeof(tx));
	long r = syscall(SYS_adjtimex, &tx);
	struct timeval now;
	gettimeofday(&now, NULL);
	check("adjtimex(modes 0) reads the clock's state", r >= 0);
	check("... its time is the wall clock's", labs(tx.time.tv_sec - now.tv_sec) <= 5);
	memset(&tx, 0, sizeof(tx));
	r = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx);
	check("clock_adjtime(CLOCK_REALTIME, modes 0) reads it too", r >= 0);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_OFFSET_SS_READ;
	check("adjtimex(ADJ_OFFSET_SS_READ) is a read", syscall(SYS_adjtimex, &tx) >= 0);
	memset(&tx, 0, sizeof(tx));
	tx.modes = 0x8000; /* ADJ_ADJTIME without its offset bit */
	expect_errno("adjtimex(old adjtime without the offset bit)", syscall(SYS_adjtimex, &tx),
		     EINVAL);
	memset(&tx, 0, sizeof(tx));
	expect_errno("clock_adjtime(CLOCK_MONOTONIC)",
		     syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx), EOPNOTSUPP);
	expect_errno("clock_adjtime(bad clock)", syscall(SYS_clock_adjtime, 12345, &tx), EINVAL);
	expect_errno("adjtimex(bad pointer)", syscall(SYS_adjtimex, (void *)8), EFAULT);

	/* A change needs CAP_SYS_TIME: asked as nobody, in a child. */
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && setuid(65534) != 0)
			_exit(3);
		struct timex c;
		memset(&c, 0, sizeof(c));
		c.modes = ADJ_FREQUENCY;
		long a = syscall(SYS_adjtimex, &c);
		int e1 = errno;
		memset(&c, 0, sizeof(c));
		c.modes = ADJ_MAXERROR;
		long b = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &c);
		int e2 = errno;
		_exit(a == -1 && e1 == EPERM && b == -1 && e2 == EPERM ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	check("adjtimex/clock_adjtime changes without CAP_SYS_TIME: EPERM",
	      WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- errnos ---- */

static void errnos(void)
{
	struct sigevent ev;
	int id;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	expect_errno("timer_create(unknown clock)", timer_create_raw(12345, &ev, &id), EINVAL);
	expect_errno("timer_create(CLOCK_MONOTONIC_RAW)",
		     timer_create_raw(CLOCK_MONOTONIC_RAW, &ev, &id), EOPNOTSUPP);
	expect_errno("timer_create(sigevent at a bad address)",
		     timer_create_raw(CLOCK_MONOTONIC, (void *)8, &id), EFAULT);
	expect_errno("timer_create(timer id at a bad address)",
		     timer_create_raw(CLOCK_MONOTONIC, &ev, (void *)8), EFAULT);
	ev.sigev_notify = 99;
	expect_errno("timer_create(unknown sigev_notify)",
		     timer_create_raw(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_notify = SIGEV_THREAD;
	check("SIGEV_THREAD reaching the kernel is taken as SIGEV_SIGNAL",
	      timer_create_raw(CLOCK_MONOTONIC, &ev, &id) == 0 && syscall(SYS_timer_delete, id) == 0);
	ev.sigev_signo = 0;
	expect_errno("timer_create(SIGEV_THREAD, signal 0)",
		     timer_create_raw(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_signo = SIGRTMIN;
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 0;
	expect_errno("timer_create(signal 0)", timer_create_raw(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_signo = 65;
	expect_errno("timer_create(signal 65)", timer_create_raw(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_signo = SIGRTMIN;
	ev.sigev_notify = SIGEV_THREAD_ID;
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	ev._sigev_un._tid = child;
	expect_errno("timer_create(SIGEV_THREAD_ID of another process)",
		     timer_create_raw(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	ev.sigev_notify = SIGEV_SIGNAL;
	check("timer_create(NULL sigevent) works", timer_create_raw(CLOCK_MONOTONIC, NULL, &id) == 0);
	struct itimerspec s = its(10, 0);
	expect_errno("timer_settime(NULL new value)", timer_settime_raw(id, 0, NULL, NULL), EINVAL);
	s.it_value.tv_nsec = 1000000000;
	expect_errno("timer_settime(tv_nsec = 1e9)", timer_settime_raw(id, 0, &s, NULL), EINVAL);
	s = its(10, 0);
	s.it_interval.tv_sec = -1;
	expect_errno("timer_settime(negative interval)", timer_settime_raw(id, 0, &s, NULL), EINVAL);
	expect_errno("timer_settime(new value at a bad address)",
		     timer_settime_raw(id, 0, (void *)8, NULL), EFAULT);
	expect_errno("timer_gettime(bad address)", syscall(SYS_timer_gettime, id, (void *)8), EFAULT);
	expect_errno("timer_settime(unknown id)", timer_settime_raw(id + 1000, 0, &s, NULL), EINVAL);
	expect_errno("timer_getoverrun(-1)", syscall(SYS_timer_getoverrun, -1), EINVAL);
	syscall(SYS_timer_delete, id);

	/* Timers count against RLIMIT_SIGPENDING. */
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_SIGPENDING, &rl);
		long r = timer_create_raw(CLOCK_MONOTONIC, NULL, &id);
		_exit(r == -1 && errno == EAGAIN ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	check("timer_create under RLIMIT_SIGPENDING 0: EAGAIN", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	expect_errno("restart_syscall with nothing to restart", syscall(SYS_restart_syscall), EINTR);
}

/* ---- /proc/PID/timers ---- */

static void proc_timers(void)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	ev.sigev_value.sival_ptr = (void *)0xbeef;
	timer_t a, b;
	timer_create(CLOCK_MONOTONIC, &ev, &a);
	ev.sigev_notify = SIGEV_NONE;
	timer_create(CLOCK_REALTIME, &ev, &b);
	char want[512], got[512] = "";
	snprintf(want, sizeof(want),
		 "ID: %d\nsignal: %d/000000000000beef\nnotify: none/pid.%d\nClockID: %d\n"
		 "ID: %d\nsignal: %d/000000000000beef\nnotify: signal/pid.%d\nClockID: %d\n",
		 (int)(long)b, SIGUSR1, getpid(), CLOCK_REALTIME, (int)(long)a, SIGUSR1, getpid(),
		 CLOCK_MONOTONIC);
	FILE *f = fopen("/proc/self/timers", "r");
	size_t n = f ? fread(got, 1, sizeof(got) - 1, f) : 0;
	got[n] = 0;
	if (f)
		fclose(f);
	check("/proc/self/timers lists them, newest first, as Linux prints them",
	      strcmp(want, got) == 0);
	if (strcmp(want, got) != 0)
		printf("want:\n%sgot:\n%s", want, got);
	timer_delete(a);
	timer_delete(b);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "after-exec") == 0) {
		struct itimerspec cur;
		long r = syscall(SYS_timer_gettime, atoi(argv[2]), &cur);
		return r == -1 && errno == EINVAL ? 0 : 1;
	}
	handle(SIGRTMIN);
	signal_on(CLOCK_REALTIME, "CLOCK_REALTIME");
	signal_on(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	signal_on(CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
	thread_id_target();
	sigev_none();
	process_cpu_timer();
	thread_cpu_timer();
	cpu_nanosleep();
	overrun();
	settime_gettime_delete();
	fork_and_exec(argv[0]);
	sigev_thread();
	itimer_virtual();
	rusage_children();
	adjtime_reads();
	errnos();
	proc_timers();
	if (failures) {
		printf("%d checks failed\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
