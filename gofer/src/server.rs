//! The Gofer process: serves a directory tree over 9P2000.L.
