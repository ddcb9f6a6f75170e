//! The runc-compatible container lifecycle: create, start, run, state,
//! kill, delete, list, ps, events, pause, resume, spec.
//!
//! `create` starts a *supervisor* (this binary, `supervise`), which starts
//! the Gofer and the Sentry, puts them in the container's cgroup, and lives
//! as long as the sandbox. Its pid is the pid file's: Docker (through
//! containerd's shim, a subreaper) waits on it, and its exit status is the
//! container's. The Sentry boots the container up to its first instruction
//! and waits for `start` on the control socket.
//!
//! A pod's further container (CRI annotations, `pod`) runs in the Sentry
//! of its pod's sandbox instead: its supervisor is a proxy (`member`) that
//! starts a Gofer for its root and exits as the container's init does.
//!
//! One command a file, as youki's `libcontainer` keeps them; `report`,
//! `destroy`, `hooks` and `host_pids` are what several commands share.

mod create;
mod delete;
mod destroy;
mod events;
mod hooks;
mod host_pids;
mod kill;
mod list;
mod member;
mod pause;
mod pod;
mod ps;
mod report;
mod run;
mod spec;
mod start;
mod state;
mod supervise;

pub use create::{create, write_pid_file, CreateOptions};
pub use delete::delete;
pub use events::events;
pub use kill::kill;
pub use list::list;
pub use pause::pause;
pub use ps::ps;
pub use run::run;
pub use spec::spec;
pub use start::start;
pub use state::state;
pub use supervise::{supervise, SuperviseOptions};
