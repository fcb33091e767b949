//! Secret sources. A secret's value is read from an environment variable or a file, never
//! written inline in the config. Values are wrapped in [`SecretValue`], whose `Debug` and
//! `Display` never show the value.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a secret's value comes from. Both forms may use template syntax for per-project
/// values, e.g. `{ env = "DSS_TOKEN_{{ project.key }}" }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// The value of an environment variable.
    Env(String),
    /// The contents of a file (one trailing newline is removed). Relative paths are relative
    /// to the config file's folder.
    File(PathBuf),
}

const SOURCE_HELP: &str =
    "a secret is written as { env = \"VARIABLE\" } or { file = \"PATH\" }; its value is never written in the config";

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretSource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SOURCE_HELP)
            }
            // Any non-table value may be a pasted secret: never echo it back.
            fn visit_str<E: de::Error>(self, _v: &str) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_i64<E: de::Error>(self, _v: i64) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_u64<E: de::Error>(self, _v: u64) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_f64<E: de::Error>(self, _v: f64) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_bool<E: de::Error>(self, _v: bool) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let (source, scope) = source_table(map, false)?;
                debug_assert!(scope.is_none());
                Ok(source)
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a secret's table: `env` or `file`, and (`with_scope`) an optional `scope`.
fn source_table<'de, A: MapAccess<'de>>(
    mut map: A,
    with_scope: bool,
) -> Result<(SecretSource, Option<super::schema::ValueScope>), A::Error> {
    let mut found: Option<SecretSource> = None;
    let mut scope = None;
    while let Some(key) = map.next_key::<String>()? {
        let src = match key.as_str() {
            "env" => SecretSource::Env(map.next_value::<String>()?),
            "file" => SecretSource::File(map.next_value::<PathBuf>()?),
            "scope" if with_scope => {
                scope = Some(map.next_value::<super::schema::ValueScope>()?);
                continue;
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown key `{other}`: {SOURCE_HELP}"
                )))
            }
        };
        if found.is_some() {
            return Err(de::Error::custom(format!(
                "give one of `env` or `file`, not both: {SOURCE_HELP}"
            )));
        }
        found = Some(src);
    }
    let source = found.ok_or_else(|| de::Error::custom(SOURCE_HELP))?;
    Ok((source, scope))
}

/// An Actions secret of `[repo.secrets]`: its source and where it lives
/// (`{ env = "X", scope = "org" }` for one org-level secret shared by the fleet).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretConfig {
    /// Where the value comes from.
    pub source: SecretSource,
    /// `repo` (one per repo, the default) or `org`.
    pub scope: super::schema::ValueScope,
}

impl<'de> Deserialize<'de> for SecretConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SOURCE_HELP)
            }
            // Any non-table value may be a pasted secret: never echo it back.
            fn visit_str<E: de::Error>(self, _v: &str) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_i64<E: de::Error>(self, _v: i64) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_u64<E: de::Error>(self, _v: u64) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_f64<E: de::Error>(self, _v: f64) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_bool<E: de::Error>(self, _v: bool) -> Result<Self::Value, E> {
                Err(E::custom(SOURCE_HELP))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let (source, scope) = source_table(map, true)?;
                Ok(SecretConfig {
                    source,
                    scope: scope.unwrap_or_default(),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl SecretSource {
    /// A description safe to log and show in plans: `env:NAME` or `file:/path`.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(name) => format!("env:{name}"),
            SecretSource::File(path) => format!("file:{}", path.display()),
        }
    }

    /// The template text of the variable name or path.
    pub fn template_text(&self) -> String {
        match self {
            SecretSource::Env(name) => name.clone(),
            SecretSource::File(path) => path.display().to_string(),
        }
    }

    /// A copy whose name or path is `rendered` (the output of the source's template).
    pub fn with_rendered(&self, rendered: String) -> SecretSource {
        match self {
            SecretSource::Env(_) => SecretSource::Env(rendered),
            SecretSource::File(_) => SecretSource::File(PathBuf::from(rendered)),
        }
    }

    /// Reads the value. `base` is the config file's folder, for relative paths.
    pub fn read(&self, base: &Path) -> Result<SecretValue, SecretError> {
        match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) => checked(v, self.describe()),
                Err(_) => Err(SecretError::MissingEnv(name.clone())),
            },
            SecretSource::File(path) => {
                let full = if path.is_absolute() {
                    path.clone()
                } else {
                    base.join(path)
                };
                let text = std::fs::read_to_string(&full).map_err(|e| SecretError::File {
                    path: full.clone(),
                    reason: e.to_string(),
                })?;
                let text = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text)
                    .to_string();
                checked(text, format!("file:{}", full.display()))
            }
        }
    }

    /// A warning when the source is a file that every user on the machine may read.
    pub fn permission_warning(&self, base: &Path) -> Option<String> {
        let SecretSource::File(path) = self else {
            return None;
        };
        let full = if path.is_absolute() {
            path.clone()
        } else {
            base.join(path)
        };
        world_readable_warning(&full)
    }
}

/// A value read from a source: empty or whitespace-only is an error (a blank file or
/// variable is a mistake, never a token worth sending to GitHub).
fn checked(value: String, source: String) -> Result<SecretValue, SecretError> {
    if value.is_empty() {
        Err(SecretError::Empty(source))
    } else if value.trim().is_empty() {
        Err(SecretError::Blank(source))
    } else {
        Ok(SecretValue::new(value))
    }
}

#[cfg(unix)]
fn world_readable_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.permissions().mode();
    if mode & 0o004 != 0 {
        Some(format!(
            "secret file {} is readable by every user (mode {:o}); run `chmod o-r {}`",
            path.display(),
            mode & 0o777,
            path.display()
        ))
    } else {
        None
    }
}

#[cfg(not(unix))]
fn world_readable_warning(_path: &Path) -> Option<String> {
    None
}

/// Why a secret could not be read. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The source exists but is empty.
    #[error("secret source {0} is empty")]
    Empty(String),
    /// The source holds only whitespace.
    #[error("secret source {0} holds only whitespace")]
    Blank(String),
    /// The file could not be read.
    #[error("cannot read secret file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
}

/// A secret value. Its `Debug` and `Display` print `[redacted]`; use [`SecretValue::expose`]
/// only where the value must go on the wire (sealing, an auth header).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The value itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_never_printed() {
        let v = SecretValue::new("canary-4242");
        assert!(!format!("{v:?}").contains("canary"));
        assert!(!format!("{v}").contains("canary"));
        assert_eq!(v.expose(), "canary-4242");
    }

    #[test]
    fn file_source_strips_one_newline_and_warns_when_world_readable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "abc\n").unwrap();
        let src = SecretSource::File(PathBuf::from("tok"));
        assert_eq!(src.read(dir.path()).unwrap().expose(), "abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(src.permission_warning(dir.path()).is_some());
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(src.permission_warning(dir.path()).is_none());
        }
    }

    #[test]
    fn empty_and_whitespace_only_sources_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let src = SecretSource::File(PathBuf::from("tok"));
        for (text, blank) in [
            ("", false),
            ("\n", false),
            ("  \n", true),
            ("\t \r\n", true),
        ] {
            std::fs::write(dir.path().join("tok"), text).unwrap();
            let err = src.read(dir.path()).unwrap_err();
            assert_eq!(
                matches!(err, SecretError::Blank(_)),
                blank,
                "{text:?}: {err}"
            );
            assert!(err.to_string().contains("tok"), "{err}");
        }
        std::fs::write(dir.path().join("tok"), " a \n").unwrap();
        assert_eq!(src.read(dir.path()).unwrap().expose(), " a ");
    }

    #[test]
    fn missing_env_names_the_variable() {
        let src = SecretSource::Env("FLEETSYNC_TEST_SURELY_UNSET_VAR".into());
        let err = src.read(Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("FLEETSYNC_TEST_SURELY_UNSET_VAR"));
    }
}
