//! A terminal's master as a runtime's caller gets it over
//! `--console-socket` (containerd's shim takes it so), and a shell driven
//! through it: line editing, a resize, Ctrl-C.

use std::time::{Duration, Instant};

/// The master of a terminal received on a console socket.
pub struct Console {
    master: std::fs::File,
}

impl Console {
    /// Accepts one connection on `l` and takes the descriptor it carries.
    pub fn accept(l: &std::os::unix::net::UnixListener) -> Console {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::{AsRawFd, FromRawFd};
        let (conn, _) = l.accept().expect("console connection");
        let mut buf = [0u8; 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .expect("recvmsg");
        let fd = msg
            .cmsgs()
            .unwrap()
            .find_map(|c| match c {
                ControlMessageOwned::ScmRights(f) => f.first().copied(),
                _ => None,
            })
            .expect("a descriptor on the console socket");
        // SAFETY: the kernel just gave us this descriptor.
        let master = unsafe { std::fs::File::from_raw_fd(fd) };
        Console { master }
    }

    pub fn send(&mut self, s: &[u8]) {
        use std::io::Write;
        self.master.write_all(s).unwrap();
    }

    /// Reads until `want` shows up (or fails after a while); returns all read.
    pub fn expect(&mut self, want: &str) -> String {
        use std::os::fd::AsRawFd;
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !String::from_utf8_lossy(&seen).contains(want) {
            assert!(
                Instant::now() < deadline,
                "never saw {want:?} on the terminal: {:?}",
                String::from_utf8_lossy(&seen)
            );
            let mut p = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut p, 1, 100) } > 0 {
                let mut b = [0u8; 4096];
                match std::io::Read::read(&mut self.master, &mut b) {
                    Ok(n) if n > 0 => seen.extend_from_slice(&b[..n]),
                    _ => break,
                }
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        use std::os::fd::AsRawFd;
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0);
    }
}

/// Drives an interactive shell on `c`: line editing, a resize, Ctrl-C.
pub fn drive_shell(c: &mut Console) {
    c.resize(33, 77);
    c.send(b"echo $((6*7)); stty size\n");
    c.expect("42\r\n33 77\r\n");
    // Line editing is the Sentry's: a backspace takes back a typed char.
    c.send(b"echo abX\x7fc\n");
    c.expect("abc\r\n");
    c.send(b"tty\n");
    c.expect("\n/dev/pts/");
    // Markers computed by the shell, so the echo of typed text never
    // matches them.
    c.send(b"sleep 100; echo SL$((1+1))\n");
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    c.send(b"\x03");
    c.send(b"echo AF$((2+2))\n");
    // Printed only once the interrupted sleep gave the shell back.
    let out = c.expect("AF4\r\n");
    assert!(
        t.elapsed() < Duration::from_secs(10) && !out.contains("SL2"),
        "{out}"
    );
}
