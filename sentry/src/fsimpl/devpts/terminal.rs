//! The pty pair: its queues and line discipline, the table of live ptys
//! ([`Ptys`]), and its session, foreground group and hang-up.

use super::*;
use crate::usermem::{UserAddr, UserPtr};

pub(super) struct State {
    pub(super) ld: Ldisc,
    pub(super) winsize: libc::winsize,
    /// TIOCSPTLCK: the replica cannot be opened (EIO).
    pub(super) locked: bool,
    pub(super) master_open: bool,
    /// Open replica descriptions.
    pub(super) replicas: usize,
    /// The replica was open and every one is closed (Linux's
    /// TTY_OTHER_CLOSED on the master): master reads give EIO.
    pub(super) replica_closed: bool,
    /// The session this is the controlling terminal of, and its
    /// foreground process group.
    pub(super) session: Option<i32>,
    pub(super) pgrp: Option<i32>,
    /// The kernel of the tasks using it, for signals sent when no task is
    /// at hand (the master's close).
    pub(super) kernel: Weak<Kernel>,
}

/// One pseudo-terminal.
pub struct Pty {
    pub(super) index: u32,
    pub(super) st: Mutex<State>,
    /// Notified on every change of either queue or of the pair's state.
    pub(super) queue: WaitQueue,
    pub(super) created: Time,
    /// The table it is listed in, which it leaves when it goes.
    ptys: Arc<Ptys>,
}

/// The ptys of one devpts by index: its `DevptsType` holds it, one per
/// VFS, so every devpts mount of a namespace shows the same ptys (Linux's
/// single instance) and two sandboxes in one process share none.
#[derive(Default)]
pub struct Ptys {
    ptys: Mutex<BTreeMap<u32, Weak<Pty>>>,
}

impl Ptys {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, Weak<Pty>>> {
        self.ptys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ptys alive, by index. The Arcs are made after the table's lock is
    /// let go: dropping the last one takes that lock.
    pub(super) fn live(&self) -> Vec<Arc<Pty>> {
        let weak: Vec<Weak<Pty>> = self.lock().values().cloned().collect();
        weak.iter().filter_map(Weak::upgrade).collect()
    }

    pub(super) fn find(&self, index: u32) -> Option<Arc<Pty>> {
        let weak = self.lock().get(&index).cloned();
        weak.and_then(|w| w.upgrade())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.ptys.lock().remove(&self.index);
    }
}

impl Pty {
    /// A new pair in `ptys`, numbered with the lowest free index; ENOSPC
    /// past [`MAX_PTYS`].
    pub(super) fn new(ptys: &Arc<Ptys>, kernel: Weak<Kernel>) -> Result<Arc<Pty>, Errno> {
        let mut reg = ptys.lock();
        if reg.len() >= MAX_PTYS {
            return Err(Errno::ENOSPC);
        }
        let mut index = 0u32;
        for &k in reg.keys() {
            if k != index {
                break;
            }
            index += 1;
        }
        let pty = Arc::new(Pty {
            index,
            st: Mutex::new(State {
                ld: Ldisc::new(),
                winsize: libc::winsize {
                    ws_row: 0,
                    ws_col: 0,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                },
                // Linux locks a new pty until unlockpt().
                locked: true,
                master_open: true,
                replicas: 0,
                replica_closed: false,
                session: None,
                pgrp: None,
                kernel,
            }),
            queue: WaitQueue::new(),
            created: Time::now(),
            ptys: ptys.clone(),
        });
        reg.insert(index, Arc::downgrade(&pty));
        Ok(pty)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// A replica description, counted until it is dropped. EIO while the
    /// pty is locked or its master is closed, as Linux.
    pub(super) fn open_replica(
        self: &Arc<Self>,
        t: Option<&Task>,
        flags: i32,
    ) -> Result<Arc<Replica>, Errno> {
        {
            let mut st = self.lock();
            if st.locked || !st.master_open {
                return Err(Errno::EIO);
            }
            st.replicas += 1;
            st.replica_closed = false;
            if let Some(t) = t {
                st.kernel = Arc::downgrade(&t.kernel);
            }
        }
        self.queue.notify_all();
        let r = Arc::new(Replica { pty: self.clone() });
        if let Some(t) = t {
            if flags & libc::O_NOCTTY == 0 {
                // A session leader without a terminal that opens one takes
                // it as its controlling terminal (if no session has it).
                let _ = self.acquire(t, false, true);
            }
        }
        Ok(r)
    }

    /// Makes this the controlling terminal of `t`'s session (TIOCSCTTY,
    /// or an open without O_NOCTTY when `on_open`).
    pub(super) fn acquire(&self, t: &Task, steal: bool, on_open: bool) -> Result<(), Errno> {
        let (sid, pgid) = ids(t);
        if sid != t.tgid() {
            return Err(Errno::EPERM);
        }
        if let Some(cur) = controlling_pty(t) {
            if cur.index == self.index && std::ptr::eq(Arc::as_ptr(&cur), self) {
                return Ok(());
            }
            return Err(Errno::EPERM);
        }
        let owner = self.lock().session;
        if let Some(other) = owner {
            // Another live session's terminal: only root may take it
            // away, with TIOCSCTTY's argument 1 (CAP_SYS_ADMIN on Linux).
            let may_steal = !on_open && steal && t.creds().capable(crate::caps::CAP_SYS_ADMIN);
            if other != sid && session_alive(&t.kernel, other) && !may_steal {
                return Err(Errno::EPERM);
            }
        }
        let mut st = self.lock();
        st.session = Some(sid);
        st.pgrp = Some(pgid);
        st.kernel = Arc::downgrade(&t.kernel);
        Ok(())
    }

    /// The session this is the controlling terminal of, if its leader
    /// still lives.
    pub(super) fn session(&self, k: &Kernel) -> Option<i32> {
        let sid = self.lock().session?;
        if session_alive(k, sid) {
            Some(sid)
        } else {
            let mut st = self.lock();
            if st.session == Some(sid) {
                st.session = None;
                st.pgrp = None;
            }
            None
        }
    }

    pub(super) fn is_ctty_of(&self, t: &Task) -> bool {
        let (sid, _) = ids(t);
        self.session(&t.kernel) == Some(sid)
    }

    /// Job control (Linux's __tty_check_change): a background process
    /// group that reads its controlling terminal (`sig` SIGTTIN) or changes
    /// it (SIGTTOU) is sent `sig` and the call restarts once it is
    /// continued. If the caller ignores or blocks the signal, reading is
    /// EIO and changing is allowed; an orphaned group gets EIO (nobody
    /// would continue it).
    pub(super) fn job_control(&self, t: &Task, sig: i32) -> Result<(), Errno> {
        let Some(fg) = self.lock().pgrp else {
            return Ok(());
        };
        if !self.is_ctty_of(t) {
            return Ok(());
        }
        let (sid, pgid) = ids(t);
        if pgid == fg {
            return Ok(());
        }
        let blocked = t.signal_mask() & crate::kernel::signal::bit(sig) != 0;
        if blocked || crate::kernel::signal_send::ignored(&t.tg, sig, 0) {
            return if sig == libc::SIGTTIN {
                Err(Errno::EIO)
            } else {
                Ok(())
            };
        }
        if pgrp_orphaned(&t.kernel, pgid, sid) {
            return Err(Errno::EIO);
        }
        signal_pgrp(&t.kernel, pgid, sig);
        Err(Errno::ERESTARTSYS)
    }

    /// Sends `sig` to the foreground process group.
    pub(super) fn signal_foreground(&self, k: &Kernel, sig: i32) {
        let pgrp = self.lock().pgrp;
        if let Some(pgrp) = pgrp {
            signal_pgrp(k, pgrp, sig);
        }
    }

    /// Input from the master: returns how much was taken.
    pub(super) fn master_write(&self, t: &Task, f: &File, buf: &[u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        loop {
            let (n, sigs) = self.lock().ld.receive(&buf[done..]);
            if n > 0 {
                self.queue.notify_all();
            }
            for sig in sigs {
                self.signal_foreground(&t.kernel, sig);
            }
            done += n;
            if done == buf.len() {
                return Ok(done);
            }
            if f.nonblocking() {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            if let Err(e) = t.block(&[&self.queue], None, &mut || self.lock().ld.can_receive()) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
    }

    pub(super) fn master_read(&self, t: &Task, f: &File, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut st = self.lock();
                let n = st.ld.read_output(buf);
                if n > 0 {
                    drop(st);
                    self.queue.notify_all();
                    return Ok(n);
                }
                if st.replica_closed {
                    return Err(Errno::EIO);
                }
            }
            if f.nonblocking() {
                return Err(Errno::EAGAIN);
            }
            t.block(&[&self.queue], None, &mut || {
                let st = self.lock();
                st.ld.output_len() > 0 || st.replica_closed
            })?;
        }
    }

    pub(super) fn replica_write(&self, t: &Task, f: &File, buf: &[u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        loop {
            {
                let mut st = self.lock();
                if !st.master_open {
                    return if done > 0 { Ok(done) } else { Err(Errno::EIO) };
                }
                if !st.ld.stopped {
                    done += st.ld.write_output(&buf[done..]);
                }
            }
            self.queue.notify_all();
            if done == buf.len() {
                return Ok(done);
            }
            if f.nonblocking() {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            if let Err(e) = t.block(&[&self.queue], None, &mut || {
                let st = self.lock();
                !st.master_open || (!st.ld.stopped && st.ld.output_room() >= 2)
            }) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
    }

    pub(super) fn replica_read(&self, t: &Task, f: &File, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (canonical, vmin, vtime) = {
            let st = self.lock();
            let tio = st.ld.termios;
            (
                tio.l(libc::ICANON),
                usize::from(tio.cc[libc::VMIN]),
                tio.cc[libc::VTIME],
            )
        };
        // How many bytes end the wait (non-canonical: VMIN, at most what
        // was asked for), and how long the wait may last (VTIME tenths).
        let want = if canonical { 1 } else { vmin.min(buf.len()) };
        let tenth = Duration::from_millis(100) * u32::from(vtime);
        if !canonical && vmin == 0 && vtime == 0 {
            // A poll: whatever is there, maybe nothing.
            return Ok(self.take_input(buf).unwrap_or(0));
        }
        let mut deadline = if !canonical && vmin == 0 {
            Some(Instant::now() + tenth)
        } else {
            None
        };
        let mut got = 0;
        loop {
            if !self.lock().master_open {
                // Hung up: end of file.
                return Ok(got);
            }
            if let Some(n) = self.take_input(&mut buf[got..]) {
                got += n;
                // Canonical: one line (or an end of file) per read.
                if canonical || got >= want || got == buf.len() {
                    return Ok(got);
                }
                if vtime > 0 {
                    // VMIN and VTIME: an inter-byte timer, restarted by
                    // every arrival.
                    deadline = Some(Instant::now() + tenth);
                }
                continue;
            }
            if f.nonblocking() {
                return if got > 0 { Ok(got) } else { Err(Errno::EAGAIN) };
            }
            let r = t.block(&[&self.queue], deadline, &mut || {
                let st = self.lock();
                !st.master_open || st.ld.input_ready(1)
            });
            match r {
                Ok(()) => {}
                // VTIME ran out: what arrived, maybe nothing.
                Err(Errno::ETIMEDOUT) => return Ok(got),
                Err(e) => return if got > 0 { Ok(got) } else { Err(e) },
            }
        }
    }

    pub(super) fn take_input(&self, buf: &mut [u8]) -> Option<usize> {
        let n = self.lock().ld.read_input(buf);
        if n.is_some() {
            self.queue.notify_all();
        }
        n
    }

    /// The master is gone: hang the replica up.
    pub(super) fn master_closed(&self) {
        let (session, pgrp, kernel) = {
            let mut st = self.lock();
            st.master_open = false;
            (st.session.take(), st.pgrp.take(), st.kernel.clone())
        };
        self.queue.notify_all();
        let Some(k) = kernel.upgrade() else { return };
        if let Some(sid) = session {
            if let Some(leader) = k.group(sid) {
                send_group(&leader, SigInfo::new(libc::SIGHUP, libc::SI_KERNEL));
                send_group(&leader, SigInfo::new(libc::SIGCONT, libc::SI_KERNEL));
            }
        }
        if let Some(pgrp) = pgrp {
            if Some(pgrp) != session {
                signal_pgrp(&k, pgrp, libc::SIGHUP);
            }
        }
    }

    pub(super) fn replica_dropped(&self) {
        {
            let mut st = self.lock();
            st.replicas = st.replicas.saturating_sub(1);
            if st.replicas == 0 {
                st.replica_closed = true;
            }
        }
        self.queue.notify_all();
    }

    pub(super) fn stat(&self) -> libc::stat {
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_ino = u64::from(self.index) + ROOT_INO + 2;
        s.st_mode = libc::S_IFCHR | 0o620;
        s.st_nlink = 1;
        s.st_rdev = libc::makedev(PTS_MAJOR, self.index);
        s.st_blksize = 1024;
        s.st_atime = self.created.sec;
        s.st_atime_nsec = self.created.nsec;
        s.st_mtime = self.created.sec;
        s.st_mtime_nsec = self.created.nsec;
        s.st_ctime = self.created.sec;
        s.st_ctime_nsec = self.created.nsec;
        s
    }

    /// The ioctls both ends serve (the master acts on its replica's
    /// terminal, as Linux's pty master does).
    pub(super) fn common_ioctl(
        &self,
        t: &Task,
        master: bool,
        cmd: u64,
        arg: u64,
    ) -> Result<u64, Errno> {
        match cmd {
            libc::TCGETS => {
                let b = self.lock().ld.termios.to_bytes();
                t.write_bytes(UserAddr(arg), &b)?;
                Ok(0)
            }
            libc::TCSETS | libc::TCSETSW | libc::TCSETSF => {
                let b = t.read_bytes(UserAddr(arg), TERMIOS_LEN)?;
                let new = Termios::from_bytes(&b).ok_or(Errno::EFAULT)?;
                {
                    let mut st = self.lock();
                    // A pty has no line to drain (Linux's pty reports no
                    // characters in its buffer), so TCSETSW does not wait.
                    if cmd == libc::TCSETSF {
                        st.ld.flush_input();
                    }
                    st.ld.set_termios(new);
                }
                self.queue.notify_all();
                Ok(0)
            }
            libc::TCFLSH => {
                // The master's input is the replica's output and the
                // other way round.
                let (inq, outq) = match arg as i32 {
                    libc::TCIFLUSH => (true, false),
                    libc::TCOFLUSH => (false, true),
                    libc::TCIOFLUSH => (true, true),
                    _ => return Err(Errno::EINVAL),
                };
                {
                    let mut st = self.lock();
                    if (inq && !master) || (outq && master) {
                        st.ld.flush_input();
                    }
                    if (outq && !master) || (inq && master) {
                        st.ld.flush_output();
                    }
                }
                self.queue.notify_all();
                Ok(0)
            }
            libc::TCSBRK | libc::TCSBRKP => Ok(0),
            libc::TCXONC => {
                {
                    let mut st = self.lock();
                    match arg as i32 {
                        libc::TCOOFF => st.ld.stopped = true,
                        libc::TCOON => st.ld.stopped = false,
                        libc::TCIOFF | libc::TCION => {}
                        _ => return Err(Errno::EINVAL),
                    }
                }
                self.queue.notify_all();
                Ok(0)
            }
            libc::TIOCGWINSZ => {
                let ws = self.lock().winsize;
                t.write_bytes(UserPtr::<libc::winsize>::new(arg), &winsize_bytes(&ws))?;
                Ok(0)
            }
            libc::TIOCSWINSZ => {
                let b = t.read_bytes(UserPtr::<libc::winsize>::new(arg), 8)?;
                let ws = winsize_from(&b).ok_or(Errno::EFAULT)?;
                let changed = {
                    let mut st = self.lock();
                    let old = winsize_bytes(&st.winsize);
                    st.winsize = ws;
                    old != winsize_bytes(&ws)
                };
                if changed {
                    self.signal_foreground(&t.kernel, libc::SIGWINCH);
                }
                Ok(0)
            }
            libc::TIOCOUTQ => {
                let st = self.lock();
                let n = if master { 0 } else { st.ld.output_len() };
                drop(st);
                t.copy_out(UserPtr::<i32>::new(arg), &(n as i32))?;
                Ok(0)
            }
            libc::TIOCSCTTY => {
                self.acquire(t, arg == 1, false)?;
                Ok(0)
            }
            libc::TIOCNOTTY => {
                if !self.is_ctty_of(t) {
                    return Err(Errno::ENOTTY);
                }
                let (sid, _) = ids(t);
                if sid == t.tgid() {
                    // The leader gives it up: the session loses it and the
                    // foreground group is told, as Linux's
                    // disassociate_ctty does.
                    let pgrp = {
                        let mut st = self.lock();
                        st.session = None;
                        st.pgrp.take()
                    };
                    if let Some(p) = pgrp {
                        signal_pgrp(&t.kernel, p, libc::SIGHUP);
                        signal_pgrp(&t.kernel, p, libc::SIGCONT);
                    }
                }
                // Another member: Linux forgets the terminal for that
                // process only; here terminals are per session.
                Ok(0)
            }
            libc::TIOCGPGRP => {
                if !master && !self.is_ctty_of(t) {
                    return Err(Errno::ENOTTY);
                }
                // Kept as a kernel id; the caller sees its namespace's
                // number (0 from a namespace that cannot see it).
                let p = self.lock().pgrp.map_or(0, |k| t.vpid(k));
                t.copy_out(UserPtr::<i32>::new(arg), &p)?;
                Ok(0)
            }
            libc::TIOCSPGRP => {
                if !self.is_ctty_of(t) {
                    return Err(Errno::ENOTTY);
                }
                let pgrp = t.copy_in(UserPtr::<i32>::new(arg))?;
                if pgrp < 0 {
                    return Err(Errno::EINVAL);
                }
                // The caller's number for the group (Linux's find_vpid).
                let pgrp = t.kpid(pgrp).ok_or(Errno::ESRCH)?;
                let (sid, _) = ids(t);
                let mut found = false;
                for g in t.kernel.all_groups() {
                    let i = g.inner.lock().unwrap_or_else(|e| e.into_inner());
                    if i.pgid == pgrp && i.exit.is_none() {
                        if i.sid != sid {
                            return Err(Errno::EPERM);
                        }
                        found = true;
                    }
                }
                if !found {
                    return Err(Errno::ESRCH);
                }
                self.lock().pgrp = Some(pgrp);
                Ok(0)
            }
            libc::TIOCGSID => {
                if !master && !self.is_ctty_of(t) {
                    return Err(Errno::ENOTTY);
                }
                let sid = self.session(&t.kernel).ok_or(Errno::ENOTTY)?;
                t.copy_out(UserPtr::<i32>::new(arg), &t.vpid(sid))?;
                Ok(0)
            }
            libc::TIOCGETD => {
                t.copy_out(UserPtr::<i32>::new(arg), &0i32)?; // N_TTY
                Ok(0)
            }
            libc::TIOCSETD => {
                let ld = t.copy_in(UserPtr::<i32>::new(arg))?;
                if ld != 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(0)
            }
            libc::TIOCEXCL | libc::TIOCNXCL => Ok(0),
            _ => Err(Errno::ENOTTY),
        }
    }

    pub(super) fn readiness(&self, master: bool, mask: i16) -> i16 {
        let st = self.lock();
        let mut ev = 0;
        if master {
            if st.ld.output_len() > 0 {
                ev |= libc::POLLIN | libc::POLLRDNORM;
            }
            if st.ld.can_receive() {
                ev |= libc::POLLOUT | libc::POLLWRNORM;
            }
            if st.replica_closed {
                ev |= libc::POLLHUP;
            }
        } else if !st.master_open {
            // A hung-up terminal, as Linux's hung_up_tty_poll.
            ev |= libc::POLLIN
                | libc::POLLOUT
                | libc::POLLERR
                | libc::POLLHUP
                | libc::POLLRDNORM
                | libc::POLLWRNORM;
        } else {
            let tio = st.ld.termios;
            let vmin = usize::from(tio.cc[libc::VMIN]);
            let min = if tio.cc[libc::VTIME] == 0 && vmin > 0 {
                vmin
            } else {
                1
            };
            if st.ld.input_ready(min) {
                ev |= libc::POLLIN | libc::POLLRDNORM;
            }
            if !st.ld.stopped && st.ld.output_room() >= 2 {
                ev |= libc::POLLOUT | libc::POLLWRNORM;
            }
        }
        ev & (mask | libc::POLLERR | libc::POLLHUP)
    }
}

pub(super) fn winsize_bytes(w: &libc::winsize) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&w.ws_row.to_ne_bytes());
    b[2..4].copy_from_slice(&w.ws_col.to_ne_bytes());
    b[4..6].copy_from_slice(&w.ws_xpixel.to_ne_bytes());
    b[6..8].copy_from_slice(&w.ws_ypixel.to_ne_bytes());
    b
}

pub(super) fn winsize_from(b: &[u8]) -> Option<libc::winsize> {
    let h =
        |i: usize| -> Option<u16> { Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?)) };
    Some(libc::winsize {
        ws_row: h(0)?,
        ws_col: h(2)?,
        ws_xpixel: h(4)?,
        ws_ypixel: h(6)?,
    })
}

/// The caller's session and process group.
pub(super) fn ids(t: &Task) -> (i32, i32) {
    let i = t.tg.inner.lock().unwrap_or_else(|e| e.into_inner());
    (i.sid, i.pgid)
}

/// Whether the leader of session `sid` is alive (a terminal belongs to a
/// session only that long).
pub(super) fn session_alive(k: &Kernel, sid: i32) -> bool {
    k.group(sid).is_some_and(|g| {
        let i = g.inner.lock().unwrap_or_else(|e| e.into_inner());
        i.exit.is_none() && i.sid == sid
    })
}

/// Sends `sig` from the terminal to every process of group `pgrp`.
pub(super) fn signal_pgrp(k: &Kernel, pgrp: i32, sig: i32) {
    for g in k.all_groups() {
        let member = {
            let i = g.inner.lock().unwrap_or_else(|e| e.into_inner());
            i.pgid == pgrp && i.exit.is_none()
        };
        if member {
            send_group(&g, SigInfo::new(sig, libc::SI_KERNEL));
        }
    }
}

/// Whether process group `pgid` is orphaned: no member has a parent in
/// another group of the same session (Linux's will_become_orphaned_pgrp).
pub(super) fn pgrp_orphaned(k: &Kernel, pgid: i32, sid: i32) -> bool {
    for g in k.all_groups() {
        let member = {
            let i = g.inner.lock().unwrap_or_else(|e| e.into_inner());
            i.pgid == pgid && i.exit.is_none()
        };
        if !member {
            continue;
        }
        if let Some(p) = g.parent() {
            let i = p.inner.lock().unwrap_or_else(|e| e.into_inner());
            if i.pgid != pgid && i.sid == sid && i.exit.is_none() {
                return false;
            }
        }
    }
    true
}

/// The controlling terminal of `t`'s session, if it has one.
pub fn controlling_pty(t: &Task) -> Option<Arc<Pty>> {
    let (sid, _) = ids(t);
    let ptys = ptys_of(&t.kernel.vfs)?;
    ptys.live().into_iter().find(|p| {
        let same_kernel = p
            .lock()
            .kernel
            .upgrade()
            .is_some_and(|k| Arc::ptr_eq(&k, &t.kernel));
        same_kernel && p.session(&t.kernel) == Some(sid)
    })
}
