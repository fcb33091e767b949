//! The baseline of scenario 3: the same no-op refresh done per resource, the way a
//! Terraform/Pulumi refresh reads a repo: `GET` the repo, its branch and the branch's
//! protection, one `GET` per Actions secret and per variable, and two per managed file (the
//! branch check and the contents read of `github_repository_file`). No ETags, so every
//! request is charged. Implemented here only, with fleetsync's transport (same pacing and
//! connection pool), to compare request counts and primary-limit points side by side.

use fleetsync::config::{Config, Scope, SecretValue};
use fleetsync::github::{GithubAuthSecret, GithubClient, GithubOptions};
use futures::StreamExt;
use http::Method;

/// One per-resource read.
struct Read {
    route: &'static str,
    path: String,
}

const BRANCH: &str = "/repos/{owner}/{repo}/branches/{branch}";

fn reads_of(config: &Config, full_name: &str, scope: Scope) -> Vec<Read> {
    // A plugin repo holds `[plugin_repo]`'s resources, not `[repo]`'s.
    let repo = config.contents(scope);
    let read = |route: &'static str, tail: String| Read {
        route,
        path: format!("/repos/{full_name}{tail}"),
    };
    let mut v = vec![read("/repos/{owner}/{repo}", String::new())];
    v.extend(
        repo.branches
            .iter()
            .map(|b| read(BRANCH, format!("/branches/{b}"))),
    );
    v.extend(repo.protection.keys().map(|b| {
        read(
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            format!("/branches/{b}/protection"),
        )
    }));
    v.extend(repo.secrets.keys().map(|s| {
        read(
            "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
            format!("/actions/secrets/{s}"),
        )
    }));
    v.extend(repo.variables.keys().map(|name| {
        read(
            "/repos/{owner}/{repo}/actions/variables/{name}",
            format!("/actions/variables/{name}"),
        )
    }));
    for f in repo.files.keys() {
        v.push(read(BRANCH, "/branches/main".into()));
        v.push(read(
            "/repos/{owner}/{repo}/contents/{path}",
            format!("/contents/{f}?ref=main"),
        ));
    }
    v
}

/// What the baseline refresh did.
#[derive(Debug, Clone, Default)]
pub struct BaselineRun {
    pub requests: u64,
    pub failed: u64,
    pub seconds: f64,
}

/// Reads every resource of `repos` (full names, with the contents table each follows),
/// `concurrency` repos at a time.
pub async fn refresh(
    config: &Config,
    gh_url: &str,
    token: &str,
    repos: &[(String, Scope)],
    concurrency: usize,
    max_in_flight: u32,
) -> Result<BaselineRun, String> {
    let mut opts = GithubOptions::new(gh_url, GithubAuthSecret::Pat(SecretValue::new(token)));
    opts.limits = fleetsync::reconcile::pacing_limits(&config.raw.pacing);
    opts.limits.max_in_flight = max_in_flight.max(1);
    // No store: no ETag cache, as in a Terraform refresh.
    let gh = GithubClient::new(opts, None).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let per_repo = futures::stream::iter(repos.iter().map(|(r, scope)| {
        let gh = gh.clone();
        let reads = reads_of(config, r, *scope);
        async move {
            let mut ok = 0u64;
            let mut failed = 0u64;
            for rd in reads {
                match gh
                    .request(Method::GET, rd.route, &rd.path, None, false)
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, "baseline read failed");
                        failed += 1;
                    }
                }
            }
            (ok, failed)
        }
    }))
    .buffer_unordered(concurrency.max(1))
    .collect::<Vec<_>>()
    .await;
    let mut out = BaselineRun {
        seconds: started.elapsed().as_secs_f64(),
        ..Default::default()
    };
    for (ok, failed) in per_repo {
        out.requests += ok + failed;
        out.failed += failed;
    }
    Ok(out)
}
