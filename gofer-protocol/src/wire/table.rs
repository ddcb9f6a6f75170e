//! The macro that turns a message table (`messages.rs`) into code.
//!
//! A table line names the message's type byte, its variant and its fields
//! in wire order, each with its *field kind*:
//!
//! ```text
//! TWALK = 110 => Walk { fid: u32, newfid: u32, names: walk_names },
//! RGETATTR = 25 => Getattr(attr: getattr),
//! RCLUNK = 121 => Clunk,
//! ```
//!
//! From it [`messages!`] writes the type-byte constant, the enum variant
//! (a struct, one-field tuple or unit variant, as written), `type_byte`,
//! and the body's encoder and decoder. A kind is the name of an `Enc`
//! method that writes the field and of a `Dec` method that reads it back,
//! so the table is the only place that says which fields a message has
//! and in what order; [`field_type!`] gives each kind's Rust type.

/// The Rust type of a field of kind `$kind`.
macro_rules! field_type {
    (u8) => { u8 };
    (u16) => { u16 };
    (u32) => { u32 };
    (u64) => { u64 };
    // One byte, 0 or 1.
    (bool) => { bool };
    (qid) => { Qid };
    // `len[2]` bytes.
    (str) => { &'a [u8] };
    // `count[4]` bytes.
    (data) => { &'a [u8] };
    // `nwqid[2]` qids.
    (qids) => { Vec<Qid> };
    // A Twalk's names: at most MAXWELEM.
    (walk_names) => { Vec<&'a [u8]> };
    // A path from the served root: at most MAX_OPENFD_NAMES names.
    (path) => { Vec<&'a [u8]> };
    // Topenfds' file names: at most MAX_OPENFDS.
    (open_names) => { Vec<&'a [u8]> };
    // Ropenfds' (errno, inode) per name: at most MAX_OPENFDS.
    (open_results) => { Vec<(u32, u64)> };
    (setattr) => { SetAttr };
    // Rgetattr's body (boxed: it is large beside the other variants).
    (getattr) => { Box<Rgetattr> };
    (statfs) => { StatFs };
}
pub(super) use field_type;

/// Counts a whole message must respect, checked before anything is
/// encoded (as 9P's MAXWELEM is): too many is `EINVAL`. Other kinds have
/// no such limit (a path's is checked as it is encoded: `ENAMETOOLONG`).
macro_rules! check_count {
    (walk_names, $v:expr) => {
        if $v.len() > MAXWELEM {
            return Err(libc::EINVAL);
        }
    };
    (open_names, $v:expr) => {
        if $v.len() > MAX_OPENFDS {
            return Err(libc::EINVAL);
        }
    };
    (open_results, $v:expr) => {
        if $v.len() > MAX_OPENFDS {
            return Err(libc::EINVAL);
        }
    };
    ($other:ident, $v:expr) => {};
}
pub(super) use check_count;

/// Writes a message enum from its table (see the module documentation).
macro_rules! messages {
    (
        $(#[$meta:meta])*
        $vis:vis enum $enum:ident {
            $(
                $(#[$vmeta:meta])*
                $code:ident = $num:literal => $name:ident
                $({ $($field:ident : $kind:ident),* $(,)? })?
                $(($tfield:ident : $tkind:ident))?
            ),* $(,)?
        }
    ) => {
        $(
            $(#[$vmeta])*
            pub const $code: u8 = $num;
        )*

        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        $vis enum $enum<'a> {
            $(
                $(#[$vmeta])*
                $name
                $({ $($field: $crate::wire::table::field_type!($kind)),* })?
                $(($crate::wire::table::field_type!($tkind)))?,
            )*
        }

        impl<'a> $enum<'a> {
            /// The message's type byte.
            pub fn type_byte(&self) -> u8 {
                match self {
                    $(Self::$name { .. } => $code,)*
                }
            }

            /// Appends the body (everything after the header) to `e`.
            pub(super) fn encode_body(&self, e: &mut Enc<'_>) -> Result<(), i32> {
                match self {
                    $(
                        Self::$name $({ $($field),* })? $(($tfield))? => {
                            $($($crate::wire::table::check_count!($kind, $field);)*)?
                            $($crate::wire::table::check_count!($tkind, $tfield);)?
                            $($(e.$kind($field)?;)*)?
                            $(e.$tkind($tfield)?;)?
                        }
                    )*
                }
                Ok(())
            }

            /// Reads the body of a message of type `ty` from `d` (which
            /// the caller checks is then used up); an unknown type is
            /// `EIO`.
            pub(super) fn decode_body(ty: u8, d: &mut Dec<'a>) -> Result<Self, i32> {
                // Struct fields are evaluated in the order written: wire
                // order.
                Ok(match ty {
                    $(
                        $code => Self::$name
                            $({ $($field: d.$kind()?),* })?
                            $((d.$tkind()?))?,
                    )*
                    _ => return Err(libc::EIO),
                })
            }
        }
    };
}
pub(super) use messages;
