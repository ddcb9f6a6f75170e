//! A real distribution under Docker: a Debian bookworm image made by
//! debootstrap (tests/src/debian.rs), run with `--runtime=runsc-rs` and
//! with Docker's runc, which must agree: bash on a terminal with job
//! control, apt reading the lists shipped in the image, dpkg installing a
//! .deb the test builds, python3, perl, and useradd and su between users.
//! Every container runs with `--network=none`: nothing here needs the
//! network, and apt must work from what the image holds.

use std::time::Duration;

use tests::debian::debian_image;
use tests::docker::{docker, Docker, Session, CLIENT, OURS, RUNC};
use tests::{require, Cmd, Output};

/// `docker run --rm --network=none OPTS... IMAGE bash -c SCRIPT` under
/// runc and under runsc-rs; runc's output first.
fn both(d: &Docker, image: &str, opts: &[&str], script: &str) -> (Output, Output) {
    let mut o = vec!["--network=none"];
    o.extend_from_slice(opts);
    let cmd = ["bash", "-c", script];
    (
        d.run_image(RUNC, &o, image, &cmd),
        d.run_image(OURS, &o, image, &cmd),
    )
}

/// Both runtimes print the same and exit the same; runc succeeds (else the
/// script, not the sandbox, is wrong). The output, for further checks.
fn assert_agree(d: &Docker, image: &str, opts: &[&str], script: &str) -> String {
    let (runc, ours) = both(d, image, opts, script);
    assert_eq!(
        runc.status,
        0,
        "the script fails under runc\n{}",
        runc.describe()
    );
    tests::assert_same(&runc, &ours);
    ours.stdout
}

#[test]
fn python3_runs_as_under_runc() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    let script = r#"python3 - <<'EOF'
import hashlib, json, os, subprocess, sys, tempfile, threading, sqlite3
print(sys.version_info[:2] >= (3, 11), os.getcwd(), os.getuid())
print(hashlib.sha256(b"runsc-rs").hexdigest())
print(json.dumps({"a": [1, 2, {"b": None}]}, sort_keys=True))
print(subprocess.run(["echo", "from a child"], capture_output=True, text=True).stdout, end="")
with tempfile.TemporaryDirectory() as t:
    p = os.path.join(t, "f")
    with open(p, "w") as f:
        f.write("x" * 100000)
    print(os.stat(p).st_size)
db = sqlite3.connect(":memory:")
db.execute("create table t (n)")
db.executemany("insert into t values (?)", [(i,) for i in range(1000)])
print(db.execute("select sum(n) from t").fetchone()[0])
out = []
ts = [threading.Thread(target=lambda i=i: out.append(sum(range(i * 1000)))) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print(sorted(out)[-1])
import multiprocessing
with multiprocessing.Pool(2) as pool:
    print(pool.map(abs, [-1, -2, -3]))
EOF"#;
    let out = assert_agree(d, image, &[], script);
    assert!(
        out.contains("from a child") && out.contains("499500"),
        "{out}"
    );
}

#[test]
fn perl_runs_as_under_runc() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    let script = r#"perl -e '
use strict; use warnings; use POSIX qw(uname); use File::Temp qw(tempdir);
use Digest::MD5 qw(md5_hex);
print md5_hex("runsc-rs"), "\n";
my $d = tempdir(CLEANUP => 1);
open(my $f, ">", "$d/x") or die; print $f "line $_\n" for 1..500; close $f;
open($f, "<", "$d/x") or die; my @l = <$f>; print scalar(@l), " $l[-1]";
my $pid = fork(); if ($pid == 0) { exit 7 } waitpid($pid, 0); print $? >> 8, "\n";
print join(",", sort { $a <=> $b } map { $_ * $_ } 1..5), "\n";
my %h = map { $_ => length } qw(a bb ccc); print join(" ", map {"$_=$h{$_}"} sort keys %h), "\n";
print `echo backticks`;
printf "%s\n", (uname())[0];
'"#;
    let out = assert_agree(d, image, &[], script);
    assert!(out.contains("500 line 500\n7\n"), "{out}");
}

/// apt-get and apt-cache read the package lists the image ships (there is
/// no network): a package's policy, a simulated install that resolves its
/// dependencies, a search, and dpkg's database.
#[test]
fn apt_reads_the_lists_shipped_in_the_image() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    let script = "set -e
apt-cache policy hello | head -3
apt-cache show --no-all-versions hello | grep -E '^(Package|Priority|Section):'
apt-cache search --names-only '^python3-six$'
apt-get install --simulate -q -y python3-six | grep -E '^(Inst|Conf) '
apt-get install --simulate -q -y perl | tail -1
apt-cache depends python3 | head -4
dpkg-query -W -f='${Package} ${Status}\\n' bash perl python3
dpkg --audit && echo audit clean
apt-get check -q";
    let out = assert_agree(d, image, &[], script);
    assert!(
        out.contains("Inst python3-six") && out.contains("bash install ok installed"),
        "{out}"
    );
}

/// A package the test builds with dpkg-deb on the host, installed from a
/// read-only volume with `dpkg -i` (its maintainer scripts run), used,
/// checked and removed.
#[test]
fn dpkg_installs_a_local_deb_and_runs_its_scripts() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    let dpkg_deb = require!(tests::host_program("/usr/bin/dpkg-deb", "dpkg"));
    let dir = tests::scratch_dir().join(tests::unique_name("deb"));
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/bin")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: runsc-rs-hello\nVersion: 1.2-3\nArchitecture: all\n\
         Maintainer: runsc-rs tests <tests@example.invalid>\nDepends: bash\n\
         Description: a package the runsc-rs tests build\n",
    )
    .unwrap();
    let exe = |p: &std::path::Path, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    exe(
        &pkg.join("usr/bin/runsc-rs-hello"),
        "#!/bin/bash\necho \"hello from a package, ${#BASH_VERSION} chars of version\"\n",
    );
    exe(
        &pkg.join("DEBIAN/postinst"),
        "#!/bin/sh\nset -e\nmkdir -p /var/lib/runsc-rs-hello\necho \"$1\" > /var/lib/runsc-rs-hello/state\n",
    );
    exe(
        &pkg.join("DEBIAN/postrm"),
        "#!/bin/sh\nset -e\nrm -rf /var/lib/runsc-rs-hello\n",
    );
    let deb = dir.join("runsc-rs-hello.deb");
    let o = Cmd::new(&[
        dpkg_deb.to_str().unwrap(),
        "--root-owner-group",
        "--build",
        pkg.to_str().unwrap(),
        deb.to_str().unwrap(),
    ])
    .run_native();
    assert_eq!(o.status, 0, "{}", o.describe());
    let volume = format!("{}:/debs:ro", dir.display());
    let script = "set -e
dpkg -i /debs/runsc-rs-hello.deb
runsc-rs-hello
cat /var/lib/runsc-rs-hello/state
dpkg -s runsc-rs-hello | grep -E '^(Status|Version):'
dpkg -L runsc-rs-hello
dpkg -r runsc-rs-hello
test ! -e /var/lib/runsc-rs-hello && echo postrm ran
dpkg -s runsc-rs-hello 2>&1 | grep -E '^Status:' || true";
    let out = assert_agree(d, image, &["-v", &volume], script);
    assert!(
        out.contains("hello from a package") && out.contains("configure\n"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// useradd makes users with homes from /etc/skel; root becomes each with
/// su (a login shell with `su -`), files they make belong to them, one
/// user cannot become another without its password, and userdel removes
/// one.
#[test]
fn useradd_and_su_between_users() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    // `ls -la`'s first line, the block total, is left out: it counts the
    // blocks of the filesystem under the root (ext4 below overlayfs for
    // runc, the Sentry's memory-backed overlay here).
    let script = "set -e
useradd -m -s /bin/bash u1
useradd -m -s /bin/bash -u 2001 u2
grep -E '^u[12]:' /etc/passwd
ls -la /home/u1 | awk 'NR > 1 {print $1, $3, $4, $NF}'
su u1 -c 'id; echo $HOME; touch ~/made-by-u1; umask'
su - u2 -c 'pwd; id -un; echo $SHELL; ls -ln /home/u1/made-by-u1 | cut -d\" \" -f3,4'
su u1 -c 'touch /home/u2/x' 2>&1 || echo refused
su u1 -c 'su u2 -c id </dev/null' 2>&1 || echo no password
su -s /bin/sh u2 -c 'echo $0'
userdel -r u2 && ! id u2 2>/dev/null && echo u2 gone
passwd -S u1 | cut -d' ' -f1,2";
    let out = assert_agree(d, image, &[], script);
    assert!(
        out.contains("uid=1000(u1)") && out.contains("refused") && out.contains("u2 gone"),
        "{out}"
    );
}

/// Job control in an interactive bash on Docker's terminal: a background
/// job listed, killed and waited for; a foreground job stopped with Ctrl-Z,
/// continued in the background and brought back with fg, then interrupted
/// with Ctrl-C; the shell's exit status is the session's.
fn job_control(d: &Docker, rt: &str, image: &str) {
    let host = format!("unix://{}", d.sock.display());
    let cfg = d.base.join("client");
    let cmd = format!("{CLIENT} run -it --rm --network=none --runtime={rt} {image} bash");
    let mut s = Session::start(
        &cmd,
        &[
            ("DOCKER_HOST", &host),
            ("DOCKER_CONFIG", cfg.to_str().unwrap()),
        ],
    );
    // Markers are computed, so that the echo of the input never matches.
    s.send(b"echo READY$((40+2))\r");
    s.expect("READY42");
    s.send(b"sleep 100 &\r");
    s.send(b"jobs; echo J$((1+1))\r");
    s.expect("J2");
    assert_has(&s, rt, "Running");
    // Whether bash reports "Terminated" here is a race inside bash, under
    // runc as here: it does when the blocking wait4 of `wait` reaps the
    // job, not when its SIGCHLD handler got there first. `wait $!` gives
    // the job's status either way.
    s.send(b"kill %1; wait $!; echo K$((2+1)) st=$?\r");
    s.expect("K3 st=143");
    s.send(b"sleep 200\r");
    std::thread::sleep(Duration::from_millis(1500));
    s.send(b"\x1a");
    s.expect("Stopped");
    s.send(b"bg; jobs; echo B$((3+1))\r");
    s.expect("B4");
    s.send(b"fg\r");
    std::thread::sleep(Duration::from_millis(1500));
    s.send(b"\x03");
    s.send(b"echo rc=$((0+$?))\r");
    s.expect("rc=130");
    // A job the terminal stops when it reads in the background (SIGTTIN).
    s.send(b"cat &\r");
    s.send(b"sleep 1; jobs; echo T$((4+1))\r");
    s.expect("T5");
    let out = s.output();
    assert!(
        out.matches("Stopped").count() >= 2,
        "{rt}: the background cat was not stopped:\n{out}"
    );
    s.send(b"kill -9 %1; wait; echo W$((5+1))\r");
    s.expect("W6");
    s.send(b"exit 3\r");
    let status = s.wait();
    assert_eq!(status, 3, "{rt}");
}

fn assert_has(s: &Session, rt: &str, text: &str) {
    let out = s.output();
    assert!(out.contains(text), "{rt}: no {text:?} in:\n{out}");
}

#[test]
fn bash_on_a_terminal_has_job_control() {
    let d = require!(docker());
    require!(tests::host_program("/usr/bin/script", "bsdutils"));
    let image = require!(debian_image(d));
    job_control(d, RUNC, image);
    job_control(d, OURS, image);
}

/// The tools a Debian system runs on itself: dpkg checks every installed
/// file against its md5sums, md5sum of the libraries and programs, tar and
/// gzip round trip, script(1) and python's pty module on a pty of the
/// container's own, a FIFO, flock(1), sort and split, stat, NSS lookups.
#[test]
fn system_tools_run_as_under_runc() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    let script = r#"set -e
dpkg --verify && echo verify ok
find /usr/bin /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -print0 | sort -z | xargs -0 md5sum | md5sum
tar -C /usr/share -czf /tmp/perl.tgz perl5; mkdir /tmp/x; tar -C /tmp/x -xzf /tmp/perl.tgz
diff -r /usr/share/perl5 /tmp/x/perl5 && echo tar ok
script -qc 'tty; stty size; echo in-pty' /dev/null | tr -d '\r'
python3 -c '
import os, pty
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "-c", "tty; echo done"])
out = b""
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    out += d
print(out.decode().replace("\r", "").split("\n"), os.waitpid(pid, 0)[1])'
mkfifo /tmp/f; (echo through a fifo > /tmp/f &); cat /tmp/f
flock /tmp/lock -c 'echo locked'; (flock -n 9 && echo got it) 9>/tmp/lock2
seq 1 200000 | sort -r | head -2; seq 1 100000 | split -l 30000 - /tmp/part; ls /tmp/part*; cat /tmp/part* | wc -l
stat -c '%n %s %h %F %a %U' /etc/passwd /usr/bin/bash /dev/null /usr/bin/su
getent passwd root nobody; id nobody"#;
    let out = assert_agree(d, image, &[], script);
    assert!(
        out.contains("verify ok") && out.contains("tar ok") && out.contains("in-pty"),
        "{out}"
    );
}

/// The resource limits a process starts with are its caller's but for
/// those the spec sets, as runc's processes inherit them (here dockerd's,
/// through containerd and the shim), for the container's process, an
/// exec'd one, and with `--ulimit`.
#[test]
fn resource_limits_are_inherited_as_under_runc() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    let script = "ulimit -a; ulimit -Ha";
    assert_agree(d, image, &[], script);
    assert_agree(
        d,
        image,
        &["--ulimit", "nofile=512:1024", "--ulimit", "nproc=77"],
        script,
    );
    for rt in [RUNC, OURS] {
        let id = {
            let o = d.docker(&[
                "run",
                "-d",
                "--network=none",
                &format!("--runtime={rt}"),
                image,
                "sleep",
                "100",
            ]);
            assert_eq!(o.status, 0, "{}", o.describe());
            o.stdout.trim().to_string()
        };
        let o = d.docker(&[
            "exec",
            &id,
            "bash",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -e",
        ]);
        let _ = d.docker(&["rm", "-f", &id]);
        let host = d.docker(&[
            "run",
            "--rm",
            "--runtime=runc",
            "--network=none",
            image,
            "bash",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -e",
        ]);
        assert_eq!(o.stdout, host.stdout, "{rt}: exec\n{}", o.describe());
    }
}

/// su from one user to another on Docker's terminal: PAM asks for the
/// password with echo off, a right one gives the other user (on the same
/// pts), a wrong one fails after PAM's delay; `su -` gives a login shell.
fn su_with_a_password(d: &Docker, rt: &str, image: &str) {
    let host = format!("unix://{}", d.sock.display());
    let cfg = d.base.join("client");
    let cmd = format!("{CLIENT} run -it --rm --network=none --runtime={rt} {image} bash");
    let mut s = Session::start(
        &cmd,
        &[
            ("DOCKER_HOST", &host),
            ("DOCKER_CONFIG", cfg.to_str().unwrap()),
        ],
    );
    s.send(
        b"useradd -m -s /bin/bash u1 && echo u1:pw-one | chpasswd && \
          useradd -m -s /bin/bash u2 && echo A$((1+1))\r",
    );
    s.expect("A2");
    s.send(b"su - u2\r");
    s.send(b"echo W$((2+1)) $(id -un) $PWD\r");
    s.expect("W3 u2 /home/u2");
    s.send(b"su u1 -c 'echo I$((3+1)) $(id -un) $(tty)'\r");
    s.expect("Password:");
    s.send(b"pw-one\r");
    s.expect("I4 u1 /dev/pts/");
    assert!(
        !s.output().contains("pw-one\r\n"),
        "{rt}: the password was echoed"
    );
    let before = s.output().matches("Password:").count();
    s.send(b"su u1 -c true\r");
    let ok = tests::docker::wait_for(Duration::from_secs(30), || {
        s.output().matches("Password:").count() > before
    });
    assert!(ok, "{rt}: no second password prompt:\n{}", s.output());
    s.send(b"wrong\r");
    s.expect("su: Authentication failure");
    s.send(b"echo R$((4+1)) rc=$?\r");
    s.expect("R5 rc=1");
    s.send(b"exit\r");
    s.send(b"exit 4\r");
    assert_eq!(s.wait(), 4, "{rt}");
}

#[test]
fn su_between_users_asks_for_a_password_on_the_terminal() {
    let d = require!(docker());
    require!(tests::host_program("/usr/bin/script", "bsdutils"));
    let image = require!(debian_image(d));
    su_with_a_password(d, RUNC, image);
    su_with_a_password(d, OURS, image);
}

/// apt-get update from a local repository (a file: source the test builds
/// with dpkg-deb and dpkg-scanpackages), then `apt-get install` of a
/// package that pulls in a dependency, its use, and `remove --autoremove`.
#[test]
fn apt_installs_from_a_local_repository_with_dependencies() {
    let d = require!(docker());
    let image = require!(debian_image(d));
    let dpkg_deb = require!(tests::host_program("/usr/bin/dpkg-deb", "dpkg"));
    let scan = require!(tests::host_program(
        "/usr/bin/dpkg-scanpackages",
        "dpkg-dev"
    ));
    let dir = tests::scratch_dir().join(tests::unique_name("repo"));
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    let package = |name: &str, control: &str, file: &str, text: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let root = dir.join(name);
        let path = root.join(file);
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            format!(
                "Package: {name}\nArchitecture: all\n\
                 Maintainer: runsc-rs tests <tests@example.invalid>\n{control}"
            ),
        )
        .unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let deb = debs.join(format!("{name}.deb"));
        let o = Cmd::new(&[
            dpkg_deb.to_str().unwrap(),
            "--root-owner-group",
            "--build",
            root.to_str().unwrap(),
            deb.to_str().unwrap(),
        ])
        .run_native();
        assert_eq!(o.status, 0, "{}", o.describe());
    };
    package(
        "rr-app",
        "Version: 1.0\nDepends: rr-dep (>= 2)\nDescription: an app\n",
        "usr/bin/rr-app",
        "#!/bin/sh\necho app; cat /usr/share/rr-dep/data\n",
        0o755,
    );
    package(
        "rr-dep",
        "Version: 2.1\nDescription: its dependency\n",
        "usr/share/rr-dep/data",
        "from the dependency\n",
        0o644,
    );
    let o = Cmd::new(&[
        "/bin/sh",
        "-c",
        &format!("cd {} && {} . > Packages", debs.display(), scan.display()),
    ])
    .run_native();
    assert_eq!(o.status, 0, "{}", o.describe());
    let volume = format!("{}:/repo:ro", debs.display());
    // Only the local source: the image's own would fail without a network.
    let script = "set -e
echo 'deb [trusted=yes] file:/repo ./' > /etc/apt/sources.list.d/local.list
only='-o Dir::Etc::sourcelist=/etc/apt/sources.list.d/local.list -o Dir::Etc::sourceparts=-'
apt-get update -q $only
apt-get install -y -q $only rr-app 2>&1 | grep -vE '^(Fetched|debconf)'
rr-app
apt-cache policy rr-dep | head -3
apt-get remove -y -q --autoremove rr-app 2>&1 | grep -E '^(Removing|Remv)'
dpkg -l 'rr-*' 2>&1 | tail -1";
    let out = assert_agree(d, image, &["-v", &volume], script);
    assert!(
        out.contains("app\nfrom the dependency\n") && out.contains("Removing rr-dep"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
