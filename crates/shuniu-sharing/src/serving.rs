//! The serving index: one redb file per resource (`DATA_DIR/serving/CODE.redb`) that answers
//! lookups by key in microseconds, and the change feed built from successive versions.
//!
//! The lake stays the record; this is a derived, rebuildable copy shaped for point reads.
//! Each dataset version is folded in by one write transaction: rows inserted, changed or
//! gone are written and logged as changes `(version, seq) → op key`. redb commits atomically
//! and readers keep their snapshot (MVCC), so a lookup sees the old version or the new one,
//! never a mix; a crash mid-build leaves the previous version in place.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use redb::{
    Database, MultimapTableDefinition, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use serde::{Deserialize, Serialize};

use shuniu_keys::CellKey;

use crate::error::{Result, SharingError};

/// Primary key → `[version stamp: u64 LE][encoded row]`.
const ROWS: TableDefinition<&str, &[u8]> = TableDefinition::new("rows");
/// ID number or credit code held in a non-key column → primary keys.
const ALT: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("alt");
/// `(version, seq)` → `[op][encoded row]`: the row as the version left it (for a deletion,
/// as it was), so that a feed can apply row scopes and masking to every change.
const CHANGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("changes");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// What a version did to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Inserted,
    Updated,
    Deleted,
}

impl ChangeOp {
    fn byte(self) -> u8 {
        match self {
            ChangeOp::Inserted => b'i',
            ChangeOp::Updated => b'u',
            ChangeOp::Deleted => b'd',
        }
    }
    fn from_byte(b: u8) -> Option<ChangeOp> {
        match b {
            b'i' => Some(ChangeOp::Inserted),
            b'u' => Some(ChangeOp::Updated),
            b'd' => Some(ChangeOp::Deleted),
            _ => None,
        }
    }
}

/// A position in the change feed: after `seq` of `version`. Shown as `v{version}.{seq}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub version: u64,
    pub seq: u64,
}

impl Cursor {
    pub fn parse(s: &str) -> Option<Cursor> {
        let s = s.trim();
        if s.is_empty() || s == "0" {
            return Some(Cursor::default());
        }
        let (v, q) = s.strip_prefix('v')?.split_once('.')?;
        Some(Cursor {
            version: v.parse().ok()?,
            seq: q.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}", self.version, self.seq)
    }
}

#[derive(Debug, Clone)]
pub struct Change {
    pub cursor: Cursor,
    pub op: ChangeOp,
    pub row: Row,
}

/// A row as stored: every column of the index, as text (NULL kept).
pub type Row = Vec<Option<String>>;

/// The length word of a cell: `NULL` for a null, the `SEALED` bit for a sealed cell.
const NULL: u32 = u32::MAX;
const SEALED: u32 = 1 << 31;
const DIGEST: usize = 32;

/// A cell as written: text, or a sensitive value as its keyed digest followed (unless only the
/// digest is wanted, to compare rows) by the sealed cell.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Sealed(&'a [u8]),
}

fn encode(row: &[Option<Cell<'_>>], version: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&version.to_le_bytes());
    for cell in row {
        match cell {
            None => out.extend_from_slice(&NULL.to_le_bytes()),
            Some(Cell::Text(v)) => {
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v.as_bytes());
            }
            Some(Cell::Sealed(b)) => {
                out.extend_from_slice(&(b.len() as u32 | SEALED).to_le_bytes());
                out.extend_from_slice(b);
            }
        }
    }
}

fn corrupt() -> SharingError {
    SharingError::Index("corrupt row in the serving index".into())
}

/// The cells of a stored row, unopened.
fn cells(bytes: &[u8]) -> Result<Vec<Option<Cell<'_>>>> {
    let mut row = Vec::new();
    let mut p = 8usize;
    while p < bytes.len() {
        let word = u32::from_le_bytes(
            bytes
                .get(p..p + 4)
                .ok_or_else(corrupt)?
                .try_into()
                .map_err(|_| corrupt())?,
        );
        p += 4;
        if word == NULL {
            row.push(None);
            continue;
        }
        let end = p + (word & !SEALED) as usize;
        let b = bytes.get(p..end).ok_or_else(corrupt)?;
        row.push(Some(if word & SEALED != 0 {
            if b.len() < DIGEST {
                return Err(corrupt());
            }
            Cell::Sealed(b)
        } else {
            Cell::Text(std::str::from_utf8(b).map_err(|_| corrupt())?)
        }));
        p = end;
    }
    Ok(row)
}

/// The value a cell is found by: the text, or the hex of a sealed cell's digest.
fn index_value(cell: Cell<'_>) -> String {
    match cell {
        Cell::Text(t) => t.to_string(),
        Cell::Sealed(b) => hex::encode(&b[..DIGEST]),
    }
}

/// A stored row with sealed cells cut to their digests: equal exactly when the values are.
fn fingerprint(bytes: &[u8]) -> Result<Vec<u8>> {
    let cut: Vec<Option<Cell<'_>>> = cells(bytes)?
        .into_iter()
        .map(|c| match c {
            Some(Cell::Sealed(b)) => Some(Cell::Sealed(&b[..DIGEST])),
            other => other,
        })
        .collect();
    let mut out = Vec::new();
    encode(&cut, 0, &mut out);
    Ok(out)
}

/// A row to write: text, a sealed cell (digest and ciphertext) where one was sealed, else the
/// digest alone (enough to compare rows).
fn row_of<'a>(
    plain: &[Option<&'a str>],
    digests: &'a [Option<[u8; 32]>],
    sealed: &'a [Option<Vec<u8>>],
) -> Vec<Option<Cell<'a>>> {
    plain
        .iter()
        .enumerate()
        .map(|(c, v)| match (&sealed[c], &digests[c]) {
            (Some(b), _) => Some(Cell::Sealed(b.as_slice())),
            (None, Some(d)) => Some(Cell::Sealed(d.as_slice())),
            _ => v.map(Cell::Text),
        })
        .collect()
}

/// Opens stored rows: sealed cells with the data key, under their column's name.
struct Opener<'a> {
    key: Option<&'a CellKey>,
    columns: &'a [String],
}

impl Opener<'_> {
    fn row(&self, bytes: &[u8]) -> Result<Row> {
        cells(bytes)?
            .into_iter()
            .enumerate()
            .map(|(i, c)| match c {
                None => Ok(None),
                Some(Cell::Text(t)) => Ok(Some(t.to_string())),
                Some(Cell::Sealed(b)) => {
                    let key = self.key.ok_or_else(|| {
                        SharingError::Index("the index holds sealed cells but no data key".into())
                    })?;
                    let column = self.columns.get(i).map(String::as_str).unwrap_or("");
                    let plain = key
                        .open(column, &b[DIGEST..])
                        .map_err(|e| SharingError::Index(e.to_string()))?;
                    String::from_utf8(plain).map(Some).map_err(|_| corrupt())
                }
            })
            .collect()
    }
}

fn stamp(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

fn db_err(e: impl std::fmt::Display) -> SharingError {
    SharingError::Index(e.to_string())
}

/// How a resource's rows are laid out in its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Column names, in stored order.
    pub columns: Vec<String>,
    /// Index into `columns` of the primary key.
    pub key: usize,
    /// Columns also indexed (ID numbers, credit codes that are not the key).
    pub alternates: Vec<usize>,
    /// Sensitive columns (敏感): sealed with SM4-GCM in the index, found by keyed digest.
    #[serde(default)]
    pub sealed: Vec<usize>,
}

impl Layout {
    fn is_sealed(&self, column: usize) -> bool {
        self.sealed.contains(&column)
    }
}

/// What folding a version into the index did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildStats {
    pub version: u64,
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Rows without a key value, which the index cannot serve.
    pub keyless: u64,
}

pub struct ServingIndex {
    db: Database,
    path: PathBuf,
    /// The data key sensitive cells are sealed with.
    cells: Option<CellKey>,
    /// The parsed layout of the version last read, so that a lookup parses no JSON.
    layout_cache: parking_lot::RwLock<Option<(u64, Arc<Layout>)>>,
}

impl ServingIndex {
    pub fn path_for(root: &Path, code: &str) -> PathBuf {
        root.join(format!("{code}.redb"))
    }

    pub fn open(root: &Path, code: &str, cells: Option<CellKey>) -> Result<Arc<ServingIndex>> {
        std::fs::create_dir_all(root)?;
        let path = Self::path_for(root, code);
        let db = Database::builder()
            .set_cache_size(64 << 20)
            .create(&path)
            .map_err(db_err)?;
        Ok(Arc::new(ServingIndex {
            db,
            path,
            cells,
            layout_cache: parking_lot::RwLock::new(None),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn opener<'a>(&'a self, layout: Option<&'a Layout>) -> Opener<'a> {
        Opener {
            key: self.cells.as_ref(),
            columns: layout.map(|l| l.columns.as_slice()).unwrap_or(&[]),
        }
    }

    /// How a value is found when `sealed`: by the hex of its keyed digest.
    fn find_by(&self, value: &str, sealed: bool) -> String {
        match (&self.cells, sealed) {
            (Some(k), true) => hex::encode(k.digest(value.as_bytes())),
            _ => value.to_string(),
        }
    }

    /// The dataset version the index serves, if any has been built.
    pub fn version(&self) -> Result<Option<u64>> {
        Ok(self.current()?.0)
    }

    /// The served version and its layout, from one read snapshot; the layout is parsed once
    /// per version.
    pub fn current(&self) -> Result<(Option<u64>, Option<Arc<Layout>>)> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let t = match rtx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok((None, None)),
            Err(e) => return Err(db_err(e)),
        };
        let version: Option<u64> = t
            .get("version")
            .map_err(db_err)?
            .and_then(|v| v.value().parse().ok());
        let Some(v) = version else {
            return Ok((None, None));
        };
        if let Some((cv, l)) = self.layout_cache.read().as_ref()
            && *cv == v
        {
            return Ok((Some(v), Some(l.clone())));
        }
        let layout: Option<Arc<Layout>> = t
            .get("layout")
            .map_err(db_err)?
            .and_then(|l| serde_json::from_str(l.value()).ok())
            .map(Arc::new);
        if let Some(l) = &layout {
            *self.layout_cache.write() = Some((v, l.clone()));
        }
        Ok((Some(v), layout))
    }

    pub fn rows(&self) -> Result<u64> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        match rtx.open_table(ROWS) {
            Ok(t) => t.len().map_err(db_err),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(db_err(e)),
        }
    }

    /// The row with this primary key, and the rows whose ID number / credit code column holds
    /// it (a person's records in a resource keyed otherwise). One read snapshot.
    pub fn lookup(&self, key: &str, max: usize) -> Result<Vec<Row>> {
        let (_, layout) = self.current()?;
        let layout = layout.as_deref();
        let open = self.opener(layout);
        let primary = self.find_by(key, layout.is_some_and(|l| l.is_sealed(l.key)));
        let rtx = self.db.begin_read().map_err(db_err)?;
        let rows = match rtx.open_table(ROWS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::new();
        if let Some(v) = rows.get(primary.as_str()).map_err(db_err)? {
            out.push(open.row(v.value())?);
        }
        // Alternates are indexed by text, or by digest when sealed: try both forms.
        let mut probes = vec![key.to_string()];
        if layout.is_some_and(|l| l.alternates.iter().any(|a| l.is_sealed(*a))) {
            probes.push(self.find_by(key, true));
        }
        if let Ok(alt) = rtx.open_multimap_table(ALT) {
            for probe in &probes {
                for k in alt.get(probe.as_str()).map_err(db_err)? {
                    if out.len() >= max {
                        break;
                    }
                    let k = k.map_err(db_err)?;
                    if k.value() == primary {
                        continue;
                    }
                    if let Some(v) = rows.get(k.value()).map_err(db_err)? {
                        out.push(open.row(v.value())?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The first `n` rows in key order (examples for documentation and the demo).
    pub fn first_rows(&self, n: usize) -> Result<Vec<Row>> {
        let (_, layout) = self.current()?;
        let open = self.opener(layout.as_deref());
        let rtx = self.db.begin_read().map_err(db_err)?;
        let rows = match rtx.open_table(ROWS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::new();
        for item in rows.iter().map_err(db_err)? {
            if out.len() >= n {
                break;
            }
            let (_, v) = item.map_err(db_err)?;
            out.push(open.row(v.value())?);
        }
        Ok(out)
    }

    /// Up to `n` rows in storage order after the storage key `after` (the start when `None`),
    /// each with its storage key (the key, or its keyed digest when the key is sealed): a
    /// derivation's pass over every row, a page at a time, each page from its own read
    /// snapshot. Two indexes sealed with one data key store a subject under the same
    /// storage key, so their pages merge.
    pub fn page(&self, after: Option<&str>, n: usize) -> Result<Vec<(String, Row)>> {
        let (_, layout) = self.current()?;
        let open = self.opener(layout.as_deref());
        let rtx = self.db.begin_read().map_err(db_err)?;
        let rows = match rtx.open_table(ROWS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let range = match after {
            Some(a) => {
                rows.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
            }
            None => rows.range::<&str>(..),
        }
        .map_err(db_err)?;
        let mut out = Vec::new();
        for item in range {
            if out.len() >= n {
                break;
            }
            let (k, v) = item.map_err(db_err)?;
            out.push((k.value().to_string(), open.row(v.value())?));
        }
        Ok(out)
    }

    /// Whether the primary key is stored sealed (found by its keyed digest).
    pub fn key_sealed(&self) -> Result<bool> {
        let (_, layout) = self.current()?;
        Ok(layout.is_some_and(|l| l.is_sealed(l.key)))
    }

    /// The keys (as text) that versions after `after_version` inserted, changed or deleted,
    /// each once, read from the change log; only the key cell of each change is opened.
    pub fn changed_keys(&self, after_version: u64) -> Result<Vec<String>> {
        let (_, layout) = self.current()?;
        let Some(layout) = layout else {
            return Ok(Vec::new());
        };
        let rtx = self.db.begin_read().map_err(db_err)?;
        let t = match rtx.open_table(CHANGES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let column = layout
            .columns
            .get(layout.key)
            .map(String::as_str)
            .unwrap_or("");
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for item in t
            .range((after_version.saturating_add(1), 0)..)
            .map_err(db_err)?
        {
            let (_, v) = item.map_err(db_err)?;
            let bytes = v.value();
            let Some(cell) = cells(bytes.get(1..).ok_or_else(corrupt)?)?
                .into_iter()
                .nth(layout.key)
                .flatten()
            else {
                continue;
            };
            let key = match cell {
                Cell::Text(t) => t.to_string(),
                Cell::Sealed(b) => {
                    let k = self.cells.as_ref().ok_or_else(|| {
                        SharingError::Index("the index holds sealed cells but no data key".into())
                    })?;
                    let plain = k
                        .open(column, &b[DIGEST..])
                        .map_err(|e| SharingError::Index(e.to_string()))?;
                    String::from_utf8(plain).map_err(|_| corrupt())?
                }
            };
            if seen.insert(key.clone()) {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// Looks up many keys in one read snapshot (a comparison job's chunk, sorted by the
    /// caller so that the B-tree is walked in order).
    pub fn lookup_many<'k>(
        &self,
        keys: impl Iterator<Item = &'k str>,
        found: impl FnMut(&'k str, Option<Row>) -> Result<()>,
    ) -> Result<()> {
        let sealed = self.key_sealed()?;
        self.lookup_stored(keys.map(|k| (k, self.find_by(k, sealed))), found)
    }

    /// The keyed digest (hex) a sealed value is stored and found under; the same in every
    /// index sealed with one data key, so a caller probing many indexes computes it once.
    pub fn digest_hex(&self, value: &str) -> Option<String> {
        self.cells
            .as_ref()
            .map(|k| hex::encode(k.digest(value.as_bytes())))
    }

    /// [`ServingIndex::lookup_many`] by storage key: `(key, the form it is stored under)`, the
    /// digest for an index whose key is sealed ([`ServingIndex::key_sealed`]).
    pub fn lookup_stored<'k>(
        &self,
        keys: impl Iterator<Item = (&'k str, String)>,
        mut found: impl FnMut(&'k str, Option<Row>) -> Result<()>,
    ) -> Result<()> {
        let (_, layout) = self.current()?;
        let open = self.opener(layout.as_deref());
        let rtx = self.db.begin_read().map_err(db_err)?;
        let rows = match rtx.open_table(ROWS) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(db_err(e)),
        };
        for (k, stored) in keys {
            let row = match &rows {
                Some(t) => match t.get(stored.as_str()).map_err(db_err)? {
                    Some(v) => Some(open.row(v.value())?),
                    None => None,
                },
                None => None,
            };
            found(k, row)?;
        }
        Ok(())
    }

    /// The newest position of the change log.
    pub fn head(&self) -> Result<Cursor> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let t = match rtx.open_table(CHANGES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Cursor::default()),
            Err(e) => return Err(db_err(e)),
        };
        Ok(t.last()
            .map_err(db_err)?
            .map(|(k, _)| {
                let (version, seq) = k.value();
                Cursor { version, seq }
            })
            .unwrap_or_default())
    }

    /// Changes after `after`, at most `limit`, oldest first; and the newest cursor.
    pub fn changes(&self, after: Cursor, limit: usize) -> Result<(Vec<Change>, Cursor)> {
        let (_, layout) = self.current()?;
        let open = self.opener(layout.as_deref());
        let rtx = self.db.begin_read().map_err(db_err)?;
        let t = match rtx.open_table(CHANGES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok((Vec::new(), after)),
            Err(e) => return Err(db_err(e)),
        };
        let last = t
            .last()
            .map_err(db_err)?
            .map(|(k, _)| {
                let (version, seq) = k.value();
                Cursor { version, seq }
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        let start = (after.version, after.seq.saturating_add(1));
        for item in t.range(start..).map_err(db_err)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(db_err)?;
            let (version, seq) = k.value();
            let bytes = v.value();
            let op = bytes
                .first()
                .copied()
                .and_then(ChangeOp::from_byte)
                .ok_or_else(|| SharingError::Index("corrupt change entry".into()))?;
            out.push(Change {
                cursor: Cursor { version, seq },
                op,
                row: open.row(&bytes[1..])?,
            });
        }
        Ok((out, last.max(after)))
    }

    /// Folds one dataset version into the index, batch by batch. `batches` yields the
    /// version's rows with the layout's columns in order. Runs on a blocking thread.
    pub fn build(
        &self,
        version: u64,
        layout: &Layout,
        batches: impl Iterator<Item = Result<RecordBatch>>,
    ) -> Result<BuildStats> {
        if let Some(current) = self.version()?
            && current >= version
        {
            return Ok(BuildStats {
                version: current,
                ..Default::default()
            });
        }
        let mut stats = BuildStats {
            version,
            ..Default::default()
        };
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut rows = wtx.open_table(ROWS).map_err(db_err)?;
            let mut alt = wtx.open_multimap_table(ALT).map_err(db_err)?;
            let mut changes = wtx.open_table(CHANGES).map_err(db_err)?;
            let mut seq = 0u64;
            let mut buf = Vec::new();
            let mut change = Vec::new();
            let key = if layout.sealed.is_empty() {
                None
            } else {
                Some(self.cells.as_ref().ok_or_else(|| {
                    SharingError::Index("sensitive columns need the data key".into())
                })?)
            };
            let mut sealer = match key {
                Some(k) => Some(k.sealer().map_err(|e| SharingError::Index(e.to_string()))?),
                None => None,
            };
            let width = layout.columns.len();
            let mut digests: Vec<Option<[u8; 32]>> = vec![None; width];
            let no_seals: Vec<Option<Vec<u8>>> = vec![None; width];
            let mut sealed_cells: Vec<Option<Vec<u8>>> = vec![None; width];
            for batch in batches {
                let batch = batch?;
                let cols: Vec<Arc<dyn Array>> = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.data_type() == &DataType::Utf8 {
                            Ok(c.clone())
                        } else {
                            arrow::compute::cast(c, &DataType::Utf8)
                                .map_err(|e| SharingError::Index(e.to_string()))
                        }
                    })
                    .collect::<Result<_>>()?;
                let strs: Vec<&arrow::array::StringArray> =
                    cols.iter().map(|c| c.as_string::<i32>()).collect();
                if strs.len() != width {
                    return Err(SharingError::Index(format!(
                        "the version has {} columns, the layout {width}",
                        strs.len()
                    )));
                }
                let mut plain: Vec<Option<&str>> = vec![None; strs.len()];
                for i in 0..batch.num_rows() {
                    for (c, a) in strs.iter().enumerate() {
                        plain[c] = if a.is_null(i) { None } else { Some(a.value(i)) };
                    }
                    stats.rows += 1;
                    let Some(key_text) = plain.get(layout.key).copied().flatten() else {
                        stats.keyless += 1;
                        continue;
                    };
                    // Sensitive cells are compared and found by their keyed digests; they
                    // are sealed only when the row is new or changed.
                    for (c, d) in digests.iter_mut().enumerate() {
                        *d = match (plain.get(c).copied().flatten(), layout.is_sealed(c), key) {
                            (Some(v), true, Some(k)) => Some(k.digest(v.as_bytes())),
                            _ => None,
                        };
                    }
                    let index_key = match &digests[layout.key] {
                        Some(d) => hex::encode(d),
                        None => key_text.to_string(),
                    };
                    let previous = rows
                        .get(index_key.as_str())
                        .map_err(db_err)?
                        .map(|v| v.value().to_vec());
                    let unchanged = match &previous {
                        None => false,
                        Some(old) if layout.sealed.is_empty() => {
                            encode(&row_of(&plain, &digests, &no_seals), version, &mut buf);
                            old[8..] == buf[8..]
                        }
                        Some(old) => {
                            encode(&row_of(&plain, &digests, &no_seals), 0, &mut buf);
                            fingerprint(old)? == buf
                        }
                    };
                    let op = match &previous {
                        None => Some(ChangeOp::Inserted),
                        // Same key twice in one version: the later row wins, one change.
                        Some(old) if stamp(old) == version => None,
                        Some(_) if !unchanged => Some(ChangeOp::Updated),
                        Some(_) => None,
                    };
                    if unchanged && let Some(old) = &previous {
                        buf.clear();
                        buf.extend_from_slice(&version.to_le_bytes());
                        buf.extend_from_slice(&old[8..]);
                    } else if layout.sealed.is_empty() {
                        encode(&row_of(&plain, &digests, &no_seals), version, &mut buf);
                    } else {
                        for (c, d) in digests.iter().enumerate() {
                            sealed_cells[c] = match (d, plain[c], sealer.as_mut()) {
                                (Some(d), Some(v), Some(s)) => {
                                    let mut b = d.to_vec();
                                    s.seal_into(&layout.columns[c], v.as_bytes(), &mut b)
                                        .map_err(|e| SharingError::Index(e.to_string()))?;
                                    Some(b)
                                }
                                _ => None,
                            };
                        }
                        encode(&row_of(&plain, &digests, &sealed_cells), version, &mut buf);
                    }
                    let alt_of = |c: usize| -> Option<String> {
                        match &digests[c] {
                            Some(d) => Some(hex::encode(d)),
                            None => plain.get(c).copied().flatten().map(str::to_string),
                        }
                    };
                    if let Some(old) = &previous {
                        let old_cells = cells(old)?;
                        for &a in &layout.alternates {
                            if let Some(Some(v)) = old_cells.get(a) {
                                let v = index_value(*v);
                                if alt_of(a).as_deref() != Some(v.as_str()) {
                                    alt.remove(v.as_str(), index_key.as_str()).map_err(db_err)?;
                                }
                            }
                        }
                    }
                    rows.insert(index_key.as_str(), buf.as_slice())
                        .map_err(db_err)?;
                    for &a in &layout.alternates {
                        if let Some(v) = alt_of(a) {
                            alt.insert(v.as_str(), index_key.as_str()).map_err(db_err)?;
                        }
                    }
                    if let Some(op) = op {
                        match op {
                            ChangeOp::Inserted => stats.inserted += 1,
                            _ => stats.updated += 1,
                        }
                        seq += 1;
                        change.clear();
                        change.push(op.byte());
                        change.extend_from_slice(&buf);
                        changes
                            .insert((version, seq), change.as_slice())
                            .map_err(db_err)?;
                    }
                }
            }
            // Keys the new version no longer has: scanned in chunks so that memory stays
            // bounded however much was deleted.
            let mut from: Option<String> = None;
            loop {
                let mut gone: Vec<(String, Vec<u8>)> = Vec::new();
                {
                    let range = match &from {
                        None => rows.range::<&str>(..).map_err(db_err)?,
                        Some(f) => rows.range::<&str>(f.as_str()..).map_err(db_err)?,
                    };
                    let mut scanned = 0usize;
                    let mut last = None;
                    for item in range {
                        let (k, v) = item.map_err(db_err)?;
                        scanned += 1;
                        last = Some(k.value().to_string());
                        if stamp(v.value()) < version {
                            gone.push((k.value().to_string(), v.value().to_vec()));
                        }
                        if scanned >= 65_536 {
                            break;
                        }
                    }
                    match last {
                        Some(l) if scanned >= 65_536 => from = Some(l + "\u{0}"),
                        _ => from = None,
                    }
                }
                for (k, old_bytes) in &gone {
                    let old = cells(old_bytes)?;
                    rows.remove(k.as_str()).map_err(db_err)?;
                    for &a in &layout.alternates {
                        if let Some(Some(v)) = old.get(a) {
                            alt.remove(index_value(*v).as_str(), k.as_str())
                                .map_err(db_err)?;
                        }
                    }
                    stats.deleted += 1;
                    seq += 1;
                    change.clear();
                    change.push(ChangeOp::Deleted.byte());
                    change.extend_from_slice(old_bytes);
                    changes
                        .insert((version, seq), change.as_slice())
                        .map_err(db_err)?;
                }
                if from.is_none() {
                    break;
                }
            }
            let mut meta = wtx.open_table(META).map_err(db_err)?;
            meta.insert("version", version.to_string().as_str())
                .map_err(db_err)?;
            let layout_json =
                serde_json::to_string(layout).map_err(|e| SharingError::Index(e.to_string()))?;
            meta.insert("layout", layout_json.as_str())
                .map_err(db_err)?;
        }
        wtx.commit().map_err(db_err)?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;
    use arrow::datatypes::{Field, Schema};

    fn batch(rows: &[(&str, &str, Option<&str>)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("no", DataType::Utf8, true),
            Field::new("id_number", DataType::Utf8, true),
            Field::new("status", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(
                    rows.iter().map(|r| Some(r.0)).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| Some(r.1)).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn versions_fold_in_with_their_changes() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ServingIndex::open(dir.path(), "R", None).unwrap();
        let layout = Layout {
            columns: vec!["no".into(), "id_number".into(), "status".into()],
            key: 0,
            alternates: vec![1],
            sealed: vec![],
        };
        assert_eq!(idx.version().unwrap(), None);
        let v1 = batch(&[
            ("1", "A", Some("x")),
            ("2", "B", None),
            ("3", "A", Some("y")),
        ]);
        let s = idx.build(1, &layout, [Ok(v1)].into_iter()).unwrap();
        assert_eq!((s.inserted, s.updated, s.deleted), (3, 0, 0));
        assert_eq!(
            idx.lookup("2", 10).unwrap(),
            vec![vec![Some("2".into()), Some("B".into()), None]]
        );
        assert_eq!(
            idx.lookup("A", 10).unwrap().len(),
            2,
            "alternate key finds both rows"
        );
        // Version 2: row 1 changes, row 2 goes, row 4 arrives, row 3 stays.
        let v2 = batch(&[
            ("1", "C", Some("x")),
            ("3", "A", Some("y")),
            ("4", "D", None),
        ]);
        let s = idx.build(2, &layout, [Ok(v2)].into_iter()).unwrap();
        assert_eq!((s.inserted, s.updated, s.deleted), (1, 1, 1));
        assert!(idx.lookup("2", 10).unwrap().is_empty());
        assert_eq!(
            idx.lookup("A", 10).unwrap().len(),
            1,
            "the moved ID left the alternate index"
        );
        assert_eq!(idx.lookup("C", 10).unwrap().len(), 1);
        let (all, last) = idx.changes(Cursor::default(), 100).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(last, Cursor { version: 2, seq: 3 });
        let (v2_changes, _) = idx.changes(Cursor { version: 1, seq: 3 }, 100).unwrap();
        let ops: Vec<(ChangeOp, &str)> = v2_changes
            .iter()
            .map(|c| (c.op, c.row[0].as_deref().unwrap()))
            .collect();
        assert_eq!(
            v2_changes[2].row[1].as_deref(),
            Some("B"),
            "a deletion carries the row as it was"
        );
        assert_eq!(
            ops,
            vec![
                (ChangeOp::Updated, "1"),
                (ChangeOp::Inserted, "4"),
                (ChangeOp::Deleted, "2")
            ]
        );
        let (page, _) = idx.changes(Cursor::default(), 2).unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(
            Cursor::parse(&page[1].cursor.to_string()),
            Some(page[1].cursor)
        );
        // Rebuilding an old version is a no-op.
        let s = idx.build(1, &layout, std::iter::empty()).unwrap();
        assert_eq!(s.version, 2);
        assert_eq!(idx.version().unwrap(), Some(2));
    }

    #[test]
    fn a_failed_build_leaves_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ServingIndex::open(dir.path(), "R", None).unwrap();
        let layout = Layout {
            columns: vec!["no".into(), "id_number".into(), "status".into()],
            key: 0,
            alternates: vec![],
            sealed: vec![],
        };
        idx.build(1, &layout, [Ok(batch(&[("1", "A", None)]))].into_iter())
            .unwrap();
        let failing = [
            Ok(batch(&[("9", "Z", None)])),
            Err(SharingError::Index("feed cut off".into())),
        ];
        assert!(idx.build(2, &layout, failing.into_iter()).is_err());
        assert_eq!(idx.version().unwrap(), Some(1));
        assert!(idx.lookup("9", 1).unwrap().is_empty());
        assert_eq!(idx.lookup("1", 1).unwrap().len(), 1);
    }

    fn files_holding(dir: &Path, needle: &[u8]) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                std::fs::read(e.as_ref().unwrap().path())
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle)
            })
            .count()
    }

    #[test]
    fn sensitive_columns_are_sealed_and_found_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let key = CellKey::from_secret(&[4; 32]);
        let idx = ServingIndex::open(dir.path(), "R", Some(key.clone())).unwrap();
        // The key and an alternate ID number are sensitive; status is not.
        let layout = Layout {
            columns: vec!["no".into(), "id_number".into(), "status".into()],
            key: 0,
            alternates: vec![1],
            sealed: vec![0, 1],
        };
        let id = "370203199001011234";
        let v1 = batch(&[("K-0001", id, Some("x")), ("K-0002", "B-1", None)]);
        let s = idx.build(1, &layout, [Ok(v1)].into_iter()).unwrap();
        assert_eq!(s.inserted, 2);
        assert_eq!(
            idx.lookup("K-0001", 10).unwrap(),
            vec![vec![
                Some("K-0001".into()),
                Some(id.into()),
                Some("x".into())
            ]]
        );
        assert_eq!(
            idx.lookup(id, 10).unwrap().len(),
            1,
            "by the sealed alternate"
        );
        assert_eq!(files_holding(dir.path(), id.as_bytes()), 0);
        assert_eq!(files_holding(dir.path(), b"K-0001"), 0);
        // The same rows again: nothing changed, though sealing is randomized.
        let again = batch(&[("K-0001", id, Some("x")), ("K-0002", "B-1", None)]);
        let s = idx.build(2, &layout, [Ok(again)].into_iter()).unwrap();
        assert_eq!((s.inserted, s.updated, s.deleted), (0, 0, 0));
        // A changed sensitive value is a change; the old alternate stops finding the row.
        let v3 = batch(&[("K-0001", "370203199001015678", Some("x"))]);
        let s = idx.build(3, &layout, [Ok(v3)].into_iter()).unwrap();
        assert_eq!((s.inserted, s.updated, s.deleted), (0, 1, 1));
        assert!(idx.lookup(id, 10).unwrap().is_empty());
        let mut found = Vec::new();
        idx.lookup_many(["K-0001", "K-0002"].into_iter(), |k, r| {
            found.push((k, r.is_some()));
            Ok(())
        })
        .unwrap();
        assert_eq!(found, vec![("K-0001", true), ("K-0002", false)]);
        let (all, _) = idx.changes(Cursor::default(), 100).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[3].row[1].as_deref(), Some("B-1"), "deletions open too");
        assert_eq!(idx.first_rows(1).unwrap()[0][0].as_deref(), Some("K-0001"));
        // Without the key, nothing opens.
        drop(idx);
        let bare = ServingIndex::open(dir.path(), "R", None).unwrap();
        assert!(bare.first_rows(1).is_err());
    }
}
