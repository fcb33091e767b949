//! Parsing a config file into [`RawConfig`] while reporting every schema error, not only the
//! first: serde stops at the first unknown key or bad value, so after each such error the
//! offending `key = value` entry is blanked out (byte offsets and line breaks kept, so later
//! positions stay right) and the parse is retried. TOML syntax errors are all reported at once.

use super::error::ConfigError;
use super::schema::RawConfig;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// At most this many schema errors are collected from one file.
const MAX_ERRORS: usize = 50;

/// What parsing gave: the config (when the blanked text parsed), the text it parsed (the
/// original with bad entries blanked out), and the errors found on the way.
pub(super) struct Parsed {
    pub raw: Option<RawConfig>,
    pub text: String,
    pub errors: Vec<ConfigError>,
}

/// `key_at(source, offset)`: the dotted key at a byte offset, for error messages.
pub(super) type KeyAt = fn(&str, usize) -> Option<String>;

/// Parses `source`, collecting every schema error (see the module doc).
pub(super) fn parse_all(path: &Path, source: &str, key_at: KeyAt) -> Parsed {
    let mut text = source.to_string();
    let mut errors: Vec<ConfigError> = Vec::new();
    let mut blanked: Vec<String> = Vec::new();
    loop {
        let e = match toml::from_str::<RawConfig>(&text) {
            Ok(raw) => {
                return Parsed {
                    raw: Some(raw),
                    text,
                    errors,
                }
            }
            Err(e) => e,
        };
        let (_, syntax) = DeTable::parse_recoverable(&text);
        if !syntax.is_empty() {
            for s in syntax {
                errors.push(at(path, source, &s, key_at));
            }
            break;
        }
        let message = e.message().trim().to_string();
        if blanked
            .iter()
            .any(|k| message.starts_with(&format!("missing field `{k}`")))
        {
            // The field was required and its (bad) entry was blanked: already reported.
            break;
        }
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        errors.push(at(path, source, &e, key_at));
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let Some((key, span)) = entry_at(&text, offset) else {
            // A whole-table problem (a missing field): nothing narrower to set aside.
            break;
        };
        blank(&mut text, span);
        blanked.push(key);
    }
    Parsed {
        raw: None,
        text,
        errors,
    }
}

fn at(path: &Path, source: &str, e: &toml::de::Error, key_at: KeyAt) -> ConfigError {
    let offset = e.span().map(|s| s.start).unwrap_or(0);
    ConfigError::at_offset(
        path,
        source,
        offset,
        key_at(source, offset),
        e.message().trim().to_string(),
    )
}

/// The innermost `key = value` entry holding `offset` (not a `[table]`): its key's name and
/// the span from the key to the end of the value.
fn entry_at(text: &str, offset: usize) -> Option<(String, Range<usize>)> {
    let doc = DeTable::parse(text).ok()?;
    in_table(text, doc.get_ref(), offset)
}

fn in_table(text: &str, t: &DeTable<'_>, offset: usize) -> Option<(String, Range<usize>)> {
    for (k, v) in t.iter() {
        // A `[table]`'s span is its header only: its entries are searched whatever it says.
        if let Some(found) = in_value(text, v, offset) {
            return Some(found);
        }
        let (ks, vs) = (k.span(), v.span());
        let header = matches!(v.get_ref(), DeValue::Table(_))
            && !text.get(vs.start..).is_some_and(|s| s.starts_with('{'));
        let entry = ks.start..vs.end.max(ks.end);
        if !header && ks.start <= vs.start && entry.contains(&offset) {
            return Some((k.get_ref().to_string(), entry));
        }
    }
    None
}

fn in_value(text: &str, v: &Spanned<DeValue<'_>>, offset: usize) -> Option<(String, Range<usize>)> {
    match v.get_ref() {
        DeValue::Table(t) => in_table(text, t, offset),
        DeValue::Array(items) => items.iter().find_map(|i| match i.get_ref() {
            DeValue::Table(t) => in_table(text, t, offset),
            _ => None,
        }),
        _ => None,
    }
}

/// Replaces every character of `span` but line breaks with spaces.
fn blank(text: &mut String, span: Range<usize>) {
    let Some(part) = text.get(span.clone()) else {
        return;
    };
    let spaced: String = part
        .chars()
        .map(|c| if c == '\n' || c == '\r' { c } else { ' ' })
        .collect();
    // Multi-byte characters become several spaces' worth of bytes, so offsets stay put.
    let spaced: String = spaced
        .chars()
        .zip(part.chars())
        .map(|(s, orig)| {
            if s == ' ' {
                " ".repeat(orig.len_utf8())
            } else {
                s.to_string()
            }
        })
        .collect();
    text.replace_range(span, &spaced);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_keeps_offsets_and_line_breaks() {
        let mut s = "a = \"é\"\nb = 1\n".to_string();
        let len = s.len();
        blank(&mut s, 0..8);
        assert_eq!(s.len(), len);
        assert!(s.starts_with("        \nb = 1"), "{s:?}");
    }

    #[test]
    fn finds_the_entry_under_an_offset_but_never_a_table() {
        let text = "[github]\nownr = \"x\"\nauth = { pat = { env = \"A\" } }\n";
        let off = text.find("ownr").unwrap();
        let (k, span) = entry_at(text, off).unwrap();
        assert_eq!(k, "ownr");
        assert_eq!(&text[span], "ownr = \"x\"");
        assert!(
            entry_at(text, 0).is_none(),
            "the [github] header is not an entry"
        );
        let off = text.find("{ env").unwrap();
        let (k, _) = entry_at(text, off).unwrap();
        assert_eq!(k, "pat");
    }
}
