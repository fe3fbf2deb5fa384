//! Test harness: real registries on loopback.
