//! GitHub Actions workflows rendered from templates, checked against GitHub's workflow schema
//! (SchemaStore's `github-workflow.json`, vendored in `schemas/` with its source and licence):
//! a template that renders an invalid workflow is a config error, before any repo gets it.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use std::sync::OnceLock;

/// The vendored schema (see `schemas/README.md` for its version and checksum).
const SCHEMA: &str = include_str!("schemas/github-workflow.json");

/// At most this many schema failures are listed per workflow (the first ones say enough).
const MAX_FAILURES: usize = 5;

/// At most this many characters of one failure (a `oneOf` failure quotes the whole value).
const MAX_FAILURE_LEN: usize = 300;

/// Whether a repo path is one GitHub runs as a workflow.
pub fn is_workflow_path(path: &str) -> bool {
    path.strip_prefix(".github/workflows/").is_some_and(|name| {
        !name.contains('/') && (name.ends_with(".yml") || name.ends_with(".yaml"))
    })
}

fn validator() -> Result<&'static Validator, String> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: serde_json::Value = serde_json::from_str(SCHEMA)
                .map_err(|e| format!("the vendored workflow schema is not JSON: {e}"))?;
            jsonschema::validator_for(&schema)
                .map_err(|e| format!("the vendored workflow schema does not compile: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Checks a rendered workflow: it must be YAML, and valid against GitHub's workflow schema.
/// The error lists the failures, each with the place in the document (a JSON pointer).
pub fn check_workflow(text: &str) -> Result<(), String> {
    let doc: serde_json::Value = serde_yaml_ng::from_str(text)
        .map_err(|e| format!("the rendered workflow is not valid YAML: {e}"))?;
    let failures: Vec<String> = validator()?
        .iter_errors(&doc)
        .flat_map(|e| leaves(&e))
        .take(MAX_FAILURES + 1)
        .map(|(place, message)| format!("at {place}: {}", clip(&message)))
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    let more = if failures.len() > MAX_FAILURES {
        "; …"
    } else {
        ""
    };
    let shown: Vec<&str> = failures
        .iter()
        .take(MAX_FAILURES)
        .map(String::as_str)
        .collect();
    Err(format!(
        "the rendered workflow does not match GitHub's workflow schema: {}{more}",
        shown.join("; ")
    ))
}

/// The failures to show for one schema error: for "none of the alternatives matched"
/// (`anyOf`, `oneOf`), the failures of the alternative that got furthest into the document
/// (the one the author most likely meant), so the message points at the offending value
/// rather than at its parent. Each is (JSON pointer, message).
fn leaves(e: &ValidationError<'_>) -> Vec<(String, String)> {
    let place = |e: &ValidationError<'_>| {
        let p = e.instance_path().to_string();
        if p.is_empty() {
            "/".to_string()
        } else {
            p
        }
    };
    let branches = match e.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            context
        }
        _ => return vec![(place(e), e.to_string())],
    };
    let depth = |branch: &Vec<ValidationError<'static>>| {
        let deepest = branch
            .iter()
            .map(|x| x.instance_path().to_string().matches('/').count())
            .max()
            .unwrap_or(0);
        (deepest, std::cmp::Reverse(branch.len()))
    };
    // On a tie, the first alternative (`max_by_key` keeps the last maximum, hence `rev`).
    let best = branches
        .iter()
        .rev()
        .filter(|b| !b.is_empty())
        .max_by_key(|b| depth(b));
    match best {
        Some(best) => best.iter().flat_map(|x| leaves(x)).collect(),
        None => vec![(place(e), e.to_string())],
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_FAILURE_LEN {
        return s.to_string();
    }
    let cut: String = s.chars().take(MAX_FAILURE_LEN).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_paths() {
        assert!(is_workflow_path(".github/workflows/pr.yml"));
        assert!(is_workflow_path(".github/workflows/a.yaml"));
        assert!(!is_workflow_path(".github/workflows/sub/a.yml"));
        assert!(!is_workflow_path(".github/dependabot.yml"));
        assert!(!is_workflow_path("tests.py"));
    }

    #[test]
    fn the_schema_compiles_and_tells_good_from_bad() {
        let good =
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";
        assert_eq!(check_workflow(good), Ok(()));
        // `runs-on` missing, a step with neither `run` nor `uses`, an unknown permission.
        let bad =
            "on: push\npermissions:\n  contents: reed\njobs:\n  a:\n    steps:\n      - name: x\n";
        let err = check_workflow(bad).unwrap_err();
        assert!(err.contains("GitHub's workflow schema"), "{err}");
        assert!(err.contains("at /"), "{err}");
        let not_yaml = check_workflow("on: [push\n").unwrap_err();
        assert!(not_yaml.contains("not valid YAML"), "{not_yaml}");
    }
}
