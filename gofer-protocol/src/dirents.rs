//! Reading a directory descriptor with `getdents64`: the Gofer lists
//! directories for Treaddirplus and the Sentry lists donated directory
//! descriptors, the same records either way.

use std::os::fd::{AsRawFd, OwnedFd};

/// One `linux_dirent64` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirent<'a> {
    pub ino: u64,
    /// The directory position after this record (`lseek` there to go on).
    pub off: u64,
    /// DT_* type.
    pub ty: u8,
    pub name: &'a [u8],
}

/// `ino[8] off[8] reclen[2] type[1]`, then the NUL-terminated name.
const NAME_AT: usize = 19;

/// Fills `buf` with the next records of `dir`: the number of bytes, 0 at
/// the end.
pub fn getdents64(dir: &OwnedFd, buf: &mut [u8]) -> Result<usize, i32> {
    loop {
        // SAFETY: `buf` is writable for its length; the kernel writes at
        // most that many bytes.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n >= 0 {
            return Ok(usize::try_from(n).map_or(0, |n| n.min(buf.len())));
        }
        let e = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// The records in `buf` (what one `getdents64` filled), `.` and `..`
/// included. A record whose length does not fit is `EIO`, and ends the
/// listing.
pub fn records(buf: &[u8]) -> impl Iterator<Item = Result<Dirent<'_>, i32>> {
    let mut at = 0;
    let mut broken = false;
    std::iter::from_fn(move || {
        if broken || at + NAME_AT > buf.len() {
            return None;
        }
        let rec = &buf[at..];
        let reclen = usize::from(u16::from_ne_bytes([rec[16], rec[17]]));
        if reclen < NAME_AT || reclen > rec.len() {
            broken = true;
            return Some(Err(libc::EIO));
        }
        at += reclen;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&rec[i..i + 8]);
            u64::from_ne_bytes(w)
        };
        let field = &rec[NAME_AT..reclen];
        let len = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        Some(Ok(Dirent {
            ino: word(0),
            off: word(8),
            ty: rec[18],
            name: &field[..len],
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ino: u64, off: u64, ty: u8, name: &[u8], pad: usize) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&ino.to_ne_bytes());
        r.extend_from_slice(&off.to_ne_bytes());
        let len = NAME_AT + name.len() + 1 + pad;
        r.extend_from_slice(&(len as u16).to_ne_bytes());
        r.push(ty);
        r.extend_from_slice(name);
        r.push(0);
        r.resize(len, 0);
        r
    }

    #[test]
    fn records_are_split_and_bad_lengths_are_eio() {
        let mut buf = record(1, 10, libc::DT_DIR, b".", 4);
        buf.extend(record(7, 20, libc::DT_REG, b"file", 0));
        let got: Vec<_> = records(&buf).collect();
        assert_eq!(
            got,
            vec![
                Ok(Dirent {
                    ino: 1,
                    off: 10,
                    ty: libc::DT_DIR,
                    name: b"."
                }),
                Ok(Dirent {
                    ino: 7,
                    off: 20,
                    ty: libc::DT_REG,
                    name: b"file"
                }),
            ]
        );
        // A length past the buffer, and one shorter than a header.
        for bad in [500u16, 3] {
            let mut b = record(1, 1, 0, b"x", 0);
            b[16..18].copy_from_slice(&bad.to_ne_bytes());
            assert_eq!(records(&b).collect::<Vec<_>>(), vec![Err(libc::EIO)]);
        }
    }
}
