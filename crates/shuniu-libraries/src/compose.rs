//! One subject's library row from the rows its sources hold: each attribute from its
//! authoritative source, the others kept as alternatives, disagreements counted, and where
//! every value came from. Pure: the engine looks the rows up and writes the result.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// A source resource as read for this build.
#[derive(Debug, Clone, Serialize)]
pub struct SourceMeta {
    pub code: String,
    /// The dataset version read (the serving index's).
    pub version: u64,
    /// When that version was loaded.
    pub loaded_at: String,
}

/// Where one library attribute is read from, in order of preference.
#[derive(Debug, Clone)]
pub struct AttributePlan {
    /// The library's item name.
    pub name: String,
    /// A sensitive attribute's alternatives are named but their values are not copied into
    /// the provenance (which is not sealed like the value's own column).
    pub sensitive: bool,
    /// `(source index, column in that source's row)`; the authoritative source first when
    /// one is designated.
    pub sources: Vec<(usize, usize)>,
    /// Whether `sources[0]` is the designated authoritative source.
    pub designated: bool,
}

/// A composed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    /// One value per attribute, in plan order.
    pub values: Vec<Option<String>>,
    /// Per attribute: the source, its version and load time, whether it is the designated
    /// source, how many other sources agree, and the disagreeing ones (alternatives).
    pub provenance: Value,
    /// How many sources hold the subject.
    pub source_count: usize,
    /// How many attributes some source disagrees on.
    pub conflict_count: usize,
}

fn clean(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Composes a subject's row; `rows[i]` is what source `i` holds for the subject. `None` when
/// no source holds it (the subject is gone from the library).
pub fn compose(
    rows: &[Option<Vec<Option<String>>>],
    attributes: &[AttributePlan],
    sources: &[SourceMeta],
) -> Option<Composed> {
    let source_count = rows.iter().filter(|r| r.is_some()).count();
    if source_count == 0 {
        return None;
    }
    let mut values = Vec::with_capacity(attributes.len());
    let mut provenance = Map::new();
    let mut conflict_count = 0;
    for attr in attributes {
        let held: Vec<(usize, &str)> = attr
            .sources
            .iter()
            .filter_map(|&(s, col)| {
                let row = rows.get(s)?.as_ref()?;
                Some((s, clean(row.get(col)?)?))
            })
            .collect();
        let Some(&(chosen, value)) = held.first() else {
            values.push(None);
            continue;
        };
        let authoritative = attr.designated && attr.sources.first().map(|s| s.0) == Some(chosen);
        // Agreeing sources are counted; disagreeing ones are kept as alternatives.
        let mut agreeing = 0usize;
        let others: Vec<Value> = held[1..]
            .iter()
            .filter(|&&(_, v)| {
                let agrees = v == value;
                agreeing += usize::from(agrees);
                !agrees
            })
            .map(|&(s, v)| {
                let mut o = json!({
                    "resource": sources[s].code,
                    "version": sources[s].version,
                });
                if !attr.sensitive {
                    o["value"] = json!(v);
                }
                o
            })
            .collect();
        if !others.is_empty() {
            conflict_count += 1;
        }
        let meta = &sources[chosen];
        let mut p = json!({
            "resource": meta.code,
            "version": meta.version,
            "loaded_at": meta.loaded_at,
            "authoritative": authoritative,
        });
        if agreeing > 0 {
            p["agreeing"] = json!(agreeing);
        }
        if !others.is_empty() {
            p["alternatives"] = Value::Array(others);
        }
        provenance.insert(attr.name.clone(), p);
        values.push(Some(value.to_string()));
    }
    Some(Composed {
        values,
        provenance: Value::Object(provenance),
        source_count,
        conflict_count,
    })
}

/// The GB 11643-1989 (15-digit) form of an 18-digit ID number of someone born in the 1900s,
/// under which an old system may still hold them.
pub fn legacy_id_form(id: &str) -> Option<String> {
    let b = id.as_bytes();
    if b.len() != 18 || !id.is_ascii() || &id[6..8] != "19" {
        return None;
    }
    Some(format!("{}{}", &id[..6], &id[8..17]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(code: &str, v: u64) -> SourceMeta {
        SourceMeta {
            code: code.into(),
            version: v,
            loaded_at: "2026-12-01T00:00:00Z".into(),
        }
    }

    fn row(cells: &[Option<&str>]) -> Option<Vec<Option<String>>> {
        Some(cells.iter().map(|c| c.map(str::to_string)).collect())
    }

    #[test]
    fn the_designated_source_wins_and_others_are_kept() {
        let sources = [meta("GA", 3), meta("WJ", 7)];
        let attrs = [
            AttributePlan {
                name: "address".into(),
                sensitive: false,
                sources: vec![(0, 1), (1, 2)],
                designated: true,
            },
            AttributePlan {
                name: "mobile".into(),
                sensitive: true,
                sources: vec![(1, 1)],
                designated: false,
            },
        ];
        let rows = [
            row(&[Some("k"), Some("崂山区海尔路1号")]),
            row(&[Some("k"), Some("13800000000"), Some("市南区香港中路9号")]),
        ];
        let c = compose(&rows, &attrs, &sources).unwrap();
        assert_eq!(c.values[0].as_deref(), Some("崂山区海尔路1号"));
        assert_eq!(c.values[1].as_deref(), Some("13800000000"));
        assert_eq!(c.source_count, 2);
        assert_eq!(c.conflict_count, 1);
        let p = &c.provenance["address"];
        assert_eq!(p["resource"], "GA");
        assert_eq!(p["version"], 3);
        assert_eq!(p["authoritative"], true);
        assert_eq!(p["alternatives"][0]["resource"], "WJ");
        assert_eq!(p["alternatives"][0]["value"], "市南区香港中路9号");
        assert!(p.get("agreeing").is_none());
        assert_eq!(c.provenance["mobile"]["authoritative"], false);
    }

    #[test]
    fn a_missing_authoritative_value_falls_back_and_says_so() {
        let sources = [meta("GA", 1), meta("RS", 2)];
        let attrs = [AttributePlan {
            name: "name".into(),
            sensitive: false,
            sources: vec![(0, 1), (1, 1)],
            designated: true,
        }];
        let c = compose(
            &[
                row(&[Some("k"), Some("  ")]),
                row(&[Some("k"), Some("张三")]),
            ],
            &attrs,
            &sources,
        )
        .unwrap();
        assert_eq!(c.values[0].as_deref(), Some("张三"));
        assert_eq!(c.provenance["name"]["resource"], "RS");
        assert_eq!(c.provenance["name"]["authoritative"], false);
        assert_eq!(c.conflict_count, 0);
        // Agreeing sources are counted, not listed.
        let c = compose(
            &[
                row(&[Some("k"), Some("张三")]),
                row(&[Some("k"), Some("张三 ")]),
            ],
            &attrs,
            &sources,
        )
        .unwrap();
        assert_eq!(c.provenance["name"]["agreeing"], 1);
        assert!(c.provenance["name"].get("alternatives").is_none());
        // Held by nobody: gone.
        assert_eq!(compose(&[None, None], &attrs, &sources), None);
    }

    #[test]
    fn sensitive_alternatives_name_the_source_but_not_the_value() {
        let sources = [meta("A", 1), meta("B", 1)];
        let attrs = [AttributePlan {
            name: "mobile".into(),
            sensitive: true,
            sources: vec![(0, 0), (1, 0)],
            designated: true,
        }];
        let c = compose(
            &[row(&[Some("13800000000")]), row(&[Some("13900000000")])],
            &attrs,
            &sources,
        )
        .unwrap();
        let alt = &c.provenance["mobile"]["alternatives"][0];
        assert_eq!(alt["resource"], "B");
        assert!(alt.get("value").is_none());
        assert!(!c.provenance.to_string().contains("13900000000"));
    }

    #[test]
    fn legacy_forms_round_trip() {
        // GB 11643-1999's published example, and its 1989 form.
        let id18 = "11010519491231002X";
        let id15 = legacy_id_form(id18).unwrap();
        assert_eq!(id15, "110105491231002");
        assert_eq!(
            crate::library_key(crate::LibraryKind::Population, &id15).as_deref(),
            Some(id18)
        );
        assert_eq!(legacy_id_form("110105200012310021"), None);
    }
}
