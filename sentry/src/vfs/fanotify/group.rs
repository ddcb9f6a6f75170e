//! A fanotify group: the FileOps of a fanotify_init descriptor, over its
//! queue ([`Shared`]). Reading opens each event's file for the reader
//! (event_f_flags) and hands permission questions over; the reader
//! answers them by writing `struct fanotify_response` with the event's
//! descriptor.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::marks::Marks;
use super::object::Object;
use super::perm::Perm;
use super::queue::{HeldObject, Shared};
use crate::errno::Errno;
use crate::vfs::{Caller, Dentry, File, FileOps};
use crate::waiter::WaitQueue;

/// A fanotify group, as a file.
pub struct Group {
    shared: Arc<Shared>,
    /// The marks of the VFS it was made in.
    marks: Arc<Marks>,
    ino: u64,
}

impl Group {
    pub fn new(marks: &Arc<Marks>, flags: u32, event_flags: i32, unprivileged: bool) -> Group {
        Group {
            shared: Arc::new(Shared::new(flags, event_flags, unprivileged)),
            marks: marks.clone(),
            ino: crate::vfs::anon::anon_ino(),
        }
    }

    pub fn flags(&self) -> u32 {
        self.shared.flags
    }

    /// FAN_MARK_ADD of `mask` on `obj` (the ignore mask with `ignore`).
    pub fn add_mark(
        &self,
        obj: Object,
        held: HeldObject,
        mask: u64,
        ignore: bool,
        flags: u32,
    ) -> Result<(), Errno> {
        if self.marks.add(&self.shared, obj, mask, ignore, flags)? {
            self.shared.hold(obj, held);
        }
        Ok(())
    }

    /// FAN_MARK_REMOVE.
    pub fn remove_mark(&self, obj: Object, mask: u64, ignore: bool) -> Result<(), Errno> {
        if self.marks.remove(&self.shared, obj, mask, ignore)? {
            self.shared.unhold(&obj);
        }
        Ok(())
    }

    /// FAN_MARK_FLUSH: the group's marks of one kind go.
    pub fn flush(&self, kind: fn(&Object) -> bool) {
        let objs: Vec<Object> = {
            let mut st = self.shared.lock();
            let objs: Vec<Object> = st.objects.keys().filter(|o| kind(o)).copied().collect();
            for o in &objs {
                st.objects.remove(o);
            }
            objs
        };
        self.marks
            .drop_marks(Arc::as_ptr(&self.shared), objs.into_iter());
    }

    /// Opens the event's file for the reader, as fanotify does: with the
    /// group's event_f_flags, no permission check and no events of its own.
    fn open_fd(&self, t: &dyn Caller, d: &Arc<Dentry>) -> Result<i32, Errno> {
        let flags = self.shared.event_flags & !libc::O_CLOEXEC;
        let ctx = crate::vfs::ops::Ctx::of(t);
        let ops = d.inode.clone().open_by(flags, &ctx)?;
        let f = File::new_unwatched(ops, Some(d.clone()), flags);
        t.fds()
            .install(f, self.shared.event_flags & libc::O_CLOEXEC != 0)
    }

    /// The events that fit in `buf`, without blocking: None when none is
    /// queued.
    fn try_read(&self, t: &dyn Caller, buf: &mut [u8]) -> Option<Result<usize, Errno>> {
        let mut out = Vec::new();
        loop {
            let ev = {
                let mut st = self.shared.lock();
                // Holes left by withdrawn questions.
                while st.events.front().is_some_and(|e| e.mask == 0) {
                    st.events.pop_front();
                    st.front += 1;
                }
                let Some(first) = st.events.front() else {
                    break;
                };
                if out.len() + first.len(self.shared.flags) > buf.len() {
                    if out.is_empty() {
                        return Some(Err(Errno::EINVAL));
                    }
                    break;
                }
                let ev = st.events.pop_front().expect("front exists");
                st.front += 1;
                if let Some(k) = ev.merge_key() {
                    st.merge.remove(&k);
                }
                if ev.mask & libc::FAN_Q_OVERFLOW != 0 {
                    self.shared.overflow_pending.store(false, Ordering::Relaxed);
                }
                ev
            };
            let fd = match &ev.path {
                Some(d) if !self.shared.reports_fid() => match self.open_fd(t, d) {
                    Ok(fd) => fd,
                    Err(e) => {
                        if let Some(p) = &ev.perm {
                            p.answer(libc::FAN_DENY);
                        }
                        if out.is_empty() {
                            return Some(Err(e));
                        }
                        break;
                    }
                },
                _ => libc::FAN_NOFD,
            };
            let pid = if ev.pid == 0 || self.shared.unprivileged && ev.pid != t.tgid() {
                0
            } else {
                t.pid_seen(ev.pid)
            };
            ev.encode(self.shared.flags, fd, pid, &mut out);
            if let Some(p) = ev.perm {
                self.shared.lock().asked.insert(fd, p);
            }
        }
        if out.is_empty() {
            return None;
        }
        buf[..out.len()].copy_from_slice(&out);
        Some(Ok(out.len()))
    }

    fn queued_bytes(&self) -> usize {
        let flags = self.shared.flags;
        self.shared.lock().events.iter().map(|e| e.len(flags)).sum()
    }
}

impl Drop for Group {
    /// The group goes: its marks go and every question is allowed.
    fn drop(&mut self) {
        let (objs, perms) = {
            let mut st = self.shared.lock();
            st.closed = true;
            let objs: Vec<Object> = st.objects.drain().map(|(o, _)| o).collect();
            let mut perms: Vec<Arc<Perm>> = st.asked.drain().map(|(_, p)| p).collect();
            perms.extend(st.events.drain(..).filter_map(|e| e.perm));
            st.merge.clear();
            (objs, perms)
        };
        self.marks
            .drop_marks(Arc::as_ptr(&self.shared), objs.into_iter());
        for p in perms {
            p.answer(libc::FAN_ALLOW);
        }
    }
}

impl FileOps for Group {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        loop {
            if let Some(r) = self.try_read(t, buf) {
                return r;
            }
            if f.nonblocking() {
                return Err(Errno::EAGAIN);
            }
            t.block(&[&self.shared.queue], None, &mut || {
                !self.shared.lock().events.is_empty()
            })?;
        }
    }

    /// A `struct fanotify_response`: the descriptor of a permission event
    /// read, and FAN_ALLOW or FAN_DENY.
    fn write(&self, _t: &dyn Caller, _f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let size = std::mem::size_of::<libc::fanotify_response>();
        if buf.len() < size {
            return Err(Errno::EINVAL);
        }
        let fd = i32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes"));
        let response = u32::from_ne_bytes(buf[4..8].try_into().expect("4 bytes"));
        let access = response & !(libc::FAN_AUDIT | libc::FAN_INFO);
        if access != libc::FAN_ALLOW && access != libc::FAN_DENY {
            return Err(Errno::EINVAL);
        }
        if response & libc::FAN_AUDIT != 0 && self.shared.flags & libc::FAN_ENABLE_AUDIT == 0 {
            return Err(Errno::EINVAL);
        }
        if response & libc::FAN_INFO != 0 || fd < 0 {
            return Err(Errno::EINVAL);
        }
        let p = self.shared.lock().asked.remove(&fd).ok_or(Errno::ENOENT)?;
        p.answer(access);
        Ok(size)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        crate::vfs::anon::anon_stat(self.ino)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.queued_bytes() as u64)
    }

    fn readiness(&self, mask: i16) -> i16 {
        if self.shared.lock().events.is_empty() {
            0
        } else {
            mask & (libc::POLLIN | libc::POLLRDNORM)
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.shared.queue)
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[fanotify]".to_vec()
    }
}
