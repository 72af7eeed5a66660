//! `str_enum!`: a closed enum with one stable text name per variant, used as the JSON value,
//! in messages and by `parse`, which refuses anything else.

/// Declares the enum with serde names equal to its text names, plus `ALL`, `as_str`, `parse`
/// (an unknown name is `InvalidArgument`, listing the known ones) and `Display`.
macro_rules! str_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> crate::Result<$name> {
                let s = s.trim();
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    crate::Error::invalid(format!(
                        "{} {s:?} is not one of {}",
                        $what,
                        known.join(", ")
                    ))
                })
            }
        }

        /// Compares with a text name, as tests and filters read it.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use str_enum;
