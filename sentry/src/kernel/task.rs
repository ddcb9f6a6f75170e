//! Tasks: one application thread, served by one Sentry OS thread.
//!
//! [`Task`] is owned by its Sentry thread and holds what only that thread
//! touches (registers, the platform context): here are its state, its access
//! to application memory and its sleeps. What other tasks see of it,
//! [`TaskHandle`], is the kernel's (`kernel/mod.rs`), with the thread group
//! that lists it. The run loop is `task_run.rs`; sending signals
//! `signal_send.rs`; leaving `exit.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use platform::{Context, Regs, XSave};

use crate::errno::{Errno, SysResult};
use crate::kernel::activity::WaitOn;
use crate::kernel::signal::{AltStack, UNBLOCKABLE};
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::{Credentials, Kernel, TaskHandle, TaskView};
use crate::mm::MemoryManager;
use crate::usermem::{as_bytes, from_bytes, Pod, UserAddr, UserPtr};
use crate::vfs::{FdTable, FsContext};
use crate::waiter::WaitQueue;

pub struct Task {
    pub kernel: Arc<Kernel>,
    pub tid: i32,
    pub handle: Arc<TaskHandle>,
    pub tg: Arc<ThreadGroup>,
    pub mm: Arc<MemoryManager>,
    pub fds: Arc<FdTable>,
    pub fs: Arc<FsContext>,
    /// Its UTS, IPC, mount and network namespaces (a copy of the
    /// handle's, which only this task changes).
    pub ns: Arc<crate::kernel::namespaces::Namespaces>,
    pub regs: Regs,
    pub ctx: Option<Box<dyn Context>>,
    /// How much of each switch's wall time was CPU time (cpu_charge.rs).
    pub cpu_charge: crate::kernel::cpu_charge::CpuCharge,
    /// CLONE_CHILD_CLEARTID / set_tid_address.
    pub clear_child_tid: u64,
    pub robust_list: u64,
    /// Woken when a vfork child execs or exits.
    pub vfork_parent: Option<Arc<VforkDone>>,
    /// Set by a handler that replaced all registers (execve, rt_sigreturn):
    /// the return value must not be written to rax.
    pub regs_replaced: bool,
    pub exit_code: Option<i32>,
    /// What restart_syscall continues after a call returned
    /// ERESTART_RESTARTBLOCK (Linux's restart_block).
    pub restart: Option<RestartBlock>,
}

/// The rest of an interrupted call, run by restart_syscall: a sleep to the
/// deadline first asked for, not the whole time again.
pub type RestartBlock = Box<dyn FnOnce(&mut Task) -> SysResult + Send>;

/// How a vfork parent waits for its child to exec or exit.
#[derive(Default)]
pub struct VforkDone {
    pub done: AtomicBool,
    pub queue: WaitQueue,
}

impl VforkDone {
    pub fn complete(&self) {
        self.done.store(true, Ordering::SeqCst);
        self.queue.notify_all();
    }
}

/// Arguments of one syscall: six registers, read through typed
/// accessors that say what each argument is (as Linux's SYSCALL_DEFINE
/// types them) instead of casts.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyscallArgs {
    pub a: [u64; 6],
}

impl SyscallArgs {
    /// A C `int` (or a descriptor, flags, a signal number): the low 32 bits.
    pub fn int(&self, i: usize) -> i32 {
        self.a[i] as i32
    }

    /// A C `unsigned int`.
    pub fn uint(&self, i: usize) -> u32 {
        self.a[i] as u32
    }

    /// A `size_t`.
    pub fn usize(&self, i: usize) -> usize {
        self.a[i] as usize
    }

    /// An `unsigned long` (flags and counts of the 64-bit ABI).
    pub fn ulong(&self, i: usize) -> u64 {
        self.a[i]
    }

    /// A `long`, `off_t` or `loff_t`.
    pub fn long(&self, i: usize) -> i64 {
        self.a[i] as i64
    }

    /// An untyped user address (`void __user *`).
    pub fn addr(&self, i: usize) -> UserAddr {
        UserAddr(self.a[i])
    }

    /// A typed user pointer (`struct T __user *`).
    pub fn ptr<T>(&self, i: usize) -> UserPtr<T> {
        UserPtr::new(self.a[i])
    }
}

impl Task {
    pub fn ctx(&mut self) -> &mut dyn Context {
        self.ctx
            .as_deref_mut()
            .expect("task without a platform context")
    }

    pub fn creds(&self) -> Credentials {
        self.handle.creds.lock().unwrap().clone()
    }

    pub fn tgid(&self) -> i32 {
        self.tg.tgid
    }

    /// Publishes this task's MM, fd table and fs context for /proc (when
    /// it is spawned, at the start of `run`, and when execve replaces the
    /// MM).
    pub fn publish_view(&self) {
        *self.handle.view.lock().unwrap() = TaskView {
            mm: Arc::downgrade(&self.mm),
            fds: Arc::downgrade(&self.fds),
            fs: Arc::downgrade(&self.fs),
        };
    }

    // ---- application memory ----

    pub fn read_bytes(&self, addr: impl Into<UserAddr>, len: usize) -> Result<Vec<u8>, Errno> {
        let addr = addr.into().get();
        if !self.mm.is_mapped(addr, len as u64) {
            return Err(Errno::EFAULT);
        }
        let mut v = vec![0u8; len];
        self.mm.read(addr, &mut v)?;
        Ok(v)
    }

    pub fn read_into(&self, addr: impl Into<UserAddr>, buf: &mut [u8]) -> Result<(), Errno> {
        self.mm.read(addr.into().get(), buf)
    }

    pub fn write_bytes(&self, addr: impl Into<UserAddr>, data: &[u8]) -> Result<(), Errno> {
        self.mm.write(addr.into().get(), data)
    }

    /// One `T` from application memory (EFAULT unless every byte is
    /// readable).
    pub fn copy_in<T: Pod>(&self, p: impl Into<UserPtr<T>>) -> Result<T, Errno> {
        let mut buf = vec![0u8; std::mem::size_of::<T>()];
        self.mm.read(p.into().addr(), &mut buf)?;
        Ok(from_bytes(&buf))
    }

    /// One `T` into application memory (EFAULT unless every byte is
    /// writable).
    pub fn copy_out<T: Pod>(&self, p: impl Into<UserPtr<T>>, v: &T) -> Result<(), Errno> {
        self.mm.write(p.into().addr(), as_bytes(v))
    }

    pub fn read_cstring(&self, addr: impl Into<UserAddr>, max: usize) -> Result<Vec<u8>, Errno> {
        self.mm.read_cstring(addr.into().get(), max)
    }

    /// A path argument: at most PATH_MAX bytes including the NUL.
    pub fn read_path(&self, addr: impl Into<UserAddr>) -> Result<Vec<u8>, Errno> {
        let p = self
            .mm
            .read_cstring(addr.into().get(), libc::PATH_MAX as usize)?;
        if p.len() >= libc::PATH_MAX as usize {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(p)
    }

    /// Reads an iovec array: (base, len) pairs; EINVAL past IOV_MAX or if
    /// the total overflows ssize_t.
    pub fn read_iovecs(
        &self,
        iov: impl Into<UserPtr<libc::iovec>>,
        count: u64,
    ) -> Result<Vec<(u64, usize)>, Errno> {
        let array = iov.into();
        if count > 1024 {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::with_capacity(count as usize);
        let mut total: u64 = 0;
        for i in 0..count {
            let iov = self.copy_in(array.index(i).ok_or(Errno::EFAULT)?)?;
            let len = iov.iov_len as u64;
            total = total.checked_add(len).ok_or(Errno::EINVAL)?;
            if total > isize::MAX as u64 {
                return Err(Errno::EINVAL);
            }
            out.push((iov.iov_base as u64, len as usize));
        }
        Ok(out)
    }

    /// Reads a NULL-terminated array of string pointers (argv, envp).
    pub fn read_string_array(&self, addr: impl Into<UserAddr>) -> Result<Vec<Vec<u8>>, Errno> {
        let addr = addr.into().get();
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        for i in 0.. {
            let p: u64 = self.copy_in(addr + i * 8)?;
            if p == 0 {
                break;
            }
            let s = self.read_cstring(p, 128 * 1024)?;
            total += s.len() + 1 + 8;
            if total > 2 * 1024 * 1024 {
                return Err(Errno::E2BIG);
            }
            out.push(s);
        }
        Ok(out)
    }

    // ---- signals ----

    pub fn signal_mask(&self) -> u64 {
        self.handle.sig.lock().unwrap().mask
    }

    pub fn set_signal_mask(&self, mask: u64) {
        self.handle.sig.lock().unwrap().mask = mask & !UNBLOCKABLE;
    }

    pub fn alt_stack(&self) -> AltStack {
        self.handle.sig.lock().unwrap().alt
    }

    /// Whether a signal is pending that is not blocked (so a blocking call
    /// must return), or the task must die.
    pub fn interrupted(&self) -> bool {
        crate::kernel::sleeper::interrupted(&self.handle, &self.tg)
    }

    /// Sleeps until `cond` holds, a signal arrives (ERESTARTSYS) or the
    /// deadline passes (ETIMEDOUT).
    pub fn block(
        &self,
        queues: &[&WaitQueue],
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno> {
        let w = &self.handle.waiter;
        for q in queues {
            q.add(w);
        }
        let r = self.sleep_until(deadline, cond);
        for q in queues {
            q.remove(w);
        }
        r
    }

    /// The sleep of [`Task::block`] without its queues: the caller has put
    /// this task's waiter (`handle.waiter`) on whatever queues notify it,
    /// and takes it off them afterwards. For a wait that must not keep its
    /// objects alive while it sleeps (epoll_wait).
    pub fn sleep_until(
        &self,
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno> {
        crate::kernel::sleeper::sleep_until(&self.handle, &self.tg, deadline, cond)
    }

    /// [`Task::block`], naming what it waits on for the task dump.
    pub fn block_on(
        &self,
        on: WaitOn,
        queues: &[&WaitQueue],
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno> {
        self.handle.activity.sleeping_on(on);
        self.block(queues, deadline, cond)
    }

    /// Sleeps until the deadline or a signal (nanosleep, pause).
    pub fn sleep(&self, deadline: Option<Instant>) -> Result<(), Errno> {
        match self.block(&[], deadline, &mut || false) {
            Err(Errno::ETIMEDOUT) => Ok(()),
            other => other,
        }
    }

    // ---- FPU state through the platform ----

    pub fn ctx_fpu(&mut self) -> Vec<u8> {
        self.ctx().fpu().map(|x| x.0).unwrap_or_default()
    }

    /// The size of this CPU's XSAVE image as the platform hands it out
    /// (the kernel accepts exactly that size back).
    pub fn ctx_fpu_len(&mut self) -> usize {
        self.ctx().fpu().map(|x| x.0.len()).unwrap_or(0)
    }

    pub fn ctx_set_fpu(&mut self, fp: Vec<u8>) -> Result<(), Errno> {
        self.ctx().set_fpu(&XSave(fp)).map_err(|_| Errno::EFAULT)
    }

    pub fn syscall_result_for_strace(r: &SysResult) -> i64 {
        match r {
            Ok(v) => *v as i64,
            Err(e) => -(e.0 as i64),
        }
    }
}
