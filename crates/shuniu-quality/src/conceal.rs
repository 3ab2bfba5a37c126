//! Samples kept at rest never hold a sensitive item's value (敏感信息项). The lake and the
//! serving index seal those values; failing samples, tickets and cross-check conflicts live
//! in the control plane in clear, so a sensitive value in them is masked by its item's rule
//! before it is stored: enough for the department to find the row, nothing to leak.

use shuniu_policy::mask;
use shuniu_store::ResourceRecord;
use shuniu_types::{DataItem, MaskingRule};

use crate::check::RuleResult;
use crate::sources::Conflict;

/// A sensitive value as samples show it. Keyed hashes would need the sharing masking key and
/// a bare hash of an ID number can be reversed by trying every number, so those rules show the
/// last four characters instead; a value that must be dropped shows stars.
pub(crate) fn masked(item: &DataItem, value: &str) -> String {
    let rule = match item.masking {
        MaskingRule::Hash | MaskingRule::None => MaskingRule::BankCard,
        r => r,
    };
    mask::apply(rule, value, b"").unwrap_or_else(|| "***".into())
}

fn item<'a>(rec: &'a ResourceRecord, name: &str) -> Option<&'a DataItem> {
    rec.spec.data_items.iter().find(|i| i.name == name)
}

/// Masks a sample key (`|`-joined key items, in item order) where its items are sensitive.
fn key(rec: &ResourceRecord, key: &str) -> String {
    let keys: Vec<&DataItem> = rec.spec.data_items.iter().filter(|i| i.is_key).collect();
    key.split('|')
        .enumerate()
        .map(|(n, part)| match keys.get(n) {
            Some(i) if i.sensitive && !part.is_empty() => masked(i, part),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Masks the samples of a check run before it is stored or becomes a ticket.
pub(crate) fn results(rec: &ResourceRecord, results: &mut [RuleResult]) {
    let any_key = rec.spec.data_items.iter().any(|i| i.is_key && i.sensitive);
    for r in results {
        let column = r.column.as_deref().and_then(|c| item(rec, c));
        for s in &mut r.samples {
            if let (Some(i), Some(v)) = (column, s.value.as_mut())
                && i.sensitive
            {
                *v = masked(i, v);
            }
            if any_key && let Some(k) = s.key.as_mut() {
                *k = key(rec, k);
            }
        }
    }
}

/// Masks the conflicts of a cross-check: the key, this side's value and the authority's.
pub(crate) fn conflicts(
    rec: &ResourceRecord,
    key_column: &str,
    column: &str,
    authority: Option<&ResourceRecord>,
    authority_column: &str,
    samples: &mut [Conflict],
) {
    let k = item(rec, key_column).filter(|i| i.sensitive);
    let c = item(rec, column).filter(|i| i.sensitive);
    let a = authority
        .and_then(|a| item(a, authority_column))
        .filter(|i| i.sensitive);
    for s in samples {
        if let Some(i) = k {
            s.key = masked(i, &s.key);
        }
        if let (Some(i), Some(v)) = (c, s.value.as_mut()) {
            *v = masked(i, v);
        }
        if let (Some(i), Some(v)) = (a, s.authoritative.as_mut()) {
            *v = masked(i, v);
        }
    }
}
