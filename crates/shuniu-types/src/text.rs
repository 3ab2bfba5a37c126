//! Length rules for text fields. Lengths are counted in characters, not bytes: a Chinese
//! name of 50 characters is 150 bytes of UTF-8 and must still fit a 50-character field.

use crate::FieldError;

/// Trims `value` and checks it is non-empty (when `required`) and at most `max` characters.
pub fn bounded(field: &str, value: &str, required: bool, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(FieldError::new(
            field,
            "FIELD_REQUIRED",
            "必填项不能为空",
            "this field is required",
        ));
    }
    let n = v.chars().count();
    if n > max {
        return Err(FieldError::new(
            field,
            "FIELD_TOO_LONG",
            format!("长度为 {n} 个字符，超过上限 {max}"),
            format!("{n} characters, more than the limit of {max}"),
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(
            field,
            "FIELD_CONTROL_CHARACTER",
            "包含不可见控制字符",
            "contains a control character",
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        let name = "人".repeat(50);
        assert!(bounded("name", &name, true, 50).is_ok());
        let e = bounded("name", &"人".repeat(51), true, 50).unwrap_err();
        assert_eq!(e.code, "FIELD_TOO_LONG");
        assert_eq!(e.field, "name");
    }

    #[test]
    fn required_is_trimmed() {
        assert_eq!(
            bounded("x", "   ", true, 5).unwrap_err().code,
            "FIELD_REQUIRED"
        );
        assert_eq!(bounded("x", "", false, 5).unwrap(), "");
        assert_eq!(bounded("x", " a ", true, 5).unwrap(), "a");
        assert_eq!(
            bounded("x", "a\u{0}b", true, 5).unwrap_err().code,
            "FIELD_CONTROL_CHARACTER"
        );
    }
}
