//! Host Unix sockets: a socket file in a directory the Gofer serves is
//! connected to through the Gofer (`--host-uds=open`), and the sandbox
//! talks to the host server on the other end.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use tests::{require, sandbox, scratch_dir, unique_name, Cmd};

const PYTHON: &str = "/usr/bin/python3";

/// Connects to `$1`, sends a line, prints what comes back and the peer's
/// credentials' uid; a connect error prints its errno name.
const CLIENT: &str = r#"
import errno, os, socket, stat, struct, sys
print("is socket", stat.S_ISSOCK(os.stat(sys.argv[1]).st_mode))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", errno.errorcode[e.errno])
    sys.exit(0)
s.sendall(b"hello host\n")
print(s.makefile().readline().strip())
pid, uid, gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print("peer uid", uid, "pid>0", pid > 0)
print("peer name", s.getpeername() == sys.argv[1])
"#;

/// A host directory with an echo server's socket in it, removed on drop.
struct EchoServer {
    dir: PathBuf,
}

impl EchoServer {
    fn start(what: &str) -> EchoServer {
        let dir = scratch_dir().join(unique_name(what));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = UnixListener::bind(dir.join("echo.sock")).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut line = String::new();
                if BufReader::new(&conn).read_line(&mut line).is_ok() {
                    let _ = conn.write_all(format!("echo: {line}").as_bytes());
                }
            }
        });
        EchoServer { dir }
    }

    fn socket(&self) -> String {
        self.dir.join("echo.sock").to_string_lossy().into_owned()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client(path: &str, flags: &[&str]) -> String {
    let out = Cmd::new(&[PYTHON, "-c", CLIENT, path])
        .flags(flags)
        .run_sandboxed();
    out.assert_success();
    out.stdout.clone()
}

#[test]
fn a_host_echo_server_answers_through_the_gofer() {
    require!(sandbox());
    let server = EchoServer::start("uds-echo");
    // The host kernel reports the server's ids as the Sentry's
    // namespaces see them: unmapped host root is the overflow uid, and a
    // process outside the Sentry's PID namespace has pid 0 (as a
    // container's peer outside its PID namespace has under runc).
    let want = "is socket True\necho: hello host\npeer uid 65534 pid>0 False\npeer name True\n";
    assert_eq!(client(&server.socket(), &["--host-uds=open"]), want);
    assert_eq!(
        client(&server.socket(), &["--host-uds=open", "--overlay=none"]),
        want
    );
    // Without host networking the Sentry's filter still lets it drive
    // the host socket.
    assert_eq!(
        client(&server.socket(), &["--host-uds=open", "--network=none"]),
        want
    );
}

#[test]
fn host_sockets_are_out_of_reach_by_default() {
    require!(sandbox());
    let server = EchoServer::start("uds-default");
    assert_eq!(
        client(&server.socket(), &[]),
        "is socket True\nconnect: ECONNREFUSED\n"
    );
}

#[test]
fn a_stale_host_socket_refuses() {
    require!(sandbox());
    let dir = scratch_dir().join(unique_name("uds-stale"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stale.sock");
    drop(UnixListener::bind(&path).unwrap());
    let out = client(&path.to_string_lossy(), &["--host-uds=open"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out, "is socket True\nconnect: ECONNREFUSED\n");
}

#[test]
fn a_host_datagram_socket_receives_what_the_sandbox_sends() {
    require!(sandbox());
    let dir = scratch_dir().join(unique_name("uds-dgram"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.sock");
    let host = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    host.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let script = "import socket, sys\n\
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
        s.connect(sys.argv[1])\n\
        print(s.send(b'one datagram'))\n";
    let out = Cmd::new(&[PYTHON, "-c", script, &path.to_string_lossy()])
        .flags(&["--host-uds=open"])
        .run_sandboxed();
    out.assert_success();
    assert_eq!(out.stdout, "12\n");
    let mut buf = [0u8; 64];
    let n = host.recv(&mut buf).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(&buf[..n], b"one datagram");
}

/// A socket the sandbox binds in a directory the Gofer serves (written
/// through with `--overlay=none`) is the sandbox's: its own connect
/// reaches its own listener, not the host node.
#[test]
fn a_socket_the_sandbox_binds_stays_the_sandboxs() {
    require!(sandbox());
    let dir = scratch_dir().join(unique_name("uds-own"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("own.sock");
    let script = "import socket, sys\n\
        l = socket.socket(socket.AF_UNIX)\n\
        l.bind(sys.argv[1]); l.listen(1)\n\
        c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])\n\
        a, _ = l.accept(); c.sendall(b'mine'); print(a.recv(4).decode())\n";
    let out = Cmd::new(&[PYTHON, "-c", script, &path.to_string_lossy()])
        .flags(&["--host-uds=open", "--overlay=none"])
        .run_sandboxed();
    let _ = std::fs::remove_dir_all(&dir);
    out.assert_success();
    assert_eq!(out.stdout, "mine\n");
}
