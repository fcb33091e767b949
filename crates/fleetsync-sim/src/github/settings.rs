//! Knobs and limits of the simulated GitHub (the `[sim.github]` table of a fleet config).
//! Defaults are GitHub's documented limits.

use serde::Deserialize;

/// Knobs of the simulated GitHub. Every limit is configurable; `0` disables a secondary limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubSimSettings {
    /// Organisations that exist (repo owners). Requests for others get 404.
    pub orgs: Vec<String>,
    /// Primary limit: requests per hour per identity (PAT or installation).
    pub primary_limit: u64,
    /// Secondary: concurrent requests per identity.
    pub max_concurrent: u32,
    /// Secondary: content-generating requests per minute (repo creation, commits, refs).
    pub content_writes_per_minute: u32,
    /// Secondary: content-generating requests per hour.
    pub content_writes_per_hour: u32,
    /// Secondary: points per minute per endpoint (GET 1, writes 5).
    pub points_per_minute: u32,
    /// Secondary: installation-token requests per hour per App (GitHub: 2,000).
    pub token_requests_per_hour: u32,
    /// Divides the secondary limits' windows (a minute, an hour) and the `retry-after` taken
    /// from them, so a run at GitHub's budgets fits a test or a benchmark; 1 is GitHub's time.
    pub time_scale: u32,
    /// Status of a secondary-limit answer: 403 (GitHub's usual) or 429.
    pub secondary_status: u16,
    /// Whether secondary-limit answers carry `retry-after` (GitHub sometimes omits it).
    pub send_retry_after: bool,
    /// Test knob: answer secondary limits with this `retry-after` instead of the time left in
    /// the window (lets a test see a real wait without sitting out a whole minute).
    pub retry_after_override: Option<u64>,
    /// Added latency per API request, in milliseconds.
    pub latency_ms: u64,
    /// Fraction (0..1) of API requests answered with a 502 before doing anything.
    pub error_rate: f64,
    /// Fraction (0..1) of API requests whose connection drops after the work was done
    /// (the response is lost: the client cannot tell whether a write happened).
    pub reset_rate: f64,
    /// Full outage: every API request gets 503.
    pub outage: bool,
    /// Fraction (0..1) of authenticated API requests answered, at random, with the
    /// secondary-limit answer (`secondary_status`, GitHub's body, and `retry-after` when
    /// `send_retry_after`), as GitHub does under load even below the documented limits.
    pub secondary_rate: f64,
    /// The `retry-after` (seconds) of those random secondary-limit answers.
    pub secondary_retry_after_secs: u64,
    /// Lifetime of installation tokens, in seconds (GitHub: one hour).
    pub installation_token_ttl_secs: u64,
    /// GitHub Apps that may mint installation tokens.
    pub apps: Vec<SimApp>,
    /// Repository custom properties the organisations define (`/orgs/{org}/properties/schema`);
    /// none by default, as on a new organisation.
    pub custom_properties: Vec<SimCustomProperty>,
    /// How many requests the request log keeps.
    pub log_capacity: usize,
    /// Seed for the simulator's randomness (error injection, key ids).
    pub seed: u64,
}

impl Default for GithubSimSettings {
    fn default() -> Self {
        GithubSimSettings {
            orgs: vec!["acme".into()],
            primary_limit: 5_000,
            max_concurrent: 100,
            content_writes_per_minute: 80,
            content_writes_per_hour: 500,
            points_per_minute: 900,
            token_requests_per_hour: 2_000,
            time_scale: 1,
            secondary_status: 403,
            send_retry_after: true,
            retry_after_override: None,
            latency_ms: 0,
            error_rate: 0.0,
            reset_rate: 0.0,
            outage: false,
            secondary_rate: 0.0,
            secondary_retry_after_secs: 1,
            installation_token_ttl_secs: 3_600,
            apps: Vec::new(),
            custom_properties: Vec::new(),
            log_capacity: 100_000,
            seed: 1,
        }
    }
}

/// A GitHub App installed on the simulated organisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimApp {
    /// The App id (the JWT's `iss`).
    pub app_id: u64,
    /// Its installation id.
    pub installation_id: u64,
    /// PEM of the App's RSA public key, used to verify the JWT.
    pub public_key_pem: String,
    /// Whether the installation has the Workflows permission.
    #[serde(default = "yes")]
    pub workflows: bool,
    /// Whether the installation has the organisation's "Custom properties" permission
    /// (write), needed to set values of properties only organisation actors may edit.
    #[serde(default = "yes")]
    pub custom_properties: bool,
}

/// A repository custom property defined by the organisation (GitHub's `custom-property`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimCustomProperty {
    pub property_name: String,
    /// `string`, `single_select`, `multi_select`, `true_false` or `url`.
    #[serde(default = "string_type")]
    pub value_type: String,
    /// A required property takes `default_value` when a repo is created without it.
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default_value: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The values a select property allows.
    #[serde(default)]
    pub allowed_values: Option<Vec<String>>,
    /// `org_actors` (only organisation owners and actors with the organisation's custom
    /// properties permission set values) or `org_and_repo_actors` (repo admins too).
    #[serde(default = "org_actors")]
    pub values_editable_by: String,
}

impl SimCustomProperty {
    /// A string property only organisation actors may set.
    pub fn org_string(name: &str) -> Self {
        SimCustomProperty {
            property_name: name.to_string(),
            value_type: string_type(),
            required: false,
            default_value: None,
            description: None,
            allowed_values: None,
            values_editable_by: org_actors(),
        }
    }
}

fn string_type() -> String {
    "string".into()
}

fn org_actors() -> String {
    "org_actors".into()
}

fn yes() -> bool {
    true
}

/// A personal access token the simulator accepts.
#[derive(Debug, Clone)]
pub struct SimToken {
    /// The token text.
    pub token: String,
    /// The user it belongs to.
    pub login: String,
    /// Whether it carries the `workflow` scope.
    pub workflows: bool,
    /// Whether its user may set values of custom properties only organisation actors may
    /// edit (an organisation owner, or a holder of the custom-properties role).
    pub custom_properties: bool,
}

impl SimToken {
    /// A PAT with every scope fleetsync needs.
    pub fn pat(token: impl Into<String>) -> Self {
        SimToken {
            token: token.into(),
            login: "fleet-bot".into(),
            workflows: true,
            custom_properties: true,
        }
    }
}
