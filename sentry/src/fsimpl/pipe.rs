//! Pipes: a bounded byte queue between a read end and a write end.
//!
//! As Linux: 64 KiB of buffer (F_SETPIPE_SZ changes it, up to 1 MiB);
//! writes of at most PIPE_BUF bytes are atomic; a read with nothing
//! buffered blocks while a writer exists and returns 0 (EOF) once none
//! does; a write with no reader left is EPIPE and raises SIGPIPE.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::errno::Errno;
use crate::vfs::Caller;
use crate::vfs::{File, FileOps};
use crate::waiter::WaitQueue;

/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = libc::PIPE_BUF;
/// Default capacity.
pub const DEFAULT_PIPE_SIZE: usize = 65536;
/// Largest capacity F_SETPIPE_SZ grants (Linux's pipe-max-size default).
pub const MAX_PIPE_SIZE: usize = 1 << 20;
const PAGE: usize = 4096;
/// st_dev of pipes (Linux's pipefs is an anonymous device too).
const PIPEFS_DEV: u64 = 0x0c;

struct State {
    buf: VecDeque<u8>,
    capacity: usize,
    readers: usize,
    writers: usize,
}

/// The pipe behind a file (either end, or a FIFO's), if it is one.
pub fn pipe_of(f: &crate::vfs::File) -> Option<&Pipe> {
    f.ops().as_any()?.downcast_ref::<Pipe>()
}

/// One pipe, shared by its ends.
pub struct Pipe {
    st: Mutex<State>,
    queue: WaitQueue,
    ino: u64,
}

/// What a non-blocking step of I/O on a pipe did.
#[derive(Debug, PartialEq, Eq)]
pub enum Io {
    Done(usize),
    /// Read: no data and no writer. Write: no reader.
    Closed,
    WouldBlock,
}

impl Pipe {
    /// A pipe with no ends yet (see [`Pipe::open_end`]).
    pub fn new() -> Arc<Pipe> {
        Arc::new(Pipe {
            st: Mutex::new(State {
                buf: VecDeque::new(),
                capacity: DEFAULT_PIPE_SIZE,
                readers: 0,
                writers: 0,
            }),
            queue: WaitQueue::new(),
            ino: super::anon_ino(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new read or write end; the pipe counts it until it is dropped.
    pub fn open_end(self: &Arc<Self>, write: bool) -> Arc<dyn FileOps> {
        {
            let mut st = self.lock();
            if write {
                st.writers += 1;
            } else {
                st.readers += 1;
            }
        }
        self.queue.notify_all();
        Arc::new(PipeEnd {
            pipe: self.clone(),
            write,
        })
    }

    /// Opening a FIFO (a named pipe) with open(2)'s `flags`: a reader
    /// waits for a writer and a writer for a reader, unless O_NONBLOCK
    /// (then a writer without a reader is ENXIO). O_RDWR is both ends at
    /// once and never waits. `t` is the opener, to sleep on; without one
    /// the open does not wait.
    pub fn open_fifo(
        self: &Arc<Self>,
        flags: i32,
        t: Option<&dyn Caller>,
    ) -> Result<Arc<dyn FileOps>, Errno> {
        let nonblock = flags & libc::O_NONBLOCK != 0;
        match flags & libc::O_ACCMODE {
            libc::O_RDONLY => {
                let end = self.open_end(false);
                if let (false, Some(t)) = (nonblock, t) {
                    t.block(&[&self.queue], None, &mut || self.lock().writers > 0)?;
                }
                Ok(end)
            }
            libc::O_WRONLY => {
                if nonblock && self.lock().readers == 0 {
                    return Err(Errno::ENXIO);
                }
                let end = self.open_end(true);
                if let (false, Some(t)) = (nonblock, t) {
                    t.block(&[&self.queue], None, &mut || self.lock().readers > 0)?;
                }
                Ok(end)
            }
            libc::O_RDWR => {
                let read = self.open_end(false);
                let write = self.open_end(true);
                Ok(Arc::new(FifoRdwr { read, write }))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.lock().buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// F_SETPIPE_SZ: rounds up to whole pages (at least one); EBUSY if
    /// more is buffered than would fit, EPERM past the maximum.
    pub fn set_capacity(&self, want: u64) -> Result<usize, Errno> {
        let want = usize::try_from(want).map_err(|_| Errno::EPERM)?;
        if want > MAX_PIPE_SIZE {
            return Err(Errno::EPERM);
        }
        let size = want.max(PAGE).next_power_of_two();
        let mut st = self.lock();
        if st.buf.len() > size {
            return Err(Errno::EBUSY);
        }
        st.capacity = size;
        drop(st);
        self.queue.notify_all();
        Ok(size)
    }

    /// Takes buffered bytes into `buf`.
    pub fn try_read(&self, buf: &mut [u8]) -> Io {
        let mut st = self.lock();
        if st.buf.is_empty() {
            return if st.writers == 0 {
                Io::Closed
            } else {
                Io::WouldBlock
            };
        }
        let n = buf.len().min(st.buf.len());
        let (a, b) = st.buf.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        st.buf.drain(..n);
        drop(st);
        self.queue.notify_all();
        Io::Done(n)
    }

    /// Buffers what fits of `data`. A write that must be atomic takes all
    /// of `data` or nothing.
    pub fn try_write(&self, data: &[u8], atomic: bool) -> Io {
        let mut st = self.lock();
        if st.readers == 0 {
            return Io::Closed;
        }
        let space = st.capacity.saturating_sub(st.buf.len());
        if space == 0 || (atomic && space < data.len()) {
            return Io::WouldBlock;
        }
        let n = space.min(data.len());
        st.buf.extend(&data[..n]);
        drop(st);
        self.queue.notify_all();
        Io::Done(n)
    }

    /// Copies buffered bytes without consuming them (tee).
    pub fn try_peek(&self, buf: &mut [u8]) -> Io {
        let st = self.lock();
        if st.buf.is_empty() {
            return if st.writers == 0 {
                Io::Closed
            } else {
                Io::WouldBlock
            };
        }
        let n = buf.len().min(st.buf.len());
        for (d, s) in buf[..n].iter_mut().zip(st.buf.iter()) {
            *d = *s;
        }
        Io::Done(n)
    }

    fn readable_now(&self) -> bool {
        let st = self.lock();
        !st.buf.is_empty() || st.writers == 0
    }

    fn writable_now(&self, need: usize) -> bool {
        let st = self.lock();
        st.readers == 0 || st.capacity.saturating_sub(st.buf.len()) >= need
    }

    pub fn wait_queue(&self) -> &WaitQueue {
        &self.queue
    }
}

/// A pipe and its two open file descriptions (read end, write end), for
/// pipe2(2); `flags` may hold O_NONBLOCK.
pub fn new_pipe_files(flags: i32) -> (Arc<File>, Arc<File>) {
    let p = Pipe::new();
    let nb = flags & libc::O_NONBLOCK;
    let r = File::new(p.open_end(false), None, libc::O_RDONLY | nb);
    let w = File::new(p.open_end(true), None, libc::O_WRONLY | nb);
    (r, w)
}

/// One end of a pipe.
/// A FIFO opened O_RDWR: a reader and a writer in one description.
struct FifoRdwr {
    read: Arc<dyn FileOps>,
    write: Arc<dyn FileOps>,
}

impl FileOps for FifoRdwr {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.read.read(t, f, buf, off)
    }
    fn write(&self, t: &dyn Caller, f: &File, buf: &[u8], off: u64) -> Result<usize, Errno> {
        self.write.write(t, f, buf, off)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        self.read.stat()
    }
    fn readable_bytes(&self) -> Option<u64> {
        self.read.readable_bytes()
    }
    fn readiness(&self, mask: i16) -> i16 {
        self.read
            .readiness(mask & (libc::POLLIN | libc::POLLRDNORM))
            | self
                .write
                .readiness(mask & !(libc::POLLIN | libc::POLLRDNORM))
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        self.read.wait_queue()
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        self.read.as_any()
    }
}

pub struct PipeEnd {
    pipe: Arc<Pipe>,
    write: bool,
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut st = self.pipe.lock();
            if self.write {
                st.writers = st.writers.saturating_sub(1);
            } else {
                st.readers = st.readers.saturating_sub(1);
            }
        }
        self.pipe.queue.notify_all();
    }
}

impl FileOps for PipeEnd {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        if self.write {
            return Err(Errno::EBADF);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.pipe.try_read(buf) {
                Io::Done(n) => return Ok(n),
                Io::Closed => return Ok(0),
                Io::WouldBlock if f.nonblocking() => return Err(Errno::EAGAIN),
                Io::WouldBlock => {
                    t.block(&[&self.pipe.queue], None, &mut || self.pipe.readable_now())?;
                }
            }
        }
    }

    fn write(&self, t: &dyn Caller, f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let atomic = buf.len() <= PIPE_BUF;
        let mut done = 0;
        loop {
            match self.pipe.try_write(&buf[done..], atomic) {
                Io::Done(n) => {
                    done += n;
                    if done == buf.len() {
                        return Ok(done);
                    }
                }
                Io::Closed => {
                    t.send_signal_self(libc::SIGPIPE);
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                Io::WouldBlock if f.nonblocking() => {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EAGAIN)
                    };
                }
                Io::WouldBlock => {
                    let need = if atomic { buf.len() } else { 1 };
                    if let Err(e) = t.block(&[&self.pipe.queue], None, &mut || {
                        self.pipe.writable_now(need)
                    }) {
                        return if done > 0 { Ok(done) } else { Err(e) };
                    }
                }
            }
        }
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
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_dev = PIPEFS_DEV;
        s.st_ino = self.pipe.ino;
        s.st_mode = libc::S_IFIFO | 0o600;
        s.st_nlink = 1;
        s.st_blksize = PAGE as i64;
        Ok(s)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.pipe.len() as u64)
    }

    fn fsync(&self) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }

    fn readiness(&self, mask: i16) -> i16 {
        let st = self.pipe.lock();
        let mut ev = 0;
        if self.write {
            if st.readers == 0 {
                ev |= libc::POLLERR;
            } else if st.capacity.saturating_sub(st.buf.len()) >= PIPE_BUF.min(st.capacity) {
                ev |= libc::POLLOUT | libc::POLLWRNORM;
            }
        } else {
            if !st.buf.is_empty() {
                ev |= libc::POLLIN | libc::POLLRDNORM;
            }
            if st.writers == 0 {
                ev |= libc::POLLHUP;
            }
        }
        // POLLERR and POLLHUP are reported whatever was asked.
        ev & (mask | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.queue)
    }

    fn name(&self) -> Vec<u8> {
        format!("pipe:[{}]", self.pipe.ino).into_bytes()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&*self.pipe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_returns_what_is_buffered_then_would_block() {
        let p = Pipe::new();
        let _r = p.open_end(false);
        let w = p.open_end(true);
        assert_eq!(p.try_write(b"hello", true), Io::Done(5));
        let mut buf = [0u8; 3];
        assert_eq!(p.try_read(&mut buf), Io::Done(3));
        assert_eq!(&buf, b"hel");
        assert_eq!(p.try_read(&mut buf), Io::Done(2));
        assert_eq!(p.try_read(&mut buf), Io::WouldBlock);
        drop(w);
        assert_eq!(p.try_read(&mut buf), Io::Closed);
    }

    #[test]
    fn writes_past_capacity_are_partial_unless_atomic() {
        let p = Pipe::new();
        let _r = p.open_end(false);
        let _w = p.open_end(true);
        let big = vec![0u8; DEFAULT_PIPE_SIZE - 10];
        assert_eq!(p.try_write(&big, false), Io::Done(DEFAULT_PIPE_SIZE - 10));
        // 100 bytes is atomic: not split over the 10 free bytes.
        assert_eq!(p.try_write(&[1u8; 100], true), Io::WouldBlock);
        assert_eq!(p.try_write(&[1u8; 100], false), Io::Done(10));
        assert_eq!(p.try_write(&[1u8; 1], false), Io::WouldBlock);
    }

    #[test]
    fn bytes_come_out_in_order_across_the_ring_wrap() {
        let p = Pipe::new();
        let _r = p.open_end(false);
        let _w = p.open_end(true);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(p.try_write(&data[..60_000], false), Io::Done(60_000));
        let mut out = vec![0u8; 50_000];
        assert_eq!(p.try_read(&mut out), Io::Done(50_000));
        assert_eq!(p.try_write(&data[60_000..], false), Io::Done(40_000));
        let mut rest = vec![0u8; 60_000];
        assert_eq!(p.try_read(&mut rest), Io::Done(50_000));
        out.extend_from_slice(&rest[..50_000]);
        assert_eq!(out, data);
    }

    #[test]
    fn write_without_reader_is_closed() {
        let p = Pipe::new();
        let r = p.open_end(false);
        let _w = p.open_end(true);
        drop(r);
        assert_eq!(p.try_write(b"x", true), Io::Closed);
    }

    #[test]
    fn capacity_rounds_up_and_refuses_to_drop_data() {
        let p = Pipe::new();
        let _r = p.open_end(false);
        let _w = p.open_end(true);
        assert_eq!(p.set_capacity(1).unwrap(), PAGE);
        assert_eq!(p.set_capacity(5000).unwrap(), 8192);
        assert_eq!(p.try_write(&[0u8; 8192], false), Io::Done(8192));
        assert_eq!(p.set_capacity(4096), Err(Errno::EBUSY));
        assert_eq!(p.set_capacity(1 << 30), Err(Errno::EPERM));
    }

    #[test]
    fn readiness_follows_the_ends() {
        let p = Pipe::new();
        let r = p.open_end(false);
        let w = p.open_end(true);
        let all = libc::POLLIN | libc::POLLOUT;
        assert_eq!(r.readiness(all), 0);
        assert_eq!(w.readiness(all) & libc::POLLOUT, libc::POLLOUT);
        assert_eq!(p.try_write(b"x", true), Io::Done(1));
        assert_eq!(r.readiness(all) & libc::POLLIN, libc::POLLIN);
        drop(w);
        assert_eq!(r.readiness(all) & libc::POLLHUP, libc::POLLHUP);
    }
}
