//! The `[repo]` tables of a GitOps fleet config (the Dataiku GitOps workflows, 4 secrets read
//! from files, 6 variables, protection on `prod`) for configs that point at the simulator:
//! shared by the tests, `bench` and `chaos` through [`crate::fleet`].

/// The tables, with the workflow templates under `templates` (empty: the config's folder)
/// and the secret files `dev-token`, `staging-token`, `prod-token`, `client-cert` beside the
/// config.
pub fn repo_tables(dss_url: &str, templates: &str) -> String {
    let t = if templates.is_empty() {
        String::new()
    } else {
        format!("{}/", templates.trim_end_matches('/'))
    };
    format!(
        r#"
[repo]
branches = ["prod"]
topics = ["dataiku", "gitops"]

[repo.files]
".github/workflows/pr.yml" = {{ template = "{t}pr.yml" }}
".github/workflows/release.yml" = {{ template = "{t}release.yml" }}

[repo.variables]
DATAIKU_INSTANCE_DEV_URL = "{dss_url}"
DATAIKU_INSTANCE_STAGING_URL = "https://dss-staging.example.com"
DATAIKU_INSTANCE_PROD_URL = "https://dss-prod.example.com"
DATAIKU_PROJECT_KEY = "{{{{ key }}}}"
DATAIKU_INFRA_ID_STAGING = "staging-automation"
DATAIKU_INFRA_ID_PROD = "prod-automation"

[repo.secrets]
DATAIKU_INSTANCE_DEV_CI_API_TOKEN = {{ file = "dev-token" }}
DATAIKU_INSTANCE_STAGING_CI_API_TOKEN = {{ file = "staging-token" }}
DATAIKU_INSTANCE_PROD_CI_API_TOKEN = {{ file = "prod-token" }}
CLIENT_CERTIFICATE = {{ file = "client-cert" }}

[repo.protection.prod]
required_approving_review_count = 1
dismiss_stale_reviews = true
required_status_checks = ["dataiku-gitops"]
enforce_admins = true
"#
    )
}
