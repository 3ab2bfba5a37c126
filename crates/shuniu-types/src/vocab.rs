//! Closed vocabularies (share attribute, update cycle, …): each term has a stable code used
//! in the API and storage, a Chinese label used by departments (and in their Excel sheets),
//! and an English label. Parsing accepts the code or either label.

/// What every vocabulary offers generically (pages build filters and labels from it).
pub trait Vocabulary: Copy + 'static {
    fn all() -> &'static [Self];
    fn code(self) -> &'static str;
    fn zh(self) -> &'static str;
    fn en(self) -> &'static str;
}

/// Declares a vocabulary enum with its codes and labels.
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, $field_code:literal {
            $($(#[$vmeta:meta])* $variant:ident = ($code:literal, $zh:literal, $en:literal)),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
            pub fn zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }
            pub fn en(self) -> &'static str {
                match self { $($name::$variant => $en),+ }
            }
            /// Accepts the code, the Chinese label or the English label.
            pub fn parse_term(s: &str) -> Option<$name> {
                let s = s.trim();
                $name::ALL.iter().copied().find(|v| {
                    v.code() == s || v.zh() == s || v.en().eq_ignore_ascii_case(s)
                })
            }
            /// Parses `s` for the named field, with a bilingual error listing the choices.
            pub fn parse_field(field: &str, s: &str) -> Result<$name, $crate::FieldError> {
                $name::parse_term(s).ok_or_else(|| {
                    let zh: Vec<&str> = $name::ALL.iter().map(|v| v.zh()).collect();
                    let en: Vec<&str> = $name::ALL.iter().map(|v| v.code()).collect();
                    $crate::FieldError::new(
                        field,
                        $field_code,
                        format!("“{}”不是有效取值，可选：{}", s, zh.join("、")),
                        format!("“{}” is not a valid value; choose one of: {}", s, en.join(", ")),
                    )
                })
            }
        }

        impl $crate::Vocabulary for $name {
            fn all() -> &'static [$name] {
                $name::ALL
            }
            fn code(self) -> &'static str {
                $name::code(self)
            }
            fn zh(self) -> &'static str {
                $name::zh(self)
            }
            fn en(self) -> &'static str {
                $name::en(self)
            }
        }

        // Written by hand: the derive cannot read serde renames that arrive as macro fragments.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let labels: Vec<String> = $name::ALL.iter().map(|v| format!("`{}` {} ({})", v.code(), v.zh(), v.en())).collect();
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($code),+]))
                    .description(Some(labels.join("; ")))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::FieldError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse_field("", s)
            }
        }
    };
}
