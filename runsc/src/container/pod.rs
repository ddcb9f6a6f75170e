//! Which sandbox a container runs in: Kubernetes' pod is one sandbox. The
//! CRI (containerd's plugin, CRI-O, dockershim) marks each container's
//! spec with annotations: the pod's first container (the pause
//! container) is the `sandbox`, and every other names the sandbox's id;
//! those start inside the sandbox's Sentry instead of a sandbox of their
//! own. A container without the annotations has a sandbox of its own.

use std::collections::HashMap;

use anyhow::{bail, Result};

/// Annotations naming a container's kind: containerd's CRI plugin,
/// containerd's older spelling, CRI-O's, dockershim's.
const TYPE_KEYS: [&str; 4] = [
    "io.kubernetes.cri.container-type",
    "io.kubernetes.cri-containerd.container-type",
    "io.kubernetes.cri-o.ContainerType",
    "io.kubernetes.docker.type",
];

/// Annotations naming the pod's sandbox container, in the same order.
const SANDBOX_KEYS: [&str; 4] = [
    "io.kubernetes.cri.sandbox-id",
    "io.kubernetes.cri-containerd.sandbox-id",
    "io.kubernetes.cri-o.SandboxID",
    "io.kubernetes.sandbox.id",
];

/// Where a container runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A sandbox of its own (a pod's sandbox container, or no pod).
    Sandbox,
    /// Inside the sandbox of container `sandbox` (same `--root`).
    Member { sandbox: String },
}

/// The role `annotations` give container `id`.
pub fn role(id: &str, annotations: &HashMap<String, String>) -> Result<Role> {
    let Some(kind) = TYPE_KEYS.iter().find_map(|k| annotations.get(*k)) else {
        return Ok(Role::Sandbox);
    };
    match kind.as_str() {
        // dockershim called the sandbox "podsandbox".
        "sandbox" | "podsandbox" => Ok(Role::Sandbox),
        "container" => {
            let Some(sandbox) = SANDBOX_KEYS.iter().find_map(|k| annotations.get(*k)) else {
                bail!("container {id:?} is of type container but names no sandbox id");
            };
            crate::spec::check_id(sandbox)?;
            if sandbox == id {
                return Ok(Role::Sandbox);
            }
            Ok(Role::Member {
                sandbox: sandbox.clone(),
            })
        }
        other => bail!("container {id:?}: unknown container type {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cri_annotations_place_a_container_in_its_pods_sandbox() {
        assert_eq!(role("a", &ann(&[])).unwrap(), Role::Sandbox);
        let sandbox = ann(&[("io.kubernetes.cri.container-type", "sandbox")]);
        assert_eq!(role("p", &sandbox).unwrap(), Role::Sandbox);
        for (t, s) in TYPE_KEYS.iter().zip(SANDBOX_KEYS) {
            let member = ann(&[(t, "container"), (s, "pod1")]);
            assert_eq!(
                role("c", &member).unwrap(),
                Role::Member {
                    sandbox: "pod1".into()
                }
            );
        }
        let docker = ann(&[("io.kubernetes.docker.type", "podsandbox")]);
        assert_eq!(role("p", &docker).unwrap(), Role::Sandbox);
        let own = ann(&[
            ("io.kubernetes.cri.container-type", "container"),
            ("io.kubernetes.cri.sandbox-id", "c"),
        ]);
        assert_eq!(role("c", &own).unwrap(), Role::Sandbox);
        let orphan = ann(&[("io.kubernetes.cri.container-type", "container")]);
        assert!(role("c", &orphan).is_err());
        let odd = ann(&[("io.kubernetes.cri.container-type", "vm")]);
        assert!(role("c", &odd).is_err());
        let bad = ann(&[
            ("io.kubernetes.cri.container-type", "container"),
            ("io.kubernetes.cri.sandbox-id", "../x"),
        ]);
        assert!(role("c", &bad).is_err());
    }
}
