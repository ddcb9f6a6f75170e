//! Control connections watched for their close: the host stand-in of an
//! `exec`ed process or of a pod's container holds one open while it lives,
//! so its end (the stand-in was killed) is what ends the process too.

use std::os::unix::net::UnixStream;

/// Runs `then` on a thread of its own once the peer closes `conn`. The
/// stand-in at the other end sends nothing after its request: any end of
/// the read is the connection closing.
pub(super) fn on_close(conn: &UnixStream, name: &str, then: impl FnOnce() + Send + 'static) {
    let Ok(conn) = conn.try_clone() else { return };
    let _ = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut b = [0u8; 64];
            loop {
                match std::io::Read::read(&mut &conn, &mut b) {
                    Ok(n) if n > 0 => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    _ => break,
                }
            }
            then();
        });
}
