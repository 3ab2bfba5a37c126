//! What changed in a table between two versions, read from the data files alone: the files the
//! later version holds that the earlier did not (rows added, and rows rewritten by a merge or a
//! delete together with the unchanged rows of the files they were in), and the files the
//! earlier version held that the later does not. A reader that must follow a table without
//! reading it whole (a list kept up to date with its library) reads only those files.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SQLOptions;
use futures::StreamExt;

use crate::query::QueryResult;
use crate::{Lake, LakeError, Result};

/// The files that differ between two versions of a table.
#[derive(Debug, Clone)]
pub struct Changes {
    pub code: String,
    pub from: i64,
    pub to: i64,
    /// Data files (URIs) in `to` and not in `from`.
    pub added: Vec<String>,
    /// Data files in `from` and not in `to`.
    pub removed: Vec<String>,
}

impl Changes {
    /// The name the added files' rows go by in [`Lake::sql_changes`], if there are any.
    pub fn added_table(&self) -> Option<String> {
        (!self.added.is_empty()).then(|| format!("{}+added", self.code))
    }

    /// The name the removed files' rows go by, if there are any.
    pub fn removed_table(&self) -> Option<String> {
        (!self.removed.is_empty()).then(|| format!("{}-removed", self.code))
    }
}

impl Lake {
    /// The data files that differ between versions `from` and `to` of a table.
    pub async fn changes(&self, code: &str, from: i64, to: i64) -> Result<Changes> {
        let files = |t: &deltalake::DeltaTable| -> Result<BTreeSet<String>> {
            Ok(t.get_file_uris()?.collect())
        };
        let before = files(&self.open_version(code, from).await?)?;
        let after = files(&self.open_version(code, to).await?)?;
        Ok(Changes {
            code: code.to_string(),
            from,
            to,
            added: after.difference(&before).cloned().collect(),
            removed: before.difference(&after).cloned().collect(),
        })
    }

    /// One read-only statement over the changed files: `"CODE+added"` holds the rows of the
    /// added files (as the table stood at `to`), `"CODE-removed"` those of the removed ones (at
    /// `from`); sealed columns are opened as in every other read.
    pub async fn sql_changes(&self, changes: &Changes, sql: &str) -> Result<QueryResult> {
        let ctx = self.session();
        for (name, files, version) in [
            (changes.added_table(), &changes.added, changes.to),
            (changes.removed_table(), &changes.removed, changes.from),
        ] {
            let Some(name) = name else { continue };
            let table = self.open_version(&changes.code, version).await?;
            let delta_provider = table.table_provider().await?;
            let stored = table.snapshot()?.schema();
            let urls = files
                .iter()
                .map(ListingTableUrl::parse)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(delta_provider.schema());
            let listing: Arc<dyn TableProvider> = Arc::new(ListingTable::try_new(config)?);
            let provider = crate::sealed::opened(
                &changes.code,
                listing,
                &crate::sealed::sealed_columns(&stored),
                self.cells.as_ref(),
            )?;
            ctx.register_table(datafusion::common::TableReference::bare(name), provider)?;
        }
        let opts = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = ctx
            .sql_with_options(sql, opts)
            .await
            .map_err(|e| LakeError::Sql(e.to_string()))?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let mut stream = df
            .execute_stream()
            .await
            .map_err(|e| LakeError::Sql(e.to_string()))?;
        let mut batches = Vec::new();
        let mut rows = 0;
        while let Some(b) = stream.next().await {
            let b = b.map_err(|e| LakeError::Sql(e.to_string()))?;
            rows += b.num_rows();
            batches.push(b);
        }
        Ok(QueryResult {
            schema,
            batches,
            rows,
            truncated: false,
            tables: vec![changes.code.clone()],
            versions: vec![(changes.code.clone(), changes.to)],
        })
    }
}
