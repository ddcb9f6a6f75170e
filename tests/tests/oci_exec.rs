//! `exec` as runc does it, compared with runc itself on the same busybox
//! bundle: `--cap` adds to the process's capability sets (unknown names
//! ignored), and `--preserve-fds=N` passes the caller's descriptors 3 ..
//! 3+N on to the process.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tests::bundle::{text, Bundle};
use tests::{require, sandbox};

/// Debian's runc, the reference.
const RUNC: &str = "/usr/sbin/runc";

/// runc's `runc spec` capability sets: ambient set without an inheritable
/// one, which the kernel refuses to raise (so the process shows none).
const SPEC_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// One of the two runtimes on a bundle.
struct Runtime<'a> {
    name: &'static str,
    bundle: &'a Bundle,
}

impl Runtime<'_> {
    fn state(&self) -> PathBuf {
        self.bundle.state.with_extension(self.name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = if self.name == "runc" {
            let mut c = Command::new(RUNC);
            c.arg("--root").arg(self.state()).args(args);
            c.current_dir(&self.bundle.dir);
            c
        } else {
            self.bundle.runtime_cmd(args)
        };
        c.stdin(Stdio::null());
        c
    }

    /// `run --detach ID`, waiting until the state says running.
    fn start(&self, id: &str) {
        let st = self
            .cmd(&["run", "--detach", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the runtime");
        assert!(st.success(), "{}: run --detach failed", self.name);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let o = self.cmd(&["state", id]).output().expect("state");
            if String::from_utf8_lossy(&o.stdout).contains("\"running\"") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {id} never ran: {:?}",
                self.name,
                text(&o)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `sh -c 'exec RUNTIME ARGS... REDIRECTIONS'`: the shell sets up the
    /// descriptors the runtime is to pass on.
    fn exec_with(&self, redirections: &str, args: &[&str]) -> std::process::Output {
        let c = self.cmd(args);
        let mut argv = vec![c.get_program().to_string_lossy().into_owned()];
        argv.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c")
            .arg(format!("exec \"$@\" {redirections}"))
            .arg("sh")
            .args(&argv)
            .current_dir(&self.bundle.dir)
            .stdin(Stdio::null());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                sh.env(k, v);
            }
        }
        sh.output().expect("run the runtime")
    }

    fn stop(&self, id: &str) {
        let _ = self
            .cmd(&["delete", "--force", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(self.state());
    }
}

fn runc() -> Result<(), String> {
    tests::host_program(RUNC, "runc")?;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Err("runc, the reference, needs root".into());
    }
    Ok(())
}

/// A running busybox container with runc's default capability sets,
/// under both runtimes.
fn bundle(name: &str) -> Result<Bundle, String> {
    Bundle::busybox(name, &["sleep", "1000"], |c| {
        c["process"]["capabilities"] = json!({
            "bounding": SPEC_CAPS, "effective": SPEC_CAPS,
            "permitted": SPEC_CAPS, "ambient": SPEC_CAPS,
        });
        c["process"]["noNewPrivileges"] = json!(false);
    })
}

/// Runs `each` under runc and then runsc-rs on a container of each, and
/// asserts they print and exit alike.
fn compare_runtimes(b: &Bundle, id: &str, each: impl Fn(&Runtime) -> std::process::Output) {
    let mut outs = Vec::new();
    for name in ["runc", "runsc-rs"] {
        let rt = Runtime { name, bundle: b };
        rt.start(id);
        let o = each(&rt);
        rt.stop(id);
        outs.push((name, o));
    }
    let (runc, ours) = (&outs[0].1, &outs[1].1);
    assert!(runc.status.success(), "runc failed: {:?}", text(runc));
    assert_eq!(
        (text(runc).0, runc.status.code()),
        (text(ours).0, ours.status.code()),
        "runc vs runsc-rs; runsc-rs stderr: {}",
        text(ours).1
    );
}

#[test]
fn exec_cap_adds_capabilities_as_runc_does() {
    require!(sandbox());
    require!(runc());
    let b = require!(bundle("exec-cap"));
    let script = "grep -E '^Cap' /proc/self/status; \
                  hostname other 2>/dev/null && hostname || echo hostname refused; \
                  chown 1000 /tmp 2>/dev/null && echo chown ok || echo chown refused";
    for caps in [
        &[][..],
        &["--cap", "CAP_SYS_ADMIN"][..],
        &["--cap", "CAP_CHOWN", "--cap", "CAP_NET_RAW"][..],
        // Names runc does not know are ignored, with a warning.
        &[
            "--cap",
            "SYS_ADMIN",
            "--cap",
            "cap_chown",
            "--cap",
            "CAP_NO_SUCH",
        ][..],
    ] {
        compare_runtimes(&b, "cap1", |rt| {
            let mut args = vec!["exec"];
            args.extend_from_slice(caps);
            args.extend(["cap1", "sh", "-c", script]);
            rt.cmd(&args).output().expect("exec")
        });
    }
}

#[test]
fn exec_preserve_fds_passes_descriptors_on_as_runc_does() {
    require!(sandbox());
    require!(runc());
    let b = require!(bundle("exec-fds"));
    let input = b.dir.join("input.txt");
    std::fs::write(&input, "line one\nline two\n").unwrap();
    // 3: a file to read, 4: a file to write, 5: the caller's stdout pipe;
    // their links in /proc show each one's access mode, as Linux shows it.
    // to-five goes first: runc copies the exec's stdout through a pipe of
    // its own while fd 5 reaches the caller directly, so a later write to
    // fd 5 can overtake earlier stdout under runc and the order would race.
    let script = "echo to-five >&5; read first <&3; echo \"got $first\"; cat <&3; \
                  echo to-four >&4; ls /proc/self/fd | wc -l; \
                  ls -l /proc/self/fd/ | awk 'NR > 1 && $9 < 6 {print $1, $9}'";
    let redirections = "3<input.txt 4>out-$0.txt 5>&1";
    compare_runtimes(&b, "fds1", |rt| {
        let o = rt.exec_with(
            &redirections.replace("$0", rt.name),
            &["exec", "--preserve-fds=3", "fds1", "sh", "-c", script],
        );
        let written = std::fs::read_to_string(b.dir.join(format!("out-{}.txt", rt.name)));
        assert_eq!(written.ok().as_deref(), Some("to-four\n"), "{}", rt.name);
        o
    });
    // A number that is not open is refused by name (runc would pass on a
    // descriptor of its own there).
    let rt = Runtime {
        name: "runsc-rs",
        bundle: &b,
    };
    rt.start("fds2");
    let o = rt.exec_with("3<input.txt", &["exec", "--preserve-fds=2", "fds2", "true"]);
    rt.stop("fds2");
    assert!(
        !o.status.success() && text(&o).1.contains("descriptor 4 is not open"),
        "{:?}",
        text(&o)
    );
}
