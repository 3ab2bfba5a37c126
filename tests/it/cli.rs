//! The binary itself: the demo, the interface outside checks rely on, and the catalog CLI.

use reqwest::StatusCode;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn shuniu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shuniu"));
    c.env_remove("SHUNIU_DATABASE_URL")
        .env("SHUNIU_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `shuniu demo` into an empty directory, then `serve`, then the stable interface.
#[tokio::test]
async fn demo_city_then_serve_then_catalog_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("city");
    let mut cmd = shuniu();
    // A tenth of the default city: every part of the demo is built and checked, in a debug
    // build, in about three minutes rather than seventeen (the suite runs this twice, on
    // SQLite and on PostgreSQL). The default scale is measured by the release benchmarks.
    cmd.args([
        "demo",
        "--no-serve",
        "--seed",
        "7",
        "--scale",
        "10000",
        "--data-dir",
    ])
    .arg(&data);
    if let Ok(url) = std::env::var("SHUNIU_TEST_DATABASE_URL") {
        let db = shuniu_store::scratch_postgres_database(&url).await.unwrap();
        cmd.args(["--database-url", &db]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("admin"),
        "demo logins are printed: {stdout}"
    );
    let accounts: Value =
        serde_json::from_slice(&std::fs::read(data.join("demo-accounts.json")).unwrap()).unwrap();
    let key = accounts["operator_api_key"].as_str().unwrap().to_string();
    assert!(accounts["users"].as_array().unwrap().len() > 40);
    #[cfg(unix)]
    {
        // Passwords and keys: the owner's alone, as are the key files.
        use std::os::unix::fs::PermissionsExt;
        for f in [
            "demo-accounts.json",
            "sharing/masking.key",
            "sharing/webhook.key",
            "audit/subject.key",
            "audit/tree-head.key",
            "open/masking.key",
        ] {
            let mode = std::fs::metadata(data.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
    // Every key file is sealed under the master key (SM4-GCM), which is kept apart.
    let sealed_files = [
        "sharing/masking.key",
        "sharing/webhook.key",
        "audit/subject.key",
        "audit/tree-head.key",
        "open/masking.key",
    ];
    for f in sealed_files {
        let text = std::fs::read_to_string(data.join(f)).unwrap();
        assert!(shuniu_keys::is_sealed(&text), "{f}: {text}");
    }
    assert!(data.join("keys/master.key").exists());

    // The CLI works on the same directory.
    let postgres = std::env::var("SHUNIU_TEST_DATABASE_URL").is_ok();
    if !postgres {
        let out = shuniu()
            .args(["catalog", "search", "户籍人口", "--json", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let found: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            found
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["spec"]["name"] == "户籍人口基本信息")
        );
        let out = shuniu()
            .args(["catalog", "list", "--list", "open", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("空气质量监测信息"));
        let xlsx = dir.path().join("sharing.xlsx");
        let out = shuniu()
            .args(["catalog", "export", "--list", "sharing", "--data-dir"])
            .arg(&data)
            .arg(&xlsx)
            .output()
            .unwrap();
        assert!(out.status.success());
        let out = shuniu()
            .args(["catalog", "import", "--dry-run", "--data-dir"])
            .arg(&data)
            .arg(&xlsx)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = shuniu()
            .args(["catalog", "show", "no-such-code", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(!out.status.success());

        run_documented_cli_examples(&data, dir.path());
        run_documented_quality_examples(&data, dir.path());
        run_documented_open_examples(&data, dir.path());
        run_documented_library_examples(&data, dir.path());

        // Serve what the demo made and check the interface outside checks rely on.
        let port = free_port();
        let mut server = shuniu()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "server did not come up"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let r = client
            .get(format!(
                "{base}/api/v1/catalog/resources?q=%E6%88%B7%E7%B1%8D"
            ))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert!(body["total"].as_u64().unwrap() > 0);
        for item in body["items"].as_array().unwrap() {
            for k in [
                "code",
                "name",
                "provider",
                "share_type",
                "open_type",
                "level",
            ] {
                assert!(item.get(k).is_some(), "{k}");
            }
        }
        let r = client
            .get(format!("{base}/api/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        // The unified service's interface: each granted application, its key, its granted
        // resources and an example key that a lookup finds.
        let apps = accounts["applications"].as_array().unwrap();
        let granted: Vec<&Value> = apps
            .iter()
            .filter(|a| !a["resource_codes"].as_array().unwrap().is_empty())
            .collect();
        assert!(granted.len() >= 3, "{apps:?}");
        assert!(
            granted.iter().any(|a| a["example_id_number"].is_string()),
            "some granted application may read a person's profile: {apps:?}"
        );
        // (code, provider) of every granted resource.
        let all_codes: Vec<(String, String)> = granted
            .iter()
            .flat_map(|a| a["grants"].as_array().unwrap().iter())
            .map(|g| {
                (
                    g["resource_code"].as_str().unwrap().to_string(),
                    g["provider"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for app in &granted {
            let api_key = app["api_key"].as_str().unwrap();
            for code in app["resource_codes"].as_array().unwrap() {
                let code = code.as_str().unwrap();
                let example = app["example_keys"][code].as_str().unwrap();
                let r = client
                    .get(format!("{base}/api/v1/services/{code}/records/{example}"))
                    .bearer_auth(api_key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK, "{} {code}", app["id"]);
                let body: Value = r.json().await.unwrap();
                assert!(!body["records"].as_array().unwrap().is_empty());
                let r = client
                    .get(format!(
                        "{base}/api/v1/services/{code}/records/370202180001010000"
                    ))
                    .bearer_auth(api_key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::NOT_FOUND);
            }
            // 一人一档、一企一档: the example subjects' profiles read as the file says.
            for url in ["example_person_profile", "example_enterprise_profile"] {
                let Some(url) = app[url].as_str() else {
                    continue;
                };
                let r = client
                    .get(format!("{base}{url}?purpose=演示核对"))
                    .bearer_auth(api_key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK, "{} {url}", app["id"]);
                let body: Value = r.json().await.unwrap();
                assert!(!body["sections"].as_array().unwrap().is_empty(), "{body}");
            }
            // A granted resource of another application is refused.
            let mine: Vec<&str> = app["resource_codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            // A resource granted to another application, of a department other than its own.
            let department = app["department"].as_str().unwrap();
            if let Some((other, _)) = all_codes
                .iter()
                .find(|(c, p)| !mine.contains(&c.as_str()) && p != department)
            {
                let r = client
                    .get(format!(
                        "{base}/api/v1/services/{other}/records/370202194001010012"
                    ))
                    .bearer_auth(api_key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::FORBIDDEN, "{} {other}", app["id"]);
            }
        }
        // Past the rate limit: 429 with Retry-After.
        let app = granted[0];
        let code = app["resource_codes"][0].as_str().unwrap().to_string();
        let url = format!(
            "{base}/api/v1/services/{code}/records/{}",
            app["example_keys"][&code].as_str().unwrap()
        );
        let calls = (0..300).map(|_| {
            client
                .get(&url)
                .bearer_auth(app["api_key"].as_str().unwrap())
                .send()
        });
        let answers = futures::future::join_all(calls).await;
        let limited = answers
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
            .expect("300 concurrent calls pass a 50-per-second limit");
        assert!(limited.headers().get("retry-after").is_some());
        server.kill().unwrap();
        let _ = server.wait();
    }

    // A new master key: everything is re-sealed under it and keeps working.
    if !postgres {
        let master_before = std::fs::read_to_string(data.join("keys/master.key")).unwrap();
        let public_before = std::fs::read_to_string(data.join("audit/tree-head.pub")).unwrap();
        let out = shuniu()
            .args(["keys", "rotate", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let master_after = std::fs::read_to_string(data.join("keys/master.key")).unwrap();
        assert_ne!(master_before, master_after);
        assert_eq!(master_after.lines().count(), 1, "the old key is dropped");
        let out = shuniu()
            .args(["keys", "status", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && !status.contains("earlier key")
                && !status.contains("not sealed"),
            "{status}"
        );
        assert_eq!(
            std::fs::read_to_string(data.join("audit/tree-head.pub")).unwrap(),
            public_before,
            "the same signing key, sealed anew"
        );
        let out = shuniu()
            .args(["audit", "verify", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The old master key no longer opens the key files.
        std::fs::write(data.join("keys/master.key"), &master_before).unwrap();
        let out = shuniu()
            .args(["loads", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(!out.status.success(), "opened with the old key");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("subject.key")
                || String::from_utf8_lossy(&out.stderr).contains("tree-head.key"),
            "the error names the file: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(data.join("keys/master.key"), &master_after).unwrap();
    }
}

#[test]
fn bad_configuration_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shuniu.toml"),
        "listen = \"not an address\"\n",
    )
    .unwrap();
    let out = shuniu()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listen"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let empty = tempfile::tempdir().unwrap();
    let out = shuniu()
        .args(["serve", "--data-dir"])
        .arg(empty.path().join("nothing"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shuniu init"));
}

#[test]
fn init_creates_a_working_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = shuniu()
        .args(["init", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("admin") && stdout.contains("snk_"));
    assert!(dir.path().join("shuniu.toml").exists());
    // Users and applications from the command line.
    let run = |args: &[&str]| {
        let out = shuniu()
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let first = run(&[
        "user",
        "add",
        "ops2",
        "--name",
        "值班员",
        "--role",
        "hub_operator",
        "--department",
        "370200DSJ",
    ]);
    let first_password = first.split('\t').nth(1).unwrap().to_string();
    let second = run(&["user", "password", "ops2"]);
    let second_password = second.split('\t').nth(1).unwrap().to_string();
    assert_ne!(first_password, second_password);
    assert!(run(&["user", "list"]).contains("ops2\thub_operator"));
    let key_line = run(&[
        "app",
        "add",
        "gateway",
        "--name",
        "网关",
        "--role",
        "viewer",
        "--department",
        "370200DSJ",
    ]);
    assert!(key_line.split('\t').nth(1).unwrap().starts_with("snk_"));
    assert!(run(&["app", "list"]).contains("gateway\tviewer"));
    run(&["app", "revoke", "gateway"]);
    assert!(run(&["app", "list"]).contains("revoked"));
    let out = shuniu()
        .args([
            "user",
            "add",
            "x",
            "--name",
            "x",
            "--role",
            "king",
            "--department",
            "370200DSJ",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "unknown roles are refused");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = shuniu_store::Store::open(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("shuniu.db").display()
        ))
        .await
        .unwrap();
        let audit = crate::harness::audit_log(dir.path(), &store).await;
        let accounts = shuniu_auth::accounts::Accounts::new(store, audit);
        assert!(
            accounts.login("ops2", &first_password).await.is_err(),
            "the old password no longer works"
        );
        assert!(accounts.login("ops2", &second_password).await.is_ok());
    });

    // A second init of the same directory fails cleanly instead of duplicating.
    let out = shuniu()
        .args(["init", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Runs the command-line examples of docs/catalog.md, as written, against the demo city.
fn run_documented_cli_examples(data: &std::path::Path, work: &std::path::Path) {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/catalog.md")).unwrap();
    let block = |after: &str, fence: &str| -> String {
        let start = doc
            .find(after)
            .unwrap_or_else(|| panic!("{after} in docs/catalog.md"));
        let open = doc[start..].find(fence).unwrap() + start + fence.len();
        let close = doc[open..].find("```").unwrap() + open;
        doc[open..close].to_string()
    };
    let script =
        block("## Command line", "```sh\n").replace("/tmp/city", &data.display().to_string());
    std::fs::write(
        work.join("resource.json"),
        block("A minimal `resource.json`", "```json\n"),
    )
    .unwrap();
    let out = Command::new("bash")
        .current_dir(work)
        .env("BIN", env!("CARGO_BIN_EXE_shuniu"))
        .env("SHUNIU_LOG", "warn")
        .env_remove("SHUNIU_DATABASE_URL")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail\nshuniu() {{ \"$BIN\" \"$@\"; }}\n{script}"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "documented examples failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("已发布") && stdout.contains("已撤销"),
        "{stdout}"
    );
}

/// The quality page's command-line block, run as written against the demo city; then the
/// stable `quality report --json` interface and the demo's injected address conflicts.
fn run_documented_quality_examples(data: &std::path::Path, work: &std::path::Path) {
    let stdout = run_doc_block("quality.md", data, work);
    assert!(stdout.contains("全市质量得分"), "{stdout}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(work.join("report.json")).unwrap()).unwrap();
    let score = report["score"].as_f64().expect("score");
    assert!((0.0..=100.0).contains(&score), "{score}");
    let rules = report["rules"].as_array().expect("rules");
    for r in rules {
        for k in ["rule", "column", "checked", "failed"] {
            assert!(r.get(k).is_some(), "{k} in {r}");
        }
    }
    // The demo injects bad check digits into the household register.
    let id = rules
        .iter()
        .find(|r| r["rule"] == "id_number.id_number")
        .expect("the ID-number rule");
    assert!(id["failed"].as_u64().unwrap() > 0, "{id}");
    assert!(id["checked"].as_u64().unwrap() > 1000, "{id}");
    // And address conflicts with the register in other departments' datasets.
    let out = run_ok(
        shuniu()
            .args([
                "quality",
                "cross-check",
                "--attribute",
                "address",
                "--json",
                "--data-dir",
            ])
            .arg(data),
    );
    let reports: Value = serde_json::from_str(&out).unwrap();
    let conflicts: u64 = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["conflicts"].as_u64().unwrap())
        .sum();
    assert!(conflicts > 0, "{reports}");
}

/// Runs the `## Command line` block of a page in docs/, as written, against the demo city's
/// data directory (written there as /tmp/city); returns its standard output.
pub(crate) fn run_doc_block(page: &str, data: &std::path::Path, work: &std::path::Path) -> String {
    let path = format!("{}/docs/{page}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc.find("## Command line").expect("section");
    let open = doc[start..].find("```sh\n").unwrap() + start + 6;
    let close = doc[open..].find("```").unwrap() + open;
    let script = doc[open..close].replace("/tmp/city", &data.display().to_string());
    let out = Command::new("bash")
        .current_dir(work)
        .env("BIN", env!("CARGO_BIN_EXE_shuniu"))
        .env("SHUNIU_LOG", "warn")
        .env_remove("SHUNIU_DATABASE_URL")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail\nshuniu() {{ \"$BIN\" \"$@\"; }}\n{script}"
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "the examples of docs/{page} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The base-library page's command-line block, run as written against the demo city: both
/// libraries listed, nothing to read right after the demo built them, a full build of each.
fn run_documented_library_examples(data: &std::path::Path, work: &std::path::Path) {
    let stdout = run_doc_block("libraries.md", data, work);
    assert!(stdout.contains("人口基础信息库 (population)"), "{stdout}");
    assert!(stdout.contains("法人基础信息库 (legal_entity)"), "{stdout}");
    assert!(stdout.contains("标准地址库 (address)"), "{stdout}");
    assert!(stdout.contains("电子证照库 (licence)"), "{stdout}");
    assert!(stdout.contains("unchanged (change logs)"), "{stdout}");
    let builds = std::fs::read_to_string(work.join("builds.ndjson")).unwrap();
    let builds: Vec<Value> = builds
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(builds.len(), 4, "{builds:?}");
    for b in &builds {
        assert_eq!(b["mode"], "full");
        assert!(b["rows_written"].as_u64().unwrap() > 50, "{b}");
    }
    // The keyless sources' hand-keyed addresses (full-width digits, 4-2301, old district
    // names) are found in the address library once normalized.
    let matches = builds
        .iter()
        .find_map(|b| b["address_match"].as_array())
        .expect("the address library's build");
    let visits = matches
        .iter()
        .find(|m| m["name"] == "门诊就诊登记信息")
        .expect("the clinic visits' addresses");
    assert!(visits["rate"].as_f64().unwrap() > 0.95, "{visits}");
}

/// The open-data page's command-line block, run as written against the demo city.
fn run_documented_open_examples(data: &std::path::Path, work: &std::path::Path) {
    let stdout = run_doc_block("open.md", data, work);
    // The demo's open data: published, a public dataset republished as unchanged, the public's
    // requests.
    let list: Value =
        serde_json::from_slice(&std::fs::read(work.join("open.json")).unwrap()).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() > 20, "{list:?}");
    assert!(list.iter().all(|p| p["state"] == "published"));
    assert!(list.iter().any(|p| p["access"] == "conditional"));
    assert!(stdout.contains("\tunchanged\t"), "{stdout}");
    assert!(stdout.contains("公交线路实时到站数据"), "{stdout}");
}

pub(crate) fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A data directory with one published resource, through the command line.
fn hub_with_resource(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let data = dir.join("hub");
    run_ok(shuniu().args(["init", "--data-dir"]).arg(&data));
    let mut res = crate::harness::resource("户籍人口基本信息");
    res["provider"] = "370200DSJ".into();
    let file = dir.join("resource.json");
    std::fs::write(&file, res.to_string()).unwrap();
    let code = run_ok(
        shuniu()
            .args(["catalog", "register", "--publish", "--data-dir"])
            .arg(&data)
            .arg(&file),
    )
    .trim()
    .to_string();
    (data, code)
}

fn person_csv(path: &std::path::Path, rows: usize) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "id_number,name,address").unwrap();
    for i in 0..rows {
        writeln!(
            w,
            "3702021990{i:08},居民{},青岛市市南区香港中路{i}号",
            i % 97
        )
        .unwrap();
    }
}

fn sql_json(data: &std::path::Path, q: &str) -> Value {
    let out = run_ok(
        shuniu()
            .args(["sql", "--format", "json", "--data-dir"])
            .arg(data)
            .arg(q),
    );
    serde_json::from_str(&out).unwrap()
}

/// The interface outside checks rely on: `shuniu load … --json`, `shuniu sql`, `--tables`,
/// the lake under DIR/lake/CODE, and a non-zero exit when a load fails.
#[test]
fn load_and_sql_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (data, code) = hub_with_resource(dir.path());
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "公民身份号码,姓名,住址\n370202199001010011,张三,市南区\n370202199001010038,李四,市北区\n,王五,无\n",
    )
    .unwrap();
    let out = run_ok(
        shuniu()
            .args([
                "load",
                "--json",
                "--resource",
                &code,
                "--mode",
                "replace",
                "--encoding",
                "utf-8",
                "--data-dir",
            ])
            .arg(&data)
            .arg(&csv),
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["version"], 0, "{report}");
    assert_eq!(
        (
            report["rows_read"].as_i64(),
            report["rows_accepted"].as_i64(),
            report["rows_rejected"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert!(
        data.join("lake")
            .join(&code)
            .join("_delta_log")
            .join("00000000000000000000.json")
            .exists()
    );
    assert_eq!(
        sql_json(&data, &format!("SELECT count(*) AS n FROM \"{code}\"")),
        serde_json::json!([{"n": 2}])
    );
    let tables = run_ok(shuniu().args(["sql", "--tables", "--data-dir"]).arg(&data));
    assert!(tables.contains(&code), "{tables}");
    let csv_out = run_ok(
        shuniu()
            .args(["sql", "--format", "csv", "--data-dir"])
            .arg(&data)
            .arg(format!("SELECT name FROM \"{code}\" ORDER BY id_number")),
    );
    assert_eq!(csv_out, "name\n张三\n李四\n");

    // A failed load exits non-zero, says why, and leaves version 0 as it was.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id_number,salary\n1,2\n").unwrap();
    let out = shuniu()
        .args(["load", "--json", "--resource", &code, "--data-dir"])
        .arg(&data)
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["code"], "UNKNOWN_COLUMNS", "{report}");
    let out = shuniu()
        .args(["load", "--resource", "9-NOPE-00001", "--data-dir"])
        .arg(&data)
        .arg(&csv)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        sql_json(&data, &format!("SELECT count(*) AS n FROM \"{code}\"")),
        serde_json::json!([{"n": 2}])
    );
}

/// kill -9 of a real `shuniu load` at several points: the previous version stays intact
/// and readable, and the next load commits normally.
#[test]
fn kill_minus_nine_mid_load_leaves_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let (data, code) = hub_with_resource(dir.path());
    let small = dir.path().join("small.csv");
    person_csv(&small, 1000);
    run_ok(
        shuniu()
            .args(["load", "--resource", &code, "--data-dir"])
            .arg(&data)
            .arg(&small),
    );
    let big = dir.path().join("big.csv");
    person_csv(&big, 400_000);
    let log = data.join("lake").join(&code).join("_delta_log");
    let versions = || {
        std::fs::read_dir(&log)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .map(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .unwrap_or(false)
            })
            .count()
    };
    // Kill right after start, and once rows are streaming into Parquet.
    for wait_for_rows in [false, true] {
        let mut child = shuniu()
            .args(["load", "--resource", &code, "--data-dir"])
            .arg(&data)
            .arg(&big)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        if wait_for_rows {
            loop {
                let out = shuniu()
                    .args([
                        "loads",
                        "--json",
                        "--limit",
                        "1",
                        "--resource",
                        &code,
                        "--data-dir",
                    ])
                    .arg(&data)
                    .output()
                    .unwrap();
                let loads: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
                if loads[0]["status"] == "running"
                    && loads[0]["rows_accepted"].as_i64().unwrap_or(0) > 0
                {
                    break;
                }
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "the load finished before it could be killed; make the file bigger"
                );
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "no progress seen"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_eq!(versions(), 1, "no commit from a killed load");
        assert_eq!(
            sql_json(
                &data,
                &format!("SELECT count(*) AS n, count(DISTINCT id_number) AS k FROM \"{code}\"")
            ),
            serde_json::json!([{"n": 1000, "k": 1000}]),
            "the previous version is whole and readable"
        );
    }
    // The lake is not left broken: the next load commits version 1.
    let out = run_ok(
        shuniu()
            .args([
                "load",
                "--json",
                "--mode",
                "append",
                "--resource",
                &code,
                "--data-dir",
            ])
            .arg(&data)
            .arg(&small),
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(
        sql_json(&data, &format!("SELECT count(*) AS n FROM \"{code}\"")),
        serde_json::json!([{"n": 2000}])
    );
}

/// The lake on S3-compatible storage (`lake_url = "s3://…"`): loads commit with conditional
/// puts, SQL reads them. Runs when SHUNIU_TEST_S3_ENDPOINT names a server (.ci/run starts the
/// moto S3 server from PyPI).
#[tokio::test]
async fn the_lake_on_s3_compatible_storage() {
    let Ok(endpoint) = std::env::var("SHUNIU_TEST_S3_ENDPOINT") else {
        eprintln!("skipped: no SHUNIU_TEST_S3_ENDPOINT");
        return;
    };
    let bucket = format!("shuniu-{}", std::process::id());
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let dir = tempfile::tempdir().unwrap();
    let (data, code) = hub_with_resource(dir.path());
    let with_s3 = |c: &mut Command| {
        c.env("SHUNIU_LAKE_URL", format!("s3://{bucket}/city"))
            .env("SHUNIU_LAKE_S3_ENDPOINT", &endpoint)
            .env("SHUNIU_LAKE_S3_ACCESS_KEY_ID", "test")
            .env("SHUNIU_LAKE_S3_SECRET_ACCESS_KEY", "test")
            .env("SHUNIU_LAKE_S3_ALLOW_HTTP", "true");
    };
    let csv = dir.path().join("p.csv");
    person_csv(&csv, 500);
    for mode in ["replace", "upsert"] {
        let mut c = shuniu();
        with_s3(&mut c);
        let out = run_ok(
            c.args([
                "load",
                "--json",
                "--mode",
                mode,
                "--resource",
                &code,
                "--data-dir",
            ])
            .arg(&data)
            .arg(&csv),
        );
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["status"], "succeeded", "{report}");
    }
    let mut c = shuniu();
    with_s3(&mut c);
    let out = run_ok(
        c.args(["sql", "--format", "json", "--data-dir"])
            .arg(&data)
            .arg(format!("SELECT count(*) AS n FROM \"{code}@v0\"")),
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        serde_json::json!([{"n": 500}])
    );
    assert!(
        !data.join("lake").join(&code).exists(),
        "nothing on local disk"
    );
}
