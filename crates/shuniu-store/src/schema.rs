//! The control plane's schema as the database reports it, in one shape for SQLite and
//! PostgreSQL, so that a test can hold the two migration sets to the same tables, columns and
//! indexes (they are written twice, once per dialect, and must not drift).

use std::collections::{BTreeMap, BTreeSet};

use crate::{Backend, Result, Store, get};

/// A column: its name, its type family (`text`, `integer`, `real`, `blob`), whether it may be
/// NULL, and whether it is (part of) the primary key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnShape {
    pub name: String,
    pub family: &'static str,
    pub not_null: bool,
    pub primary_key: bool,
}

/// An index other than the primary key's: its table, its columns in order, whether unique.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexShape {
    pub table: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SchemaShape {
    pub tables: BTreeMap<String, Vec<ColumnShape>>,
    pub indexes: BTreeSet<IndexShape>,
}

fn family(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
        "real"
    } else if t.contains("blob") || t.contains("bytea") {
        "blob"
    } else {
        "other"
    }
}

/// Tables of the migration machinery, not of the schema.
fn is_bookkeeping(table: &str) -> bool {
    table.starts_with("_sqlx") || table.starts_with("sqlite_")
}

impl Store {
    /// The schema as it stands, tables, columns and indexes.
    pub async fn schema(&self) -> Result<SchemaShape> {
        match self.backend {
            Backend::Sqlite => self.sqlite_schema().await,
            Backend::Postgres => self.postgres_schema().await,
        }
    }

    async fn sqlite_schema(&self) -> Result<SchemaShape> {
        let mut shape = SchemaShape::default();
        let tables =
            sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        for t in tables {
            let table: String = get(&t, "name")?;
            if is_bookkeeping(&table) {
                continue;
            }
            let cols = sqlx::query(
                "SELECT name, type, \"notnull\" AS not_null, pk FROM pragma_table_info($1)",
            )
            .bind(&table)
            .fetch_all(&self.pool)
            .await?;
            let mut columns = Vec::new();
            for c in cols {
                let pk: i64 = get(&c, "pk")?;
                let declared: String = get(&c, "type")?;
                columns.push(ColumnShape {
                    name: get(&c, "name")?,
                    family: family(&declared),
                    // SQLite lets a primary key be NULL unless declared otherwise; PostgreSQL
                    // never does: both are "not null" here.
                    not_null: get::<i64>(&c, "not_null")? != 0 || pk > 0,
                    primary_key: pk > 0,
                });
            }
            columns.sort();
            let indexes = sqlx::query(
                "SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list($1)",
            )
            .bind(&table)
            .fetch_all(&self.pool)
            .await?;
            for i in indexes {
                let origin: String = get(&i, "origin")?;
                if origin == "pk" {
                    continue;
                }
                let name: String = get(&i, "name")?;
                let cols = sqlx::query("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(&self.pool)
                    .await?;
                let columns = cols
                    .iter()
                    .map(|c| get::<String>(c, "name"))
                    .collect::<Result<Vec<_>>>()?;
                shape.indexes.insert(IndexShape {
                    table: table.clone(),
                    columns,
                    unique: get::<i64>(&i, "is_unique")? != 0,
                });
            }
            shape.tables.insert(table, columns);
        }
        Ok(shape)
    }

    async fn postgres_schema(&self) -> Result<SchemaShape> {
        let mut shape = SchemaShape::default();
        let cols = sqlx::query(
            "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name,
                    c.data_type::text AS data_type, c.is_nullable::text AS is_nullable,
                    CASE WHEN EXISTS (
                        SELECT 1 FROM information_schema.table_constraints tc
                        JOIN information_schema.key_column_usage k
                          ON k.constraint_name = tc.constraint_name AND k.table_name = tc.table_name
                        WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()
                          AND k.table_name = c.table_name AND k.column_name = c.column_name
                    ) THEN 1 ELSE 0 END AS pk
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_name = c.table_name AND t.table_schema = c.table_schema
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
             ORDER BY c.table_name, c.column_name",
        )
        .fetch_all(&self.pool)
        .await?;
        for c in cols {
            let table: String = get(&c, "table_name")?;
            if is_bookkeeping(&table) {
                continue;
            }
            let declared: String = get(&c, "data_type")?;
            let pk = get::<i32>(&c, "pk")? != 0;
            shape.tables.entry(table).or_default().push(ColumnShape {
                name: get(&c, "column_name")?,
                family: family(&declared),
                not_null: get::<String>(&c, "is_nullable")? == "NO" || pk,
                primary_key: pk,
            });
        }
        for columns in shape.tables.values_mut() {
            columns.sort();
        }
        let indexes = sqlx::query(
            "SELECT t.relname::text AS table_name, ix.indisunique AS is_unique,
                    array_to_string(ARRAY(
                        SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                        ORDER BY k.ord), ',') AS columns
             FROM pg_index ix
             JOIN pg_class t ON t.oid = ix.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = current_schema() AND NOT ix.indisprimary",
        )
        .fetch_all(&self.pool)
        .await?;
        for i in indexes {
            let table: String = get(&i, "table_name")?;
            if is_bookkeeping(&table) {
                continue;
            }
            let columns: String = get(&i, "columns")?;
            shape.indexes.insert(IndexShape {
                table,
                columns: columns.split(',').map(str::to_string).collect(),
                unique: get::<bool>(&i, "is_unique")?,
            });
        }
        Ok(shape)
    }
}
