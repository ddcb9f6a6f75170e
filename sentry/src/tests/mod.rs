//! Tests of the lower layers that need real filesystems above them (Go's
//! external test packages): the VFS over tmpfs and overlay trees. Each
//! layer's own unit tests stay beside its code and use only what is below.

mod inotify;
mod isolation;
mod mount;
mod poll;
mod vfs;
