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
use crate::kernel::signal::SigInfo;
use crate::kernel::signal_send::send_group;
use crate::kernel::task::Task;
use crate::kernel::Kernel;
use crate::vfs::ops::Ctx;
use crate::vfs::{Caller, DirEntry, File, FileOps, Inode, InodeRef, Time};
use crate::waiter::WaitQueue;

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

mod line_discipline;
mod master;
mod replica;
mod terminal;
mod termios;

pub use line_discipline::*;
pub use master::*;
pub use replica::*;
pub use terminal::*;
pub use termios::*;

// ---------------------------------------------------------------------------
// The filesystem: /dev/pts

/// devpts for mount(2): its options are checked and shown as the one
/// terminal table serving every devpts mount has them. It holds that
/// table: registered once per VFS (`fsimpl::namespace`), so each
/// namespace has its own ptys, as gVisor's devpts `FilesystemType` holds
/// its single instance.
#[derive(Default)]
pub struct DevptsType {
    ptys: Arc<Ptys>,
}

/// The ptys of `vfs`: those of the devpts type registered in it (None if
/// none is).
pub fn ptys_of(vfs: &crate::vfs::Vfs) -> Option<Arc<Ptys>> {
    let t = vfs.filesystem_type("devpts")?;
    let devpts = t.as_any()?.downcast_ref::<DevptsType>()?;
    Some(devpts.ptys.clone())
}

impl crate::vfs::FilesystemType for DevptsType {
    fn new_instance(
        &self,
        _vfs: &Weak<crate::vfs::Vfs>,
        opts: &[crate::vfs::MountOption],
    ) -> Result<crate::vfs::Instance, Errno> {
        use crate::vfs::filesystem_type::{parse_id, parse_mode};
        for (k, v) in opts {
            let v = v.as_deref();
            match k.as_str() {
                "uid" | "gid" => {
                    parse_id(v)?;
                }
                "mode" | "ptmxmode" => {
                    parse_mode(v)?;
                }
                "max" => {
                    v.and_then(|x| x.parse::<u32>().ok()).ok_or(Errno::EINVAL)?;
                }
                "newinstance" if v.is_none() => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        // Its nodes have these modes whatever the options asked for.
        Ok(crate::vfs::Instance {
            root: new_devpts(&self.ptys),
            shown: vec!["mode=620,ptmxmode=666".to_string()],
        })
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// A fresh devpts root: lists the replicas of the live ptys of `ptys`.
pub fn new_devpts(ptys: &Arc<Ptys>) -> InodeRef {
    Arc::new(PtsDir {
        created: Time::now(),
        ptys: ptys.clone(),
    })
}

struct PtsDir {
    created: Time,
    ptys: Arc<Ptys>,
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
                ptys: self.ptys.clone(),
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
        let pty = self.ptys.find(index).ok_or(Errno::ENOENT)?;
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
        for p in self.ptys.live() {
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
        Ok(self
            .pty
            .open_replica(ctx.caller.and_then(Task::of), flags)?)
    }
}

/// /dev/pts/ptmx: another way to make a pty (mode 0000 on Linux unless
/// mounted with ptmxmode; kept 0666 here as /dev/ptmx).
struct PtmxNode {
    created: Time,
    ptys: Arc<Ptys>,
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
        open_master(&self.ptys, None)
    }
    fn open_by(self: Arc<Self>, _flags: i32, ctx: &Ctx<'_>) -> Result<Arc<dyn FileOps>, Errno> {
        open_master(&self.ptys, ctx.caller)
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
        let pty = Pty::new(&Arc::default(), k).unwrap();
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
        let ptys = Arc::default();
        let a = open_master(&ptys, None).unwrap();
        let b = open_master(&ptys, None).unwrap();
        let dir = new_devpts(&ptys);
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
