//! The masking library (脱敏). One function per pattern, applied identically by every egress
//! path (lookup, comparison results, extracts, change feeds, webhooks): they all go through
//! [`crate::grant::CompiledGrant::project`], which calls [`apply`].

use hmac::{KeyInit, Mac};
use shuniu_types::MaskingRule;

type HmacSm3 = hmac::Hmac<sm3::Sm3>;

/// Two-character surnames (复姓) that keep both characters when a name is masked.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "皇甫", "东方", "慕容", "令狐", "公孙", "尉迟", "长孙", "宇文",
    "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "澹台", "申屠",
    "太史", "闻人", "赫连", "钟离", "濮阳", "公冶",
];

/// Masks `value` by `rule`. `hash_key` keys the `hash` pattern: an unkeyed hash of an ID
/// number could be reversed by trying every number, so hashes are HMAC-SM3 under the hub's
/// masking key (the same value hashes the same for every consumer, so consumers can still
/// join on it).
pub fn apply(rule: MaskingRule, value: &str, hash_key: &[u8]) -> Option<String> {
    Some(match rule {
        MaskingRule::None => value.to_string(),
        MaskingRule::IdNumber => keep_ends(value, 6, 4),
        MaskingRule::Mobile => keep_ends(value, 3, 4),
        MaskingRule::BankCard => keep_ends(value, 0, 4),
        MaskingRule::Name => name(value),
        MaskingRule::Address => address(value),
        MaskingRule::Email => email(value),
        MaskingRule::Hash => hash(value, hash_key),
        MaskingRule::Null => return None,
    })
}

/// Keeps the first `head` and the last `tail` characters and stars the rest; a value too
/// short to hide anything is starred whole rather than shown.
fn keep_ends(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n.max(1));
    }
    let mut out = String::with_capacity(n);
    out.extend(&chars[..head]);
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

fn name(value: &str) -> String {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 {
        return String::new();
    }
    let keep = if n > 2 && COMPOUND_SURNAMES.iter().any(|s| v.starts_with(s)) {
        2
    } else {
        1
    };
    let mut out: String = v.chars().take(keep).collect();
    out.extend(std::iter::repeat_n('*', (n - keep).max(1)));
    out
}

/// Down to the district or county: 山东省青岛市市南区香港中路10号 → 山东省青岛市市南区****.
fn address(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    // The first 区/县/旗 after the city part; "市" alone would stop at the city.
    let cut = chars
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, c)| matches!(c, '区' | '县' | '旗'))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| chars.len().min(6));
    let mut out: String = chars[..cut].iter().collect();
    if cut < chars.len() {
        out.push_str("****");
    }
    out
}

fn email(value: &str) -> String {
    match value.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => keep_ends(value, 1, 0),
    }
}

fn hash(value: &str, key: &[u8]) -> String {
    let mut mac = <HmacSm3 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(value.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const K: &[u8] = b"k";

    #[test]
    fn usual_patterns() {
        let m = |r, v| apply(r, v, K).unwrap();
        assert_eq!(
            m(MaskingRule::IdNumber, "370202199003071234"),
            "370202********1234"
        );
        assert_eq!(m(MaskingRule::Mobile, "13812345678"), "138****5678");
        assert_eq!(m(MaskingRule::Name, "张三"), "张*");
        assert_eq!(m(MaskingRule::Name, "王小明"), "王**");
        assert_eq!(m(MaskingRule::Name, "欧阳娜娜"), "欧阳**");
        assert_eq!(
            m(MaskingRule::Name, "欧阳"),
            "欧*",
            "a two-character name is not all surname"
        );
        assert_eq!(
            m(MaskingRule::BankCard, "6222021234567890123"),
            "***************0123"
        );
        assert_eq!(
            m(MaskingRule::Address, "山东省青岛市市南区香港中路10号"),
            "山东省青岛市市南区****"
        );
        assert_eq!(m(MaskingRule::Address, "青岛市胶州市"), "青岛市胶州市");
        assert_eq!(
            m(MaskingRule::Email, "zhangsan@qd.gov.cn"),
            "z***@qd.gov.cn"
        );
        assert_eq!(apply(MaskingRule::Null, "x", K), None);
        assert_eq!(m(MaskingRule::None, "x"), "x");
        let h = m(MaskingRule::Hash, "370202199003071234");
        assert_eq!(h.len(), 32);
        assert_eq!(h, m(MaskingRule::Hash, "370202199003071234"));
        assert_ne!(
            h,
            apply(MaskingRule::Hash, "370202199003071234", b"other").unwrap(),
            "the hash is keyed"
        );
    }

    #[test]
    fn short_values_are_starred_whole() {
        assert_eq!(apply(MaskingRule::Mobile, "1234", K).unwrap(), "****");
        assert_eq!(apply(MaskingRule::IdNumber, "", K).unwrap(), "*");
    }

    proptest! {
        /// No masked ID number or mobile shows more than its pattern allows, and the length
        /// (in characters) is kept so that forms still fit.
        #[test]
        fn masks_never_reveal_the_middle(v in "[0-9X]{11,18}") {
            let id = apply(MaskingRule::IdNumber, &v, K).unwrap();
            prop_assert_eq!(id.chars().count(), v.chars().count());
            prop_assert_eq!(id.chars().filter(|c| *c != '*').count(), 10);
            let mobile = apply(MaskingRule::Mobile, &v, K).unwrap();
            prop_assert_eq!(mobile.chars().filter(|c| *c != '*').count(), 7);
        }

        #[test]
        fn any_text_masks_without_panic(v in "\\PC{0,40}") {
            for rule in MaskingRule::ALL {
                let _ = apply(*rule, &v, K);
            }
        }
    }
}
