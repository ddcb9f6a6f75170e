//! Reads and writes through a Sentry buffer: what a file does with the
//! application's buffers ([`IoSeq`]) when its bytes are not in memory the
//! Sentry can hand over directly.

use super::{Caller, File, FileOps, IO_CHUNK};
use crate::errno::Errno;
use crate::usermem::IoSeq;

/// A short transfer after progress is a success; an error before any is
/// the error.
pub fn progress(done: usize, e: Errno) -> Result<usize, Errno> {
    if done > 0 {
        Ok(done)
    } else {
        Err(e)
    }
}

/// [`FileOps::read_to`] through [`FileOps::read`]: a stream is read once
/// (it must not block for more once it has given something); a seekable
/// file in steps of at most [`IO_CHUNK`] bytes, until `dst` is full or the
/// file falls short.
pub fn read_buffered<O: FileOps + ?Sized>(
    ops: &O,
    t: &dyn Caller,
    f: &File,
    dst: &mut IoSeq<'_>,
    off: u64,
) -> Result<usize, Errno> {
    let mut buf = vec![0u8; dst.len().min(IO_CHUNK)];
    if !ops.seekable() {
        let n = ops.read(t, f, &mut buf, off)?;
        return dst.copy_out(&buf[..n]);
    }
    let mut done = 0;
    while !dst.is_empty() {
        let want = dst.len().min(buf.len());
        let step = off
            .checked_add(done as u64)
            .ok_or(Errno::EINVAL)
            .and_then(|at| ops.read(t, f, &mut buf[..want], at))
            .and_then(|n| dst.copy_out(&buf[..n]).map(|c| (n, c)));
        match step {
            Ok((n, copied)) => {
                done += copied;
                if n < want || copied < n {
                    break;
                }
            }
            Err(e) => return progress(done, e),
        }
    }
    Ok(done)
}

/// [`FileOps::write_from`] through [`FileOps::write`], in steps of at
/// most [`IO_CHUNK`] bytes until `src` is drained or the file takes less.
pub fn write_buffered<O: FileOps + ?Sized>(
    ops: &O,
    t: &dyn Caller,
    f: &File,
    src: &mut IoSeq<'_>,
    off: u64,
) -> Result<usize, Errno> {
    let mut buf = vec![0u8; src.len().min(IO_CHUNK)];
    let mut done = 0;
    while !src.is_empty() {
        let want = src.len().min(buf.len());
        let step = src.copy_in(&mut buf[..want]).and_then(|got| {
            let at = off.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            ops.write(t, f, &buf[..got], at).map(|n| (n, got))
        });
        match step {
            Ok((n, got)) => {
                done += n;
                if n < want || got < want {
                    break;
                }
            }
            Err(e) => return progress(done, e),
        }
    }
    Ok(done)
}
