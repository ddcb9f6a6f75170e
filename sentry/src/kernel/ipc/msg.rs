//! SysV message queues of one IPC namespace (Linux's ipc/msg.c): msgget,
//! msgsnd, msgrcv by type, msgctl.
//!
//! The state machine only, as for semaphores: a send into a full queue or
//! a receive from a queue without a matching message is `Blocked`, and
//! the syscall handler sleeps on the queue's wait queue and tries again;
//! every change of a queue wakes it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::ids::StatBy;
use super::ids::{Ids, IpcObject, Lookup, Perm, Who};
use crate::errno::Errno;
use crate::usermem::{zeroed, Pod};
use crate::vfs::Time;
use crate::waiter::WaitQueue;

/// Linux's defaults (include/uapi/linux/msg.h), as /proc/sys/kernel shows
/// them: the most queues, the largest message, a queue's default size.
pub const MSGMNI: i32 = 32000;
pub const MSGMAX: i32 = 8192;
pub const MSGMNB: i32 = 16384;
const MSGSSZ: i32 = 16;
const MSGPOOL: i32 = MSGMNI * MSGMNB / 1024;
const MSGSEG: u16 = 0xffff;

/// `struct msginfo`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct MsgInfo {
    pub msgpool: i32,
    pub msgmap: i32,
    pub msgmax: i32,
    pub msgmnb: i32,
    pub msgmni: i32,
    pub msgssz: i32,
    pub msgtql: i32,
    pub msgseg: u16,
}

// SAFETY: plain integers (and padding the kernel leaves zero), any bit
// pattern is valid.
unsafe impl Pod for MsgInfo {}

struct Message {
    mtype: i64,
    text: Vec<u8>,
}

struct MsgQueue {
    perm: Perm,
    messages: VecDeque<Message>,
    bytes: u64,
    qbytes: u64,
    stime: i64,
    rtime: i64,
    ctime: i64,
    lspid: i32,
    lrpid: i32,
    waiters: Arc<WaitQueue>,
}

impl IpcObject for MsgQueue {
    fn perm(&self) -> &Perm {
        &self.perm
    }
}

impl MsgQueue {
    fn stat(&self) -> libc::msqid_ds {
        let mut ds: libc::msqid_ds = zeroed();
        ds.msg_perm = self.perm.to_ipc_perm();
        ds.msg_stime = self.stime;
        ds.msg_rtime = self.rtime;
        ds.msg_ctime = self.ctime;
        ds.__msg_cbytes = self.bytes;
        ds.msg_qnum = self.messages.len() as u64;
        ds.msg_qbytes = self.qbytes;
        ds.msg_lspid = self.lspid;
        ds.msg_lrpid = self.lrpid;
        ds
    }

    /// The index of the message msgrcv takes for `mtype` (Linux's
    /// `convert_mode` and `find_msg`).
    fn find(&self, mtype: i64, except: bool) -> Option<usize> {
        match mtype {
            0 => (!self.messages.is_empty()).then_some(0),
            t if t > 0 => self.messages.iter().position(|m| (m.mtype == t) != except),
            t => {
                // The lowest type at most |t|, the first of them.
                let limit = t.checked_neg().unwrap_or(i64::MAX);
                let mut best: Option<(usize, i64)> = None;
                for (i, m) in self.messages.iter().enumerate() {
                    if m.mtype <= limit && best.is_none_or(|(_, b)| m.mtype < b) {
                        best = Some((i, m.mtype));
                    }
                }
                best.map(|(i, _)| i)
            }
        }
    }
}

/// What one try of msgsnd or msgrcv came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    Blocked,
}

fn now() -> i64 {
    Time::now().sec
}

/// The message queues of one IPC namespace.
#[derive(Default)]
pub struct MessageQueues {
    queues: Mutex<Ids<MsgQueue>>,
}

impl MessageQueues {
    fn lock(&self) -> MutexGuard<'_, Ids<MsgQueue>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// msgget(2).
    pub fn get(&self, who: &Who, key: i32, flags: i32) -> Result<i32, Errno> {
        let mut qs = self.lock();
        if let Lookup::Existing(id, q) = qs.lookup(key, flags)? {
            if !q.perm.allows(who, flags) {
                return Err(Errno::EACCES);
            }
            return Ok(id);
        }
        qs.add(MSGMNI as u32, |_, seq| MsgQueue {
            perm: Perm {
                key,
                uid: who.euid,
                gid: who.egid,
                cuid: who.euid,
                cgid: who.egid,
                mode: (flags & 0o777) as u32,
                seq,
            },
            messages: VecDeque::new(),
            bytes: 0,
            qbytes: MSGMNB as u64,
            stime: 0,
            rtime: 0,
            ctime: now(),
            lspid: 0,
            lrpid: 0,
            waiters: Arc::new(WaitQueue::new()),
        })
    }

    /// The checks before a first try (EINVAL, EACCES for `access` 0o222 to
    /// send or 0o444 to receive), and the queue to sleep on.
    pub fn prepare(&self, who: &Who, id: i32, access: i32) -> Result<Arc<WaitQueue>, Errno> {
        let qs = self.lock();
        let q = qs.get(id)?;
        if !q.perm.allows(who, access) {
            return Err(Errno::EACCES);
        }
        Ok(q.waiters.clone())
    }

    /// One try of msgsnd: `Blocked` while the queue is full (Linux counts
    /// both bytes and messages against msg_qbytes); EIDRM when the queue
    /// went while the caller slept.
    pub fn send(
        &self,
        who: &Who,
        id: i32,
        mtype: i64,
        text: &[u8],
        nowait: bool,
    ) -> Result<Outcome<()>, Errno> {
        let mut qs = self.lock();
        let q = qs.get_mut(id).map_err(|_| Errno::EIDRM)?;
        let len = text.len() as u64;
        if q.bytes + len > q.qbytes || q.messages.len() as u64 + 1 > q.qbytes {
            return if nowait {
                Err(Errno::EAGAIN)
            } else {
                Ok(Outcome::Blocked)
            };
        }
        q.messages.push_back(Message {
            mtype,
            text: text.to_vec(),
        });
        q.bytes += len;
        q.lspid = who.tgid;
        q.stime = now();
        q.waiters.notify_all();
        Ok(Outcome::Done(()))
    }

    /// One try of msgrcv: the message `mtype` selects (see
    /// [`MsgQueue::find`]) with its type, at most `max` bytes of it with
    /// MSG_NOERROR (E2BIG otherwise, the message kept); with MSG_COPY the
    /// `mtype`th message, left in the queue.
    pub fn receive(
        &self,
        who: &Who,
        id: i32,
        mtype: i64,
        max: usize,
        flags: i32,
    ) -> Result<Outcome<(i64, Vec<u8>)>, Errno> {
        let mut qs = self.lock();
        let q = qs.get_mut(id).map_err(|_| Errno::EIDRM)?;
        let copy = flags & MSG_COPY != 0;
        let found = if copy {
            usize::try_from(mtype)
                .ok()
                .filter(|i| *i < q.messages.len())
        } else {
            q.find(mtype, flags & libc::MSG_EXCEPT != 0)
        };
        let Some(i) = found else {
            return if flags & libc::IPC_NOWAIT != 0 {
                Err(Errno::ENOMSG)
            } else {
                Ok(Outcome::Blocked)
            };
        };
        let m = &q.messages[i];
        if m.text.len() > max && flags & libc::MSG_NOERROR == 0 {
            return Err(Errno::E2BIG);
        }
        if copy {
            return Ok(Outcome::Done((
                m.mtype,
                m.text[..m.text.len().min(max)].to_vec(),
            )));
        }
        let m = q.messages.remove(i).ok_or(Errno::EIDRM)?;
        q.bytes -= m.text.len() as u64;
        q.lrpid = who.tgid;
        q.rtime = now();
        q.waiters.notify_all();
        let mut text = m.text;
        text.truncate(max);
        Ok(Outcome::Done((m.mtype, text)))
    }

    /// IPC_STAT, MSG_STAT, MSG_STAT_ANY.
    pub fn stat(&self, who: &Who, id: i32, by: StatBy) -> Result<(i32, libc::msqid_ds), Errno> {
        let qs = self.lock();
        let (r, q) = qs.for_stat(who, id, by)?;
        Ok((r, q.stat()))
    }

    /// IPC_SET: owner, permission bits and msg_qbytes (raising it past
    /// MSGMNB takes CAP_SYS_RESOURCE).
    pub fn set(&self, who: &Who, id: i32, ds: &libc::msqid_ds) -> Result<(), Errno> {
        let mut qs = self.lock();
        let q = qs.get_mut(id)?;
        q.perm.ipc_set(who, &ds.msg_perm, || {
            if ds.msg_qbytes > MSGMNB as u64 && !who.capable(crate::caps::CAP_SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            Ok(())
        })?;
        q.qbytes = ds.msg_qbytes;
        q.ctime = now();
        q.waiters.notify_all();
        Ok(())
    }

    /// IPC_RMID: the queue and its messages go; sleepers wake to EIDRM.
    pub fn remove(&self, who: &Who, id: i32) -> Result<(), Errno> {
        let mut qs = self.lock();
        if !qs.get(id)?.perm.may_change(who) {
            return Err(Errno::EPERM);
        }
        let q = qs.remove(id).ok_or(Errno::EINVAL)?;
        drop(qs);
        q.waiters.notify_all();
        Ok(())
    }

    /// IPC_INFO (`usage` false) or MSG_INFO: limits, or MSG_INFO's counts
    /// of queues, messages and bytes; msgctl returns the highest index.
    pub fn info(&self, usage: bool) -> (i32, MsgInfo) {
        let qs = self.lock();
        let mut i = MsgInfo {
            msgpool: MSGPOOL,
            msgmap: MSGMNB,
            msgmax: MSGMAX,
            msgmnb: MSGMNB,
            msgmni: MSGMNI,
            msgssz: MSGSSZ,
            msgtql: MSGMNB,
            msgseg: MSGSEG,
        };
        if usage {
            i.msgpool = qs.in_use() as i32;
            i.msgmap = qs.iter().map(|(_, q)| q.messages.len() as i32).sum();
            i.msgtql = qs.iter().map(|(_, q)| q.bytes as i32).sum();
        }
        (qs.max_index().unwrap_or(0) as i32, i)
    }

    /// /proc/sysvipc/msg.
    pub fn proc_listing(&self) -> String {
        let mut o = String::from(
            "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
        );
        for (id, q) in self.lock().iter() {
            let p = &q.perm;
            o += &format!(
                "{:10} {:10}  {:4o}  {:10} {:10} {:5} {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10}\n",
                p.key,
                id,
                p.mode,
                q.bytes,
                q.messages.len(),
                q.lspid,
                q.lrpid,
                p.uid,
                p.gid,
                p.cuid,
                p.cgid,
                q.stime,
                q.rtime,
                q.ctime
            );
        }
        o
    }
}

/// msgrcv's MSG_COPY (Linux's checkpoint/restore flag).
pub const MSG_COPY: i32 = 0o40000;

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Who {
        Who {
            euid: 0,
            egid: 0,
            groups: vec![],
            tgid: 1,
            caps: crate::caps::CapSet::FULL,
        }
    }

    #[test]
    fn receive_picks_by_type_as_linux() {
        let m = MessageQueues::default();
        let w = root();
        let id = m.get(&w, libc::IPC_PRIVATE, 0o600).unwrap();
        for (t, s) in [(3, "c"), (1, "a"), (2, "b"), (1, "a2")] {
            m.send(&w, id, t, s.as_bytes(), true).unwrap();
        }
        let got = |mtype, flags| match m.receive(&w, id, mtype, 64, flags) {
            Ok(Outcome::Done((t, s))) => Ok((t, String::from_utf8(s).unwrap())),
            Ok(Outcome::Blocked) => Err(Errno::EAGAIN),
            Err(e) => Err(e),
        };
        assert_eq!(got(2, 0), Ok((2, "b".into())));
        assert_eq!(got(-3, 0), Ok((1, "a".into())));
        assert_eq!(got(1, libc::MSG_EXCEPT), Ok((3, "c".into())));
        assert_eq!(got(0, MSG_COPY | libc::IPC_NOWAIT), Ok((1, "a2".into())));
        assert_eq!(got(0, 0), Ok((1, "a2".into())));
        assert_eq!(got(0, libc::IPC_NOWAIT), Err(Errno::ENOMSG));
        assert_eq!(got(0, 0), Err(Errno::EAGAIN));
    }

    #[test]
    fn a_full_queue_blocks_and_e2big_keeps_the_message() {
        let m = MessageQueues::default();
        let w = root();
        let id = m.get(&w, libc::IPC_PRIVATE, 0o600).unwrap();
        let big = vec![0u8; MSGMNB as usize];
        assert_eq!(m.send(&w, id, 1, &big, false), Ok(Outcome::Done(())));
        assert_eq!(m.send(&w, id, 1, b"x", false), Ok(Outcome::Blocked));
        assert_eq!(m.send(&w, id, 1, b"x", true), Err(Errno::EAGAIN));
        assert_eq!(m.receive(&w, id, 0, 10, 0), Err(Errno::E2BIG));
        assert!(matches!(
            m.receive(&w, id, 0, 10, libc::MSG_NOERROR),
            Ok(Outcome::Done((1, t))) if t.len() == 10
        ));
        m.remove(&w, id).unwrap();
        assert_eq!(m.send(&w, id, 1, b"x", false), Err(Errno::EIDRM));
    }
}
