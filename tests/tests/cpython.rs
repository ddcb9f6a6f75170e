//! A quick subset of CPython's regression tests (Debian's
//! libpython3.11-testsuite) inside the sandbox: threads, processes, signals,
//! clocks, select and mmap, and the filesystem (os, posix, io, shutil,
//! tempfile, tarfile, zipfile, imports ...) as CPython's own tests see them.
//! The whole suite runs with `scripts/cpython-tests`.

use std::time::Duration;

use tests::{host_file, require, sandbox, Cmd};

const SUITES: &[&str] = &[
    "test_threading",
    "test_subprocess",
    "test_select",
    "test_wait3",
    "test_wait4",
    "test_time",
    "test_mmap",
    "test_fork1",
    "test_signal",
    // Sockets: AF_UNIX, and inet on the sandbox's own stack (selectors,
    // logging's socket handlers, signal's wakeup fd, os's sendfile).
    "test_selectors",
    // The whole socket suite (~35 s in the sandbox): AF_UNIX, TCP, UDP,
    // UDP-Lite, RFC 3542 ancillary data, sendfile, timeouts.
    "test_socket",
    "test_logging",
    "test_stat",
    "test_pty",
    "test_mailbox",
    // asyncio's event loops, transports and subprocesses over sockets,
    // and multiprocessing's forkserver (a Unix socket server), ~2 min and
    // ~1.5 min in the sandbox.
    "test_asyncio",
    "test_multiprocessing_forkserver",
    // The filesystem (issue 3).
    "test_os",
    "test_posix",
    "test_io",
    "test_fileio",
    "test_file",
    "test_fcntl",
    "test_pathlib",
    "test_shutil",
    "test_tempfile",
    "test_glob",
    "test_fnmatch",
    "test_genericpath",
    "test_posixpath",
    "test_fileinput",
    "test_filecmp",
    "test_tarfile",
    "test_zipfile",
    "test_zipimport",
    "test_import",
    "test_largefile",
    "test_dbm",
    "test_dbm_dumb",
    "test_shelve",
    "test_gzip",
    "test_bz2",
    "test_lzma",
    "test_zipfile64",
    "test_py_compile",
    "test_importlib",
    "test_pkgutil",
    "test_linecache",
    "test_site",
    "test_cmd_line_script",
];
#[test]
fn cpython_regression_subset_passes_in_the_sandbox() {
    require!(host_file(
        "/usr/lib/python3.11/test/test_threading.py",
        "libpython3.11-testsuite"
    ));
    require!(sandbox());
    let mut argv = vec!["/usr/bin/python3", "-m", "test", "-j1"];
    argv.extend_from_slice(SUITES);
    // The sandbox's own stack (loopback), not `do`'s default host sockets:
    // the suites' inet sockets are what the stack must get right.
    let out = Cmd::new(&argv)
        .flags(&["--network=none"])
        .timeout(Duration::from_secs(1800))
        .run_sandboxed();
    assert!(
        out.status == 0 && out.stdout.contains("Tests result: SUCCESS"),
        "{}",
        out.describe()
    );
}

/// test_socket's RFC 3542 classes over UDP and UDP-Lite on IPv6:
/// IPV6_RECVHOPLIMIT and IPV6_RECVTCLASS as control messages,
/// IPV6_HOPLIMIT and IPV6_TCLASS on sendmsg, and the control buffer cut
/// short in every way (MSG_CTRUNC); and the UDP-Lite classes' basics.
#[test]
fn cpython_rfc3542_ancillary_data_and_udplite_pass_in_the_sandbox() {
    require!(host_file(
        "/usr/lib/python3.11/test/test_socket.py",
        "libpython3.11-testsuite"
    ));
    require!(sandbox());
    let argv = [
        "/usr/bin/python3",
        "-m",
        "test",
        "-v",
        "test_socket",
        "-m",
        "*RFC3542*",
        "-m",
        "*UDPLITE*",
    ];
    let out = Cmd::new(&argv)
        .flags(&["--network=none"])
        .cwd(std::path::Path::new("/tmp"))
        .timeout(Duration::from_secs(300))
        .run_sandboxed();
    assert!(
        out.status == 0
            && out.stdout.contains("Tests result: SUCCESS")
            && out.stdout.contains("Ran 149 tests"),
        "{}",
        out.describe()
    );
}
