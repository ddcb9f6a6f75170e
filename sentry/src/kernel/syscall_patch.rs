//! The task's side of syscall patching (systrap, `--systrap-patch`):
//! a trapped call whose site is patchable is patched, and a fault at the
//! `06` a patch left where a `syscall` was is that `syscall`. The memory
//! side is `mm/patch.rs`; docs/architecture.md ("Syscall patching") gives
//! the argument.

use platform::Event;

use crate::errno::Errno;
use crate::kernel::task::Task;

impl Task {
    /// After a trapped call: patches its site when the platform has a
    /// trampoline for this thread. Never while the task is traced: a
    /// tracer's single step over a site would run the trampoline.
    pub(crate) fn patch_syscall_site(&mut self) {
        if self.handle.ptrace.is_traced() {
            return;
        }
        let Some(trampoline) = self.ctx().syscall_trampoline() else {
            return;
        };
        let (mm, ret, nr) = (self.mm.clone(), self.regs.rip, self.regs.orig_rax);
        mm.patch_syscall(self.ctx(), ret, nr, trampoline);
    }

    /// An invalid-opcode trap at the `06` of a patch is the `syscall` the
    /// patch replaced, made with the number in rax and returning after it,
    /// as the instruction would have: the thread jumped there, was
    /// restarted there (rip moved back 2 bytes), or ran the old `mov` just
    /// before the patch was stored. Any other event is returned as it is.
    pub(crate) fn syscall_in_patch(&mut self, ev: Event) -> Event {
        let Event::Trap {
            signo: libc::SIGILL,
            ..
        } = ev
        else {
            return ev;
        };
        if !self.mm.syscall_in_patch(self.regs.rip) {
            return ev;
        }
        let r = &mut self.regs;
        r.orig_rax = r.rax;
        r.rax = Errno::ENOSYS.to_ret();
        r.rip += 2;
        // What the `syscall` instruction leaves in them.
        r.rcx = r.rip;
        r.r11 = r.eflags;
        Event::Syscall
    }
}
