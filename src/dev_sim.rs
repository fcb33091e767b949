//! Dev mode's simulator: starts the `fleetsync-sim` services a fleet config points at (for
//! `fleetd --dev` and `fleetctl sim`). Only in builds with the default-on `dev` feature; the
//! simulator crate knows nothing of fleetsync's config, so the mapping lives here.

use crate::config::{Config, GithubAuth};
use fleetsync_sim::{dss, github, RunningSim};
use std::net::SocketAddr;

fn bind_of(url: &str, what: &str) -> Result<SocketAddr, String> {
    let u = url::Url::parse(url).map_err(|e| format!("{what} {url}: {e}"))?;
    if u.scheme() != "http" {
        return Err(format!(
            "{what} {url}: the simulator serves plain http on loopback"
        ));
    }
    let host = u.host_str().unwrap_or("127.0.0.1");
    let port = u.port().unwrap_or(80);
    format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("{what} {url}: not a loopback address: {e}"))
}

/// Starts the simulator a fleet config points at: the DSS node at the first `[[dss]]` URL
/// (accepting its API key), GitHub at `github.api_url` (accepting its PAT), with the
/// organisation `github.owner`, and the knobs of `[sim]`.
pub async fn start_for_config(config: &Config) -> Result<RunningSim, String> {
    let settings = config.raw.sim.clone().unwrap_or_default();
    let node = config
        .raw
        .dss
        .first()
        .ok_or("the config has no [[dss]] node to simulate")?;
    let key = node
        .api_key
        .read(&config.base_dir)
        .map_err(|e| format!("dss.api_key: {e}"))?;
    let dss_bind = bind_of(node.url.get_ref(), "dss.url")?;
    let gh = &config.raw.github;
    let gh_bind = bind_of(gh.api_url.get_ref(), "github.api_url")?;
    let tokens = match &gh.auth {
        GithubAuth::Pat(src) => vec![github::SimToken::pat(
            src.read(&config.base_dir)
                .map_err(|e| format!("github.auth.pat: {e}"))?
                .expose(),
        )],
        GithubAuth::App(_) => Vec::new(),
    };
    let mut gh_settings = settings.github.clone();
    if !gh_settings
        .orgs
        .iter()
        .any(|o| o.eq_ignore_ascii_case(&gh.owner))
    {
        gh_settings.orgs.push(gh.owner.clone());
    }
    let dss = dss::start(
        settings.dss.clone(),
        vec![key.expose().to_string()],
        dss_bind,
    )
    .await
    .map_err(|e| format!("simulated DSS on {dss_bind}: {e}"))?;
    let github = github::start(gh_settings, tokens, gh_bind)
        .await
        .map_err(|e| format!("simulated GitHub on {gh_bind}: {e}"))?;
    // The node's project remotes resolve to the simulated GitHub (pushes really land there).
    dss.handle.link_github(&github.handle);
    Ok(RunningSim { dss, github })
}
