//! Ancillary data (`cmsg`): SCM_RIGHTS and SCM_CREDENTIALS in sendmsg(2)'s
//! control buffer, and back out in recvmsg(2)'s, laid out as Linux's
//! `CMSG_*` macros lay them out on x86-64; messages of the IP levels
//! (IP_PKTINFO, IPV6_HOPLIMIT ...) and timestamps pass through as bytes
//! for the inet sockets to read and write.

use std::sync::Arc;

use crate::errno::Errno;
use crate::vfs::File;

/// `sizeof(struct cmsghdr)`: a size_t length, then level and type.
const HEADER: usize = 16;
/// Most descriptors one SCM_RIGHTS message carries (Linux's SCM_MAX_FD).
pub const MAX_RIGHTS: usize = 253;
/// Largest control buffer sendmsg(2) takes (Linux's optmem_max default).
pub const MAX_CONTROL: usize = 20480;

fn align(n: usize) -> usize {
    (n + 7) & !7
}

/// A control message whose data is plain bytes, kept as the application
/// wrote it or as recvmsg(2) lays it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cmsg {
    pub level: i32,
    pub kind: i32,
    pub data: Vec<u8>,
}

/// What a message carries besides its bytes.
#[derive(Default)]
pub struct Control {
    /// SCM_RIGHTS: open files, installed as new descriptors on receipt.
    pub rights: Vec<Arc<File>>,
    /// SCM_CREDENTIALS: the sender's pid, uid and gid.
    pub creds: Option<libc::ucred>,
    /// Plain messages, in order: on send, those of levels other than
    /// SOL_SOCKET (AF_UNIX ignores them, as Linux does); on receipt, an
    /// inet socket's (timestamps, then IP_* or IPV6_*), after any
    /// credentials and descriptors.
    pub data: Vec<Cmsg>,
}

impl Control {
    pub fn is_empty(&self) -> bool {
        self.rights.is_empty() && self.creds.is_none() && self.data.is_empty()
    }
}

/// One control message as sendmsg(2) found it.
pub enum Parsed {
    Rights(Vec<i32>),
    Credentials(libc::ucred),
    Data(Cmsg),
}

/// The messages of a sendmsg(2) control buffer: SOL_SOCKET's parsed
/// (EINVAL for a type other than SCM_RIGHTS or SCM_CREDENTIALS), other
/// levels' kept as bytes.
pub fn parse(buf: &[u8]) -> Result<Vec<Parsed>, Errno> {
    let mut out = Vec::new();
    let mut off = 0;
    while buf.len() - off >= HEADER {
        let len = u64::from_ne_bytes(buf[off..off + 8].try_into().expect("8 bytes"));
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        if len < HEADER || len > buf.len() - off {
            return Err(Errno::EINVAL);
        }
        let level = i32::from_ne_bytes(buf[off + 8..off + 12].try_into().expect("4 bytes"));
        let kind = i32::from_ne_bytes(buf[off + 12..off + 16].try_into().expect("4 bytes"));
        let data = &buf[off + HEADER..off + len];
        if level == libc::SOL_SOCKET {
            match kind {
                libc::SCM_RIGHTS => {
                    if !data.len().is_multiple_of(4) || data.len() / 4 > MAX_RIGHTS {
                        return Err(Errno::EINVAL);
                    }
                    let fds = data
                        .chunks_exact(4)
                        .map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes")))
                        .collect();
                    out.push(Parsed::Rights(fds));
                }
                libc::SCM_CREDENTIALS => {
                    if data.len() != std::mem::size_of::<libc::ucred>() {
                        return Err(Errno::EINVAL);
                    }
                    out.push(Parsed::Credentials(crate::usermem::from_bytes(data)));
                }
                _ => return Err(Errno::EINVAL),
            }
        } else {
            out.push(Parsed::Data(Cmsg {
                level,
                kind,
                data: data.to_vec(),
            }));
        }
        // The next header starts aligned; a last message may end unaligned.
        off = off.saturating_add(align(len)).min(buf.len());
    }
    Ok(out)
}

/// A recvmsg(2) control buffer being filled, `cap` bytes long.
pub struct Builder {
    pub buf: Vec<u8>,
    cap: usize,
    /// MSG_CTRUNC: something did not fit.
    pub truncated: bool,
}

impl Builder {
    pub fn new(cap: usize) -> Builder {
        Builder {
            buf: Vec::new(),
            cap,
            truncated: false,
        }
    }

    fn room(&self) -> usize {
        self.cap.saturating_sub(self.buf.len())
    }

    /// Linux's put_cmsg: the message, cut short (and MSG_CTRUNC) when the
    /// buffer ends first, its `cmsg_len` then saying how much is there.
    pub fn put(&mut self, level: i32, kind: i32, data: &[u8]) {
        let room = self.room();
        if room < HEADER {
            self.truncated = true;
            return;
        }
        let full = HEADER + data.len();
        if full > room {
            self.truncated = true;
        }
        let len = full.min(room);
        let mut m = Vec::with_capacity(align(full));
        m.extend_from_slice(&(len as u64).to_ne_bytes());
        m.extend_from_slice(&level.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&data[..len - HEADER]);
        m.resize(align(full).min(room), 0);
        self.buf.extend_from_slice(&m);
    }

    /// How many descriptors an SCM_RIGHTS message may carry in what is
    /// left (Linux's scm_detach_fds).
    pub fn rights_room(&self) -> usize {
        self.room().saturating_sub(HEADER) / 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let mut b = Builder::new(1024);
        b.put(level, kind, data);
        b.buf
    }

    #[test]
    fn rights_and_credentials_round_trip() {
        let mut buf = cmsg(
            libc::SOL_SOCKET,
            libc::SCM_RIGHTS,
            &[3, 0, 0, 0, 4, 0, 0, 0],
        );
        assert_eq!(buf.len(), 24);
        let cred = libc::ucred {
            pid: 7,
            uid: 1,
            gid: 2,
        };
        buf.extend(cmsg(
            libc::SOL_SOCKET,
            libc::SCM_CREDENTIALS,
            crate::usermem::as_bytes(&cred),
        ));
        let got = parse(&buf).unwrap();
        assert!(matches!(&got[0], Parsed::Rights(f) if f == &[3, 4]));
        assert!(matches!(&got[1], Parsed::Credentials(c) if c.pid == 7 && c.gid == 2));
    }

    #[test]
    fn broken_headers_are_einval_and_other_levels_skipped() {
        let mut bad = cmsg(libc::SOL_SOCKET, libc::SCM_RIGHTS, &[1, 0, 0, 0]);
        bad[0] = 200;
        assert_eq!(parse(&bad).err(), Some(Errno::EINVAL));
        let odd = cmsg(libc::SOL_SOCKET, libc::SCM_RIGHTS, &[1, 0, 0]);
        assert_eq!(parse(&odd).err(), Some(Errno::EINVAL));
        let other = cmsg(libc::SOL_IP, 1, &[1, 2, 3, 4]);
        let got = parse(&other).unwrap();
        assert!(
            matches!(&got[..], [Parsed::Data(c)] if c.level == libc::SOL_IP && c.data == [1, 2, 3, 4])
        );
        assert!(parse(&[0; 8]).unwrap().is_empty());
    }

    #[test]
    fn a_short_buffer_truncates() {
        let mut b = Builder::new(20);
        assert_eq!(b.rights_room(), 1);
        b.put(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[0; 12]);
        assert!(b.truncated);
        assert_eq!(b.buf.len(), 20);
        assert_eq!(b.buf[0], 20, "cmsg_len says what fits");
    }
}
