//! Keeps ARCHITECTURE.md's invariant true: no crate but this one compares roles or
//! departments to decide access. Engines ask `decide`, `scope` or `may_somewhere`; a
//! comparison such as `actor.role == Role::HubOperator` or `x.department == actor.department`
//! anywhere else in the tree's non-test code fails this test, naming the file and line.

use std::path::{Path, PathBuf};

/// Crates that may compare roles and departments: the policy itself, the types that define
/// them, and the demo generator (which picks the users it acts as; it decides nothing).
const ALLOWED: &[&str] = &["shuniu-policy", "shuniu-types", "shuniu-demo"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The file's text up to its unit tests (`#[cfg(test)]`), which may compare freely.
fn production_part(text: &str) -> &str {
    match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

#[test]
fn no_role_or_department_comparisons_outside_policy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).expect("crates/") {
        let entry = entry.expect("crate dir");
        let name = entry.file_name().to_string_lossy().to_string();
        if !ALLOWED.contains(&name.as_str()) {
            rust_files(&entry.path().join("src"), &mut files);
        }
    }
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("bench/src"), &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());

    let comparison = regex::Regex::new(concat!(
        r"(\brole\s*[!=]=|[!=]=\s*Role::|\.role\s*,\s*Role::|matches!\([^)]*\.role\b)",
        r"|(\b(department|department_code)\s*[!=]=|[!=]=\s*[\w.&*]*\.(department|department_code)\b)",
    ))
    .expect("pattern");
    let mut found = Vec::new();
    for f in &files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("source file");
        for (i, line) in production_part(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if comparison.is_match(code) {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "access decided outside shuniu-policy (use decide/scope/may_somewhere):\n{}",
        found.join("\n")
    );
}

/// The test above must be able to fail: the pattern catches the comparisons it is for.
#[test]
fn the_pattern_catches_what_it_should() {
    let comparison = regex::Regex::new(concat!(
        r"(\brole\s*[!=]=|[!=]=\s*Role::|\.role\s*,\s*Role::|matches!\([^)]*\.role\b)",
        r"|(\b(department|department_code)\s*[!=]=|[!=]=\s*[\w.&*]*\.(department|department_code)\b)",
    ))
    .expect("pattern");
    for bad in [
        "if actor.role == Role::HubOperator {",
        "(user.actor.role != shuniu_types::Role::HubOperator)",
        "|| a.department_code == actor.department",
        "let concerns = e.department == actor.department",
        "if caller.department == rec.spec.provider {",
        "matches!(actor.role, Role::Viewer)",
    ] {
        assert!(comparison.is_match(bad), "missed: {bad}");
    }
    for fine in [
        "role: Role::DataOfficer,",
        "department: actor.department.clone(),",
        "if spec.provider != current.spec.provider {",
    ] {
        assert!(!comparison.is_match(fine), "false alarm: {fine}");
    }
}
