//! The kernel's `struct termios` as the pty keeps it (TCGETS/TCSETS).

use super::*;

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

    pub(super) fn i(&self, f: u32) -> bool {
        self.iflag & f != 0
    }
    pub(super) fn o(&self, f: u32) -> bool {
        self.oflag & f != 0
    }
    pub(super) fn l(&self, f: u32) -> bool {
        self.lflag & f != 0
    }

    /// Whether `c` is the special character at `idx`; 0 disables one
    /// (_POSIX_VDISABLE).
    pub(super) fn is(&self, c: u8, idx: usize) -> bool {
        c != 0 && self.cc[idx] == c
    }
}
