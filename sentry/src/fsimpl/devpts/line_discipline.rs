//! The line discipline (Linux's N_TTY): input editing, echo, signals
//! and output processing between the two queues of a pty.

use super::*;

pub(super) fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

pub(super) fn is_utf8_continuation(c: u8) -> bool {
    c & 0xc0 == 0x80
}

/// Linux's N_TTY for one pty, without locking or blocking: the pty wraps
/// it in a mutex and blocks around it.
pub struct Ldisc {
    pub termios: Termios,
    /// Canonical mode: complete lines, each read whole or in pieces, never
    /// two in one read. An empty line is an end-of-file (VEOF at the start
    /// of a line): its read returns 0.
    pub(super) lines: VecDeque<Vec<u8>>,
    pub(super) lines_len: usize,
    /// Canonical mode: the line being edited.
    pub(super) edit: Vec<u8>,
    /// The output column where `edit` started (to erase tabs).
    pub(super) edit_column: usize,
    /// Non-canonical mode: bytes ready to read.
    pub(super) raw: VecDeque<u8>,
    /// Processed output and echoes, for the master to read.
    pub(super) out: VecDeque<u8>,
    /// Output column (ONOCR, tabs).
    pub(super) column: usize,
    /// VLNEXT seen: the next character is taken literally.
    pub(super) lnext: bool,
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

    pub(super) fn canonical(&self) -> bool {
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

    pub(super) fn receive_char(&mut self, mut c: u8) -> Option<i32> {
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

    pub(super) fn put_normal(&mut self, c: u8) {
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

    pub(super) fn end_line(&mut self) {
        let line = std::mem::take(&mut self.edit);
        self.lines_len += line.len();
        self.lines.push_back(line);
    }

    pub(super) fn erase(&mut self, kind: Erase) {
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
    pub(super) fn pop_char(&mut self) -> u8 {
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
    pub(super) fn echo_erase(&mut self, c: u8) {
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
    pub(super) fn echo(&mut self, c: u8) {
        let t = self.termios;
        if c != b'\t' && c != b'\n' && is_cntrl(c) && t.l(libc::ECHOCTL) {
            self.output_echo(&[b'^', c ^ 0x40]);
        } else {
            self.output_echo(&[c]);
        }
    }

    /// Echo output: processed like the replica's output; dropped when the
    /// output queue is full (the terminal cannot show it anyway).
    pub(super) fn output_echo(&mut self, data: &[u8]) {
        for &c in data {
            if !self.output_char(c) {
                break;
            }
        }
    }

    /// Output processing of one character (OPOST); false when the queue
    /// has no room for what it turns into.
    pub(super) fn output_char(&mut self, c: u8) -> bool {
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
pub(super) enum Erase {
    Char,
    Word,
    Line,
}

pub(super) fn take_front(q: &mut VecDeque<u8>, buf: &mut [u8]) -> usize {
    let n = buf.len().min(q.len());
    for (d, s) in buf[..n].iter_mut().zip(q.drain(..n)) {
        *d = s;
    }
    n
}
