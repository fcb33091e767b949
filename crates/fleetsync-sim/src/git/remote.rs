//! Git remote URLs as DSS users write them for GitHub: scp-like `git@host:owner/repo.git`,
//! `ssh://git@host[:port]/owner/repo.git` and `https://[user@]host[:port]/owner/repo[.git]`.
//! The simulated DSS node resolves a project's remote to a simulated GitHub repository with it.

/// Where a remote URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRepo {
    /// Host as written, lower-cased, with `:port` when the URL has one.
    pub host: String,
    pub owner: String,
    /// The repository name without a trailing `.git`.
    pub name: String,
}

/// Parses a remote URL; `None` when it is not of a form above.
///
/// For the scp-like form the host is everything before the last `:`, so a simulator URL such
/// as `git@127.0.0.1:41234:acme/x.git` (host and port, as fleetsync writes it for a GitHub at a
/// loopback port) resolves to `127.0.0.1:41234`.
pub fn parse(url: &str) -> Option<RemoteRepo> {
    let url = url.trim();
    let (host, path) = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("ssh://"))
    {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (host.to_string(), path.to_string())
    } else {
        let (user_host, path) = url.rsplit_once(':')?;
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        (host.to_string(), path.to_string())
    };
    let path = path.trim_start_matches('/').trim_end_matches('/');
    let (owner, name) = path.split_once('/')?;
    let name = name.strip_suffix(".git").unwrap_or(name);
    if host.is_empty() || owner.is_empty() || name.is_empty() || name.contains('/') {
        return None;
    }
    Some(RemoteRepo {
        host: host.to_ascii_lowercase(),
        owner: owner.to_string(),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(host: &str, owner: &str, name: &str) -> Option<RemoteRepo> {
        Some(RemoteRepo {
            host: host.into(),
            owner: owner.into(),
            name: name.into(),
        })
    }

    #[test]
    fn parses_the_forms_dss_users_write() {
        assert_eq!(
            parse("git@github.com:acme/dss-x.git"),
            r("github.com", "acme", "dss-x")
        );
        assert_eq!(
            parse("https://github.com/acme/dss-x"),
            r("github.com", "acme", "dss-x")
        );
        assert_eq!(
            parse("https://bot:tok@GitHub.com/acme/dss-x.git"),
            r("github.com", "acme", "dss-x")
        );
        assert_eq!(
            parse("ssh://git@ghe.example.com:2222/acme/dss-x.git"),
            r("ghe.example.com:2222", "acme", "dss-x")
        );
        assert_eq!(
            parse("git@127.0.0.1:41234:acme/dss-x.git"),
            r("127.0.0.1:41234", "acme", "dss-x")
        );
        assert_eq!(parse("not a url"), None);
        assert_eq!(parse("https://github.com/acme"), None);
        assert_eq!(parse("https://github.com/acme/a/b"), None);
    }
}
