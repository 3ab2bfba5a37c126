//! Every console list the same way: filtered by the words typed into its filter box and by
//! its own selects, counted, cut into pages, and exported as filtered (CSV that Excel opens
//! in Chinese). The rows come from an engine already scoped by the policy; this module only
//! narrows and pages what the user may see.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Rows per page unless the user asks for another size (at most [`MAX_PER`]).
pub(crate) const PER_PAGE: usize = 50;
const MAX_PER: usize = 500;

/// A list's query string: `q` (words, all of which a row must hold), `page`, `per`,
/// `format=csv` for the export, and the list's own filters.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub per: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(flatten)]
    pub filters: BTreeMap<String, String>,
}

/// What a page shows about its list: counts, page links and the export link.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Listing {
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// 1-based numbers of the first and last rows shown (0 when none).
    pub first: usize,
    pub last: usize,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    /// Page numbers to offer, `0` standing for a gap.
    pub around: Vec<(usize, String)>,
    pub export_href: String,
    pub q: String,
    pub filters: BTreeMap<String, String>,
}

impl ListQuery {
    /// The words to look for, lower-cased; empty when there is no filter text.
    fn words(&self) -> Vec<String> {
        self.q
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect()
    }

    /// Whether a row whose texts are `hay` holds every word of the filter box.
    pub fn matches(&self, hay: &[&str]) -> bool {
        let words = self.words();
        if words.is_empty() {
            return true;
        }
        let text = hay.join(" ").to_lowercase();
        words.iter().all(|w| text.contains(w.as_str()))
    }

    /// A filter the list defines (a select), when set to something.
    pub fn filter(&self, key: &str) -> Option<&str> {
        self.filters
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn wants_csv(&self) -> bool {
        self.format.as_deref() == Some("csv")
    }

    fn number(v: &Option<String>) -> Option<usize> {
        v.as_deref().and_then(|s| s.trim().parse().ok())
    }

    fn href(&self, path: &str, page: Option<usize>, csv: bool) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
            pairs.push(("q".into(), q.into()));
        }
        for (k, v) in &self.filters {
            if !v.is_empty() {
                pairs.push((k.clone(), v.clone()));
            }
        }
        if let Some(per) = Self::number(&self.per).filter(|p| *p != PER_PAGE) {
            pairs.push(("per".into(), per.to_string()));
        }
        if let Some(p) = page.filter(|p| *p > 1) {
            pairs.push(("page".into(), p.to_string()));
        }
        if csv {
            pairs.push(("format".into(), "csv".into()));
        }
        if pairs.is_empty() {
            return path.to_string();
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        format!("{path}?{query}")
    }

    fn per_page(&self) -> usize {
        Self::number(&self.per)
            .unwrap_or(PER_PAGE)
            .clamp(1, MAX_PER)
    }

    /// For lists paged by the engine: the offset and limit of the requested page.
    pub fn window(&self) -> (i64, i64) {
        let per = self.per_page();
        let page = Self::number(&self.page).unwrap_or(1).max(1);
        (((page - 1) * per) as i64, per as i64)
    }

    /// For lists paged by the engine: what the page shows, given the total and the rows shown.
    pub fn listing(&self, total: usize, shown: usize, path: &str) -> Listing {
        let per = self.per_page();
        let pages = total.div_ceil(per).max(1);
        let page = Self::number(&self.page).unwrap_or(1).max(1);
        self.describe(total, pages, page, (page - 1) * per, shown, path)
    }

    /// The rows of the requested page and what the page shows about the list.
    pub fn page_of<T>(&self, rows: Vec<T>, path: &str) -> (Vec<T>, Listing) {
        let per = self.per_page();
        let total = rows.len();
        let pages = total.div_ceil(per).max(1);
        let page = Self::number(&self.page).unwrap_or(1).clamp(1, pages);
        let start = (page - 1) * per;
        let shown: Vec<T> = rows.into_iter().skip(start).take(per).collect();
        let listing = self.describe(total, pages, page, start, shown.len(), path);
        (shown, listing)
    }

    fn describe(
        &self,
        total: usize,
        pages: usize,
        page: usize,
        start: usize,
        shown: usize,
        path: &str,
    ) -> Listing {
        let mut around = Vec::new();
        let mut last_shown = 0;
        for p in 1..=pages {
            if p == 1 || p == pages || p.abs_diff(page) <= 2 {
                if last_shown != 0 && p > last_shown + 1 {
                    around.push((0, String::new()));
                }
                around.push((p, self.href(path, Some(p), false)));
                last_shown = p;
            }
        }
        Listing {
            total,
            page,
            pages,
            first: if shown == 0 { 0 } else { start + 1 },
            last: start + shown,
            prev_href: (page > 1).then(|| self.href(path, Some(page - 1), false)),
            next_href: (page < pages).then(|| self.href(path, Some(page + 1), false)),
            around,
            export_href: self.href(path, None, true),
            q: self.q.clone().unwrap_or_default(),
            filters: self.filters.clone(),
        }
    }
}

/// A column of an export: its heading and how a row gives its cell.
pub(crate) struct Column<'a, T> {
    pub heading: String,
    pub cell: Box<dyn Fn(&T) -> String + 'a>,
}

pub(crate) fn column<'a, T>(
    heading: impl Into<String>,
    cell: impl Fn(&T) -> String + 'a,
) -> Column<'a, T> {
    Column {
        heading: heading.into(),
        cell: Box::new(cell),
    }
}

/// An instant for an export cell: Beijing time, as pages show it.
pub(crate) use super::names::beijing_time as at;

/// The filtered rows as a CSV download `{name}.csv`: UTF-8 with a byte-order mark, which
/// Excel needs to read Chinese; formula-looking cells are quoted as text (CSV injection).
pub(crate) fn csv_download<T>(name: &str, columns: &[Column<'_, T>], rows: &[T]) -> Response {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let safe = |s: String| -> String {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s
        }
    };
    let mut result = w.write_record(columns.iter().map(|c| c.heading.clone()));
    for row in rows {
        if result.is_err() {
            break;
        }
        result = w.write_record(columns.iter().map(|c| safe((c.cell)(row))));
    }
    let bytes = match (result, w.into_inner()) {
        (Ok(()), Ok(bytes)) => bytes,
        _ => {
            return (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "export failed",
            )
                .into_response();
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let s = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let uri: axum::http::Uri = format!("/x?{s}").parse().expect("uri");
        axum::extract::Query::<ListQuery>::try_from_uri(&uri)
            .expect("query")
            .0
    }

    #[test]
    fn pages_count_and_link_with_the_filters_kept() {
        let q = query(&[("q", "民政 局"), ("state", "open"), ("page", "3")]);
        let (rows, l) = q.page_of((1..=120).collect::<Vec<_>>(), "/quality/tickets");
        assert_eq!(rows.first(), Some(&101));
        assert_eq!(
            (l.total, l.pages, l.page, l.first, l.last),
            (120, 3, 3, 101, 120)
        );
        assert!(l.next_href.is_none());
        let prev = l.prev_href.expect("prev");
        assert!(
            prev.contains("state=open") && prev.contains("page=2"),
            "{prev}"
        );
        assert!(prev.contains("q=%E6%B0%91"), "{prev}");
        assert!(l.export_href.ends_with("format=csv") && !l.export_href.contains("page="));
    }

    #[test]
    fn a_page_out_of_range_shows_the_last_and_empty_lists_have_one_page() {
        let (rows, l) = query(&[("page", "99")]).page_of(vec![1, 2, 3], "/x");
        assert_eq!((rows.len(), l.page, l.pages), (3, 1, 1));
        let (rows, l) = query(&[("page", "abc")]).page_of(Vec::<u8>::new(), "/x");
        assert_eq!((rows.len(), l.first, l.last, l.pages), (0, 0, 0, 1));
    }

    #[test]
    fn every_word_must_match_in_any_case() {
        let q = query(&[("q", "GA 户籍")]);
        assert!(q.matches(&["370200ga", "户籍人口"]));
        assert!(!q.matches(&["370200ga", "婚姻"]));
        assert!(query(&[]).matches(&[]));
    }

    #[test]
    fn exports_start_with_a_bom_and_defuse_formulas() {
        let cols = [column("名称", |s: &&str| s.to_string())];
        let r = csv_download("x", &cols, &["=HYPERLINK(1)", "人口"]);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    }
}
