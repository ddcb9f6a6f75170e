//! poll readiness over pipes.

use crate::vfs::poll::*;

#[test]
fn closed_descriptors_are_pollnval_and_pipes_report_their_ends() {
    let (r, w) = crate::fsimpl::pipe::new_pipe_files(0);
    let files = vec![
        (Some(r.clone()), libc::POLLIN),
        (Some(w.clone()), libc::POLLOUT),
        (None, libc::POLLIN),
    ];
    assert_eq!(ready_now(&files), vec![0, libc::POLLOUT, libc::POLLNVAL]);
    drop(files);
    drop(w);
    // The writer is gone: the reader hangs up even if POLLHUP was not asked.
    assert_eq!(ready_now(&[(Some(r), libc::POLLIN)]), vec![libc::POLLHUP]);
}
