//! `spec`: a default config.json.

use std::path::Path;

use anyhow::{anyhow, bail, Result};

/// `spec`: writes a default config.json (runc's defaults: `sh` on a
/// terminal, rootfs in `rootfs`).
pub fn spec(bundle: &Path) -> Result<u8> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    let mut s = oci_spec::runtime::Spec::default();
    s.set_hostname(Some("runsc-rs".into()));
    s.save(&path)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(0)
}
