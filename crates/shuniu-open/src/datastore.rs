//! The published copy of an open dataset: a tantivy index per publication holding every
//! published row (already masked, filtered or aggregated), with an exact-match term and a
//! sortable fast column per field, numeric fast columns for numeric fields, a Chinese
//! full-text field over the whole row, and the row itself.
//!
//! It answers CKAN's `datastore_search` (filters, q, sort, limit/offset, totals) in
//! milliseconds on tens of millions of rows, serves the portal's preview, and is what
//! downloads stream: what the public gets is exactly what was published.
//!
//! Each build goes to a new directory; `current` names the live one and is replaced
//! atomically after the build commits, so a failed or interrupted build leaves the previous
//! publication serving.

use std::path::{Path, PathBuf};

use tantivy::collector::{Collector, Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, EnableScoring, Occur, Query, RegexQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, NumericOptions, STORED, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexSettings, IndexSortByField, Order, Searcher,
    TERMINATED, TantivyDocument, Term,
};

use crate::error::{OpenError, Result};
use crate::packages::Column;

const TOKENIZER: &str = "zh";
/// Longest value indexed for exact matching (tantivy's term limit is 64 KiB).
const MAX_TERM: usize = 1_000;

fn numeric(c: &Column) -> bool {
    matches!(c.ckan_type, "int" | "numeric")
}

struct Fields {
    id: Field,
    row: Field,
    full: Field,
    columns: Vec<Field>,
    numbers: Vec<Option<Field>>,
}

fn schema(columns: &[Column]) -> (Schema, Fields) {
    let mut sb = Schema::builder();
    let id = sb.add_u64_field("_id", INDEXED | FAST | STORED);
    let row = sb.add_bytes_field("_row", STORED);
    let full = sb.add_text_field(
        "_full",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::Basic),
        ),
    );
    let raw = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_fast("raw");
    let mut cols = Vec::new();
    let mut numbers = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        cols.push(sb.add_text_field(&format!("c{i}"), raw.clone()));
        numbers.push(
            numeric(c)
                .then(|| sb.add_f64_field(&format!("n{i}"), NumericOptions::default() | FAST)),
        );
    }
    (
        sb.build(),
        Fields {
            id,
            row,
            full,
            columns: cols,
            numbers,
        },
    )
}

fn register(index: &Index) {
    index
        .tokenizers()
        .register(TOKENIZER, shuniu_search::chinese_analyzer(true));
}

/// Writes one publication's rows into a new index directory.
pub struct Builder {
    writer: tantivy::IndexWriter,
    fields: Fields,
    dir: PathBuf,
    next_id: u64,
}

impl Builder {
    pub fn create(dir: &Path, columns: &[Column]) -> Result<Builder> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema(columns);
        // Every segment keeps its rows in `_id` order (merges included), so a page in row
        // order is the first rows of each segment, not a sort of every match.
        let index = Index::builder()
            .schema(schema)
            .settings(IndexSettings {
                sort_by_field: Some(IndexSortByField {
                    field: "_id".into(),
                    order: Order::Asc,
                }),
                ..IndexSettings::default()
            })
            .create_in_dir(dir)?;
        register(&index);
        let threads = std::thread::available_parallelism()
            .map(|n| n.get().clamp(1, 4))
            .unwrap_or(1);
        let writer = index.writer_with_num_threads(threads, 64_000_000 * threads)?;
        Ok(Builder {
            writer,
            fields,
            dir: dir.to_path_buf(),
            next_id: 1,
        })
    }

    pub fn add(&mut self, row: &[Option<String>]) -> Result<()> {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, self.next_id);
        self.next_id += 1;
        let mut full = String::new();
        for (i, v) in row.iter().enumerate() {
            let Some(v) = v else { continue };
            if let Some(col) = f.columns.get(i) {
                doc.add_text(*col, truncate(v, MAX_TERM));
            }
            if let Some(Some(n)) = f.numbers.get(i)
                && let Ok(x) = v.trim().parse::<f64>()
                && x.is_finite()
            {
                doc.add_f64(*n, x);
            }
            full.push_str(v);
            full.push(' ');
        }
        doc.add_text(f.full, &full);
        let bytes =
            serde_json::to_vec(row).map_err(|e| OpenError::Index(format!("row encoding: {e}")))?;
        doc.add_bytes(f.row, &bytes);
        self.writer.add_document(doc)?;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.next_id - 1
    }

    /// Commits and waits for merges; returns the directory.
    pub fn finish(mut self) -> Result<(PathBuf, u64)> {
        self.writer.commit()?;
        self.writer.wait_merging_threads()?;
        Ok((self.dir, self.next_id - 1))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A datastore query, CKAN's parameters after validation.
#[derive(Debug, Clone, Default)]
pub struct DatastoreQuery {
    /// Field → accepted values (any of them).
    pub filters: Vec<(String, Vec<String>)>,
    /// Full-text over the whole row.
    pub q: Option<String>,
    /// Field → text the field must contain.
    pub q_fields: Vec<(String, String)>,
    /// Sort by one field; `None` means row order.
    pub sort: Option<(String, bool)>,
    pub limit: usize,
    pub offset: usize,
    pub include_total: bool,
}

pub struct DatastoreAnswer {
    pub total: Option<u64>,
    /// `(_id, row)`.
    pub rows: Vec<(u64, Vec<Option<String>>)>,
}

/// An open, searchable publication.
pub struct Datastore {
    reader: IndexReader,
    fields: Fields,
    /// Whether every segment is in `_id` order (publications built before index sorting
    /// are not, and take the general path).
    in_row_order: bool,
    pub columns: Vec<Column>,
}

impl Datastore {
    pub fn open(dir: &Path, columns: Vec<Column>) -> Result<Datastore> {
        let index = Index::open_in_dir(dir)?;
        register(&index);
        let (_, fields) = schema(&columns);
        let in_row_order = index.settings().sort_by_field
            == Some(IndexSortByField {
                field: "_id".into(),
                order: Order::Asc,
            });
        let reader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()?;
        Ok(Datastore {
            reader,
            fields,
            in_row_order,
            columns,
        })
    }

    fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| OpenError::UnknownField(name.to_string()))
    }

    pub fn search(&self, q: &DatastoreQuery) -> Result<DatastoreAnswer> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (name, values) in &q.filters {
            let i = self.column(name)?;
            let field = self.fields.columns[i];
            let any: Vec<(Occur, Box<dyn Query>)> = values
                .iter()
                .map(|v| {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, truncate(v, MAX_TERM)),
                            IndexRecordOption::Basic,
                        )) as Box<dyn Query>,
                    )
                })
                .collect();
            if any.is_empty() {
                return Ok(DatastoreAnswer {
                    total: q.include_total.then_some(0),
                    rows: Vec::new(),
                });
            }
            // A lone term stays a term query, whose count is its document frequency.
            let filter: Box<dyn Query> = if any.len() == 1 {
                let mut any = any;
                any.remove(0).1
            } else {
                Box::new(BooleanQuery::new(any))
            };
            clauses.push((Occur::Must, filter));
        }
        if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
            let words = shuniu_search::query_words(text);
            if words.is_empty() {
                return Ok(DatastoreAnswer {
                    total: q.include_total.then_some(0),
                    rows: Vec::new(),
                });
            }
            for w in words {
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.full, &w),
                        IndexRecordOption::Basic,
                    )),
                ));
            }
        }
        for (name, text) in &q.q_fields {
            let i = self.column(name)?;
            let pattern = format!(".*{}.*", regex_syntax_escape(text));
            let rq = RegexQuery::from_pattern(&pattern, self.fields.columns[i])
                .map_err(|e| OpenError::Index(format!("q pattern: {e}")))?;
            clauses.push((Occur::Must, Box::new(rq)));
        }
        let query: Box<dyn Query> = match clauses.len() {
            0 => Box::new(AllQuery),
            1 => clauses
                .into_iter()
                .map(|(_, q)| q)
                .next()
                .unwrap_or(Box::new(AllQuery)),
            _ => Box::new(BooleanQuery::new(clauses)),
        };
        let searcher = self.reader.searcher();
        let limit = q.limit.max(1);
        let top = TopDocs::with_limit(limit).and_offset(q.offset);
        let include = q.include_total;
        let (total, addrs) = match &q.sort {
            None if self.in_row_order => (
                include
                    .then(|| searcher.search(&query, &Count))
                    .transpose()?
                    .map(|n| n as u64),
                first_in_row_order(&searcher, query.as_ref(), q.offset, limit)?,
            ),
            None => ranked(
                &searcher,
                query.as_ref(),
                include,
                top.order_by_fast_field::<u64>("_id", Order::Asc),
            )?,
            Some((name, desc)) => {
                let i = self.column(name)?;
                let order = if *desc { Order::Desc } else { Order::Asc };
                if self.fields.numbers[i].is_some() {
                    ranked(
                        &searcher,
                        query.as_ref(),
                        include,
                        top.order_by_fast_field::<f64>(format!("n{i}"), order),
                    )?
                } else {
                    ranked(
                        &searcher,
                        query.as_ref(),
                        include,
                        top.order_by_string_fast_field(format!("c{i}"), order),
                    )?
                }
            }
        };
        if q.limit == 0 {
            return Ok(DatastoreAnswer {
                total,
                rows: Vec::new(),
            });
        }
        let mut rows = Vec::with_capacity(addrs.len());
        for a in addrs {
            let doc: TantivyDocument = searcher.doc(a)?;
            rows.push(self.decode(&doc)?);
        }
        Ok(DatastoreAnswer { total, rows })
    }

    fn decode(&self, doc: &TantivyDocument) -> Result<(u64, Vec<Option<String>>)> {
        let id = doc
            .get_first(self.fields.id)
            .and_then(|v| v.as_u64())
            .unwrap_or_default();
        let bytes = doc
            .get_first(self.fields.row)
            .and_then(|v| v.as_bytes())
            .ok_or_else(|| OpenError::Index("a published row lost its content".into()))?;
        let row: Vec<Option<String>> = serde_json::from_slice(bytes)
            .map_err(|e| OpenError::Index(format!("row decoding: {e}")))?;
        Ok((id, row))
    }

    pub fn rows(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Every published row, segment by segment, into `each` (downloads).
    pub fn for_each_row(
        &self,
        mut each: impl FnMut(Vec<Option<String>>) -> std::result::Result<(), ()>,
    ) -> Result<()> {
        let searcher = self.reader.searcher();
        for seg in searcher.segment_readers() {
            let store = seg.get_store_reader(16)?;
            for doc in store.iter::<TantivyDocument>(seg.alive_bitset()) {
                let (_, row) = self.decode(&doc?)?;
                if each(row).is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// A ranked page, counted in the same pass over the matches when the total is wanted.
fn ranked<S, C>(
    searcher: &Searcher,
    query: &dyn Query,
    include_total: bool,
    top: C,
) -> Result<(Option<u64>, Vec<DocAddress>)>
where
    C: Collector<Fruit = Vec<(S, DocAddress)>>,
{
    let page = |hits: Vec<(S, DocAddress)>| hits.into_iter().map(|(_, a)| a).collect();
    if include_total {
        let (n, hits) = searcher.search(query, &(Count, top))?;
        Ok((Some(n as u64), page(hits)))
    } else {
        Ok((None, page(searcher.search(query, &top)?)))
    }
}

/// The page `offset..offset + limit` of the matches in `_id` order, when every segment is
/// sorted by `_id`: each segment gives at most its first `offset + limit` matches and only
/// those are sorted, instead of ranking every match.
fn first_in_row_order(
    searcher: &Searcher,
    query: &dyn Query,
    offset: usize,
    limit: usize,
) -> Result<Vec<DocAddress>> {
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let wanted = offset.saturating_add(limit);
    let mut found: Vec<(u64, DocAddress)> = Vec::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let ids = segment.fast_fields().u64("_id")?;
        let alive = segment.alive_bitset();
        let mut scorer = weight.scorer(segment, 1.0)?;
        let mut taken = 0;
        let mut doc = scorer.doc();
        while doc != TERMINATED && taken < wanted {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                let id = ids.first(doc).unwrap_or_default();
                found.push((id, DocAddress::new(ord as u32, doc)));
                taken += 1;
            }
            doc = scorer.advance();
        }
    }
    found.sort_unstable_by_key(|(id, _)| *id);
    Ok(found
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, a)| a)
        .collect())
}

/// Escapes regex metacharacters (tantivy's regex dialect is the `regex` crate's).
fn regex_syntax_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shuniu_types::DataType;

    fn col(name: &str, t: DataType) -> Column {
        Column {
            name: name.into(),
            label: name.into(),
            description: String::new(),
            ckan_type: crate::packages::ckan_type(t),
            data_type: t,
            masking: "none".into(),
        }
    }

    fn build(dir: &Path) -> Datastore {
        let cols = vec![
            col("district", DataType::Text),
            col("name", DataType::Text),
            col("amount", DataType::Numeric),
        ];
        let mut b = Builder::create(dir, &cols).unwrap();
        for i in 0..1000u32 {
            let d = ["市南区", "市北区", "崂山区"][(i % 3) as usize];
            b.add(&[
                Some(d.into()),
                Some(format!("青岛第{i}养老院")),
                Some(format!("{}", (i * 7) % 101)),
            ])
            .unwrap();
        }
        b.add(&[None, Some("空区县".into()), Some("abc".into())])
            .unwrap();
        let (dir, n) = b.finish().unwrap();
        assert_eq!(n, 1001);
        Datastore::open(&dir, cols).unwrap()
    }

    #[test]
    fn filters_totals_sort_and_paging() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = build(tmp.path());
        let mut q = DatastoreQuery {
            filters: vec![("district".into(), vec!["市南区".into()])],
            limit: 5,
            include_total: true,
            ..Default::default()
        };
        let a = ds.search(&q).unwrap();
        assert_eq!(a.total, Some(334));
        assert_eq!(a.rows.len(), 5);
        assert_eq!(a.rows[0].0, 1);
        assert!(
            a.rows
                .iter()
                .all(|(_, r)| r[0].as_deref() == Some("市南区"))
        );
        q.filters[0].1.push("崂山区".into());
        assert_eq!(ds.search(&q).unwrap().total, Some(667));
        q.sort = Some(("amount".into(), true));
        let a = ds.search(&q).unwrap();
        assert_eq!(a.rows[0].1[2].as_deref(), Some("100"));
        q.offset = 660;
        q.sort = None;
        assert_eq!(ds.search(&q).unwrap().rows.len(), 5);
        q.offset = 667;
        assert!(ds.search(&q).unwrap().rows.is_empty());
    }

    /// Pages in row order, from several segments whose ids interleave (two indexing
    /// threads, three commits), equal the matching ids sorted, on the row-order path and on
    /// the general one.
    #[test]
    fn row_order_pages_are_the_matches_sorted_by_id() {
        let tmp = tempfile::tempdir().unwrap();
        let cols = vec![col("district", DataType::Text), col("name", DataType::Text)];
        let districts = ["市南区", "市北区", "崂山区", "黄岛区"];
        let mut b = Builder::create(tmp.path(), &cols).unwrap();
        for i in 0..3000u32 {
            let d = districts[((i * 7 + i / 13) % 4) as usize];
            let name = if i.is_multiple_of(5) {
                "养老院"
            } else {
                "幼儿园"
            };
            b.add(&[Some(d.into()), Some(format!("青岛{name}{i}"))])
                .unwrap();
            if i == 1000 || i == 2200 {
                b.writer.commit().unwrap();
            }
        }
        let (dir, _) = b.finish().unwrap();
        let mut ds = Datastore::open(&dir, cols).unwrap();
        assert!(ds.in_row_order);
        assert!(ds.reader.searcher().segment_readers().len() > 1);
        let row = |id: u64| {
            let i = (id - 1) as u32;
            (
                districts[((i * 7 + i / 13) % 4) as usize],
                i.is_multiple_of(5),
            )
        };
        let cases: Vec<(Vec<&str>, bool)> = vec![
            (vec![], false),
            (vec!["市南区"], false),
            (vec!["市南区", "崂山区"], false),
            (vec!["黄岛区"], true),
            (vec![], true),
        ];
        for general in [false, true] {
            ds.in_row_order = !general;
            for (filter, text) in &cases {
                let expected: Vec<u64> = (1..=3000u64)
                    .filter(|id| {
                        let (d, elder) = row(*id);
                        (filter.is_empty() || filter.contains(&d)) && (!text || elder)
                    })
                    .collect();
                for offset in [0, 1, 333, 740, 2999, 5000] {
                    for limit in [1, 7, 100] {
                        let q = DatastoreQuery {
                            filters: if filter.is_empty() {
                                vec![]
                            } else {
                                vec![(
                                    "district".into(),
                                    filter.iter().map(|d| d.to_string()).collect(),
                                )]
                            },
                            q: text.then(|| "养老院".into()),
                            limit,
                            offset,
                            include_total: true,
                            ..Default::default()
                        };
                        let a = ds.search(&q).unwrap();
                        let ids: Vec<u64> = a.rows.iter().map(|(id, _)| *id).collect();
                        let want: Vec<u64> =
                            expected.iter().copied().skip(offset).take(limit).collect();
                        assert_eq!(ids, want, "{filter:?} {text} {offset} {limit} {general}");
                        assert_eq!(a.total, Some(expected.len() as u64));
                        for (id, r) in &a.rows {
                            assert_eq!(
                                r[1].as_deref().map(|n| n.ends_with(&format!("{}", id - 1))),
                                Some(true)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn text_search_and_unknown_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = build(tmp.path());
        let q = DatastoreQuery {
            q: Some("养老院".into()),
            limit: 3,
            include_total: true,
            ..Default::default()
        };
        assert_eq!(ds.search(&q).unwrap().total, Some(1000));
        let q = DatastoreQuery {
            q_fields: vec![("name".into(), "第12养".into())],
            limit: 3,
            include_total: true,
            ..Default::default()
        };
        assert_eq!(ds.search(&q).unwrap().total, Some(1));
        let q = DatastoreQuery {
            filters: vec![("nope".into(), vec!["x".into()])],
            limit: 3,
            ..Default::default()
        };
        assert!(matches!(ds.search(&q), Err(OpenError::UnknownField(_))));
        let mut n = 0;
        ds.for_each_row(|_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1001);
    }
}
