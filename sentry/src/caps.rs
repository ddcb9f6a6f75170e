//! Capabilities as data: the numbers and names of Linux's capabilities
//! (`linux/capability.h`; the `libc` crate has none of them) and
//! [`CapSet`], a set of them as the 64-bit mask Linux keeps. Every layer
//! checks with these (the VFS its DAC overrides, the net layer raw
//! sockets, the kernel the rest); the rules that change a task's sets are
//! the kernel's (`kernel/credentials.rs`).

use std::fmt;

pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_LINUX_IMMUTABLE: u32 = 9;
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_BROADCAST: u32 = 11;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;
pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_IPC_OWNER: u32 = 15;
pub const CAP_SYS_MODULE: u32 = 16;
pub const CAP_SYS_RAWIO: u32 = 17;
pub const CAP_SYS_CHROOT: u32 = 18;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_SYS_PACCT: u32 = 20;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_BOOT: u32 = 22;
pub const CAP_SYS_NICE: u32 = 23;
pub const CAP_SYS_RESOURCE: u32 = 24;
pub const CAP_SYS_TIME: u32 = 25;
pub const CAP_SYS_TTY_CONFIG: u32 = 26;
pub const CAP_MKNOD: u32 = 27;
pub const CAP_LEASE: u32 = 28;
pub const CAP_AUDIT_WRITE: u32 = 29;
pub const CAP_AUDIT_CONTROL: u32 = 30;
pub const CAP_SETFCAP: u32 = 31;
pub const CAP_MAC_OVERRIDE: u32 = 32;
pub const CAP_MAC_ADMIN: u32 = 33;
pub const CAP_SYSLOG: u32 = 34;
pub const CAP_WAKE_ALARM: u32 = 35;
pub const CAP_BLOCK_SUSPEND: u32 = 36;
pub const CAP_AUDIT_READ: u32 = 37;
pub const CAP_PERFMON: u32 = 38;
pub const CAP_BPF: u32 = 39;
pub const CAP_CHECKPOINT_RESTORE: u32 = 40;

/// The highest capability the sandbox knows (/proc/sys/kernel/cap_last_cap).
pub const CAP_LAST_CAP: u32 = CAP_CHECKPOINT_RESTORE;

/// Names by number, as the OCI spec and libcap spell them.
const NAMES: [&str; CAP_LAST_CAP as usize + 1] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A set of capabilities: bit N is capability N.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapSet(pub u64);

impl CapSet {
    pub const EMPTY: CapSet = CapSet(0);
    /// Every capability the sandbox knows.
    pub const FULL: CapSet = CapSet((1u64 << (CAP_LAST_CAP + 1)) - 1);
    /// The capabilities that follow the filesystem uid (Linux's CAP_FS_SET):
    /// dropped from the effective set when the fs uid leaves 0, raised
    /// (from the permitted set) when it returns.
    pub const FS: CapSet = CapSet(
        1 << CAP_CHOWN
            | 1 << CAP_DAC_OVERRIDE
            | 1 << CAP_DAC_READ_SEARCH
            | 1 << CAP_FOWNER
            | 1 << CAP_FSETID
            | 1 << CAP_LINUX_IMMUTABLE
            | 1 << CAP_MKNOD
            | 1 << CAP_MAC_OVERRIDE,
    );

    /// Whether `cap` is a capability the sandbox knows.
    pub fn valid(cap: u64) -> bool {
        cap <= CAP_LAST_CAP as u64
    }

    pub fn has(self, cap: u32) -> bool {
        cap <= CAP_LAST_CAP && self.0 & (1 << cap) != 0
    }

    pub fn with(self, cap: u32) -> CapSet {
        CapSet(self.0 | (1 << cap))
    }

    pub fn without(self, cap: u32) -> CapSet {
        CapSet(self.0 & !(1 << cap))
    }

    pub fn union(self, o: CapSet) -> CapSet {
        CapSet(self.0 | o.0)
    }

    pub fn intersect(self, o: CapSet) -> CapSet {
        CapSet(self.0 & o.0)
    }

    pub fn minus(self, o: CapSet) -> CapSet {
        CapSet(self.0 & !o.0)
    }

    pub fn is_subset_of(self, o: CapSet) -> bool {
        self.0 & !o.0 == 0
    }

    /// The set of capabilities named (`CAP_CHOWN`, or `chown`, in any
    /// case); Err with the first name that is not one.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<CapSet, String> {
        let mut s = CapSet::EMPTY;
        for n in names {
            s = s.with(number_of(n).ok_or_else(|| n.to_string())?);
        }
        Ok(s)
    }
}

/// The number of a capability by name (`CAP_NET_RAW` or `net_raw`).
pub fn number_of(name: &str) -> Option<u32> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// The name of capability `cap`.
pub fn name_of(cap: u32) -> Option<&'static str> {
    NAMES.get(cap as usize).copied()
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree() {
        assert_eq!(number_of("CAP_SYS_ADMIN"), Some(CAP_SYS_ADMIN));
        assert_eq!(number_of("net_raw"), Some(CAP_NET_RAW));
        assert_eq!(
            name_of(CAP_CHECKPOINT_RESTORE),
            Some("CAP_CHECKPOINT_RESTORE")
        );
        assert_eq!(number_of("CAP_NOPE"), None);
        assert_eq!(CapSet::FULL.0, 0x1ff_ffff_ffff);
    }

    #[test]
    fn dockers_default_set_is_its_well_known_mask() {
        let docker = CapSet::from_names([
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FSETID",
            "CAP_FOWNER",
            "CAP_MKNOD",
            "CAP_NET_RAW",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SETFCAP",
            "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE",
            "CAP_SYS_CHROOT",
            "CAP_KILL",
            "CAP_AUDIT_WRITE",
        ])
        .unwrap();
        assert_eq!(docker.0, 0xa80425fb);
    }
}
