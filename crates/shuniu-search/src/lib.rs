//! Full-text search over the catalog, in Chinese: tantivy with jieba word segmentation and
//! a dictionary of government-data words, with facet counts for department, category,
//! share attribute, open attribute, security level and update cycle.
//!
//! The index lives in memory and is rebuilt from the control plane at start (10,000
//! entries take well under a second), so it can never drift from the store. Every change
//! is committed and the reader reloaded before [`CatalogIndex::upsert`] returns: a change is
//! searchable as soon as the call that made it has answered.
//!
//! Architecture invariant: the index decides nothing about access. The caller passes the
//! visibility ([`Visibility`]) that the policy module allows; the index only filters by it.

use jieba_rs::{Jieba, TokenizeMode};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tantivy::collector::{Count, FacetCollector, MultiCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FacetOptions, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
    Value,
};
use tantivy::tokenizer::{LowerCaser, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc,
};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index lock poisoned")]
    Poisoned,
}

impl SearchError {
    pub fn code(&self) -> &'static str {
        "SEARCH_INDEX"
    }
}

impl shuniu_types::Classified for SearchError {
    fn problem(&self) -> shuniu_types::Problem {
        shuniu_types::Problem::internal(self.code(), self)
    }
}

/// Words jieba's general dictionary splits but government data users search as one.
const DOMAIN_WORDS: &[&str] = &[
    "大数据",
    "大数据局",
    "数据资源",
    "信息资源",
    "信息项",
    "统一社会信用代码",
    "社会信用代码",
    "身份证号",
    "公民身份号码",
    "行政区划",
    "户籍人口",
    "常住人口",
    "流动人口",
    "不动产",
    "不动产登记",
    "营业执照",
    "市场主体",
    "行政许可",
    "行政处罚",
    "社会保险",
    "社保",
    "医保",
    "医疗保险",
    "养老保险",
    "养老金",
    "失业保险",
    "工伤保险",
    "住房公积金",
    "公积金",
    "出生医学证明",
    "死亡医学证明",
    "婚姻登记",
    "低保",
    "最低生活保障",
    "残疾人",
    "特困人员",
    "退役军人",
    "网格员",
    "一网通办",
    "一网统管",
    "一件事",
    "电子证照",
    "电子印章",
    "数据共享",
    "数据开放",
    "负面清单",
    "供需对接",
    "公共数据",
    "政务数据",
    "纳税人",
    "纳税信用",
    "学籍",
    "义务教育",
    "高考",
    "新生儿",
    "疫苗接种",
    "核酸",
    "12345",
];

/// The process's one jieba dictionary with the government-data words (loading it takes
/// tens of milliseconds and megabytes; every index shares it).
fn shared_jieba() -> Arc<Jieba> {
    static JIEBA: std::sync::OnceLock<Arc<Jieba>> = std::sync::OnceLock::new();
    JIEBA
        .get_or_init(|| {
            let mut jieba = Jieba::new();
            for w in DOMAIN_WORDS {
                jieba.add_word(w, Some(20_000), None);
            }
            Arc::new(jieba)
        })
        .clone()
}

/// The Chinese analyzer (jieba, lower-cased) for other tantivy indexes: `search_mode` also
/// emits the shorter words inside long ones (for indexing); queries use the default mode.
pub fn chinese_analyzer(search_mode: bool) -> TextAnalyzer {
    TextAnalyzer::builder(ChineseTokenizer {
        jieba: shared_jieba(),
        mode: if search_mode {
            TokenizeMode::Search
        } else {
            TokenizeMode::Default
        },
    })
    .filter(LowerCaser)
    .build()
}

/// The words of a query as the Chinese analyzer cuts them, lower-cased.
pub fn query_words(text: &str) -> Vec<String> {
    let mut analyzer = chinese_analyzer(false);
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// A jieba tokenizer sharing one dictionary across all clones (tantivy clones tokenizers
/// per field and per query; cloning a whole dictionary each time would dominate latency).
#[derive(Clone)]
struct ChineseTokenizer {
    jieba: Arc<Jieba>,
    mode: TokenizeMode,
}

struct ChineseTokenStream {
    tokens: Vec<Token>,
    index: usize,
}

impl Tokenizer for ChineseTokenizer {
    type TokenStream<'a> = ChineseTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> ChineseTokenStream {
        let tokens = self
            .jieba
            .tokenize(text, self.mode, true)
            .into_iter()
            .filter(|t| t.word.chars().any(char::is_alphanumeric))
            .enumerate()
            .map(|(i, t)| Token {
                offset_from: t.byte_start,
                offset_to: t.byte_end,
                position: i,
                text: t.word.to_string(),
                position_length: 1,
            })
            .collect();
        ChineseTokenStream { tokens, index: 0 }
    }
}

impl TokenStream for ChineseTokenStream {
    fn advance(&mut self) -> bool {
        self.index += 1;
        self.index <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.index - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.index - 1]
    }
}

/// What the index holds of a catalog entry.
#[derive(Debug, Clone, Default)]
pub struct IndexedResource {
    pub code: String,
    pub name: String,
    pub summary: String,
    /// Names, labels and descriptions of the data items, space separated.
    pub items: String,
    /// Classification path and provider name, for matching.
    pub context: String,
    pub provider: String,
    pub category: String,
    pub share_type: String,
    pub open_type: String,
    pub level: String,
    pub update_cycle: String,
    pub status: String,
}

/// Facet dimensions, in display order.
pub const FACETS: [&str; 6] = [
    "provider",
    "category",
    "share_type",
    "open_type",
    "level",
    "update_cycle",
];

/// Who is looking: the policy module decides, the index filters.
#[derive(Debug, Clone)]
pub enum Visibility {
    /// Every entry in every state (the hub operator).
    All,
    /// Entries in these states, plus every entry of one department (its own drafts).
    Statuses {
        statuses: Vec<String>,
        own_provider: Option<String>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    /// Facet dimension → required value (exact code).
    pub filters: BTreeMap<String, String>,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, Default)]
pub struct SearchResponse {
    pub total: usize,
    /// Matching codes, best first.
    pub codes: Vec<String>,
    /// Dimension → (value, count), most frequent first.
    pub facets: BTreeMap<String, Vec<(String, u64)>>,
}

#[derive(Clone, Copy)]
struct Fields {
    code: Field,
    code_exact: Field,
    name: Field,
    summary: Field,
    items: Field,
    context: Field,
    status: Field,
    facets: [Field; 6],
}

pub struct CatalogIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    query_tokenizer: Mutex<TextAnalyzer>,
}

const TOKENIZER: &str = "zh";

impl CatalogIndex {
    /// An empty in-memory index.
    pub fn new() -> Result<CatalogIndex, SearchError> {
        let jieba = shared_jieba();

        let mut sb = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            code: sb.add_text_field("code", STRING | STORED),
            code_exact: sb.add_text_field("code_text", text.clone()),
            name: sb.add_text_field("name", text.clone()),
            summary: sb.add_text_field("summary", text.clone()),
            items: sb.add_text_field("items", text.clone()),
            context: sb.add_text_field("context", text),
            status: sb.add_text_field("status", STRING),
            facets: FACETS.map(|f| sb.add_facet_field(f, FacetOptions::default())),
        };
        let index = Index::create_in_ram(sb.build());
        let analyzer = |mode| {
            TextAnalyzer::builder(ChineseTokenizer {
                jieba: jieba.clone(),
                mode,
            })
            .filter(LowerCaser)
            .build()
        };
        index
            .tokenizers()
            .register(TOKENIZER, analyzer(TokenizeMode::Search));
        // One writer thread: a catalog changes an entry at a time; 50 MB is the minimum arena.
        let writer = index.writer_with_num_threads(1, 50_000_000)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(CatalogIndex {
            reader,
            writer: Mutex::new(writer),
            fields,
            query_tokenizer: Mutex::new(analyzer(TokenizeMode::Default)),
        })
    }

    fn document(&self, r: &IndexedResource) -> TantivyDocument {
        let f = &self.fields;
        let mut d = doc!(
            f.code => r.code.clone(),
            f.code_exact => r.code.clone(),
            f.name => r.name.clone(),
            f.summary => r.summary.clone(),
            f.items => r.items.clone(),
            f.context => r.context.clone(),
            f.status => r.status.clone(),
        );
        let values = [
            &r.provider,
            &r.category,
            &r.share_type,
            &r.open_type,
            &r.level,
            &r.update_cycle,
        ];
        for (field, value) in f.facets.iter().zip(values) {
            d.add_facet(*field, facet_path(value));
        }
        d
    }

    /// Replaces the whole index content (at start-up).
    pub fn rebuild(
        &self,
        all: impl IntoIterator<Item = IndexedResource>,
    ) -> Result<(), SearchError> {
        let mut w = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        w.delete_all_documents()?;
        for r in all {
            w.add_document(self.document(&r))?;
        }
        w.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Adds or replaces entries; searchable when this returns.
    pub fn upsert(&self, entries: &[IndexedResource]) -> Result<(), SearchError> {
        let mut w = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        for r in entries {
            w.delete_term(Term::from_field_text(self.fields.code, &r.code));
            w.add_document(self.document(r))?;
        }
        w.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    fn query_terms(&self, text: &str) -> Result<Vec<String>, SearchError> {
        let mut analyzer = self
            .query_tokenizer
            .lock()
            .map_err(|_| SearchError::Poisoned)?;
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            let t = stream.token().text.clone();
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
        Ok(terms)
    }

    pub fn search(
        &self,
        req: &SearchRequest,
        visibility: &Visibility,
    ) -> Result<SearchResponse, SearchError> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text = req.text.trim();
        if !text.is_empty() {
            let mut text_query: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            // Every word must match somewhere; a name match counts most.
            let mut all_words: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for term in self.query_terms(text)? {
                let per_field: Vec<(Occur, Box<dyn Query>)> = [
                    (f.name, 3.0),
                    (f.items, 1.5),
                    (f.summary, 1.0),
                    (f.context, 1.0),
                    (f.code_exact, 1.0),
                ]
                .into_iter()
                .map(|(field, boost)| {
                    let q: Box<dyn Query> = Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, &term),
                            IndexRecordOption::WithFreqs,
                        )),
                        boost,
                    ));
                    (Occur::Should, q)
                })
                .collect();
                all_words.push((Occur::Must, Box::new(BooleanQuery::new(per_field))));
            }
            if !all_words.is_empty() {
                text_query.push((Occur::Should, Box::new(BooleanQuery::new(all_words))));
            }
            text_query.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.code, text),
                        IndexRecordOption::Basic,
                    )),
                    10.0,
                )),
            ));
            must.push((Occur::Must, Box::new(BooleanQuery::new(text_query))));
        }
        for (dim, value) in &req.filters {
            if let Some(i) = FACETS.iter().position(|d| d == dim) {
                let term = Term::from_facet(f.facets[i], &facet_path(value));
                must.push((
                    Occur::Must,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
            }
        }
        if let Visibility::Statuses {
            statuses,
            own_provider,
        } = visibility
        {
            let mut any: Vec<(Occur, Box<dyn Query>)> = statuses
                .iter()
                .map(|s| -> (Occur, Box<dyn Query>) {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(f.status, s),
                            IndexRecordOption::Basic,
                        )),
                    )
                })
                .collect();
            if let Some(p) = own_provider {
                let term = Term::from_facet(f.facets[0], &facet_path(p));
                any.push((
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
            }
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        let query: Box<dyn Query> = if must.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(must))
        };

        let searcher = self.reader.searcher();
        let limit = req.limit.clamp(1, 1000);
        let mut multi = MultiCollector::new();
        let handles: Vec<_> = FACETS
            .iter()
            .map(|dim| {
                let mut c = FacetCollector::for_field(*dim);
                c.add_facet("/");
                multi.add_collector(c)
            })
            .collect();
        let top = TopDocs::with_limit(limit)
            .and_offset(req.offset)
            .order_by_score();
        let (hits, total, mut fruits) = searcher.search(&query, &(top, Count, multi))?;

        let mut codes = Vec::with_capacity(hits.len());
        for (_score, addr) in hits {
            codes.push(self.code_of(&searcher, addr)?);
        }
        let mut facets = BTreeMap::new();
        for (dim, handle) in FACETS.iter().zip(handles) {
            let counts = handle.extract(&mut fruits);
            let mut values: Vec<(String, u64)> = counts
                .get("/")
                .map(|(facet, n)| {
                    (
                        facet
                            .to_path()
                            .last()
                            .map(|s| s.to_string())
                            .unwrap_or_default(),
                        n,
                    )
                })
                .collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            facets.insert(dim.to_string(), values);
        }
        Ok(SearchResponse {
            total,
            codes,
            facets,
        })
    }

    fn code_of(
        &self,
        searcher: &tantivy::Searcher,
        addr: DocAddress,
    ) -> Result<String, SearchError> {
        let d: TantivyDocument = searcher.doc(addr)?;
        Ok(d.get_first(self.fields.code)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string())
    }

    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn facet_path(value: &str) -> tantivy::schema::Facet {
    // A value is one path segment; '/' inside it would create a child level.
    tantivy::schema::Facet::from_path([value.replace('/', "_")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &str, name: &str, provider: &str, status: &str) -> IndexedResource {
        IndexedResource {
            code: code.into(),
            name: name.into(),
            summary: format!("{name}的汇总信息"),
            items: "公民身份号码 姓名 出生日期".into(),
            context: "基础信息资源 人口".into(),
            provider: provider.into(),
            category: "base".into(),
            share_type: "conditional".into(),
            open_type: "not_open".into(),
            level: "general_3".into(),
            update_cycle: "daily".into(),
            status: status.into(),
        }
    }

    fn req(text: &str) -> SearchRequest {
        SearchRequest {
            text: text.into(),
            limit: 10,
            ..Default::default()
        }
    }

    #[test]
    fn chinese_words_match_and_rank_names_first() {
        let ix = CatalogIndex::new().unwrap();
        ix.rebuild([
            entry("1", "户籍人口基本信息", "GA", "published"),
            entry("2", "企业登记信息", "SJ", "published"),
            entry("3", "死亡登记信息", "MZ", "published"),
        ])
        .unwrap();
        let r = ix.search(&req("户籍人口"), &Visibility::All).unwrap();
        assert_eq!(r.codes, vec!["1"]);
        let r = ix.search(&req("登记信息"), &Visibility::All).unwrap();
        assert_eq!(r.total, 2);
        // Words inside the data items match too.
        assert_eq!(
            ix.search(&req("公民身份号码"), &Visibility::All)
                .unwrap()
                .total,
            3
        );
        assert_eq!(
            ix.search(&req("不存在的词汇组合"), &Visibility::All)
                .unwrap()
                .total,
            0
        );
        // Punctuation and query syntax are plain text, never an error.
        assert_eq!(
            ix.search(&req("“户籍” (人口) *:"), &Visibility::All)
                .unwrap()
                .codes,
            vec!["1"]
        );
    }

    #[test]
    fn facets_filters_and_visibility() {
        let ix = CatalogIndex::new().unwrap();
        ix.rebuild([
            entry("1", "户籍人口", "GA", "published"),
            entry("2", "流动人口", "GA", "draft"),
            entry("3", "低保人口", "MZ", "draft"),
        ])
        .unwrap();
        let r = ix.search(&req("人口"), &Visibility::All).unwrap();
        assert_eq!(r.total, 3);
        assert_eq!(
            r.facets["provider"],
            vec![("GA".to_string(), 2), ("MZ".to_string(), 1)]
        );
        let mut q = req("人口");
        q.filters.insert("provider".into(), "MZ".into());
        assert_eq!(ix.search(&q, &Visibility::All).unwrap().codes, vec!["3"]);
        let officer = Visibility::Statuses {
            statuses: vec!["published".into()],
            own_provider: Some("GA".into()),
        };
        let mut seen = ix.search(&req("人口"), &officer).unwrap().codes;
        seen.sort();
        assert_eq!(seen, vec!["1", "2"], "own drafts, others' published only");
    }

    #[test]
    fn upsert_is_visible_at_once() {
        let ix = CatalogIndex::new().unwrap();
        ix.rebuild([entry("1", "户籍人口", "GA", "published")])
            .unwrap();
        ix.upsert(&[entry("1", "婚姻登记", "MZ", "published")])
            .unwrap();
        assert_eq!(ix.search(&req("户籍"), &Visibility::All).unwrap().total, 0);
        assert_eq!(
            ix.search(&req("婚姻"), &Visibility::All).unwrap().codes,
            vec!["1"]
        );
        assert_eq!(ix.len(), 1);
        // A code finds its entry exactly.
        assert_eq!(
            ix.search(&req("1"), &Visibility::All).unwrap().codes,
            vec!["1"]
        );
    }
}
