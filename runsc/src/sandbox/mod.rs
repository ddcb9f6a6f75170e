//! A sandbox's host processes. `do` and the supervisor launch a Gofer and a
//! Sentry (re-executing this binary as `gofer` and `boot`), connect them
//! with a socketpair, and wait; if either dies, the other is killed at
//! once: a sandbox never half-runs. One job per file:
//!
//! * `launch`: the parent's side: start both, hand over descriptors, map
//!   the Sentry's user namespace; `wait`: wait for the sandbox to end.
//! * `run_do`: the `do` command.
//! * `boot`: the Sentry process, up to a sandbox booted from a
//!   `sentry::boot::BootSpec` (`boot_spec` makes it); `lockdown`: its
//!   empty root; `controller`: its answers to the control socket's
//!   requests; `pod`: the further containers of a pod it runs; `init`:
//!   a process spec as the Sentry takes it (credentials, stdio).
//! * `network`: the interfaces the Sentry takes for its network stack at
//!   boot; `netlink`: reading them over rtnetlink; `packet`: the AF_PACKET
//!   socket each is driven through.
//! * `gofer`: the Gofer process.
//! * `rootless`: a rootless command re-executed in a user namespace of
//!   its own, where the caller is root, and that namespace's id maps.
//! * `userns`: the user namespaces of both and their id maps;
//!   `privileges`: the capabilities each keeps, no_new_privs, not
//!   dumpable, no core; `signals`: the
//!   host signals passed on to the sandbox; `fds`: inherited descriptors;
//!   `process`: process names and death on panic.

mod boot;
mod boot_spec;
mod controller;
mod fds;
mod gofer;
mod init;
mod launch;
mod lockdown;
mod netlink;
mod network;
mod packet;
mod pod;
mod privileges;
mod process;
mod rootless;
mod run_do;
mod signals;
mod userns;
mod wait;
mod watch;

pub use boot::{boot, BootOptions};
pub use gofer::{gofer, gofer_args, GoferOptions};
pub use launch::{launch, launch_gofer, LaunchArgs, Launched, LaunchedGofer};
pub use process::{set_process_name, SUPERVISOR_NAME};
pub use rootless::{enter_if_reexecuted, run_in_user_namespace};
pub use run_do::{run_do, DoOptions};
pub use signals::{block_forwarded, forward_signals_to, FORWARDED};
pub use wait::{code_of, wait_sandbox};
