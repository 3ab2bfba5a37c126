//! Integration tests through the HTTP API, the console, the portal and the binary, one module
//! per capability. One test binary: each file under tests/ links its own, and linking the
//! whole stack once per file costs minutes. Every test runs against SQLite by default and
//! against PostgreSQL when SHUNIU_TEST_DATABASE_URL names an admin database (`.ci/run`).

mod aggregation;
mod api;
mod applicant;
mod audit;
mod cases;
mod cli;
mod console;
mod crash;
mod events;
mod harness;
mod indicators;
mod libraries;
mod licences;
mod linkage;
mod matching;
mod open;
mod profiles;
mod quality;
mod sealed;
mod sharing;
mod tenants;

/// Every file under `dir` whose bytes contain `needle` (a secret or sensitive value that must
/// not be stored in clear anywhere).
pub(crate) fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if std::fs::read(&path)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
            {
                found.push(path);
            }
        }
    }
    found
}
