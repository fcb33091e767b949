//! The `[repo]` tables of a GitOps fleet config (the Dataiku GitOps workflows, 4 secrets read
//! from files, 6 variables, protection on `prod`) for configs that point at the simulator:
//! shared by the tests, `bench` and `chaos` through [`crate::fleet`].

/// The tables, with the workflow templates under `templates` (empty: the config's folder)
/// and the secret files `dev-token`, `staging-token`, `prod-token`, `client-cert` beside the
/// config.
pub fn repo_tables(dss_url: &str, templates: &str) -> String {
    repo_tables_scoped(dss_url, templates, false)
}

/// The same tables; with `org`, the recommended fleet layout: the 4 secrets and the 5
/// variables that hold one value for the fleet are org-scoped (`scope = "org"`), only
/// `DATAIKU_PROJECT_KEY` stays per repo.
pub fn repo_tables_scoped(dss_url: &str, templates: &str, org: bool) -> String {
    let scoped = |v: &str| match org {
        true => format!("{{ value = \"{v}\", scope = \"org\" }}"),
        false => format!("\"{v}\""),
    };
    let secret = |file: &str| match org {
        true => format!("{{ file = \"{file}\", scope = \"org\" }}"),
        false => format!("{{ file = \"{file}\" }}"),
    };
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
DATAIKU_INSTANCE_DEV_URL = {dev_url}
DATAIKU_INSTANCE_STAGING_URL = {staging_url}
DATAIKU_INSTANCE_PROD_URL = {prod_url}
DATAIKU_PROJECT_KEY = "{{{{ key }}}}"
DATAIKU_INFRA_ID_STAGING = {infra_staging}
DATAIKU_INFRA_ID_PROD = {infra_prod}

[repo.secrets]
DATAIKU_INSTANCE_DEV_CI_API_TOKEN = {dev_token}
DATAIKU_INSTANCE_STAGING_CI_API_TOKEN = {staging_token}
DATAIKU_INSTANCE_PROD_CI_API_TOKEN = {prod_token}
CLIENT_CERTIFICATE = {client_cert}

[repo.protection.prod]
required_approving_review_count = 1
dismiss_stale_reviews = true
required_status_checks = ["dataiku-gitops"]
enforce_admins = true
"#,
        dev_url = scoped(dss_url),
        staging_url = scoped("https://dss-staging.example.com"),
        prod_url = scoped("https://dss-prod.example.com"),
        infra_staging = scoped("staging-automation"),
        infra_prod = scoped("prod-automation"),
        dev_token = secret("dev-token"),
        staging_token = secret("staging-token"),
        prod_token = secret("prod-token"),
        client_cert = secret("client-cert"),
    )
}
