//! The GitHub REST routes fleetsync calls, as GitHub's REST description names them. Each call
//! names its route by one of these constants: the route drives pacing (which budget a
//! request draws on), idempotency and the request metrics, so a typo cannot silently
//! change a write's class.

/// Create (POST) and list (GET) an organisation's repos.
pub const ORG_REPOS: &str = "/orgs/{org}/repos";
/// One custom property the organisation defines.
pub const PROPERTY_SCHEMA: &str = "/orgs/{org}/properties/schema/{custom_property_name}";
/// A repo's custom property values (PATCH sets them).
pub const PROPERTY_VALUES: &str = "/repos/{owner}/{repo}/properties/values";
/// Get, update (PATCH) and delete a repo.
pub const REPO: &str = "/repos/{owner}/{repo}";
/// Get and replace a repo's topics.
pub const TOPICS: &str = "/repos/{owner}/{repo}/topics";
/// Read or write one file (PUT creates a commit: content-generating).
pub const CONTENTS: &str = "/repos/{owner}/{repo}/contents/{path}";
/// Create a ref (a branch).
pub const GIT_REFS: &str = "/repos/{owner}/{repo}/git/refs";
/// Read one ref.
pub const GIT_REF: &str = "/repos/{owner}/{repo}/git/ref/{ref}";
/// Move a branch (PATCH).
pub const GIT_BRANCH_REF: &str = "/repos/{owner}/{repo}/git/refs/heads/{branch}";
/// Create a tree.
pub const GIT_TREES: &str = "/repos/{owner}/{repo}/git/trees";
/// Read a tree (recursive).
pub const GIT_TREE: &str = "/repos/{owner}/{repo}/git/trees/{tree_sha}";
/// Create a commit (content-generating).
pub const GIT_COMMITS: &str = "/repos/{owner}/{repo}/git/commits";
/// Create a blob.
pub const GIT_BLOBS: &str = "/repos/{owner}/{repo}/git/blobs";
/// List and create Actions variables.
pub const VARIABLES: &str = "/repos/{owner}/{repo}/actions/variables";
/// Update (PATCH) one Actions variable.
pub const VARIABLE: &str = "/repos/{owner}/{repo}/actions/variables/{name}";
/// List Actions secrets (names and dates only).
pub const SECRETS: &str = "/repos/{owner}/{repo}/actions/secrets";
/// The repo's public key that secrets are sealed with.
pub const SECRETS_PUBLIC_KEY: &str = "/repos/{owner}/{repo}/actions/secrets/public-key";
/// Create or update (PUT) one sealed Actions secret.
pub const SECRET: &str = "/repos/{owner}/{repo}/actions/secrets/{secret_name}";
/// Get and replace a branch's protection.
pub const PROTECTION: &str = "/repos/{owner}/{repo}/branches/{branch}/protection";
/// Mint an installation token (App JWT).
pub const ACCESS_TOKENS: &str = "/app/installations/{installation_id}/access_tokens";
/// List and create pull requests.
pub const PULLS: &str = "/repos/{owner}/{repo}/pulls";
/// Get and update one pull request.
pub const PULL: &str = "/repos/{owner}/{repo}/pulls/{pull_number}";
/// One branch, with its head commit and that commit's tree.
pub const BRANCH: &str = "/repos/{owner}/{repo}/branches/{branch}";
/// List an organisation's Actions secrets.
pub const ORG_SECRETS: &str = "/orgs/{org}/actions/secrets";
/// The organisation's public key that org secrets are sealed with.
pub const ORG_SECRETS_PUBLIC_KEY: &str = "/orgs/{org}/actions/secrets/public-key";
/// Create or update (PUT) one sealed org secret, with its visibility and selection.
pub const ORG_SECRET: &str = "/orgs/{org}/actions/secrets/{secret_name}";
/// List (GET) or replace (PUT) the repositories an org secret is selected for.
pub const ORG_SECRET_REPOS: &str = "/orgs/{org}/actions/secrets/{secret_name}/repositories";
/// List and create an organisation's Actions variables.
pub const ORG_VARIABLES: &str = "/orgs/{org}/actions/variables";
/// Update (PATCH) one org variable, with its visibility and selection.
pub const ORG_VARIABLE: &str = "/orgs/{org}/actions/variables/{name}";
/// List (GET) or replace (PUT) the repositories an org variable is selected for.
pub const ORG_VARIABLE_REPOS: &str = "/orgs/{org}/actions/variables/{name}/repositories";
