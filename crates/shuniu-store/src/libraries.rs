//! Base libraries (基础库): which catalog resource is which library, and which source
//! versions each was last built from. `shuniu-libraries` decides what goes in them; this
//! module only stores and loads.

use crate::{Result, Store, Tx, get};

/// A bound library.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseLibraryRow {
    pub code: String,
    /// `population` or `legal_entity`.
    pub kind: String,
    /// `id_number` or `credit_code`.
    pub key_type: String,
    pub bound_by: String,
    pub bound_at: String,
    pub built_at: Option<String>,
    /// What the last build did (JSON).
    pub last_build: serde_json::Value,
}

fn row(r: &sqlx::any::AnyRow) -> Result<BaseLibraryRow> {
    Ok(BaseLibraryRow {
        code: get(r, "code")?,
        kind: get(r, "kind")?,
        key_type: get(r, "key_type")?,
        bound_by: get(r, "bound_by")?,
        bound_at: get(r, "bound_at")?,
        built_at: get(r, "built_at")?,
        last_build: crate::quality::json(r, "last_build")?,
    })
}

impl Store {
    pub async fn base_libraries(&self) -> Result<Vec<BaseLibraryRow>> {
        let rows = sqlx::query(
            "SELECT code, kind, key_type, bound_by, bound_at, built_at, last_build
             FROM base_libraries ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }

    /// The source versions a library was last built from, by resource code.
    pub async fn base_library_sources(&self, code: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT resource_code, version FROM base_library_sources
             WHERE library_code = $1 ORDER BY resource_code",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "resource_code")?, get(r, "version")?)))
            .collect()
    }
}

impl Tx {
    /// Binds a resource as a library; a kind has one library, so re-binding moves it.
    pub async fn bind_base_library(&mut self, lib: &BaseLibraryRow) -> Result<()> {
        for sql in [
            "DELETE FROM base_library_sources WHERE library_code IN
                 (SELECT code FROM base_libraries WHERE kind = $1 OR code = $2)",
            "DELETE FROM base_libraries WHERE kind = $1 OR code = $2",
        ] {
            sqlx::query(sql)
                .bind(&lib.kind)
                .bind(&lib.code)
                .execute(&mut *self.tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO base_libraries (code, kind, key_type, bound_by, bound_at, built_at, last_build)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&lib.code)
        .bind(&lib.kind)
        .bind(&lib.key_type)
        .bind(&lib.bound_by)
        .bind(&lib.bound_at)
        .bind(&lib.built_at)
        .bind(lib.last_build.to_string())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records a finished build: what it did and the source versions it reached. A source no
    /// longer read is forgotten, so that reading it again starts with a full pass.
    pub async fn record_library_build(
        &mut self,
        code: &str,
        built_at: &str,
        build: &serde_json::Value,
        sources: &[(String, i64)],
    ) -> Result<()> {
        sqlx::query("UPDATE base_libraries SET built_at = $1, last_build = $2 WHERE code = $3")
            .bind(built_at)
            .bind(build.to_string())
            .bind(code)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM base_library_sources WHERE library_code = $1")
            .bind(code)
            .execute(&mut *self.tx)
            .await?;
        for (resource, version) in sources {
            sqlx::query(
                "INSERT INTO base_library_sources (library_code, resource_code, version)
                 VALUES ($1, $2, $3)",
            )
            .bind(code)
            .bind(resource)
            .bind(version)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}
