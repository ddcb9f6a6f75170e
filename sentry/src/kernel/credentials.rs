//! A task's credentials and Linux's rules for changing them: the uid and
//! gid families with their permission checks, the capability sets
//! (effective, permitted, inheritable, bounding, ambient) with securebits,
//! and what a uid change and an execve do to them (`capabilities(7)`).
//!
//! Credentials are per task (Linux's `struct cred`) and copied by clone,
//! so a new thread or child starts with its creator's, no_new_privs
//! included.

use std::sync::Arc;

use crate::caps::{CapSet, CAP_SETGID, CAP_SETPCAP, CAP_SETUID};
use crate::errno::Errno;
use crate::kernel::namespaces::UserNamespace;

/// A task's user namespace, compared by identity.
#[derive(Clone)]
pub struct UserNsRef(pub Arc<UserNamespace>);

impl PartialEq for UserNsRef {
    fn eq(&self, other: &UserNsRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for UserNsRef {}

impl std::fmt::Debug for UserNsRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Default for UserNsRef {
    fn default() -> UserNsRef {
        UserNsRef(UserNamespace::init())
    }
}

/// Securebits a task may set (Linux's SECURE_ALL_BITS less the two exec
/// restrictions, which Linux gives no meaning to for an execve) and their
/// lock bits.
const SECURE_BITS: u32 = (libc::SECBIT_NOROOT
    | libc::SECBIT_NO_SETUID_FIXUP
    | libc::SECBIT_KEEP_CAPS
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE) as u32;
const SECURE_LOCKS: u32 = SECURE_BITS << 1;

/// "Leave this id as it is" in the set*id calls.
pub const KEEP: u32 = u32::MAX;

/// A task's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    /// The uid filesystem access is checked with (follows euid unless
    /// setfsuid sets it).
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub effective: CapSet,
    pub permitted: CapSet,
    pub inheritable: CapSet,
    pub bounding: CapSet,
    pub ambient: CapSet,
    /// SECBIT_* (KEEP_CAPS is PR_SET_KEEPCAPS's flag).
    pub securebits: u32,
    /// PR_SET_NO_NEW_PRIVS: once set, for this task and everything it
    /// starts.
    pub no_new_privs: bool,
    /// The user namespace the ids and capabilities belong to. The ids are
    /// kernel ids all the same (see `namespaces/user.rs`).
    pub user_ns: UserNsRef,
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials::root()
    }
}

impl Credentials {
    /// uid 0 with every capability (`runsc-rs do`, a spec without
    /// capabilities).
    pub fn root() -> Credentials {
        Credentials::of(0, 0, Vec::new())
    }

    /// `uid`:`gid` as a fresh login has them: root holds every capability,
    /// anyone else none; the bounding set is full.
    pub fn of(uid: u32, gid: u32, groups: Vec<u32>) -> Credentials {
        let caps = if uid == 0 {
            CapSet::FULL
        } else {
            CapSet::EMPTY
        };
        Credentials {
            uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups,
            effective: caps,
            permitted: caps,
            inheritable: CapSet::EMPTY,
            bounding: CapSet::FULL,
            ambient: CapSet::EMPTY,
            securebits: 0,
            no_new_privs: false,
            user_ns: UserNsRef::default(),
        }
    }

    /// Whether the task holds `cap` over the whole sandbox (Linux's
    /// `capable`: in the initial user namespace). What is not a
    /// namespace's (files, other users' processes, limits) is checked so.
    pub fn capable(&self, cap: u32) -> bool {
        self.user_ns.0.is_init() && self.effective.has(cap)
    }

    /// Whether the task holds `cap` in its own user namespace (Linux's
    /// `ns_capable(current_user_ns(), cap)`): the rules for its own ids
    /// and capability sets.
    pub fn capable_here(&self, cap: u32) -> bool {
        self.effective.has(cap)
    }

    /// Whether the task holds `cap` in `ns` (Linux's `ns_capable`): in
    /// `ns` itself with `cap` effective, or in an ancestor of `ns` whose
    /// child on the way down the task owns (its owner holds every
    /// capability there).
    pub fn capable_in(&self, ns: &UserNamespace, cap: u32) -> bool {
        let mine = &*self.user_ns.0;
        let mut cur = ns;
        loop {
            if std::ptr::eq(cur, mine) {
                return self.effective.has(cap);
            }
            let Some(parent) = cur.parent.as_deref() else {
                return false;
            };
            if std::ptr::eq(parent, mine) && cur.owner == self.euid {
                return true;
            }
            cur = parent;
        }
    }

    /// The kernel id of uid 0 of the task's namespace (None: unmapped):
    /// root's capability rules follow it.
    fn root_uid(&self) -> Option<u32> {
        self.user_ns.0.uid_to_k(0)
    }

    fn is_root(&self, kuid: u32) -> bool {
        self.root_uid() == Some(kuid)
    }

    fn secure(&self, bit: i32) -> bool {
        self.securebits & bit as u32 != 0
    }

    // ---- the uid and gid families ----

    /// setresuid(2); also what setuid and setreuid resolve to. Without
    /// CAP_SETUID each new id must be one of the current three.
    pub fn setresuid(&mut self, r: u32, e: u32, s: u32) -> Result<(), Errno> {
        let old = (self.uid, self.euid, self.suid);
        let ok = |v: u32| v == KEEP || v == old.0 || v == old.1 || v == old.2;
        let all_current = ok(r) && ok(e) && ok(s);
        if !(all_current || self.capable_here(CAP_SETUID)) {
            return Err(Errno::EPERM);
        }
        self.apply_uids(r, e, s);
        Ok(())
    }

    /// setuid(2): all three ids with CAP_SETUID; else the effective one,
    /// to the real or saved id.
    pub fn setuid(&mut self, id: u32) -> Result<(), Errno> {
        if id == KEEP {
            return Err(Errno::EINVAL);
        }
        if self.capable_here(CAP_SETUID) {
            self.apply_uids(id, id, id);
        } else if id == self.uid || id == self.suid {
            self.apply_uids(KEEP, id, KEEP);
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// setreuid(2): the real id may become the effective one, the
    /// effective id any of the three; the saved id follows the effective
    /// one when the real id is set or the effective id leaves the real.
    pub fn setreuid(&mut self, r: u32, e: u32) -> Result<(), Errno> {
        let cap = self.capable_here(CAP_SETUID);
        if r != KEEP && !cap && r != self.uid && r != self.euid {
            return Err(Errno::EPERM);
        }
        if e != KEEP && !cap && e != self.uid && e != self.euid && e != self.suid {
            return Err(Errno::EPERM);
        }
        let new_e = if e == KEEP { self.euid } else { e };
        let s = if r != KEEP || (e != KEEP && e != self.uid) {
            new_e
        } else {
            KEEP
        };
        self.apply_uids(r, e, s);
        Ok(())
    }

    /// Sets the ids (fsuid follows euid) and applies Linux's capability
    /// fixup for a uid change (`cap_emulate_setxuid`) unless
    /// SECBIT_NO_SETUID_FIXUP.
    fn apply_uids(&mut self, r: u32, e: u32, s: u32) {
        let (or, oe, os) = (self.uid, self.euid, self.suid);
        let pick = |v: u32, old: u32| if v == KEEP { old } else { v };
        self.uid = pick(r, or);
        self.euid = pick(e, oe);
        self.suid = pick(s, os);
        self.fsuid = self.euid;
        if self.secure(libc::SECBIT_NO_SETUID_FIXUP) {
            return;
        }
        let had_root = self.is_root(or) || self.is_root(oe) || self.is_root(os);
        let all_nonroot =
            !self.is_root(self.uid) && !self.is_root(self.euid) && !self.is_root(self.suid);
        if had_root && all_nonroot {
            if !self.secure(libc::SECBIT_KEEP_CAPS) {
                self.permitted = CapSet::EMPTY;
                self.effective = CapSet::EMPTY;
            }
            self.ambient = CapSet::EMPTY;
        }
        if self.is_root(oe) && !self.is_root(self.euid) {
            self.effective = CapSet::EMPTY;
        }
        if !self.is_root(oe) && self.is_root(self.euid) {
            self.effective = self.permitted;
        }
    }

    /// setresgid(2) and family: CAP_SETGID or one of the current ids.
    pub fn setresgid(&mut self, r: u32, e: u32, s: u32) -> Result<(), Errno> {
        let old = (self.gid, self.egid, self.sgid);
        let ok = |v: u32| v == KEEP || v == old.0 || v == old.1 || v == old.2;
        let all_current = ok(r) && ok(e) && ok(s);
        if !(all_current || self.capable_here(CAP_SETGID)) {
            return Err(Errno::EPERM);
        }
        self.apply_gids(r, e, s);
        Ok(())
    }

    pub fn setgid(&mut self, id: u32) -> Result<(), Errno> {
        if id == KEEP {
            return Err(Errno::EINVAL);
        }
        if self.capable_here(CAP_SETGID) {
            self.apply_gids(id, id, id);
        } else if id == self.gid || id == self.sgid {
            self.apply_gids(KEEP, id, KEEP);
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    pub fn setregid(&mut self, r: u32, e: u32) -> Result<(), Errno> {
        let cap = self.capable_here(CAP_SETGID);
        if r != KEEP && !cap && r != self.gid && r != self.egid {
            return Err(Errno::EPERM);
        }
        if e != KEEP && !cap && e != self.gid && e != self.egid && e != self.sgid {
            return Err(Errno::EPERM);
        }
        let new_e = if e == KEEP { self.egid } else { e };
        let s = if r != KEEP || (e != KEEP && e != self.gid) {
            new_e
        } else {
            KEEP
        };
        self.apply_gids(r, e, s);
        Ok(())
    }

    fn apply_gids(&mut self, r: u32, e: u32, s: u32) {
        let pick = |v: u32, old: u32| if v == KEEP { old } else { v };
        self.gid = pick(r, self.gid);
        self.egid = pick(e, self.egid);
        self.sgid = pick(s, self.sgid);
        self.fsgid = self.egid;
    }

    /// setfsuid(2): returns the old fs uid whether or not it changed (the
    /// call has no error). The fs capabilities leave the effective set
    /// when the fs uid leaves 0 and come back from the permitted set when
    /// it returns.
    pub fn setfsuid(&mut self, id: u32) -> u32 {
        let old = self.fsuid;
        let allowed = id == self.uid || id == self.euid || id == self.suid || id == self.fsuid;
        if id == KEEP || !(allowed || self.capable_here(CAP_SETUID)) {
            return old;
        }
        self.fsuid = id;
        if !self.secure(libc::SECBIT_NO_SETUID_FIXUP) {
            if self.is_root(old) && !self.is_root(id) {
                self.effective = self.effective.minus(CapSet::FS);
            }
            if !self.is_root(old) && self.is_root(id) {
                self.effective = self.effective.union(self.permitted.intersect(CapSet::FS));
            }
        }
        old
    }

    /// setfsgid(2): as setfsuid, without capability changes.
    pub fn setfsgid(&mut self, id: u32) -> u32 {
        let old = self.fsgid;
        let allowed = id == self.gid || id == self.egid || id == self.sgid || id == self.fsgid;
        if id != KEEP && (allowed || self.capable_here(CAP_SETGID)) {
            self.fsgid = id;
        }
        old
    }

    pub fn setgroups(&mut self, groups: Vec<u32>) -> Result<(), Errno> {
        if !self.capable_here(CAP_SETGID) {
            return Err(Errno::EPERM);
        }
        self.groups = groups;
        Ok(())
    }

    // ---- capability sets ----

    /// capset(2)'s rules: the permitted set only shrinks, the effective
    /// set stays inside it, and the inheritable set gains only what the
    /// permitted set holds (anything in the bounding set with
    /// CAP_SETPCAP). The ambient set keeps only what both still hold.
    pub fn capset(
        &mut self,
        effective: CapSet,
        permitted: CapSet,
        inheritable: CapSet,
    ) -> Result<(), Errno> {
        let (e, p, i) = (
            effective.intersect(CapSet::FULL),
            permitted.intersect(CapSet::FULL),
            inheritable.intersect(CapSet::FULL),
        );
        let inh_limit = if self.capable_here(CAP_SETPCAP) {
            self.inheritable.union(self.bounding)
        } else {
            self.inheritable.union(self.permitted)
        };
        if !i.is_subset_of(inh_limit) || !i.is_subset_of(self.inheritable.union(self.bounding)) {
            return Err(Errno::EPERM);
        }
        if !p.is_subset_of(self.permitted) || !e.is_subset_of(p) {
            return Err(Errno::EPERM);
        }
        self.effective = e;
        self.permitted = p;
        self.inheritable = i;
        self.ambient = self.ambient.intersect(p).intersect(i);
        Ok(())
    }

    /// PR_CAPBSET_DROP.
    pub fn bounding_drop(&mut self, cap: u32) -> Result<(), Errno> {
        if !self.capable_here(CAP_SETPCAP) {
            return Err(Errno::EPERM);
        }
        self.bounding = self.bounding.without(cap);
        Ok(())
    }

    /// PR_SET_SECUREBITS: CAP_SETPCAP, no locked bit changed, no lock
    /// released, only known bits.
    pub fn set_securebits(&mut self, bits: u64) -> Result<(), Errno> {
        let old = self.securebits;
        let all = (SECURE_BITS | SECURE_LOCKS) as u64;
        if bits & !all != 0 {
            return Err(Errno::EPERM);
        }
        let bits = bits as u32;
        let locked = (old & SECURE_LOCKS) >> 1;
        if locked & (old ^ bits) != 0 || old & SECURE_LOCKS & !bits != 0 {
            return Err(Errno::EPERM);
        }
        if !self.capable_here(CAP_SETPCAP) {
            return Err(Errno::EPERM);
        }
        self.securebits = bits;
        Ok(())
    }

    /// PR_SET_KEEPCAPS.
    pub fn set_keepcaps(&mut self, on: u64) -> Result<(), Errno> {
        if on > 1 {
            return Err(Errno::EINVAL);
        }
        if self.secure(libc::SECBIT_KEEP_CAPS_LOCKED) {
            return Err(Errno::EPERM);
        }
        let bit = libc::SECBIT_KEEP_CAPS as u32;
        if on == 1 {
            self.securebits |= bit;
        } else {
            self.securebits &= !bit;
        }
        Ok(())
    }

    pub fn keepcaps(&self) -> bool {
        self.secure(libc::SECBIT_KEEP_CAPS)
    }

    /// PR_CAP_AMBIENT_RAISE: only what is both permitted and inheritable,
    /// and not under SECBIT_NO_CAP_AMBIENT_RAISE.
    pub fn ambient_raise(&mut self, cap: u32) -> Result<(), Errno> {
        if !self.permitted.has(cap)
            || !self.inheritable.has(cap)
            || self.secure(libc::SECBIT_NO_CAP_AMBIENT_RAISE)
        {
            return Err(Errno::EPERM);
        }
        self.ambient = self.ambient.with(cap);
        Ok(())
    }

    // ---- execve ----

    /// What execve does to the credentials (`capabilities(7)`,
    /// "Transformation of capabilities during execve()"). The sandbox has
    /// no file capabilities, so a program's own sets are empty, except
    /// that root (real or effective) gets the bounding and inheritable
    /// sets as permitted unless SECBIT_NOROOT, effective too when its
    /// effective uid is 0. `setid` is the set-user/group-ID gain the file
    /// asks for; with no_new_privs it and any capability gain are refused
    /// (the process keeps what it had). Returns whether the exec is
    /// "secure" (AT_SECURE).
    pub fn exec(&mut self, setid: (Option<u32>, Option<u32>)) -> bool {
        let old = self.clone();
        let (mut euid, mut egid) = (self.euid, self.egid);
        if !self.no_new_privs {
            euid = setid.0.unwrap_or(euid);
            egid = setid.1.unwrap_or(egid);
        }
        let is_setid = euid != self.euid || egid != self.egid;
        let mut permitted = CapSet::EMPTY;
        let mut raise_effective = false;
        if !self.secure(libc::SECBIT_NOROOT) && (self.is_root(euid) || self.is_root(self.uid)) {
            permitted = self.bounding.union(self.inheritable);
            raise_effective = self.is_root(euid);
        }
        if self.no_new_privs && !permitted.is_subset_of(old.permitted) {
            permitted = permitted.intersect(old.permitted);
        }
        self.euid = euid;
        self.egid = egid;
        self.suid = euid;
        self.fsuid = euid;
        self.sgid = egid;
        self.fsgid = egid;
        if is_setid {
            self.ambient = CapSet::EMPTY;
        }
        self.permitted = permitted.union(self.ambient);
        self.effective = if raise_effective {
            self.permitted
        } else {
            self.ambient
        };
        self.securebits &= !(libc::SECBIT_KEEP_CAPS as u32);
        is_setid
            || (!self.is_root(self.uid)
                && (raise_effective || !self.permitted.is_subset_of(self.ambient)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::{CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_KILL, CAP_NET_RAW};

    #[test]
    fn root_leaving_uid_0_loses_its_capabilities_unless_keepcaps() {
        let mut c = Credentials::root();
        c.setuid(1000).unwrap();
        assert_eq!((c.permitted, c.effective), (CapSet::EMPTY, CapSet::EMPTY));
        assert_eq!(c.setuid(0), Err(Errno::EPERM));

        let mut c = Credentials::root();
        c.set_keepcaps(1).unwrap();
        c.setresuid(1000, 1000, 1000).unwrap();
        assert_eq!((c.permitted, c.effective), (CapSet::FULL, CapSet::EMPTY));
    }

    #[test]
    fn an_effective_uid_change_moves_the_effective_set_only() {
        let mut c = Credentials::root();
        c.setresuid(KEEP, 1000, KEEP).unwrap();
        assert_eq!(c.effective, CapSet::EMPTY);
        assert_eq!(c.permitted, CapSet::FULL);
        c.setresuid(KEEP, 0, KEEP).unwrap();
        assert_eq!(c.effective, CapSet::FULL);
    }

    #[test]
    fn setfsuid_drops_and_restores_the_fs_capabilities() {
        let mut c = Credentials::root();
        assert_eq!(c.setfsuid(1000), 0);
        assert!(!c.capable(CAP_DAC_OVERRIDE) && !c.capable(CAP_CHOWN));
        assert!(c.capable(CAP_KILL));
        assert_eq!(c.setfsuid(0), 1000);
        assert!(c.capable(CAP_DAC_OVERRIDE));
    }

    #[test]
    fn capset_only_shrinks_the_permitted_set() {
        let mut c = Credentials::root();
        let p = CapSet::FULL.without(CAP_NET_RAW);
        c.capset(p, p, CapSet::EMPTY).unwrap();
        assert_eq!(
            c.capset(CapSet::FULL, CapSet::FULL, CapSet::EMPTY),
            Err(Errno::EPERM)
        );
        assert_eq!(c.capset(CapSet::FULL, p, CapSet::EMPTY), Err(Errno::EPERM));
    }

    #[test]
    fn root_exec_regains_the_bounding_set_but_not_under_no_new_privs() {
        let mut c = Credentials::root();
        let p = CapSet::FULL.without(CAP_NET_RAW);
        c.capset(p, p, CapSet::EMPTY).unwrap();
        c.exec((None, None));
        assert_eq!(c.effective, CapSet::FULL);

        let mut c = Credentials::root();
        c.capset(p, p, CapSet::EMPTY).unwrap();
        c.no_new_privs = true;
        c.exec((None, None));
        assert_eq!(c.effective, p);

        let mut c = Credentials::root();
        c.bounding = p;
        c.exec((None, None));
        assert_eq!((c.permitted, c.effective), (p, p));
    }

    #[test]
    fn a_non_root_exec_keeps_only_the_ambient_set() {
        let mut c = Credentials::root();
        c.set_keepcaps(1).unwrap();
        c.setresuid(1000, 1000, 1000).unwrap();
        let raw = CapSet::EMPTY.with(CAP_NET_RAW);
        c.capset(raw, CapSet::FULL, raw).unwrap();
        c.ambient_raise(CAP_NET_RAW).unwrap();
        assert!(!c.exec((None, None)));
        assert_eq!((c.permitted, c.effective, c.ambient), (raw, raw, raw));
        assert!(!c.keepcaps());
    }
}
