//! devpts: pseudo-terminals. Opening /dev/ptmx makes a pty pair; its
//! replica (slave) is /dev/pts/N.
//!
//! A pty is two byte queues joined by a line discipline ([`Ldisc`], Linux's
//! N_TTY): what the master writes is input, edited (canonical mode),
//! echoed and turned into signals (ISIG) before the replica reads it; what
//! the replica writes is output, processed (OPOST: ONLCR ...) before the
//! master reads it. Both queues are bounded (64 KiB); a writer that finds
//! its queue full blocks, or gets EAGAIN.
//!
//! Sessions: a session has at most one controlling terminal and a terminal
//! at most one session. The terminal keeps its session and foreground
//! process group (as Linux's `tty->session`, `tty->pgrp`); a task's
//! controlling terminal is the pty whose session is the task's, while that
//! session's leader lives (Linux drops the terminal when the leader exits).
//!
//! Hang-up: closing the master hangs the replica up (reads give EOF,
//! writes EIO, poll POLLHUP) and sends SIGHUP and SIGCONT to the session's
//! leader and SIGHUP to the foreground group. Closing the last replica
//! makes the master's reads give EIO once drained, and poll POLLHUP.
//!
//! Job control: a background group that reads its terminal gets SIGTTIN,
//! one that changes its settings (or writes, with TOSTOP) SIGTTOU.
//!
//! Not done: packet mode (TIOCPKT), TIOCSTI, termios2 (TCGETS2), per-process
//! TIOCNOTTY for members other than the session leader. Canonical mode
//! drops what does not fit in a line, so a writer of one endless line is
//! never blocked (Linux throttles it eventually).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::errno::Errno;
use crate::kernel::exit::send_group;
use crate::kernel::signal::SigInfo;
use crate::kernel::task::Task;
use crate::kernel::waiter::WaitQueue;
use crate::kernel::Kernel;
use crate::vfs::ops::Ctx;
use crate::vfs::{DirEntry, File, FileOps, Inode, InodeRef, Time};

/// Most ptys alive at once (Linux's default kernel.pty.max).
pub const MAX_PTYS: usize = 4096;
/// Bytes each direction buffers.
pub const QUEUE_CAP: usize = 65536;
/// Longest line canonical mode edits (Linux's N_TTY_BUF_SIZE less one:
/// room is kept for the line's end).
const LINE_CAP: usize = 4095;
/// Major number of replicas (Linux's UNIX98_PTY_SLAVE_MAJOR).
pub const PTS_MAJOR: u32 = 136;
/// statfs magic of devpts (Linux's DEVPTS_SUPER_MAGIC).
const DEVPTS_MAGIC: i64 = 0x1cd1;
/// Linux's NCCS for the kernel's `struct termios`.
const NCCS: usize = 19;
/// Size of the kernel's `struct termios` (TCGETS): four flag words,
/// c_line and c_cc.
pub const TERMIOS_LEN: usize = 16 + 1 + NCCS;
/// Inode number of the devpts root.
const ROOT_INO: u64 = 1;

// ---------------------------------------------------------------------------
// termios

/// The kernel's `struct termios` (not glibc's, which has speeds after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
}

impl Termios {
    /// A pty replica's termios as Linux sets it up (tty_std_termios with
    /// the pty driver's c_cflag, which has no HUPCL).
    pub fn linux_default() -> Termios {
        let mut cc = [0u8; NCCS];
        cc[libc::VINTR] = 0x03; // ^C
        cc[libc::VQUIT] = 0x1c; // ^\
        cc[libc::VERASE] = 0x7f; // DEL
        cc[libc::VKILL] = 0x15; // ^U
        cc[libc::VEOF] = 0x04; // ^D
        cc[libc::VTIME] = 0;
        cc[libc::VMIN] = 1;
        cc[libc::VSTART] = 0x11; // ^Q
        cc[libc::VSTOP] = 0x13; // ^S
        cc[libc::VSUSP] = 0x1a; // ^Z
        cc[libc::VREPRINT] = 0x12; // ^R
        cc[libc::VDISCARD] = 0x0f; // ^O
        cc[libc::VWERASE] = 0x17; // ^W
        cc[libc::VLNEXT] = 0x16; // ^V
        Termios {
            iflag: libc::ICRNL | libc::IXON,
            oflag: libc::OPOST | libc::ONLCR,
            cflag: libc::B38400 | libc::CS8 | libc::CREAD,
            lflag: libc::ISIG
                | libc::ICANON
                | libc::ECHO
                | libc::ECHOE
                | libc::ECHOK
                | libc::ECHOCTL
                | libc::ECHOKE
                | libc::IEXTEN,
            line: 0,
            cc,
        }
    }

    pub fn to_bytes(&self) -> [u8; TERMIOS_LEN] {
        let mut b = [0u8; TERMIOS_LEN];
        b[0..4].copy_from_slice(&self.iflag.to_ne_bytes());
        b[4..8].copy_from_slice(&self.oflag.to_ne_bytes());
        b[8..12].copy_from_slice(&self.cflag.to_ne_bytes());
        b[12..16].copy_from_slice(&self.lflag.to_ne_bytes());
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Termios> {
        let word = |i: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
        };
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(b.get(17..TERMIOS_LEN)?);
        Some(Termios {
            iflag: word(0)?,
            oflag: word(4)?,
            cflag: word(8)?,
            lflag: word(12)?,
            line: *b.get(16)?,
            cc,
        })
    }

    fn i(&self, f: u32) -> bool {
        self.iflag & f != 0
    }
    fn o(&self, f: u32) -> bool {
        self.oflag & f != 0
    }
    fn l(&self, f: u32) -> bool {
        self.lflag & f != 0
    }

    /// Whether `c` is the special character at `idx`; 0 disables one
    /// (_POSIX_VDISABLE).
    fn is(&self, c: u8, idx: usize) -> bool {
        c != 0 && self.cc[idx] == c
    }
}

// ---------------------------------------------------------------------------
// Line discipline

fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

fn is_utf8_continuation(c: u8) -> bool {
    c & 0xc0 == 0x80
}

/// Linux's N_TTY for one pty, without locking or blocking: the pty wraps
/// it in a mutex and blocks around it.
pub struct Ldisc {
    pub termios: Termios,
    /// Canonical mode: complete lines, each read whole or in pieces, never
    /// two in one read. An empty line is an end-of-file (VEOF at the start
    /// of a line): its read returns 0.
    lines: VecDeque<Vec<u8>>,
    lines_len: usize,
    /// Canonical mode: the line being edited.
    edit: Vec<u8>,
    /// The output column where `edit` started (to erase tabs).
    edit_column: usize,
    /// Non-canonical mode: bytes ready to read.
    raw: VecDeque<u8>,
    /// Processed output and echoes, for the master to read.
    out: VecDeque<u8>,
    /// Output column (ONOCR, tabs).
    column: usize,
    /// VLNEXT seen: the next character is taken literally.
    lnext: bool,
    /// Output stopped by VSTOP (IXON) or TCOOFF.
    pub stopped: bool,
}

impl Default for Ldisc {
    fn default() -> Self {
        Ldisc::new()
    }
}

impl Ldisc {
    pub fn new() -> Ldisc {
        Ldisc {
            termios: Termios::linux_default(),
            lines: VecDeque::new(),
            lines_len: 0,
            edit: Vec::new(),
            edit_column: 0,
            raw: VecDeque::new(),
            out: VecDeque::new(),
            column: 0,
            lnext: false,
            stopped: false,
        }
    }

    fn canonical(&self) -> bool {
        self.termios.l(libc::ICANON)
    }

    /// Whether input can take another character (else a master write
    /// waits for the replica to read).
    pub fn can_receive(&self) -> bool {
        if self.canonical() {
            self.lines_len + self.edit.len() < QUEUE_CAP
        } else {
            self.raw.len() < QUEUE_CAP
        }
    }

    /// Takes input (what the master wrote) until it is used up or the
    /// input queue is full. Returns how much was taken and the signals the
    /// foreground process group must get (ISIG).
    pub fn receive(&mut self, data: &[u8]) -> (usize, Vec<i32>) {
        let mut sigs = Vec::new();
        let mut n = 0;
        for &c in data {
            if !self.can_receive() {
                break;
            }
            if let Some(s) = self.receive_char(c) {
                sigs.push(s);
            }
            n += 1;
        }
        (n, sigs)
    }

    fn receive_char(&mut self, mut c: u8) -> Option<i32> {
        let t = self.termios;
        if t.i(libc::ISTRIP) {
            c &= 0x7f;
        }
        if self.lnext {
            self.lnext = false;
            self.put_normal(c);
            return None;
        }
        if t.i(libc::IXON) {
            if t.is(c, libc::VSTART) {
                self.stopped = false;
                return None;
            }
            if t.is(c, libc::VSTOP) {
                self.stopped = true;
                return None;
            }
            if self.stopped && t.i(libc::IXANY) {
                self.stopped = false;
            }
        }
        if t.l(libc::ISIG) {
            let sig = if t.is(c, libc::VINTR) {
                Some(libc::SIGINT)
            } else if t.is(c, libc::VQUIT) {
                Some(libc::SIGQUIT)
            } else if t.is(c, libc::VSUSP) {
                Some(libc::SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                if !t.l(libc::NOFLSH) {
                    self.flush_input();
                    self.out.clear();
                }
                if t.i(libc::IXON) {
                    self.stopped = false;
                }
                if t.l(libc::ECHO) {
                    self.echo(c);
                }
                return Some(sig);
            }
        }
        if c == b'\r' {
            if t.i(libc::IGNCR) {
                return None;
            }
            if t.i(libc::ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.i(libc::INLCR) {
            c = b'\r';
        }
        if !self.canonical() {
            self.put_normal(c);
            return None;
        }
        let iexten = t.l(libc::IEXTEN);
        if t.is(c, libc::VERASE) {
            self.erase(Erase::Char);
        } else if t.is(c, libc::VKILL) {
            self.erase(Erase::Line);
        } else if iexten && t.is(c, libc::VWERASE) {
            self.erase(Erase::Word);
        } else if iexten && t.is(c, libc::VLNEXT) {
            self.lnext = true;
            if t.l(libc::ECHO) && t.l(libc::ECHOCTL) {
                // Linux shows a caret and backs over it.
                self.output_echo(b"^\x08");
            }
        } else if iexten && t.is(c, libc::VREPRINT) {
            if t.l(libc::ECHO) {
                self.echo(c);
                self.output_echo(b"\n");
                let line = self.edit.clone();
                self.edit_column = self.column;
                for b in line {
                    self.echo(b);
                }
            }
        } else if c == b'\n' {
            if t.l(libc::ECHO) || t.l(libc::ECHONL) {
                self.echo(b'\n');
            }
            self.edit.push(b'\n');
            self.end_line();
        } else if t.is(c, libc::VEOF) {
            // The end-of-file character ends the line and is not kept.
            self.end_line();
        } else if t.is(c, libc::VEOL) || (iexten && t.is(c, libc::VEOL2)) {
            if t.l(libc::ECHO) {
                self.echo(c);
            }
            self.edit.push(c);
            self.end_line();
        } else {
            self.put_normal(c);
        }
        None
    }

    fn put_normal(&mut self, c: u8) {
        if self.canonical() {
            if self.edit.len() >= LINE_CAP {
                // Linux drops what does not fit in a line (and rings).
                return;
            }
            if self.edit.is_empty() {
                self.edit_column = self.column;
            }
            self.edit.push(c);
        } else {
            self.raw.push_back(c);
        }
        if self.termios.l(libc::ECHO) {
            self.echo(c);
        }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.edit);
        self.lines_len += line.len();
        self.lines.push_back(line);
    }

    fn erase(&mut self, kind: Erase) {
        let t = self.termios;
        if self.edit.is_empty() {
            return;
        }
        let echo = t.l(libc::ECHO);
        if kind == Erase::Line {
            if !echo {
                self.edit.clear();
                return;
            }
            if !t.l(libc::ECHOK) || !t.l(libc::ECHOKE) || !t.l(libc::ECHOE) {
                self.edit.clear();
                self.echo(t.cc[libc::VKILL]);
                if t.l(libc::ECHOK) {
                    self.output_echo(b"\n");
                }
                return;
            }
        }
        if echo && !t.l(libc::ECHOE) && kind == Erase::Char {
            // Without ECHOE the erase character itself is shown.
            self.pop_char();
            self.echo(t.cc[libc::VERASE]);
            return;
        }
        let mut seen_alnum = false;
        while let Some(&last) = self.edit.last() {
            if kind == Erase::Word {
                if last.is_ascii_alphanumeric() || last == b'_' {
                    seen_alnum = true;
                } else if seen_alnum {
                    break;
                }
            }
            let c = self.pop_char();
            if echo {
                self.echo_erase(c);
            }
            if kind == Erase::Char {
                break;
            }
        }
    }

    /// Removes the last character of the edited line (a whole UTF-8
    /// sequence with IUTF8); returns its first byte.
    fn pop_char(&mut self) -> u8 {
        let mut c = self.edit.pop().unwrap_or(0);
        if self.termios.i(libc::IUTF8) {
            while is_utf8_continuation(c) {
                match self.edit.pop() {
                    Some(p) => c = p,
                    None => break,
                }
            }
        }
        c
    }

    /// Echoes the removal of `c` (ECHOE): back over it on the screen.
    fn echo_erase(&mut self, c: u8) {
        let ctl = self.termios.l(libc::ECHOCTL);
        if c == b'\t' {
            // Where the tab started: re-measure the line before it.
            let mut col = self.edit_column;
            for &b in &self.edit {
                if b == b'\t' {
                    col = (col | 7) + 1;
                } else if is_cntrl(b) {
                    if ctl {
                        col += 2;
                    }
                } else if !is_utf8_continuation(b) {
                    col += 1;
                }
            }
            let width = ((col | 7) + 1) - col;
            for _ in 0..width {
                self.output_echo(b"\x08");
            }
        } else if is_cntrl(c) && ctl {
            self.output_echo(b"\x08 \x08\x08 \x08");
        } else if !is_cntrl(c) {
            self.output_echo(b"\x08 \x08");
        }
    }

    /// Echoes an input character: control characters as ^X with ECHOCTL.
    fn echo(&mut self, c: u8) {
        let t = self.termios;
        if c != b'\t' && c != b'\n' && is_cntrl(c) && t.l(libc::ECHOCTL) {
            self.output_echo(&[b'^', c ^ 0x40]);
        } else {
            self.output_echo(&[c]);
        }
    }

    /// Echo output: processed like the replica's output; dropped when the
    /// output queue is full (the terminal cannot show it anyway).
    fn output_echo(&mut self, data: &[u8]) {
        for &c in data {
            if !self.output_char(c) {
                break;
            }
        }
    }

    /// Output processing of one character (OPOST); false when the queue
    /// has no room for what it turns into.
    fn output_char(&mut self, c: u8) -> bool {
        let t = self.termios;
        let room = QUEUE_CAP.saturating_sub(self.out.len());
        if !t.o(libc::OPOST) {
            if room == 0 {
                return false;
            }
            self.out.push_back(c);
            return true;
        }
        match c {
            b'\n' => {
                if t.o(libc::ONLRET) {
                    self.column = 0;
                }
                if t.o(libc::ONLCR) {
                    if room < 2 {
                        return false;
                    }
                    self.column = 0;
                    self.out.extend([b'\r', b'\n']);
                    return true;
                }
            }
            b'\r' => {
                if t.o(libc::ONOCR) && self.column == 0 {
                    return true;
                }
                if t.o(libc::OCRNL) {
                    if room == 0 {
                        return false;
                    }
                    if t.o(libc::ONLRET) {
                        self.column = 0;
                    }
                    self.out.push_back(b'\n');
                    return true;
                }
                self.column = 0;
            }
            b'\t' => {
                let spaces = 8 - (self.column & 7);
                if t.oflag & libc::TABDLY == libc::TAB3 {
                    if room < spaces {
                        return false;
                    }
                    self.column += spaces;
                    self.out.extend(std::iter::repeat_n(b' ', spaces));
                    return true;
                }
                self.column += spaces;
            }
            0x08 => self.column = self.column.saturating_sub(1),
            _ => {
                let continuation = t.i(libc::IUTF8) && is_utf8_continuation(c);
                if !is_cntrl(c) && !continuation {
                    self.column += 1;
                }
            }
        }
        if room == 0 {
            return false;
        }
        self.out.push_back(c);
        true
    }

    /// Output from the replica; returns how much of `data` was taken.
    pub fn write_output(&mut self, data: &[u8]) -> usize {
        let mut n = 0;
        for &c in data {
            if !self.output_char(c) {
                break;
            }
            n += 1;
        }
        n
    }

    /// What the master reads.
    pub fn read_output(&mut self, buf: &mut [u8]) -> usize {
        take_front(&mut self.out, buf)
    }

    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    pub fn output_room(&self) -> usize {
        QUEUE_CAP.saturating_sub(self.out.len())
    }

    /// Bytes a read could return now (FIONREAD): complete lines in
    /// canonical mode.
    pub fn input_len(&self) -> usize {
        if self.canonical() {
            self.lines_len
        } else {
            self.raw.len()
        }
    }

    /// Whether a read would find something: a line (even an empty one, an
    /// end-of-file), or at least `min` raw bytes.
    pub fn input_ready(&self, min: usize) -> bool {
        if self.canonical() {
            !self.lines.is_empty()
        } else {
            self.raw.len() >= min.max(1)
        }
    }

    /// A read of what is there, without waiting: in canonical mode from
    /// one line at most. `None`: nothing to read.
    pub fn read_input(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.canonical() {
            let line = self.lines.front_mut()?;
            let n = buf.len().min(line.len());
            buf[..n].copy_from_slice(&line[..n]);
            line.drain(..n);
            if line.is_empty() {
                self.lines.pop_front();
            }
            self.lines_len -= n;
            Some(n)
        } else {
            if self.raw.is_empty() {
                return None;
            }
            Some(take_front(&mut self.raw, buf))
        }
    }

    pub fn flush_input(&mut self) {
        self.lines.clear();
        self.lines_len = 0;
        self.edit.clear();
        self.raw.clear();
        self.lnext = false;
    }

    pub fn flush_output(&mut self) {
        self.out.clear();
    }

    /// New termios (TCSETS*). Switching canonical mode moves what is
    /// buffered over, as Linux does: everything becomes readable when it
    /// goes off; raw bytes become the edited line when it comes on.
    pub fn set_termios(&mut self, new: Termios) {
        let was = self.canonical();
        self.termios = new;
        let now = self.canonical();
        if was && !now {
            for line in self.lines.drain(..) {
                self.raw.extend(line);
            }
            self.lines_len = 0;
            self.raw.extend(self.edit.drain(..));
            self.raw.truncate(QUEUE_CAP);
        } else if !was && now {
            let mut raw: Vec<u8> = self.raw.drain(..).collect();
            raw.truncate(LINE_CAP);
            self.edit_column = self.column;
            self.edit = raw;
        }
        if !new.i(libc::IXON) {
            self.stopped = false;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Erase {
    Char,
    Word,
    Line,
}

fn take_front(q: &mut VecDeque<u8>, buf: &mut [u8]) -> usize {
    let n = buf.len().min(q.len());
    for (d, s) in buf[..n].iter_mut().zip(q.drain(..n)) {
        *d = s;
    }
    n
}

// ---------------------------------------------------------------------------
// The pty pair

struct State {
    ld: Ldisc,
    winsize: libc::winsize,
    /// TIOCSPTLCK: the replica cannot be opened (EIO).
    locked: bool,
    master_open: bool,
    /// Open replica descriptions.
    replicas: usize,
    /// The replica was open and every one is closed (Linux's
    /// TTY_OTHER_CLOSED on the master): master reads give EIO.
    replica_closed: bool,
    /// The session this is the controlling terminal of, and its
    /// foreground process group.
    session: Option<i32>,
    pgrp: Option<i32>,
    /// The kernel of the tasks using it, for signals sent when no task is
    /// at hand (the master's close).
    kernel: Weak<Kernel>,
}

/// One pseudo-terminal.
pub struct Pty {
    index: u32,
    st: Mutex<State>,
    /// Notified on every change of either queue or of the pair's state.
    queue: WaitQueue,
    created: Time,
}

struct Registry {
    ptys: BTreeMap<u32, Weak<Pty>>,
}

/// Every pty of the sandbox by index. A Sentry serves one sandbox, so
/// one table per process is one per devpts, as Linux's single instance.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    ptys: BTreeMap::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ptys alive, by index. The Arcs are made after the registry lock is let
/// go: dropping the last one takes that lock.
fn live_ptys() -> Vec<Arc<Pty>> {
    let weak: Vec<Weak<Pty>> = registry().ptys.values().cloned().collect();
    weak.iter().filter_map(Weak::upgrade).collect()
}

fn find_pty(index: u32) -> Option<Arc<Pty>> {
    let weak = registry().ptys.get(&index).cloned();
    weak.and_then(|w| w.upgrade())
}

impl Drop for Pty {
    fn drop(&mut self) {
        registry().ptys.remove(&self.index);
    }
}

impl Pty {
    /// A new pair, numbered with the lowest free index; ENOSPC past
    /// [`MAX_PTYS`].
    fn new(kernel: Weak<Kernel>) -> Result<Arc<Pty>, Errno> {
        let mut reg = registry();
        if reg.ptys.len() >= MAX_PTYS {
            return Err(Errno::ENOSPC);
        }
        let mut index = 0u32;
        for &k in reg.ptys.keys() {
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
        });
        reg.ptys.insert(index, Arc::downgrade(&pty));
        Ok(pty)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// A replica description, counted until it is dropped. EIO while the
    /// pty is locked or its master is closed, as Linux.
    fn open_replica(self: &Arc<Self>, t: Option<&Task>, flags: i32) -> Result<Arc<Replica>, Errno> {
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
    fn acquire(&self, t: &Task, steal: bool, on_open: bool) -> Result<(), Errno> {
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
            let may_steal = !on_open && steal && t.creds().euid == 0;
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
    fn session(&self, k: &Kernel) -> Option<i32> {
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

    fn is_ctty_of(&self, t: &Task) -> bool {
        let (sid, _) = ids(t);
        self.session(&t.kernel) == Some(sid)
    }

    /// Job control (Linux's __tty_check_change): a background process
    /// group that reads its controlling terminal (`sig` SIGTTIN) or changes
    /// it (SIGTTOU) is sent `sig` and the call restarts once it is
    /// continued. If the caller ignores or blocks the signal, reading is
    /// EIO and changing is allowed; an orphaned group gets EIO (nobody
    /// would continue it).
    fn job_control(&self, t: &Task, sig: i32) -> Result<(), Errno> {
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
        if blocked || crate::kernel::task::ignored(&t.tg, sig, 0) {
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
    fn signal_foreground(&self, k: &Kernel, sig: i32) {
        let pgrp = self.lock().pgrp;
        if let Some(pgrp) = pgrp {
            signal_pgrp(k, pgrp, sig);
        }
    }

    /// Input from the master: returns how much was taken.
    fn master_write(&self, t: &Task, f: &File, buf: &[u8]) -> Result<usize, Errno> {
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

    fn master_read(&self, t: &Task, f: &File, buf: &mut [u8]) -> Result<usize, Errno> {
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

    fn replica_write(&self, t: &Task, f: &File, buf: &[u8]) -> Result<usize, Errno> {
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

    fn replica_read(&self, t: &Task, f: &File, buf: &mut [u8]) -> Result<usize, Errno> {
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

    fn take_input(&self, buf: &mut [u8]) -> Option<usize> {
        let n = self.lock().ld.read_input(buf);
        if n.is_some() {
            self.queue.notify_all();
        }
        n
    }

    /// The master is gone: hang the replica up.
    fn master_closed(&self) {
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

    fn replica_dropped(&self) {
        {
            let mut st = self.lock();
            st.replicas = st.replicas.saturating_sub(1);
            if st.replicas == 0 {
                st.replica_closed = true;
            }
        }
        self.queue.notify_all();
    }

    fn stat(&self) -> libc::stat {
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
    fn common_ioctl(&self, t: &Task, master: bool, cmd: u64, arg: u64) -> Result<u64, Errno> {
        match cmd {
            libc::TCGETS => {
                let b = self.lock().ld.termios.to_bytes();
                t.write_bytes(arg, &b)?;
                Ok(0)
            }
            libc::TCSETS | libc::TCSETSW | libc::TCSETSF => {
                let b = t.read_bytes(arg, TERMIOS_LEN)?;
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
                t.write_bytes(arg, &winsize_bytes(&ws))?;
                Ok(0)
            }
            libc::TIOCSWINSZ => {
                let b = t.read_bytes(arg, 8)?;
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
                t.copy_out(arg, &(n as i32))?;
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
                let p = self.lock().pgrp.unwrap_or(0);
                t.copy_out(arg, &p)?;
                Ok(0)
            }
            libc::TIOCSPGRP => {
                if !self.is_ctty_of(t) {
                    return Err(Errno::ENOTTY);
                }
                let pgrp: i32 = t.copy_in(arg)?;
                if pgrp < 0 {
                    return Err(Errno::EINVAL);
                }
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
                t.copy_out(arg, &sid)?;
                Ok(0)
            }
            libc::TIOCGETD => {
                t.copy_out(arg, &0i32)?; // N_TTY
                Ok(0)
            }
            libc::TIOCSETD => {
                let ld: i32 = t.copy_in(arg)?;
                if ld != 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(0)
            }
            libc::TIOCEXCL | libc::TIOCNXCL => Ok(0),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn readiness(&self, master: bool, mask: i16) -> i16 {
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

fn winsize_bytes(w: &libc::winsize) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&w.ws_row.to_ne_bytes());
    b[2..4].copy_from_slice(&w.ws_col.to_ne_bytes());
    b[4..6].copy_from_slice(&w.ws_xpixel.to_ne_bytes());
    b[6..8].copy_from_slice(&w.ws_ypixel.to_ne_bytes());
    b
}

fn winsize_from(b: &[u8]) -> Option<libc::winsize> {
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
fn ids(t: &Task) -> (i32, i32) {
    let i = t.tg.inner.lock().unwrap_or_else(|e| e.into_inner());
    (i.sid, i.pgid)
}

/// Whether the leader of session `sid` is alive (a terminal belongs to a
/// session only that long).
fn session_alive(k: &Kernel, sid: i32) -> bool {
    k.group(sid).is_some_and(|g| {
        let i = g.inner.lock().unwrap_or_else(|e| e.into_inner());
        i.exit.is_none() && i.sid == sid
    })
}

/// Sends `sig` from the terminal to every process of group `pgrp`.
fn signal_pgrp(k: &Kernel, pgrp: i32, sig: i32) {
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
fn pgrp_orphaned(k: &Kernel, pgid: i32, sid: i32) -> bool {
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
    live_ptys().into_iter().find(|p| {
        let same_kernel = p
            .lock()
            .kernel
            .upgrade()
            .is_some_and(|k| Arc::ptr_eq(&k, &t.kernel));
        same_kernel && p.session(&t.kernel) == Some(sid)
    })
}

// ---------------------------------------------------------------------------
// Open files

/// The master end (/dev/ptmx).
pub struct Master {
    pty: Arc<Pty>,
}

impl Drop for Master {
    fn drop(&mut self) {
        self.pty.master_closed();
    }
}

/// Opens /dev/ptmx: a new pty's master.
pub fn open_master(t: Option<&Task>) -> Result<Arc<dyn FileOps>, Errno> {
    let kernel = t.map_or_else(Weak::new, |t| Arc::downgrade(&t.kernel));
    let pty = Pty::new(kernel)?;
    Ok(Arc::new(Master { pty }))
}

/// Opens /dev/tty: the caller's controlling terminal (ENXIO without one).
pub fn open_controlling(t: Option<&Task>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
    let t = t.ok_or(Errno::ENXIO)?;
    let pty = controlling_pty(t).ok_or(Errno::ENXIO)?;
    Ok(pty.open_replica(Some(t), flags | libc::O_NOCTTY)?)
}

impl FileOps for Master {
    fn read(&self, t: &Task, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        self.pty.master_read(t, f, buf)
    }
    fn write(&self, t: &Task, f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        self.pty.master_write(t, f, buf)
    }
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut s = self.pty.stat();
        s.st_mode = libc::S_IFCHR | 0o666;
        s.st_rdev = libc::makedev(5, 2);
        Ok(s)
    }
    fn ioctl(&self, t: &Task, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        match u64::from(cmd) {
            libc::TIOCGPTN => {
                t.copy_out(arg, &self.pty.index)?;
                Ok(0)
            }
            libc::TIOCSPTLCK => {
                let lock: i32 = t.copy_in(arg)?;
                self.pty.lock().locked = lock != 0;
                Ok(0)
            }
            libc::TIOCGPTLCK => {
                let locked = i32::from(self.pty.lock().locked);
                t.copy_out(arg, &locked)?;
                Ok(0)
            }
            libc::TIOCGPTPEER => self.open_peer(t, arg),
            c => self.pty.common_ioctl(t, true, c, arg),
        }
    }
    fn readable_bytes(&self) -> Option<u64> {
        Some(self.pty.lock().ld.output_len() as u64)
    }
    fn readiness(&self, mask: i16) -> i16 {
        self.pty.readiness(true, mask)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }
    fn name(&self) -> Vec<u8> {
        b"/dev/ptmx".to_vec()
    }
}

/// A pty for a runtime's console (`--console-socket`, issue 4): the master
/// for the host side, an unlocked replica for the container's stdio. Make
/// it the init's terminal with [`Master::set_controlling`]; move bytes with
/// [`Master::read_nowait`] and [`Master::write_nowait`], waiting on
/// `FileOps::wait_queue` between them.
pub fn new_console(kernel: &Arc<Kernel>) -> Result<(Arc<Master>, Arc<Replica>), Errno> {
    let pty = Pty::new(Arc::downgrade(kernel))?;
    pty.lock().locked = false;
    let replica = pty.open_replica(None, libc::O_RDWR | libc::O_NOCTTY)?;
    Ok((Arc::new(Master { pty }), replica))
}

impl Master {
    /// The pty's number: its replica is /dev/pts/N.
    pub fn index(&self) -> u32 {
        self.pty.index
    }

    /// Makes the terminal the controlling terminal of session `sid` with
    /// `pgid` in the foreground (a console given to init before it runs).
    pub fn set_controlling(&self, kernel: &Arc<Kernel>, sid: i32, pgid: i32) {
        let mut st = self.pty.lock();
        st.session = Some(sid);
        st.pgrp = Some(pgid);
        st.kernel = Arc::downgrade(kernel);
    }

    /// What the replica side printed, without blocking: `Ok(0)` when there
    /// is nothing yet, EIO once every replica is closed and all is read.
    pub fn read_nowait(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = {
            let mut st = self.pty.lock();
            let n = st.ld.read_output(buf);
            if n == 0 && st.replica_closed && !buf.is_empty() {
                return Err(Errno::EIO);
            }
            n
        };
        if n > 0 {
            self.pty.queue.notify_all();
        }
        Ok(n)
    }

    /// Typed input, without blocking: how much was taken (maybe 0 when
    /// the input queue is full). Terminal signals go to the foreground
    /// group through `kernel`.
    pub fn write_nowait(&self, kernel: &Kernel, data: &[u8]) -> usize {
        let (n, sigs) = self.pty.lock().ld.receive(data);
        if n > 0 {
            self.pty.queue.notify_all();
        }
        for sig in sigs {
            self.pty.signal_foreground(kernel, sig);
        }
        n
    }

    /// Resizes the terminal (the host's window changed): SIGWINCH to the
    /// foreground group if it did change.
    pub fn set_window_size(&self, kernel: &Kernel, ws: libc::winsize) {
        let changed = {
            let mut st = self.pty.lock();
            let changed = winsize_bytes(&st.winsize) != winsize_bytes(&ws);
            st.winsize = ws;
            changed
        };
        if changed {
            self.pty.signal_foreground(kernel, libc::SIGWINCH);
        }
    }

    /// TIOCGPTPEER: the replica opened from the master, with `arg` as
    /// open flags, without a path lookup's races.
    fn open_peer(&self, t: &Task, arg: u64) -> Result<u64, Errno> {
        let allowed = libc::O_ACCMODE | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let flags = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
        if flags & !allowed != 0 {
            return Err(Errno::EINVAL);
        }
        let ops = self.pty.open_replica(Some(t), flags)?;
        // The dentry of /dev/pts/N if the caller's namespace shows it
        // (for ttyname); a description without one otherwise.
        let path = format!("/dev/pts/{}", self.pty.index);
        let ctx = Ctx::of(t);
        let dentry = crate::vfs::ops::walk(&ctx, t.fs.root(), path.as_bytes(), true)
            .ok()
            .filter(|d| {
                d.inode
                    .stat()
                    .is_ok_and(|s| s.st_rdev == self.pty.stat().st_rdev)
            });
        let file = File::new(
            ops,
            dentry,
            (flags & !(libc::O_CLOEXEC | libc::O_NOCTTY)) | crate::vfs::O_LARGEFILE,
        );
        let fd = t.fds.install(file, flags & libc::O_CLOEXEC != 0)?;
        Ok(fd as u64)
    }
}

/// A replica end (/dev/pts/N, /dev/tty).
pub struct Replica {
    pty: Arc<Pty>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.pty.replica_dropped();
    }
}

impl FileOps for Replica {
    fn read(&self, t: &Task, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        if self.pty.lock().master_open {
            self.pty.job_control(t, libc::SIGTTIN)?;
        }
        self.pty.replica_read(t, f, buf)
    }
    fn write(&self, t: &Task, f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let tostop = {
            let st = self.pty.lock();
            st.master_open && st.ld.termios.l(libc::TOSTOP)
        };
        if tostop {
            self.pty.job_control(t, libc::SIGTTOU)?;
        }
        self.pty.replica_write(t, f, buf)
    }
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(self.pty.stat())
    }
    fn ioctl(&self, t: &Task, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        if !self.pty.lock().master_open {
            // A hung-up terminal answers nothing.
            return Err(Errno::EIO);
        }
        match u64::from(cmd) {
            libc::TIOCGPTN | libc::TIOCSPTLCK | libc::TIOCGPTLCK | libc::TIOCGPTPEER => {
                Err(Errno::ENOTTY)
            }
            c @ (libc::TCSETS
            | libc::TCSETSW
            | libc::TCSETSF
            | libc::TCFLSH
            | libc::TCXONC
            | libc::TIOCSPGRP) => {
                // Changing the terminal from a background job stops it.
                self.pty.job_control(t, libc::SIGTTOU)?;
                self.pty.common_ioctl(t, false, c, arg)
            }
            c => self.pty.common_ioctl(t, false, c, arg),
        }
    }
    fn readable_bytes(&self) -> Option<u64> {
        Some(self.pty.lock().ld.input_len() as u64)
    }
    fn readiness(&self, mask: i16) -> i16 {
        self.pty.readiness(false, mask)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }
    fn name(&self) -> Vec<u8> {
        format!("/dev/pts/{}", self.pty.index).into_bytes()
    }
}

// ---------------------------------------------------------------------------
// The filesystem: /dev/pts

/// A fresh devpts root: lists the replicas of live ptys.
pub fn new_devpts() -> InodeRef {
    Arc::new(PtsDir {
        created: Time::now(),
    })
}

struct PtsDir {
    created: Time,
}

impl Inode for PtsDir {
    fn ino(&self) -> u64 {
        ROOT_INO
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_ino = ROOT_INO;
        s.st_mode = libc::S_IFDIR | 0o755;
        s.st_nlink = 2;
        s.st_blksize = 1024;
        s.st_atime = self.created.sec;
        s.st_mtime = self.created.sec;
        s.st_ctime = self.created.sec;
        Ok(s)
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o755
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        if name == b"ptmx" {
            return Ok(Arc::new(PtmxNode {
                created: self.created,
            }));
        }
        let s = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        // Only canonical numbers: "01" or "+1" are not entries.
        if s.is_empty()
            || (s.len() > 1 && s.starts_with('0'))
            || !s.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Errno::ENOENT);
        }
        let index: u32 = s.parse().map_err(|_| Errno::ENOENT)?;
        let pty = find_pty(index).ok_or(Errno::ENOENT)?;
        if !pty.lock().master_open {
            return Err(Errno::ENOENT);
        }
        Ok(Arc::new(PtsNode { pty }))
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut v = vec![DirEntry {
            ino: ROOT_INO + 1,
            ty: libc::DT_CHR,
            name: b"ptmx".to_vec(),
        }];
        for p in live_ptys() {
            if p.lock().master_open {
                v.push(DirEntry {
                    ino: p.stat().st_ino,
                    ty: libc::DT_CHR,
                    name: p.index.to_string().into_bytes(),
                });
            }
        }
        Ok(v)
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(DEVPTS_MAGIC, 0, 0))
    }
}

/// /dev/pts/N.
struct PtsNode {
    pty: Arc<Pty>,
}

impl Inode for PtsNode {
    fn ino(&self) -> u64 {
        self.pty.stat().st_ino
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(self.pty.stat())
    }
    fn mode(&self) -> u32 {
        libc::S_IFCHR | 0o620
    }
    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(self.pty.open_replica(None, flags)?)
    }
    fn open_by(self: Arc<Self>, flags: i32, ctx: &Ctx<'_>) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(self.pty.open_replica(ctx.task, flags)?)
    }
}

/// /dev/pts/ptmx: another way to make a pty (mode 0000 on Linux unless
/// mounted with ptmxmode; kept 0666 here as /dev/ptmx).
struct PtmxNode {
    created: Time,
}

impl Inode for PtmxNode {
    fn ino(&self) -> u64 {
        ROOT_INO + 1
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_ino = ROOT_INO + 1;
        s.st_mode = libc::S_IFCHR;
        s.st_nlink = 1;
        s.st_rdev = libc::makedev(5, 2);
        s.st_atime = self.created.sec;
        s.st_mtime = self.created.sec;
        s.st_ctime = self.created.sec;
        Ok(s)
    }
    fn mode(&self) -> u32 {
        libc::S_IFCHR
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        open_master(None)
    }
    fn open_by(self: Arc<Self>, _flags: i32, ctx: &Ctx<'_>) -> Result<Arc<dyn FileOps>, Errno> {
        open_master(ctx.task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(ld: &mut Ldisc) -> Vec<u8> {
        let mut b = vec![0u8; QUEUE_CAP];
        let n = ld.read_output(&mut b);
        b.truncate(n);
        b
    }

    fn read(ld: &mut Ldisc) -> Option<Vec<u8>> {
        let mut b = vec![0u8; 256];
        let n = ld.read_input(&mut b)?;
        b.truncate(n);
        Some(b)
    }

    #[test]
    fn termios_round_trips_in_the_kernel_layout() {
        let t = Termios::linux_default();
        let b = t.to_bytes();
        assert_eq!(b.len(), 36);
        assert_eq!(Termios::from_bytes(&b), Some(t));
        assert_eq!(Termios::from_bytes(&b[..35]), None);
        assert_eq!(b[17 + libc::VINTR], 3);
    }

    #[test]
    fn canonical_mode_holds_lines_and_edits_them() {
        let mut ld = Ldisc::new();
        ld.receive(b"helo\x7flo");
        assert_eq!(read(&mut ld), None, "no line yet");
        ld.receive(b"\r");
        assert_eq!(read(&mut ld).unwrap(), b"hello\n");
        // ^U kills the line, ^W a word.
        ld.receive(b"junk\x15one two\x17three\n");
        assert_eq!(read(&mut ld).unwrap(), b"one three\n");
        // ^D ends a line without a newline; at a line's start it is EOF.
        ld.receive(b"abc\x04\x04");
        assert_eq!(read(&mut ld).unwrap(), b"abc");
        assert_eq!(read(&mut ld).unwrap(), b"");
        assert_eq!(read(&mut ld), None);
    }

    #[test]
    fn a_short_read_leaves_the_rest_of_the_line_and_never_joins_lines() {
        let mut ld = Ldisc::new();
        ld.receive(b"abcdef\nxy\n");
        let mut b = [0u8; 4];
        assert_eq!(ld.read_input(&mut b), Some(4));
        assert_eq!(&b, b"abcd");
        let mut b = [0u8; 64];
        assert_eq!(ld.read_input(&mut b), Some(3));
        assert_eq!(&b[..3], b"ef\n");
        assert_eq!(ld.input_len(), 3);
    }

    #[test]
    fn echo_shows_input_with_onlcr_and_caret_notation() {
        let mut ld = Ldisc::new();
        ld.receive(b"hi\r");
        assert_eq!(out(&mut ld), b"hi\r\n");
        ld.receive(b"ab\x7f");
        assert_eq!(out(&mut ld), b"ab\x08 \x08");
        ld.receive(b"\x01\x7f");
        assert_eq!(out(&mut ld), b"^A\x08 \x08\x08 \x08");
        ld.receive(b"\x15");
        assert_eq!(out(&mut ld), b"\x08 \x08", "ECHOKE erases the line");
        let (_, sigs) = ld.receive(b"x\x03");
        assert_eq!(sigs, vec![libc::SIGINT]);
        assert_eq!(out(&mut ld), b"^C", "ISIG flushes, then echoes");
        assert_eq!(read(&mut ld), None);
        let mut t = ld.termios;
        t.lflag &= !libc::ECHO;
        ld.set_termios(t);
        ld.receive(b"secret\n");
        assert_eq!(out(&mut ld), b"");
        assert_eq!(read(&mut ld).unwrap(), b"secret\n");
    }

    #[test]
    fn output_processing_onlcr_and_raw() {
        let mut ld = Ldisc::new();
        assert_eq!(ld.write_output(b"a\nb"), 3);
        assert_eq!(out(&mut ld), b"a\r\nb");
        let mut t = ld.termios;
        t.oflag &= !libc::OPOST;
        ld.set_termios(t);
        ld.write_output(b"a\n");
        assert_eq!(out(&mut ld), b"a\n");
        // Tabs expand to the next multiple of 8 (the column counts from
        // the carriage return).
        t.oflag |= libc::OPOST | libc::TAB3;
        ld.set_termios(t);
        ld.write_output(b"\rab\tc");
        assert_eq!(out(&mut ld), b"\rab      c");
    }

    #[test]
    fn non_canonical_mode_gives_bytes_at_once_and_vmin_counts() {
        let mut ld = Ldisc::new();
        let mut t = ld.termios;
        t.lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
        t.iflag &= !libc::ICRNL;
        t.cc[libc::VMIN] = 3;
        ld.set_termios(t);
        ld.receive(b"a\x03\r");
        assert!(ld.input_ready(3));
        assert!(!ld.input_ready(4));
        let mut b = [0u8; 1];
        assert_eq!(ld.read_input(&mut b), Some(1));
        assert_eq!(&b, b"a");
        assert_eq!(read(&mut ld).unwrap(), b"\x03\r");
        assert_eq!(out(&mut ld), b"");
    }

    #[test]
    fn switching_modes_keeps_buffered_input() {
        let mut ld = Ldisc::new();
        ld.receive(b"line\npartial");
        let mut t = ld.termios;
        t.lflag &= !libc::ICANON;
        ld.set_termios(t);
        assert_eq!(read(&mut ld).unwrap(), b"line\npartial");
    }

    #[test]
    fn queues_are_bounded() {
        let mut ld = Ldisc::new();
        let mut t = ld.termios;
        t.lflag &= !(libc::ICANON | libc::ECHO);
        ld.set_termios(t);
        let big = vec![b'x'; QUEUE_CAP + 100];
        let (n, _) = ld.receive(&big);
        assert_eq!(n, QUEUE_CAP);
        assert!(!ld.can_receive());
        assert_eq!(ld.write_output(&big), QUEUE_CAP);
        // Canonical: an overlong line is cut at LINE_CAP, its end kept.
        let mut ld = Ldisc::new();
        ld.set_termios(Termios {
            lflag: ld.termios.lflag & !libc::ECHO,
            ..ld.termios
        });
        ld.receive(&vec![b'y'; 10_000]);
        ld.receive(b"\n");
        assert_eq!(ld.input_len(), LINE_CAP + 1);
    }

    #[test]
    fn ixon_stops_and_starts_output() {
        let mut ld = Ldisc::new();
        ld.receive(b"\x13");
        assert!(ld.stopped);
        ld.receive(b"\x11");
        assert!(!ld.stopped);
        assert_eq!(read(&mut ld), None);
    }

    #[test]
    fn a_console_pair_moves_bytes_without_a_task() {
        let k: Weak<Kernel> = Weak::new();
        let pty = Pty::new(k).unwrap();
        pty.lock().locked = false;
        let replica = pty.open_replica(None, libc::O_RDWR).unwrap();
        let master = Master { pty };
        assert_eq!(master.pty.lock().ld.write_output(b"ok\n"), 3);
        let mut b = [0u8; 16];
        assert_eq!(master.read_nowait(&mut b), Ok(4));
        assert_eq!(&b[..4], b"ok\r\n");
        assert_eq!(master.read_nowait(&mut b), Ok(0));
        drop(replica);
        assert_eq!(master.read_nowait(&mut b), Err(Errno::EIO));
    }

    #[test]
    fn ptys_are_numbered_from_the_lowest_free_index_and_listed() {
        let a = open_master(None).unwrap();
        let b = open_master(None).unwrap();
        let dir = new_devpts();
        let names: Vec<Vec<u8>> = dir.readdir().unwrap().into_iter().map(|e| e.name).collect();
        assert!(names.contains(&b"ptmx".to_vec()));
        let idx = |m: &Arc<dyn FileOps>| {
            let any: &dyn std::any::Any = m.as_ref();
            any.downcast_ref::<Master>().unwrap().pty.index
        };
        let (ia, ib) = (idx(&a), idx(&b));
        assert_ne!(ia, ib);
        assert!(names.contains(&ia.to_string().into_bytes()));
        // Locked until unlockpt.
        let node = dir.lookup(ia.to_string().as_bytes()).unwrap();
        assert_eq!(node.clone().open(libc::O_RDWR).err(), Some(Errno::EIO));
        {
            let any: &dyn std::any::Any = a.as_ref();
            any.downcast_ref::<Master>().unwrap().pty.lock().locked = false;
        }
        let r = node.open(libc::O_RDWR).unwrap();
        assert_eq!(r.stat().unwrap().st_rdev, libc::makedev(PTS_MAJOR, ia));
        drop(a);
        assert_eq!(
            dir.lookup(ia.to_string().as_bytes()).err(),
            Some(Errno::ENOENT)
        );
        assert_eq!(r.readiness(libc::POLLIN) & libc::POLLHUP, libc::POLLHUP);
        assert_eq!(dir.lookup(b"01").err(), Some(Errno::ENOENT));
        drop(r);
        drop(b);
    }
}
