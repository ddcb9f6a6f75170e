//! `--network`: how the sandbox reaches a network.

use std::fmt;
use std::str::FromStr;

/// How the sandbox reaches a network (`--network`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// Our own stack (smoltcp) over the container's network namespace.
    #[default]
    Sandbox,
    /// Pass socket calls through to host sockets.
    Host,
    /// Loopback only: the sandbox's own stack with no interfaces of the
    /// container taken.
    None,
}

impl FromStr for NetworkMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sandbox" => Ok(Self::Sandbox),
            "host" => Ok(Self::Host),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown network mode {other:?}: use sandbox, host or none"
            )),
        }
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sandbox => "sandbox",
            Self::Host => "host",
            Self::None => "none",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_mode_and_rejects_others() {
        for m in ["sandbox", "host", "none"] {
            assert_eq!(m.parse::<NetworkMode>().unwrap().to_string(), m);
        }
        assert!("bridge".parse::<NetworkMode>().is_err());
    }
}
