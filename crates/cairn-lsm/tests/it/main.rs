//! Integration tests of cairn-lsm: one test binary (each file under tests/ would be another link).
mod corruption;
mod crash;
mod engine;
mod model;
