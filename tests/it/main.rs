//! Integration tests through the HTTP API, the console, the portal and the binary, one module
//! per capability. One test binary: each file under tests/ links its own, and linking the
//! whole stack once per file costs minutes. Every test runs against SQLite by default and
//! against PostgreSQL when SHUNIU_TEST_DATABASE_URL names an admin database (`.ci/run`).

mod aggregation;
mod api;
mod audit;
mod cli;
mod console;
mod harness;
mod open;
mod quality;
mod sharing;
mod tenants;
