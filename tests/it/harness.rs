use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use shuniu_auth::accounts::{Accounts, DepartmentInput};
use shuniu_catalog::Catalog;
use shuniu_server::{AppState, ServerSettings};
use shuniu_store::Store;
use shuniu_types::{Actor, CodeFormat, Role};

pub struct Hub {
    pub base: String,
    pub client: Client,
    pub operator_key: String,
    pub ga_key: String,
    pub mz_key: String,
    pub viewer_key: String,
    /// The engine behind the server, for what has no HTTP door (the scheduler's tick).
    pub aggregation: shuniu_aggregate::Aggregation,
    pub sharing: shuniu_sharing::Sharing,
    pub open: shuniu_open::Open,
    pub events: shuniu_events::Events,
    /// Every engine, for what only the server's own tasks do (the hub's daily figures).
    pub engines: shuniu_server::Engines,
    /// The control plane, for setting up what no API may (a request's deadline in the past).
    pub store: Store,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub const PASSWORD: &str = "Test-password-2026";

/// The control-plane URL for one test: a fresh SQLite file, or a fresh PostgreSQL database.
pub async fn database_url(dir: &std::path::Path) -> String {
    match std::env::var("SHUNIU_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => shuniu_store::scratch_postgres_database(&admin)
            .await
            .expect("create scratch database"),
        _ => format!("sqlite://{}?mode=rwc", dir.join("shuniu.db").display()),
    }
}

/// The master key of a test hub: a key file in its directory, as `shuniu serve` keeps one.
pub fn master_key(dir: &std::path::Path) -> shuniu_keys::MasterKey {
    shuniu_keys::MasterKey::load(shuniu_keys::KeySource::File(dir.join("keys/master.key")))
        .expect("master key")
}

/// The audit log of a test hub: in PostgreSQL when the suite runs against it (the production
/// storage), otherwise in segment files in the test's directory.
pub async fn audit_log(dir: &std::path::Path, store: &Store) -> shuniu_audit::AuditLog {
    let storage: std::sync::Arc<dyn shuniu_audit::LogStorage> =
        if store.backend() == shuniu_store::Backend::Postgres {
            std::sync::Arc::new(shuniu_audit::DatabaseStorage::new(store.clone()).expect("db log"))
        } else {
            std::sync::Arc::new(
                shuniu_audit::SegmentStorage::open(&dir.join("audit/log")).expect("segments"),
            )
        };
    let keys = master_key(dir);
    shuniu_audit::AuditLog::open(&dir.join("audit"), storage, Some(store.clone()), &keys)
        .await
        .expect("audit log")
}

impl Hub {
    pub async fn start() -> Hub {
        Hub::start_with(CodeFormat::default()).await
    }

    pub async fn start_with(code_format: CodeFormat) -> Hub {
        Hub::start_as(code_format, true).await
    }

    /// A hub as `shuniu serve` runs it: no simulated citizen sign-in.
    pub async fn start_serving() -> Hub {
        Hub::start_as(CodeFormat::default(), false).await
    }

    async fn start_as(code_format: CodeFormat, simulated_citizen_sign_in: bool) -> Hub {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&database_url(dir.path()).await)
            .await
            .expect("open store");
        let audit = audit_log(dir.path(), &store).await;
        let catalog = Catalog::open(store.clone(), code_format, audit.clone())
            .await
            .expect("catalog");
        let accounts = Accounts::new(store.clone(), audit.clone());
        let root = Actor::local_operator();
        for (code, name, parent, division) in [
            ("370200DSJ", "青岛市大数据发展管理局", None, "370200"),
            ("370200GA", "青岛市公安局", None, "370200"),
            ("370200MZ", "青岛市民政局", None, "370200"),
            ("370200WJ", "青岛市卫生健康委员会", None, "370200"),
            (
                "370212GA",
                "青岛市崂山区公安分局",
                Some("370200GA"),
                "370212",
            ),
        ] {
            accounts
                .create_department(
                    &root,
                    &DepartmentInput {
                        code: code.into(),
                        name: name.into(),
                        short_name: name.chars().skip(3).take(4).collect(),
                        parent_code: parent.map(String::from),
                        division: division.into(),
                        credit_code: None,
                    },
                )
                .await
                .expect("department");
        }
        for (login, role, dept) in [
            ("admin", Role::HubOperator, "370200DSJ"),
            ("ga.officer", Role::DataOfficer, "370200GA"),
            ("mz.viewer", Role::Viewer, "370200MZ"),
            ("wj.officer", Role::DataOfficer, "370200WJ"),
        ] {
            accounts
                .create_user(&root, login, login, role, dept, PASSWORD)
                .await
                .expect("user");
        }
        let mut keys = Vec::new();
        for (id, dept, role) in [
            ("op", "370200DSJ", Role::HubOperator),
            ("ga", "370200GA", Role::DataOfficer),
            ("mz", "370200MZ", Role::DataOfficer),
            ("viewer", "370200MZ", Role::Viewer),
        ] {
            keys.push(
                accounts
                    .create_application(&root, id, id, dept, role)
                    .await
                    .expect("app")
                    .1,
            );
        }
        let engines = shuniu_server::Engines::assemble(
            store.clone(),
            audit.clone(),
            catalog,
            shuniu_lake::Lake::local(&dir.path().join("lake")).expect("lake"),
            dir.path(),
            master_key(dir.path()),
        )
        .await
        .expect("engines");
        // Failed case jobs are retried at once: a test does not wait out the backoff.
        let mut engines = engines;
        engines.cases = engines
            .cases
            .clone()
            .with_retry_base(std::time::Duration::ZERO);
        let (aggregation, sharing, open, events) = (
            engines.aggregation.clone(),
            engines.sharing.clone(),
            engines.open.clone(),
            engines.events.clone(),
        );
        let all = engines.clone();
        let state = AppState::new(
            engines,
            ServerSettings {
                secure_cookies: false,
                site_name: "数纽测试".into(),
                open_rate_anonymous: 40,
                open_rate_token: 200,
                simulated_citizen_sign_in,
                citizen_sign_in: None,
                enterprise_sign_in: None,
                console_sign_in: None,
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(shuniu_server::serve(state, listener, async move {
            let _ = rx.await;
        }));
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Hub {
            base,
            client,
            operator_key: keys[0].clone(),
            ga_key: keys[1].clone(),
            mz_key: keys[2].clone(),
            viewer_key: keys[3].clone(),
            aggregation,
            sharing,
            open,
            events,
            engines: all,
            store,
            _dir: dir,
            shutdown: Some(tx),
        }
    }

    /// The hub's data directory (the lake, the serving index, the keys).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, key: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn put(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .put(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Registers `resource` as `key` and returns its code.
    pub async fn register(&self, key: &str, resource: &Value) -> String {
        let r = self.post(key, "/api/v1/catalog/resources", resource).await;
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["code"].as_str().expect("code").to_string()
    }

    pub async fn publish(&self, owner_key: &str, code: &str) {
        let r = self
            .post(
                owner_key,
                &format!("/api/v1/catalog/resources/{code}/submit"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = self
            .post(
                &self.operator_key,
                &format!("/api/v1/catalog/resources/{code}/review"),
                &json!({"decision": "publish"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// A valid catalog entry of the GA department.
pub fn resource(name: &str) -> Value {
    json!({
        "name": name,
        "provider": "370200GA",
        "category": "基础信息资源",
        "item_code": 1, "item_name": "人口",
        "subject_code": 1, "subject_name": "户籍人口",
        "summary": "全市户籍人口的身份和地址信息",
        "format": "数据库",
        "share_type": "有条件共享",
        "share_conditions": "用于政务服务身份核验",
        "open_type": "不予开放",
        "update_cycle": "每日",
        "level": "general_3",
        "data_items": [
            {"name": "id_number", "label": "公民身份号码", "data_type": "字符型", "length": 18, "is_key": true, "personal": true, "semantic_type": "身份证号"},
            {"name": "name", "label": "姓名", "data_type": "字符型", "length": 50, "personal": true, "semantic_type": "姓名"},
            {"name": "address", "label": "住址", "data_type": "字符型", "length": 200, "personal": true, "semantic_type": "地址"}
        ]
    })
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

pub fn error_fields(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
