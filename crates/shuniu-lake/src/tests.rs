use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
    ]))
}

fn batch(ids: &[&str], ns: &[i64]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(ids.to_vec())),
            Arc::new(Int64Array::from(ns.to_vec())),
        ],
    )
    .unwrap()
}

fn feed(batches: Vec<RecordBatch>, end: Feed) -> BatchFeed {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        for b in batches {
            tx.send(Feed::Batch(b)).await.unwrap();
        }
        let _ = tx.send(end).await;
    });
    rx
}

async fn rows(lake: &Lake, sql: &str) -> Vec<Vec<Option<String>>> {
    lake.sql(vec!["T-1".into()], sql, 1000)
        .await
        .unwrap()
        .to_strings()
}

#[tokio::test]
async fn every_mode_is_one_version_and_failures_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(&dir.path().join("lake")).unwrap();
    let keys = vec!["id".to_string()];
    let meta = || vec![("shuniu.load_id".to_string(), serde_json::json!("L1"))];
    assert!(lake.open("T-1").await.unwrap().is_none());

    let c = lake
        .write(
            "T-1",
            schema(),
            WriteMode::Replace,
            &keys,
            feed(
                vec![batch(&["a", "b"], &[1, 2]), batch(&["c"], &[3])],
                Feed::End,
            ),
            meta(),
        )
        .await
        .unwrap();
    assert_eq!(c.version, 0);
    assert_eq!(c.rows_inserted, 3);
    assert_eq!(lake.row_count("T-1").await.unwrap(), Some(3));

    let c = lake
        .write(
            "T-1",
            schema(),
            WriteMode::Append,
            &keys,
            feed(vec![batch(&["d"], &[4])], Feed::End),
            meta(),
        )
        .await
        .unwrap();
    assert_eq!(c.version, 1);

    let c = lake
        .write(
            "T-1",
            schema(),
            WriteMode::Upsert,
            &keys,
            feed(vec![batch(&["a", "e"], &[10, 5])], Feed::End),
            meta(),
        )
        .await
        .unwrap();
    assert_eq!((c.version, c.rows_updated, c.rows_inserted), (2, 1, 1));

    let c = lake
        .write(
            "T-1",
            schema(),
            WriteMode::Delete,
            &keys,
            feed(vec![batch(&["b", "zz"], &[0, 0])], Feed::End),
            meta(),
        )
        .await
        .unwrap();
    assert_eq!((c.version, c.rows_deleted), (3, 1));
    assert_eq!(
        rows(&lake, "SELECT id, n FROM \"T-1\" ORDER BY id").await,
        vec![
            vec![Some("a".into()), Some("10".into())],
            vec![Some("c".into()), Some("3".into())],
            vec![Some("d".into()), Some("4".into())],
            vec![Some("e".into()), Some("5".into())],
        ]
    );
    // Time travel.
    assert_eq!(
        rows(&lake, "SELECT count(*) FROM \"T-1@v0\"").await[0][0].as_deref(),
        Some("3")
    );
    assert_eq!(
        rows(&lake, "SELECT n FROM \"T-1@1\" WHERE id = 'a'").await[0][0].as_deref(),
        Some("1")
    );
    let err = lake
        .sql(vec!["T-1".into()], "SELECT * FROM \"T-1@v9\"", 10)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("version 9"), "{err}");

    // A failed or cut-off feed commits nothing.
    for end in [
        Feed::Fail("source broke".into()),
        Feed::Batch(batch(&["x"], &[9])),
    ] {
        let tx_end = end;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            tx.send(Feed::Batch(batch(&["x"], &[9]))).await.unwrap();
            let _ = tx.send(tx_end).await;
            // Dropping tx without End cuts the feed off.
        });
        let err = lake
            .write("T-1", schema(), WriteMode::Replace, &keys, rx, meta())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "LOAD_ABORTED", "{err}");
        assert_eq!(lake.version("T-1").await.unwrap(), Some(3));
        assert_eq!(lake.row_count("T-1").await.unwrap(), Some(4));
    }

    // Duplicate keys in an upsert are refused, naming them.
    let err = lake
        .write(
            "T-1",
            schema(),
            WriteMode::Upsert,
            &keys,
            feed(vec![batch(&["q", "q"], &[1, 2])], Feed::End),
            meta(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "DUPLICATE_KEYS");
    assert!(err.to_string().contains('q'));
    // No key, no upsert.
    let err = lake
        .write(
            "T-1",
            schema(),
            WriteMode::Upsert,
            &[],
            feed(vec![], Feed::End),
            meta(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INPUT_INVALID");
    assert_eq!(lake.version("T-1").await.unwrap(), Some(3));

    let h = lake.history("T-1", 10).await.unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(h[0].version, 3);
    assert_eq!(h[0].load_id.as_deref(), Some("L1"));
}

#[tokio::test]
async fn sql_is_read_only_and_sees_only_named_tables() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(&dir.path().join("lake")).unwrap();
    lake.write(
        "T-1",
        schema(),
        WriteMode::Replace,
        &[],
        feed(vec![batch(&["a"], &[1])], Feed::End),
        vec![],
    )
    .await
    .unwrap();
    lake.write(
        "T-2",
        schema(),
        WriteMode::Replace,
        &[],
        feed(vec![batch(&["b"], &[2])], Feed::End),
        vec![],
    )
    .await
    .unwrap();
    for bad in [
        "DROP TABLE \"T-1\"",
        "INSERT INTO \"T-1\" VALUES ('z', 1)",
        "CREATE TABLE x AS SELECT 1",
        "SELECT * FROM \"T-2\"",
        "SELEC 1",
    ] {
        let err = lake.sql(vec!["T-1".into()], bad, 10).await.unwrap_err();
        assert_eq!(err.code(), "SQL_INVALID", "{bad}: {err}");
    }
    let r = lake
        .sql(
            vec!["T-1".into(), "T-2".into()],
            "SELECT id FROM \"T-1\" UNION ALL SELECT id FROM \"T-2\"",
            1,
        )
        .await
        .unwrap();
    assert_eq!(r.rows, 1);
    assert!(r.truncated);
    let json = lake
        .preview("T-1", None, 5)
        .await
        .unwrap()
        .to_json()
        .unwrap();
    assert_eq!(json, serde_json::json!([{"id": "a", "n": 1}]));
}

#[tokio::test]
async fn an_upsert_into_an_empty_dataset_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(&dir.path().join("lake")).unwrap();
    let keys = vec!["id".to_string()];
    let c = lake
        .write(
            "T-1",
            schema(),
            WriteMode::Upsert,
            &keys,
            feed(vec![batch(&["a", "b"], &[1, 2])], Feed::End),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!((c.version, c.rows_inserted), (0, 2));
    let err = lake
        .write(
            "T-2",
            schema(),
            WriteMode::Delete,
            &keys,
            feed(vec![batch(&["a"], &[1])], Feed::End),
            vec![],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NO_DATA");
    assert_eq!(
        rows(&lake, "SELECT id FROM \"T-1\" ORDER BY id")
            .await
            .len(),
        2
    );
}

fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                out.push(p);
            }
        }
    }
    out
}

/// `id` is sensitive (and the key), `n` is not.
fn sensitive_schema() -> SchemaRef {
    mark_sensitive(&schema(), |n| n == "id")
}

#[tokio::test]
async fn sensitive_columns_are_sealed_on_disk_and_open_for_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let key = shuniu_keys::CellKey::from_secret(&[5; 32]);
    let lake = Lake::local(&dir.path().join("lake"))
        .unwrap()
        .with_cells(key.clone());
    let keys = vec!["id".to_string()];
    let secret = "370203199001011234";
    lake.write(
        "T-1",
        sensitive_schema(),
        WriteMode::Replace,
        &keys,
        feed(vec![batch(&[secret, "b"], &[1, 2])], Feed::End),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        files_holding(&dir.path().join("lake"), secret.as_bytes()),
        Vec::<std::path::PathBuf>::new(),
        "the value is nowhere on disk"
    );
    // The hub reads the column as it was loaded, equality included; the digest is hidden.
    assert_eq!(
        rows(
            &lake,
            &format!("SELECT * FROM \"T-1\" WHERE id = '{secret}'")
        )
        .await,
        vec![vec![Some(secret.to_string()), Some("1".into())]]
    );
    let r = lake.preview("T-1", None, 10).await.unwrap();
    assert_eq!(r.columns(), vec!["id", "n"]);

    // Upsert matches the sealed key through its digest: one row updated, one inserted.
    let c = lake
        .write(
            "T-1",
            sensitive_schema(),
            WriteMode::Upsert,
            &keys,
            feed(vec![batch(&[secret, "c"], &[10, 3])], Feed::End),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!((c.rows_updated, c.rows_inserted), (1, 1));
    assert_eq!(
        rows(&lake, "SELECT id, n FROM \"T-1\" ORDER BY n").await,
        vec![
            vec![Some("b".into()), Some("2".into())],
            vec![Some("c".into()), Some("3".into())],
            vec![Some(secret.to_string()), Some("10".into())],
        ]
    );
    let c = lake
        .write(
            "T-1",
            sensitive_schema(),
            WriteMode::Delete,
            &keys,
            feed(vec![batch(&[secret], &[0])], Feed::End),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(c.rows_deleted, 1);
    assert!(files_holding(&dir.path().join("lake"), secret.as_bytes()).is_empty());

    // What a reader without the key sees: a binary column and its digest.
    let plain = Lake::local(&dir.path().join("lake")).unwrap();
    let e = plain
        .sql(vec!["T-1".into()], "SELECT * FROM \"T-1\"", 10)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("without the data key"), "{e}");
    let other = Lake::local(&dir.path().join("lake"))
        .unwrap()
        .with_cells(shuniu_keys::CellKey::from_secret(&[6; 32]));
    assert!(
        other
            .sql(vec!["T-1".into()], "SELECT id FROM \"T-1\"", 10)
            .await
            .is_err(),
        "another key opens nothing"
    );
    // Time travel opens old versions the same way.
    assert_eq!(
        rows(&lake, "SELECT count(*) FROM \"T-1@v0\" WHERE id = 'b'").await,
        vec![vec![Some("1".into())]]
    );
}

#[tokio::test]
async fn a_column_keeps_its_stored_form_until_a_replace() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(&dir.path().join("lake"))
        .unwrap()
        .with_cells(shuniu_keys::CellKey::from_secret(&[5; 32]));
    let keys = vec!["id".to_string()];
    // Loaded before the item was marked sensitive: stored plain.
    lake.write(
        "T-1",
        schema(),
        WriteMode::Replace,
        &keys,
        feed(vec![batch(&["plain-a"], &[1])], Feed::End),
        vec![],
    )
    .await
    .unwrap();
    // An append after the marking keeps the column plain (one table, one form) …
    lake.write(
        "T-1",
        sensitive_schema(),
        WriteMode::Append,
        &keys,
        feed(vec![batch(&["plain-b"], &[2])], Feed::End),
        vec![],
    )
    .await
    .unwrap();
    assert!(!files_holding(&dir.path().join("lake"), b"plain-b").is_empty());
    // … and the next replace seals it.
    lake.write(
        "T-1",
        sensitive_schema(),
        WriteMode::Replace,
        &keys,
        feed(vec![batch(&["sealed-c"], &[3])], Feed::End),
        vec![],
    )
    .await
    .unwrap();
    assert!(files_holding(&dir.path().join("lake"), b"sealed-c").is_empty());
    assert_eq!(
        rows(&lake, "SELECT id FROM \"T-1\"").await,
        vec![vec![Some("sealed-c".into())]]
    );
    // Without a data key a sensitive column is refused, never written plain.
    let bare = Lake::local(&dir.path().join("lake2")).unwrap();
    let e = bare
        .write(
            "T-2",
            sensitive_schema(),
            WriteMode::Replace,
            &keys,
            feed(vec![batch(&["x"], &[1])], Feed::End),
            vec![],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "LAKE_CONFIG_INVALID");
}
