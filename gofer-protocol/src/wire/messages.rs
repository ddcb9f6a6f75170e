//! The messages, as data: one line per message, its type byte, name and
//! fields in wire order with their kinds (see `table.rs` for what the
//! kinds are and what the table becomes). 9P2000.L numbers each
//! R-message as its T-message plus one; ours (200 and up) follow suit.

use super::table::messages;
use super::*;

messages! {
    /// A request.
    pub enum Tmessage {
        TSTATFS = 8 => Statfs { fid: u32 },
        TLOPEN = 12 => Lopen { fid: u32, flags: u32 },
        TLCREATE = 14 => Lcreate { fid: u32, name: str, flags: u32, mode: u32, gid: u32 },
        TSYMLINK = 16 => Symlink { dfid: u32, name: str, target: str, gid: u32 },
        TMKNOD = 18 => Mknod { dfid: u32, name: str, mode: u32, major: u32, minor: u32, gid: u32 },
        TREADLINK = 22 => Readlink { fid: u32 },
        TGETATTR = 24 => Getattr { fid: u32, request_mask: u64 },
        TSETATTR = 26 => Setattr { fid: u32, attr: setattr },
        TREADDIR = 40 => Readdir { fid: u32, offset: u64, count: u32 },
        TFSYNC = 50 => Fsync { fid: u32, datasync: u32 },
        TLINK = 70 => Link { dfid: u32, fid: u32, name: str },
        TMKDIR = 72 => Mkdir { dfid: u32, name: str, mode: u32, gid: u32 },
        TRENAMEAT = 74 => Renameat { olddfid: u32, oldname: str, newdfid: u32, newname: str },
        TUNLINKAT = 76 => Unlinkat { dfid: u32, name: str, flags: u32 },
        TVERSION = 100 => Version { msize: u32, version: str },
        TATTACH = 104 => Attach { fid: u32, afid: u32, uname: str, aname: str, n_uname: u32 },
        TFLUSH = 108 => Flush { oldtag: u16 },
        TWALK = 110 => Walk { fid: u32, newfid: u32, names: walk_names },
        TREAD = 116 => Read { fid: u32, offset: u64, count: u32 },
        TWRITE = 118 => Write { fid: u32, offset: u64, data: data },
        TCLUNK = 120 => Clunk { fid: u32 },

        // runsc-rs additions, outside 9P2000.L's type range (see the "9P
        // additions" section of docs/architecture.md). Only our Gofer
        // answers them.

        /// Twalk `names` from `fid` into `newfid`, then Tgetattr of
        /// `newfid`, in one round trip; `keep` (`WALK_KEEP_*`) says
        /// whether `newfid` outlives the reply.
        TWALKGETATTR = 200 => Walkgetattr { fid: u32, newfid: u32, keep: u32, names: walk_names },
        /// Opens the file at `names` below the served root (no fid
        /// involved); `flags`: `O_DIRECTORY` for a directory (read-only),
        /// else an access mode with `O_APPEND`/`O_TRUNC` for a regular
        /// file. The reply carries the opened host descriptor
        /// (SCM_RIGHTS).
        TOPENFD = 202 => Openfd { flags: u32, names: path },
        /// Looks up the file at `names` below the served root (no fid
        /// involved): attributes, a symlink's target and a regular
        /// file's descriptor (SCM_RIGHTS), in one round trip.
        TLOOKUPFD = 204 => Lookupfd { names: path },
        /// Creates the file at `names` (the last name is the new one) of
        /// the type in `mode` (S_IFREG, S_IFDIR, S_IFLNK with `target`,
        /// S_IFIFO, S_IFSOCK), with the permission bits of `mode`, owned
        /// by `uid`/`gid`; a new regular file's read-write descriptor
        /// comes back.
        TCREATEAT = 206 => Createat { mode: u32, rdev: u64, uid: u32, gid: u32, names: path, target: str },
        /// Makes `new` another name of the file at `old` (not followed).
        TLINKAT = 208 => Linkat { old: path, new: path },
        /// Removes the name at `names`; `flags`: 0 or AT_REMOVEDIR.
        TREMOVEAT = 210 => Removeat { flags: u32, names: path },
        /// Renames `old` to `new`; `flags`: renameat2's.
        TRENAMEAT2 = 212 => Renameat2 { flags: u32, old: path, new: path },
        /// Tsetattr of the file at `names` (not followed); the new
        /// attributes come back.
        TSETATTRAT = 214 => Setattrat { attr: setattr, names: path },
        /// Lists the directory at `names` from `offset` (0: the start;
        /// else a `next` an earlier reply gave) with every entry's
        /// attributes (and a symlink's target), in a reply of at most
        /// `count` bytes of entries.
        TREADDIRPLUS = 216 => Readdirplus { offset: u64, count: u32, names: path },
        /// Opens the regular files `names` (each one plain name, at most
        /// [`MAX_OPENFDS`]) of the directory at `dir`, read-only; the
        /// reply carries their descriptors (SCM_RIGHTS).
        TOPENFDS = 218 => Openfds { dir: path, names: open_names },
        /// The value of the extended attribute `name` of the file at
        /// `names` (not followed), if it has at most `size` bytes (else
        /// ERANGE).
        TGETXATTRAT = 220 => Getxattrat { size: u32, names: path, name: str },
        /// The attribute names of the file at `names` (not followed),
        /// each NUL-terminated, if they fit `size` bytes (else ERANGE).
        TLISTXATTRAT = 222 => Listxattrat { size: u32, names: path },
        /// Sets `name` to `value` on the file at `names` (not followed);
        /// `flags`: XATTR_CREATE, XATTR_REPLACE.
        TSETXATTRAT = 224 => Setxattrat { flags: u32, names: path, name: str, value: data },
        /// Removes `name` from the file at `names` (not followed).
        TREMOVEXATTRAT = 226 => Removexattrat { names: path, name: str },
        /// Connects a new host socket of type `kind` (SOCK_STREAM,
        /// SOCK_SEQPACKET, SOCK_DGRAM) to the socket file at `names`,
        /// if the server's host-socket policy allows it; the reply
        /// carries the connected descriptor (SCM_RIGHTS).
        TCONNECTAT = 228 => Connectat { kind: u32, names: path },
    }
}

messages! {
    /// A reply.
    pub enum Rmessage {
        RLERROR = 7 => Lerror { ecode: u32 },
        RSTATFS = 9 => Statfs(statfs: statfs),
        RLOPEN = 13 => Lopen { qid: qid, iounit: u32 },
        RLCREATE = 15 => Lcreate { qid: qid, iounit: u32 },
        RSYMLINK = 17 => Symlink { qid: qid },
        RMKNOD = 19 => Mknod { qid: qid },
        RREADLINK = 23 => Readlink { target: str },
        RGETATTR = 25 => Getattr(attr: getattr),
        RSETATTR = 27 => Setattr,
        /// The raw entries; see [`decode_dirents`].
        RREADDIR = 41 => Readdir { data: data },
        RFSYNC = 51 => Fsync,
        RLINK = 71 => Link,
        RMKDIR = 73 => Mkdir { qid: qid },
        RRENAMEAT = 75 => Renameat,
        RUNLINKAT = 77 => Unlinkat,
        RVERSION = 101 => Version { msize: u32, version: str },
        RATTACH = 105 => Attach { qid: qid },
        RFLUSH = 109 => Flush,
        RWALK = 111 => Walk { qids: qids },
        RREAD = 117 => Read { data: data },
        RWRITE = 119 => Write { count: u32 },
        RCLUNK = 121 => Clunk,

        /// The qids of every name walked, whether the new fid was kept,
        /// and the attributes of the file reached.
        RWALKGETATTR = 201 => Walkgetattr { kept: bool, qids: qids, attr: getattr },
        /// The body is empty; the descriptor travels as SCM_RIGHTS with
        /// the frame's first byte.
        ROPENFD = 203 => Openfd,
        /// The file's attributes; `fd`: a read-only descriptor of it
        /// comes with the frame (regular files and directories the
        /// server could open); `target`: a symlink's target (empty
        /// otherwise).
        RLOOKUPFD = 205 => Lookupfd { fd: bool, attr: getattr, target: str },
        /// The new file's attributes; `fd`: a new regular file's
        /// read-write descriptor comes with the frame.
        RCREATEAT = 207 => Createat { fd: bool, attr: getattr },
        /// The linked file's attributes (its new link count).
        RLINKAT = 209 => Linkat { attr: getattr },
        RREMOVEAT = 211 => Removeat,
        RRENAMEAT2 = 213 => Renameat2,
        /// The file's attributes after the change.
        RSETATTRAT = 215 => Setattrat { attr: getattr },
        /// Entries (see [`encode_dirplus`]), and where the listing goes
        /// on (0: it ended).
        RREADDIRPLUS = 217 => Readdirplus { next: u64, data: data },
        /// Per name asked for: 0 and the file's inode number (its
        /// descriptor comes with the frame, in order), or an errno and 0.
        ROPENFDS = 219 => Openfds { results: open_results },
        RGETXATTRAT = 221 => Getxattrat { value: data },
        /// The names, each ending in NUL.
        RLISTXATTRAT = 223 => Listxattrat { list: data },
        RSETXATTRAT = 225 => Setxattrat,
        RREMOVEXATTRAT = 227 => Removexattrat,
        /// The body is empty; the connected descriptor travels as
        /// SCM_RIGHTS with the frame's first byte.
        RCONNECTAT = 229 => Connectat,
    }
}

impl Tmessage<'_> {
    /// The file names this request carries (for a server's name checks).
    pub fn names(&self) -> Vec<&[u8]> {
        match self {
            Tmessage::Walk { names, .. }
            | Tmessage::Walkgetattr { names, .. }
            | Tmessage::Openfd { names, .. }
            | Tmessage::Lookupfd { names }
            | Tmessage::Createat { names, .. }
            | Tmessage::Removeat { names, .. }
            | Tmessage::Setattrat { names, .. }
            | Tmessage::Readdirplus { names, .. }
            | Tmessage::Getxattrat { names, .. }
            | Tmessage::Listxattrat { names, .. }
            | Tmessage::Setxattrat { names, .. }
            | Tmessage::Removexattrat { names, .. }
            | Tmessage::Connectat { names, .. } => names.clone(),
            Tmessage::Linkat { old, new }
            | Tmessage::Renameat2 { old, new, .. }
            | Tmessage::Openfds {
                dir: old,
                names: new,
            } => old.iter().chain(new.iter()).copied().collect(),
            Tmessage::Lcreate { name, .. }
            | Tmessage::Symlink { name, .. }
            | Tmessage::Mknod { name, .. }
            | Tmessage::Mkdir { name, .. }
            | Tmessage::Link { name, .. }
            | Tmessage::Unlinkat { name, .. } => vec![name],
            Tmessage::Renameat {
                oldname, newname, ..
            } => vec![oldname, newname],
            _ => Vec::new(),
        }
    }
}

impl Rmessage<'_> {
    /// How many descriptors (SCM_RIGHTS) travel with this reply.
    pub fn fds(&self) -> usize {
        match self {
            Rmessage::Openfd | Rmessage::Connectat => 1,
            Rmessage::Lookupfd { fd, .. } | Rmessage::Createat { fd, .. } => usize::from(*fd),
            Rmessage::Openfds { results } => results.iter().filter(|r| r.0 == 0).count(),
            _ => 0,
        }
    }
}
