//! The sandbox's mount namespace, built from a boot spec's root and
//! mounts ([`super::BootSpec`]).

use std::sync::Arc;

use gofer_protocol::Client;

use super::spec::{Mount, MountTree, RootSpec};
use crate::errno::Errno;
use crate::fsimpl::gofer::{GoferFs, Options};
use crate::fsimpl::{namespace, proc};
use crate::kernel::namespaces::PidNs;
use crate::mm::MemoryFile;
use crate::vfs::{ops, Cred, MountSpec, Vfs};

/// The namespace `root` and `mounts` describe, over the Gofer's root. Its
/// proc filesystems show `pidns` (None: the sandbox's PID namespace).
pub(super) fn build(
    gofer: Arc<Client>,
    root: &RootSpec,
    mounts: &MountTree,
    memfile: &Arc<MemoryFile>,
    pidns: Option<Arc<PidNs>>,
) -> Result<Arc<Vfs>, String> {
    match mounts {
        MountTree::Default => {
            let vfs = namespace::new(gofer, root.overlay, root.shared, memfile)
                .map_err(|e| format!("cannot mount the root filesystem: {}", super::describe(e)))?;
            if root.readonly {
                vfs.set_root_readonly(true)
                    .map_err(|e| format!("cannot make the root read-only: {}", strerror(e)))?;
            }
            Ok(vfs)
        }
        MountTree::Spec(mounts) => from_spec(gofer, root, mounts, memfile, pidns),
    }
}

/// strerror(3) text with the os error number, as the runtime reports a
/// container's mount errors.
fn strerror(e: Errno) -> String {
    std::io::Error::from_raw_os_error(e.0).to_string()
}

/// An OCI container's filesystem tree: the root, then the spec's mounts in
/// order, then the root made read-only if the spec says so.
fn from_spec(
    gofer: Arc<Client>,
    root: &RootSpec,
    mounts: &[Mount],
    memfile: &Arc<MemoryFile>,
    pidns: Option<Arc<PidNs>>,
) -> Result<Arc<Vfs>, String> {
    let shared = root.shared;
    let vfs = namespace::bare(gofer.clone(), root.overlay, shared, memfile)
        .map_err(|e| format!("cannot mount the root filesystem: {}", strerror(e)))?;
    for m in mounts {
        let (flags, data) = mount_options(&m.options);
        let dest = m.destination.as_bytes().to_vec();
        let fail = |e: Errno| {
            format!(
                "cannot mount {} on {}: {}",
                m.fstype,
                m.destination,
                strerror(e)
            )
        };
        if m.fstype == "bind" {
            // The Gofer serves the bound path at its destination. A
            // directory volume becomes a Gofer filesystem of its own, so
            // writes reach the host even under the overlay root; a file
            // (Docker's /etc/hosts ...) is reached through the root.
            let names: Vec<&[u8]> = m
                .destination
                .split('/')
                .filter(|c| !c.is_empty())
                .map(str::as_bytes)
                .collect();
            let writable = flags & libc::MS_RDONLY == 0;
            match GoferFs::new_subtree(gofer.clone(), &names, Options { writable, shared }) {
                Ok(root) => vfs.mount_at(&dest, root, "9p").map_err(fail)?,
                Err(Errno::ENOTDIR) => {}
                Err(e) => return Err(fail(e)),
            }
            let extra =
                flags & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
            if extra != 0 {
                let spec = MountSpec {
                    source: dest.clone(),
                    dest: dest.clone(),
                    fstype: String::new(),
                    flags: libc::MS_BIND,
                    data: Vec::new(),
                };
                if !is_dir(&vfs, &dest) {
                    vfs.mount_spec(&spec).map_err(fail)?;
                }
                vfs.mount_spec(&MountSpec {
                    flags: libc::MS_REMOUNT | libc::MS_BIND | extra,
                    ..spec
                })
                .map_err(fail)?;
            }
            continue;
        }
        if let (Some(ns), "proc") = (&pidns, m.fstype.as_str()) {
            // No task mounts it, so the namespace it shows is given here
            // (mount(2) takes the mounter's).
            let fs = proc::new_procfs(Arc::downgrade(&vfs), Some(ns.clone()));
            vfs.mount_at(&dest, fs, "proc").map_err(fail)?;
            let extra =
                flags & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
            if extra != 0 {
                vfs.mount_spec(&MountSpec {
                    source: dest.clone(),
                    dest: dest.clone(),
                    fstype: String::new(),
                    flags: libc::MS_REMOUNT | libc::MS_BIND | extra,
                    data: Vec::new(),
                })
                .map_err(fail)?;
            }
            continue;
        }
        // Docker's /dev is a tmpfs that runc fills with device nodes; the
        // sandbox's devfs is that, ready-made.
        let fstype = if m.destination == "/dev" && m.fstype == "tmpfs" {
            "devtmpfs".to_string()
        } else {
            m.fstype.clone()
        };
        vfs.mount_spec(&MountSpec {
            source: m.source.as_bytes().to_vec(),
            dest,
            fstype,
            flags,
            data,
        })
        .map_err(fail)?;
    }
    if root.readonly {
        vfs.set_root_readonly(true)
            .map_err(|e| format!("cannot make the root read-only: {}", strerror(e)))?;
    }
    Ok(vfs)
}

fn is_dir(vfs: &Vfs, path: &[u8]) -> bool {
    let ctx = ops::Ctx::new(vfs, vfs.root(), Cred::root(), 0o022);
    ops::walk(&ctx, vfs.root(), path, true).is_ok_and(|d| d.is_dir())
}

/// MS_* flags and filesystem data of OCI mount options.
fn mount_options(options: &[String]) -> (u64, Vec<u8>) {
    let mut flags = 0u64;
    let mut data: Vec<&str> = Vec::new();
    for o in options {
        match o.as_str() {
            "ro" => flags |= libc::MS_RDONLY,
            "nosuid" => flags |= libc::MS_NOSUID,
            "nodev" => flags |= libc::MS_NODEV,
            "noexec" => flags |= libc::MS_NOEXEC,
            "sync" => flags |= libc::MS_SYNCHRONOUS,
            "dirsync" => flags |= libc::MS_DIRSYNC,
            "noatime" => flags |= libc::MS_NOATIME,
            "nodiratime" => flags |= libc::MS_NODIRATIME,
            "relatime" => flags |= libc::MS_RELATIME,
            "strictatime" => flags |= libc::MS_STRICTATIME,
            // Defaults, and propagation (one namespace: nothing
            // propagates) and bind kinds (handled by the caller).
            "rw" | "suid" | "dev" | "exec" | "atime" | "diratime" | "bind" | "rbind"
            | "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(",").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::mount_options;

    #[test]
    fn mount_options_split_into_flags_and_filesystem_data() {
        let opts: Vec<String> = ["ro", "nosuid", "rbind", "mode=755", "rprivate", "size=64m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (flags, data) = mount_options(&opts);
        assert_eq!(flags, libc::MS_RDONLY | libc::MS_NOSUID);
        assert_eq!(data, b"mode=755,size=64m");
        assert_eq!(mount_options(&[]), (0, Vec::new()));
    }
}
