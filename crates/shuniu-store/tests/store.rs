//! The control plane on both backends: every test runs against SQLite, and against PostgreSQL
//! too when `SHUNIU_TEST_DATABASE_URL` names a server (as `.ci/run` does), each in a scratch
//! database of its own.

use shuniu_store::{Backend, NewDepartment, OpenCounters, Store, StoreError};

/// A fresh store per backend available here.
async fn stores(dir: &std::path::Path) -> Vec<Store> {
    let mut out = vec![
        Store::open(&format!(
            "sqlite://{}?mode=rwc",
            dir.join("control.db").display()
        ))
        .await
        .expect("open SQLite"),
    ];
    if let Ok(admin) = std::env::var("SHUNIU_TEST_DATABASE_URL")
        && !admin.is_empty()
    {
        let url = shuniu_store::scratch_postgres_database(&admin)
            .await
            .expect("scratch PostgreSQL database");
        out.push(Store::open(&url).await.expect("open PostgreSQL"));
    }
    out
}

fn department(code: &str) -> NewDepartment {
    NewDepartment {
        code: code.into(),
        name: format!("青岛市{code}局"),
        short_name: format!("{code}局"),
        parent_code: None,
        division: "370200".into(),
        credit_code: None,
    }
}

/// The two migration sets are written twice, once per dialect: they must make the same tables,
/// columns (name, type family, nullability, primary key) and indexes.
#[tokio::test]
async fn both_migration_sets_make_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut shapes = Vec::new();
    for s in stores(dir.path()).await {
        shapes.push((s.backend(), s.schema().await.expect("schema")));
    }
    let (_, sqlite) = &shapes[0];
    assert!(
        sqlite.tables.len() >= 25,
        "the SQLite schema has {} tables",
        sqlite.tables.len()
    );
    assert!(sqlite.tables.contains_key("share_requests"));
    assert!(!sqlite.indexes.is_empty());
    let Some((_, postgres)) = shapes.iter().find(|(b, _)| *b == Backend::Postgres) else {
        eprintln!("SHUNIU_TEST_DATABASE_URL not set: PostgreSQL side not compared here");
        return;
    };
    let names = |s: &shuniu_store::SchemaShape| s.tables.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(sqlite), names(postgres), "tables differ");
    for (table, columns) in &sqlite.tables {
        assert_eq!(
            Some(columns),
            postgres.tables.get(table),
            "columns of {table} differ"
        );
    }
    let only_sqlite: Vec<_> = sqlite.indexes.difference(&postgres.indexes).collect();
    let only_postgres: Vec<_> = postgres.indexes.difference(&sqlite.indexes).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "indexes differ: only in SQLite {only_sqlite:#?}, only in PostgreSQL {only_postgres:#?}"
    );
}

/// Opening an up-to-date store again migrates nothing and keeps the data.
#[tokio::test]
async fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let store = Store::open(&url).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_department(&department("GA")).await.unwrap();
    tx.commit().await.unwrap();
    let before = store.schema().await.unwrap();
    drop(store);
    let again = Store::open(&url).await.unwrap();
    assert_eq!(again.schema().await.unwrap(), before);
    assert!(again.department("GA").await.unwrap().is_some());
}

#[tokio::test]
async fn departments_round_trip_and_duplicates_conflict() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()).await {
        let backend = store.backend();
        let mut tx = store.begin().await.unwrap();
        tx.insert_department(&department("MZ")).await.unwrap();
        tx.commit().await.unwrap();
        let d = store.department("MZ").await.unwrap().expect("stored");
        assert_eq!(d.name, "青岛市MZ局", "{backend:?}");
        let mut tx = store.begin().await.unwrap();
        let err = tx.insert_department(&department("MZ")).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { .. }),
            "{backend:?}: {err}"
        );
        assert!(store.department("nobody").await.unwrap().is_none());
    }
}

/// A transaction dropped before its commit leaves nothing behind.
#[tokio::test]
async fn an_uncommitted_transaction_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()).await {
        {
            let mut tx = store.begin().await.unwrap();
            tx.insert_department(&department("JY")).await.unwrap();
            tx.add_open_counters(
                "R1",
                OpenCounters {
                    views: 1,
                    downloads: 0,
                    api_calls: 0,
                },
            )
            .await
            .unwrap();
        }
        assert!(store.department("JY").await.unwrap().is_none());
        assert!(store.open_counters().await.unwrap().is_empty());
    }
}

/// Counters add up across flushes, in one row per dataset.
#[tokio::test]
async fn open_counters_accumulate() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()).await {
        for (views, downloads) in [(3, 1), (2, 0), (0, 5)] {
            let mut tx = store.begin().await.unwrap();
            tx.add_open_counters(
                "R1",
                OpenCounters {
                    views,
                    downloads,
                    api_calls: 1,
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        let c = store.open_counters().await.unwrap();
        let r1 = c.get("R1").copied().unwrap_or_default();
        assert_eq!((r1.views, r1.downloads, r1.api_calls), (5, 6, 3));
    }
}

/// The audit index is written many rows per statement: a batch larger than one statement holds
/// arrives whole, each row's fields in its own columns, a repeated batch adds nothing.
#[tokio::test]
async fn audit_index_batches_arrive_whole() {
    use shuniu_store::{AuditFilter, AuditIndexRow};
    let dir = tempfile::tempdir().unwrap();
    for s in stores(dir.path()).await {
        let rows: Vec<AuditIndexRow> = (0..203)
            .map(|i| AuditIndexRow {
                idx: i,
                at: format!("2026-12-08T10:{:02}:{:02}+08:00", i / 60, i % 60),
                kind: "access".into(),
                action: "services.lookup".into(),
                principal: format!("app:{}", i % 3),
                department: "370200RSJ".into(),
                channel: "service".into(),
                resource: (i % 2 == 0).then(|| format!("R{i}")),
                provider: Some("370200GA".into()),
                rows: Some(i),
                result: "ok".into(),
                purpose: None,
            })
            .collect();
        let subjects: Vec<(String, i64)> = (0..203).map(|i| (format!("S{}", i % 7), i)).collect();
        for _ in 0..2 {
            let mut tx = s.begin().await.unwrap();
            tx.insert_audit_index(&rows, &subjects).await.unwrap();
            tx.commit().await.unwrap();
        }
        assert_eq!(
            s.audit_indexed_upto().await.unwrap(),
            203,
            "{:?}",
            s.backend()
        );
        let found = s
            .audit_search(&AuditFilter {
                principal: Some("app:1".into()),
                limit: 1000,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 68, "{:?}", s.backend());
        let r = found.iter().find(|r| r.idx == 100).unwrap();
        assert_eq!(
            (r.resource.as_deref(), r.rows, r.at.as_str()),
            (Some("R100"), Some(100), "2026-12-08T10:01:40+08:00")
        );
        let one = s
            .audit_search(&AuditFilter {
                subject: Some("S3".into()),
                limit: 1000,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(one.len(), 29, "{:?}", s.backend());
    }
}
