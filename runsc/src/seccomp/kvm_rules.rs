//! What the KVM platform (`--platform=kvm`) adds to the Sentry's list:
//! the KVM API, kicks of vCPU threads, and the guest memory it maps when
//! the platform starts (after the filter is installed).

use super::rules::{any, form, k, masked, only, Entry, Value};

/// KVM's ioctl type (KVMIO, 0xAE) in bits 8-15 of a request number.
const KVM_IOCTL: Value = Value::Const("KVMIO << 8", 0xae00);

pub const KVM_ALLOW: &[Entry] = &[
    only(
        libc::SYS_ioctl,
        "the KVM API on /dev/kvm, the VM and its vCPUs",
        &[form(
            "a KVM ioctl (KVM_RUN, KVM_GET/SET_REGS, SREGS, XSAVE, KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU ...)",
            &[masked(1, Value::Const("0xff00", 0xff00), KVM_IOCTL)],
        )],
    ),
    only(
        libc::SYS_tgkill,
        "kicking a vCPU's thread out of KVM_RUN (interrupts, page-table shoot-downs)",
        &[form(
            "a signal to a thread of the Sentry itself",
            &[super::rules::eq(0, Value::OwnPid)],
        )],
    ),
    only(
        libc::SYS_mmap,
        "vCPU run areas, the memory file and the platform's memory as guest memory",
        &[form(
            "a shared mapping the kernel places",
            &[masked(
                3,
                k!(libc::MAP_SHARED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED),
                k!(libc::MAP_SHARED),
            )],
        )],
    ),
    any(
        libc::SYS_memfd_create,
        "the platform's own guest memory (page tables, ring-0 code), made when it starts",
    ),
    any(libc::SYS_ftruncate, "sizing the platform's memory"),
];
