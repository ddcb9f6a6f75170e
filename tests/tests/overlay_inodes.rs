//! Inode numbers under the overlay root stay those of the files' host
//! origins after copy-up, rename and link, as Linux's overlayfs reports
//! them, and whether or not the Sentry still has the file cached (each
//! `stat` below is its own process, so nothing holds the inode between).

use tests::{require, sandbox, Cmd};

#[test]
fn copied_up_files_keep_their_inode_number_through_rename_and_link() {
    require!(sandbox());
    let script = "set -e
        a=$(stat -c %i /etc/hostname)
        echo x >> /etc/hostname
        b=$(stat -c %i /etc/hostname)
        mv /etc/hostname /etc/hn2
        c=$(stat -c %i /etc/hn2)
        ln /etc/hn2 /etc/hn3
        d=$(stat -c %i /etc/hn3)
        e=$(stat -c %i /etc/hn2)
        mv /etc/hn3 /var/hn4
        f=$(stat -c %i /var/hn4)
        test \"$a\" = \"$(stat -c %i /etc/hn2)\"
        echo $a $b $c $d $e $f";
    let s = Cmd::new(&["/bin/sh", "-c", script]).run_sandboxed();
    s.assert_success();
    let host = std::fs::metadata("/etc/hostname").map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.ino()
    });
    let want = format!(
        "{}\n",
        [host.expect("/etc/hostname on the host"); 6]
            .map(|i| i.to_string())
            .join(" ")
    );
    assert_eq!(s.stdout, want, "{}", s.describe());
}
