//! OCI bundles for runtime tests: a root filesystem made of the host's
//! static busybox, and a config.json built from a serde_json value, plus a
//! runtime `--root` of the test's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// The environment variable that marks a test's sandbox processes.
const TAG: &str = "RUNSC_RS_TEST_BUNDLE";

/// Applets linked into the busybox root filesystem.
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "sleep", "id", "hostname", "pwd", "env", "touch", "mkdir", "rm",
    "true", "false", "kill", "ps", "trap", "test", "grep", "wc", "head", "mount", "df", "stat",
];

/// A bundle directory with a busybox root filesystem; removed on drop.
pub struct Bundle {
    pub dir: PathBuf,
    /// The runtime's `--root` for this test.
    pub state: PathBuf,
}

impl Bundle {
    /// A bundle whose process runs `args`; `edit` may change the config.
    pub fn busybox(
        name: &str,
        args: &[&str],
        edit: impl FnOnce(&mut Value),
    ) -> Result<Bundle, String> {
        let busybox = crate::static_host_program("/bin/busybox", "busybox-static")?;
        let dir = crate::scratch_dir().join(crate::unique_name(name));
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir.join("rootfs/tmp")).map_err(|e| e.to_string())?;
        std::fs::copy(&busybox, bin.join("busybox")).map_err(|e| e.to_string())?;
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(a)).map_err(|e| e.to_string())?;
        }
        let mut config = default_config(args);
        edit(&mut config);
        std::fs::write(dir.join("config.json"), config.to_string()).map_err(|e| e.to_string())?;
        let state = dir.with_extension("state");
        Ok(Bundle { dir, state })
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.dir.join("config.json"), config).expect("write config.json");
    }

    /// `runsc-rs --root STATE ARGS...`, run to completion.
    pub fn runtime(&self, args: &[&str]) -> Output {
        self.runtime_cmd(args).output().expect("run runsc-rs")
    }

    /// `runsc-rs --root STATE ARGS...` for commands that leave a sandbox
    /// running (`create`, `run --detach`): as with runc, the sandbox keeps
    /// the caller's stdout and stderr, so they go to files here rather than
    /// to pipes whose end would come only when the container exits.
    pub fn runtime_detached(&self, args: &[&str]) -> Output {
        let n = crate::unique_name("out");
        let (out, err) = (
            self.dir.join(format!("{n}.stdout")),
            self.dir.join(format!("{n}.stderr")),
        );
        let status = self
            .runtime_cmd(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .status()
            .expect("run runsc-rs");
        Output {
            status,
            stdout: std::fs::read(&out).unwrap_or_default(),
            stderr: std::fs::read(&err).unwrap_or_default(),
        }
    }

    pub fn runtime_cmd(&self, args: &[&str]) -> Command {
        let mut c = crate::runsc_command();
        c.arg("--root")
            .arg(&self.state)
            .args(args)
            .current_dir(&self.dir)
            // Inherited by every process of the sandbox (the Sentry's
            // command line names no bundle): how leftovers are found.
            .env(TAG, &self.dir);
        c
    }

    /// Host processes whose command line mentions this bundle or state
    /// directory, or whose environment carries this bundle's tag (leftovers
    /// of a sandbox).
    pub fn leftover_processes(&self) -> Vec<String> {
        let mut tag = format!("{TAG}=").into_bytes();
        tag.extend_from_slice(self.dir.as_os_str().as_encoded_bytes());
        let needles = [
            self.dir.to_string_lossy().into_owned(),
            self.state.to_string_lossy().into_owned(),
        ];
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let tagged = std::fs::read(e.path().join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == tag.as_slice()));
            if tagged || needles.iter().any(|n| cmd.contains(n.as_str())) {
                out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
        out
    }

    /// Entries left in the state directory.
    pub fn leftover_state(&self) -> Vec<String> {
        std::fs::read_dir(&self.state)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // A test that failed half-way may have left a container running:
        // it goes with the bundle, not on as an orphan.
        for id in self.leftover_state() {
            let _ = self
                .runtime_cmd(&["delete", "--force", &id])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// A config.json as `runc spec` would write it, without a terminal.
pub fn default_config(args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": false},
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "noNewPrivileges": true
        },
        "hostname": "runsc-rs-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
    })
}

/// Text of an output's stdout and stderr, for assertions.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Whether a path exists (for "nothing left behind" checks).
pub fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
