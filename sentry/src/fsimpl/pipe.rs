//! PLACEHOLDER (being written)
