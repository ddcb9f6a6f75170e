//! The Sentry's boot spec: the configuration's platform, strace and root,
//! and an OCI container's boot plan (hostname, pids limit, read-only root,
//! mounts), as the Sentry takes them.

use sentry::boot::{BootSpec, Mount, MountTree, RootSpec};

use crate::config::{Config, FileAccess, Overlay};
use crate::spec::BootPlan;

/// `do` has no plan: the default mount tree over the root.
pub fn boot_spec(
    g: &Config,
    plan: Option<&BootPlan>,
    hostname: String,
    cpus: usize,
    cpuinfo: String,
) -> BootSpec {
    BootSpec {
        platform: g.platform,
        strace: g.strace,
        systrap_patch: g.systrap_patch,
        strace_syscalls: g.strace_syscalls.clone(),
        strace_log_size: g.strace_log_size,
        hostname,
        cpus,
        cpuinfo,
        network: g.network,
        unprivileged_port_start: plan.and_then(|p| p.unprivileged_port_start),
        pids_limit: plan
            .and_then(|p| p.pids_limit)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        root: RootSpec {
            overlay: g.overlay == Overlay::Memory,
            shared: g.file_access == FileAccess::Shared,
            readonly: plan.is_some_and(|p| p.readonly_root),
        },
        mounts: plan.map_or(MountTree::Default, mount_tree),
    }
}

/// An OCI container's mounts, in spec order (the sandbox's own
/// container's, or a further container's of its pod).
pub fn mount_tree(plan: &BootPlan) -> MountTree {
    MountTree::Spec(
        plan.mounts
            .iter()
            .map(|m| Mount {
                destination: m.destination.clone(),
                fstype: m.fstype.clone(),
                source: m.source.clone(),
                options: m.options.clone(),
            })
            .collect(),
    )
}
