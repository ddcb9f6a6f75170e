//! 9P2000.L message encoding.
