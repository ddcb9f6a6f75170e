//! Tconnectat: host Unix sockets of the served tree, connected by the
//! server as its policy allows and passed back.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

use common::Served;
use gofer::server::HostUds;

fn served(name: &str, policy: HostUds) -> Served {
    Served::configured(name, move |s| s.set_host_uds(policy))
}

#[test]
fn a_stream_socket_is_connected_and_donated() {
    let s = served("uds-stream", HostUds::Open);
    let listener = UnixListener::bind(s.tree.path.join("sub/echo.sock")).unwrap();
    let fd = s
        .client()
        .connect_at(&[b"sub", b"echo.sock"], libc::SOCK_STREAM)
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let mut ours = UnixStream::from(fd);
    ours.set_nonblocking(false).unwrap();
    ours.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn a_datagram_socket_is_connected() {
    let s = served("uds-dgram", HostUds::Open);
    let host = UnixDatagram::bind(s.tree.path.join("d.sock")).unwrap();
    let fd = s
        .client()
        .connect_at(&[b"d.sock"], libc::SOCK_DGRAM)
        .unwrap();
    UnixDatagram::from(fd).send(b"dgram").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(host.recv(&mut buf).unwrap(), 5);
}

#[test]
fn connect_errors_are_connects() {
    let s = served("uds-errors", HostUds::Open);
    let c = s.client();
    // Bound, then closed: nobody listens.
    drop(UnixListener::bind(s.tree.path.join("stale.sock")).unwrap());
    assert_eq!(
        c.connect_at(&[b"stale.sock"], libc::SOCK_STREAM)
            .unwrap_err(),
        libc::ECONNREFUSED
    );
    // A stream socket's name connected as a datagram one.
    let _l = UnixListener::bind(s.tree.path.join("s.sock")).unwrap();
    assert_eq!(
        c.connect_at(&[b"s.sock"], libc::SOCK_DGRAM).unwrap_err(),
        libc::EPROTOTYPE
    );
    assert_eq!(
        c.connect_at(&[b"hello.txt"], libc::SOCK_STREAM)
            .unwrap_err(),
        libc::ECONNREFUSED
    );
    assert_eq!(
        c.connect_at(&[b"missing"], libc::SOCK_STREAM).unwrap_err(),
        libc::ENOENT
    );
    assert_eq!(
        c.connect_at(&[b"s.sock"], libc::SOCK_RAW).unwrap_err(),
        libc::EINVAL
    );
}

#[test]
fn paths_are_confined_and_symlinks_not_followed() {
    let s = served("uds-confined", HostUds::Open);
    let outside = s.tree.path.with_extension("outside.sock");
    let _l = UnixListener::bind(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, s.tree.path.join("escape")).unwrap();
    let c = s.client();
    // The last name not followed: a symlink is no socket.
    assert_eq!(
        c.connect_at(&[b"escape"], libc::SOCK_STREAM).unwrap_err(),
        libc::ECONNREFUSED
    );
    assert_eq!(
        c.connect_at(&[b"..", b"x"], libc::SOCK_STREAM).unwrap_err(),
        libc::EINVAL
    );
    assert_eq!(
        c.connect_at(&[b"link", b"x"], libc::SOCK_STREAM)
            .unwrap_err(),
        libc::ENOTDIR
    );
    let _ = std::fs::remove_file(outside);
}

#[test]
fn the_policy_decides_which_sockets_are_reached() {
    let s = served("uds-none", HostUds::None);
    let _l = UnixListener::bind(s.tree.path.join("x.sock")).unwrap();
    assert_eq!(
        s.client()
            .connect_at(&[b"x.sock"], libc::SOCK_STREAM)
            .unwrap_err(),
        libc::ECONNREFUSED
    );
    let only = HostUds::Only(vec![vec![b"sub".to_vec(), b"ok.sock".to_vec()]]);
    let s = served("uds-only", only);
    let _a = UnixListener::bind(s.tree.path.join("sub/ok.sock")).unwrap();
    let _b = UnixListener::bind(s.tree.path.join("sub/no.sock")).unwrap();
    let c = s.client();
    c.connect_at(&[b"sub", b"ok.sock"], libc::SOCK_STREAM)
        .unwrap();
    assert_eq!(
        c.connect_at(&[b"sub", b"no.sock"], libc::SOCK_STREAM)
            .unwrap_err(),
        libc::ECONNREFUSED
    );
}

#[test]
fn a_long_host_path_still_connects() {
    let s = served("uds-long", HostUds::Open);
    // Far past sun_path's 108 bytes from /, each name short.
    let mut dir = s.tree.path.clone();
    let mut names: Vec<Vec<u8>> = Vec::new();
    for i in 0..12 {
        let n = format!("long-directory-name-{i}");
        dir.push(&n);
        names.push(n.into_bytes());
    }
    std::fs::create_dir_all(&dir).unwrap();
    // Bound through the directory's descriptor: the host path is too
    // long for the test's own bind too.
    let d = std::fs::File::open(&dir).unwrap();
    let short = format!("/proc/self/fd/{}/s", std::os::fd::AsRawFd::as_raw_fd(&d));
    let _l = UnixListener::bind(short).unwrap();
    assert!(dir.join("s").as_os_str().len() > 108);
    names.push(b"s".to_vec());
    let refs: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    s.client().connect_at(&refs, libc::SOCK_STREAM).unwrap();
}
