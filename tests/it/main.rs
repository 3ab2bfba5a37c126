//! Integration tests through the HTTP API, the console and the binary. One test binary (see
//! STACK.md: each file under tests/ links its own binary). Every test runs against SQLite by
//! default and against PostgreSQL when SHUNIU_TEST_DATABASE_URL names an admin database.

mod aggregation;
mod api;
mod audit;
mod cli;
mod console;
mod harness;
mod open;
mod quality;
mod sharing;
