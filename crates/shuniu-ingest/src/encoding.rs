use serde::{Deserialize, Serialize};

/// The text encoding of a CSV or JSON file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// A UTF-8 byte-order mark or valid UTF-8 means UTF-8; anything else is read as
    /// GB18030, the superset of GBK and GB2312 that Chinese office software writes.
    #[default]
    Auto,
    #[serde(rename = "utf-8")]
    Utf8,
    /// Read with the GB18030 decoder: every GBK file is valid GB18030.
    Gbk,
    Gb18030,
}

impl std::str::FromStr for TextEncoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "auto" | "" => Ok(TextEncoding::Auto),
            "utf-8" | "utf8" => Ok(TextEncoding::Utf8),
            "gbk" | "gb2312" | "cp936" => Ok(TextEncoding::Gbk),
            "gb18030" => Ok(TextEncoding::Gb18030),
            other => Err(format!(
                "unknown encoding {other:?}: use auto, utf-8, gbk or gb18030"
            )),
        }
    }
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Auto => "auto",
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Gbk => "gbk",
            TextEncoding::Gb18030 => "gb18030",
        }
    }
}

/// Decides the encoding of a file from its first bytes. `complete` says the sample is the
/// whole file, so a multi-byte sequence cut at its end is an error rather than truncation.
pub fn detect_encoding(sample: &[u8], complete: bool) -> TextEncoding {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return TextEncoding::Utf8;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => TextEncoding::Utf8,
        // A sample cut inside a character is still UTF-8 if the cut is the only problem.
        Err(e) if !complete && e.error_len().is_none() && sample.len() - e.valid_up_to() < 4 => {
            TextEncoding::Utf8
        }
        Err(_) => TextEncoding::Gb18030,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_bom_utf8_and_gbk() {
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBFname\n", true),
            TextEncoding::Utf8
        );
        assert_eq!(
            detect_encoding("姓名,电话\n".as_bytes(), true),
            TextEncoding::Utf8
        );
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,电话\n张三,13800000000\n");
        assert_eq!(detect_encoding(&gbk, true), TextEncoding::Gb18030);
        // A UTF-8 sample cut in the middle of 张.
        let s = "abc张".as_bytes();
        assert_eq!(
            detect_encoding(&s[..s.len() - 1], false),
            TextEncoding::Utf8
        );
        assert_eq!(
            detect_encoding(&s[..s.len() - 1], true),
            TextEncoding::Gb18030
        );
    }
}
