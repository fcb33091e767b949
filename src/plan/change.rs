//! What a step changes, before → after: field by field for settings (a variable's value,
//! each protection setting, a repo's description), a unified diff for files, and for secrets
//! only that the value changes and where it comes from (never a value or a hash of one).
//! Also the fingerprint of the observed state a step depends on, which a saved plan keeps.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One field of a resource, before and after the step (`None`: absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// What becomes of a secret: never its value, only the kind of change and the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretChangeKind {
    /// Not on GitHub yet.
    New,
    /// The source value changed since fleetsync's last write.
    ValueChanged,
    /// Written on GitHub after fleetsync's last write: fleetsync's value goes back.
    ChangedOnGithub,
    /// On GitHub without a record of fleetsync writing it: fleetsync's value is written.
    Unverified,
    /// The repo's own copy is deleted.
    Deleted,
}

impl SecretChangeKind {
    pub fn describe(self) -> &'static str {
        match self {
            SecretChangeKind::New => "(new)",
            SecretChangeKind::ValueChanged => "(value changed)",
            SecretChangeKind::ChangedOnGithub => "(value changed on GitHub; set again)",
            SecretChangeKind::Unverified => "(value not known to fleetsync; set again)",
            SecretChangeKind::Deleted => "(deleted)",
        }
    }
}

/// A secret's change: what, from which source (`env:NAME`, `file:PATH`), and GitHub's
/// `updated_at` of the secret as observed (not secret; a saved plan depends on it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretChange {
    pub change: SecretChangeKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub github_updated_at: Option<String>,
}

/// One file, before → after: its blob SHAs and a unified diff when both sides are text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDiff {
    pub path: String,
    /// `None`: a new file.
    pub before_sha: Option<String>,
    pub after_sha: String,
    /// The unified diff (`--- a/PATH`, `+++ b/PATH`, hunks); `None` with `note` saying why.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unified: Option<String>,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// Why there is no diff (binary content, the current content was not read).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// What a step changes. Empty for steps that only act (a push, a pull).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub fields: Vec<FieldChange>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret: Option<SecretChange>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub files: Vec<FileDiff>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.secret.is_none() && self.files.is_empty()
    }

    /// One field, `before → after`.
    pub fn field(name: &str, before: Option<Value>, after: Option<Value>) -> Change {
        Change {
            fields: vec![FieldChange {
                field: name.to_string(),
                before,
                after,
            }],
            ..Default::default()
        }
    }

    /// The fields of two JSON objects that differ (every field of `after` when there is no
    /// `before`), in the object's order.
    pub fn of_objects(before: Option<&Value>, after: &Value) -> Change {
        let empty = serde_json::Map::new();
        let a = after.as_object().unwrap_or(&empty);
        let b = before.and_then(Value::as_object);
        let fields = a
            .iter()
            .filter_map(|(k, v)| {
                let old = b.and_then(|m| m.get(k));
                (old != Some(v)).then(|| FieldChange {
                    field: k.clone(),
                    before: old.cloned(),
                    after: Some(v.clone()),
                })
            })
            .collect();
        Change {
            fields,
            ..Default::default()
        }
    }

    /// A secret's change.
    pub fn secret(
        change: SecretChangeKind,
        source: Option<String>,
        github_updated_at: Option<String>,
    ) -> Change {
        Change {
            secret: Some(SecretChange {
                change,
                source,
                github_updated_at,
            }),
            ..Default::default()
        }
    }

    /// The desired side only: the fields' `after`, the secret's kind of change and source,
    /// the files' new blob SHAs (no diff text, which only a plan that read the files has).
    pub fn desired(&self) -> Value {
        serde_json::json!({
            "fields": self.fields.iter().map(|f| (f.field.clone(), f.after.clone())).collect::<Vec<_>>(),
            "secret": self.secret.as_ref().map(|s| (s.change, s.source.clone())),
            "files": self.files.iter().map(|f| (f.path.clone(), f.after_sha.clone())).collect::<Vec<_>>(),
        })
    }

    /// The observed side only (what GitHub holds as the plan saw it): the fields' `before`,
    /// the secret's `updated_at`, the files' current blob SHAs. Never a secret value (a
    /// plan holds none).
    pub fn observed(&self) -> Value {
        serde_json::json!({
            "fields": self.fields.iter().map(|f| (f.field.clone(), f.before.clone())).collect::<Vec<_>>(),
            "secret_updated_at": self.secret.as_ref().and_then(|s| s.github_updated_at.clone()),
            "files": self.files.iter().map(|f| (f.path.clone(), f.before_sha.clone())).collect::<Vec<_>>(),
        })
    }
}

/// A unified diff of `before` (`None`: a new file) and `after`, with the counts of lines
/// added and removed; `None` when either side is not UTF-8 text.
pub fn unified_diff(
    path: &str,
    before: Option<&[u8]>,
    after: &[u8],
) -> Option<(String, usize, usize)> {
    let old = std::str::from_utf8(before.unwrap_or_default()).ok()?;
    let new = std::str::from_utf8(after).ok()?;
    let diff = similar::TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for c in diff.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let from = if before.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_string()
    };
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("b/{path}"))
        .to_string();
    Some((text, added, removed))
}

/// A file's before → after, diffed when the current content is known.
pub fn file_diff(
    path: &str,
    before_sha: Option<&str>,
    before: Option<&[u8]>,
    after_sha: &str,
    after: &[u8],
) -> FileDiff {
    let mut d = FileDiff {
        path: path.to_string(),
        before_sha: before_sha.map(str::to_string),
        after_sha: after_sha.to_string(),
        unified: None,
        lines_added: 0,
        lines_removed: 0,
        note: None,
    };
    if before_sha.is_some() && before.is_none() {
        d.note = Some("the current content was not read".into());
        return d;
    }
    match unified_diff(path, before, after) {
        Some((text, added, removed)) => {
            d.unified = Some(text);
            d.lines_added = added;
            d.lines_removed = removed;
        }
        None => d.note = Some("binary content".into()),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unified_diff_shows_the_changed_lines_with_headers() {
        let Some((text, added, removed)) =
            unified_diff("a.yml", Some(b"one\ntwo\nthree\n"), b"one\n2\nthree\n")
        else {
            panic!("text files diff");
        };
        assert!(text.contains("--- a/a.yml"), "{text}");
        assert!(text.contains("+++ b/a.yml"), "{text}");
        assert!(text.contains("-two\n") && text.contains("+2\n"), "{text}");
        assert_eq!((added, removed), (1, 1));
        assert!(unified_diff("b", Some(&[0xff, 0xfe]), b"x").is_none());
    }

    #[test]
    fn objects_differ_field_by_field() {
        let before = serde_json::json!({"a": 2, "b": true, "c": ["x"]});
        let after = serde_json::json!({"a": 1, "b": true, "c": ["x", "y"]});
        let c = Change::of_objects(Some(&before), &after);
        let names: Vec<&str> = c.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(c.fields[0].before, Some(serde_json::json!(2)));
        assert_eq!(c.fields[0].after, Some(serde_json::json!(1)));
    }
}
