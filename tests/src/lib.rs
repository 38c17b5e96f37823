//! End-to-end tests across the bookhook crates live in `tests/`.
