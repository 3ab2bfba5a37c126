//! Text as departments key it: full-width digits and letters, stray spaces, names in
//! characters in one system and in pinyin in another, look-alike characters.

use std::collections::HashMap;
use std::sync::LazyLock;

use pinyin::{ToPinyin, ToPinyinMulti};

/// Full-width ASCII to half-width, ideographic space to space, letters to lower case, runs of
/// white space to one space, trimmed.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        };
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        for l in c.to_lowercase() {
            out.push(l);
        }
    }
    out
}

/// A name folded, without the spaces and separators that differ between systems
/// (欧阳 娜娜, 欧阳·娜娜, "zhang wei", "zhang-wei").
pub fn fold_name(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !matches!(c, ' ' | '·' | '•' | '.' | '-' | '_' | '\'' | '・'))
        .collect()
}

pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2A6DF}')
}

/// The pinyin of a folded name without tones or spaces: 张伟 → `zhangwei`; latin letters stay
/// as they are, so a romanised name compares with the name in characters. The second value
/// holds the keys with the first character's other readings, for surnames read more than one
/// way (曾 zeng/ceng, 单 dan/shan/chan, 解 jie/xie).
pub fn pinyin_key(name: &str) -> (String, Vec<String>) {
    let mut key = String::with_capacity(name.len() * 3);
    let mut alt: Vec<String> = Vec::new();
    for (i, c) in name.chars().enumerate() {
        match c.to_pinyin() {
            Some(p) => {
                if i == 0
                    && let Some(multi) = c.to_pinyin_multi()
                {
                    let first = p.plain();
                    for other in multi.into_iter().map(|p| p.plain()) {
                        if other != first && !alt.iter().any(|a| a == other) {
                            alt.push(other.to_string());
                        }
                    }
                }
                key.push_str(p.plain());
            }
            None => {
                if c.is_ascii_alphanumeric() {
                    key.push(c);
                }
            }
        }
    }
    if alt.is_empty() {
        return (key, alt);
    }
    let rest: String = name
        .chars()
        .skip(1)
        .filter_map(|c| match c.to_pinyin() {
            Some(p) => Some(p.plain().to_string()),
            None => c.is_ascii_alphanumeric().then(|| c.to_string()),
        })
        .collect();
    let alt = alt
        .into_iter()
        .map(|first| format!("{first}{rest}"))
        .collect();
    (key, alt)
}

static LOOKALIKE: LazyLock<HashMap<char, char>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for line in include_str!("../data/lookalike.txt").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut chars = line.chars();
        if let Some(head) = chars.next() {
            map.insert(head, head);
            for c in chars {
                map.insert(c, head);
            }
        }
    }
    map
});

/// The name with each look-alike character replaced by its group's first character
/// (王/玉/主 → 王, 晴/睛 → 晴).
pub fn lookalike_key(name: &str) -> String {
    name.chars()
        .map(|c| LOOKALIKE.get(&c).copied().unwrap_or(c))
        .collect()
}

/// The digits of a value, for phone numbers and codes keyed with separators.
pub fn digits(s: &str) -> String {
    fold(s).chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_and_spaces() {
        assert_eq!(fold("  ＡＢＣ１２３　 x  "), "abc123 x");
        assert_eq!(fold_name("欧阳·娜娜"), "欧阳娜娜");
        assert_eq!(fold_name("Zhang  Wei"), "zhangwei");
    }

    #[test]
    fn pinyin_joins_characters_and_romanised_names() {
        assert_eq!(pinyin_key("张伟").0, "zhangwei");
        assert_eq!(pinyin_key("章伟").0, "zhangwei");
        assert_eq!(pinyin_key("zhangwei").0, "zhangwei");
        let (key, alt) = pinyin_key("单雄");
        assert!(
            key == "shanxiong" || alt.contains(&"shanxiong".to_string()),
            "{key} {alt:?}"
        );
    }

    #[test]
    fn lookalikes_share_a_key() {
        assert_eq!(lookalike_key("王晴"), lookalike_key("玉睛"));
        assert_ne!(lookalike_key("王晴"), lookalike_key("李晴"));
    }
}
