//! Who is calling: PATs, GitHub App JWTs (RS256, verified with the App's public key) and the
//! installation tokens they mint, which expire (then 401 `Bad credentials`).

use super::settings::{SimApp, SimToken};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::Rng;
use serde::Deserialize;
use std::collections::HashMap;

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Rate-limit bucket: one per user (PAT) or per installation.
    pub bucket: String,
    /// Login (PAT) or `app[bot]`-style name.
    pub login: String,
    /// Whether the caller may write `.github/workflows/*`.
    pub workflows: bool,
    /// Installation id for installation tokens.
    pub installation: Option<u64>,
    /// Whether the caller may set values of properties only organisation actors may edit.
    pub custom_properties: bool,
}

/// Why authentication failed.
pub enum AuthFail {
    /// No credentials.
    Missing,
    /// Unknown or expired credentials.
    Bad,
}

struct InstallationToken {
    installation_id: u64,
    expires_at: i64,
    workflows: bool,
    custom_properties: bool,
}

/// Known credentials.
pub struct AuthRegistry {
    pats: HashMap<String, SimToken>,
    apps: Vec<(SimApp, DecodingKey)>,
    installation_tokens: HashMap<String, InstallationToken>,
}

#[derive(Deserialize)]
struct AppClaims {
    iss: serde_json::Value,
}

impl AuthRegistry {
    pub fn new(tokens: Vec<SimToken>, apps: &[SimApp]) -> Result<Self, String> {
        let mut decoded = Vec::new();
        for app in apps {
            let key = DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes())
                .map_err(|e| format!("sim app {}: bad public key: {e}", app.app_id))?;
            decoded.push((app.clone(), key));
        }
        Ok(AuthRegistry {
            pats: tokens.into_iter().map(|t| (t.token.clone(), t)).collect(),
            apps: decoded,
            installation_tokens: HashMap::new(),
        })
    }

    pub fn add_pat(&mut self, token: SimToken) {
        self.pats.insert(token.token.clone(), token);
    }

    /// Revokes a PAT: its next use gets 401 `Bad credentials`, as on GitHub.
    pub fn revoke_pat(&mut self, token: &str) -> bool {
        self.pats.remove(token).is_some()
    }

    pub fn expire_installation_tokens(&mut self) {
        for t in self.installation_tokens.values_mut() {
            t.expires_at = 0;
        }
    }

    /// Authenticates a bearer/token credential.
    pub fn caller(&self, authorization: Option<&str>, now: i64) -> Result<Caller, AuthFail> {
        let Some(token) = authorization.and_then(bearer) else {
            return Err(AuthFail::Missing);
        };
        if let Some(p) = self.pats.get(token) {
            return Ok(Caller {
                bucket: format!("user:{}", p.login),
                login: p.login.clone(),
                workflows: p.workflows,
                installation: None,
                custom_properties: p.custom_properties,
            });
        }
        if let Some(t) = self.installation_tokens.get(token) {
            if t.expires_at > now {
                return Ok(Caller {
                    bucket: format!("installation:{}", t.installation_id),
                    login: format!("installation-{}[bot]", t.installation_id),
                    workflows: t.workflows,
                    installation: Some(t.installation_id),
                    custom_properties: t.custom_properties,
                });
            }
        }
        Err(AuthFail::Bad)
    }

    /// Verifies an App JWT; returns the App.
    pub fn app_for_jwt(&self, authorization: Option<&str>) -> Option<&SimApp> {
        let jwt = authorization.and_then(bearer)?;
        for (app, key) in &self.apps {
            let mut v = Validation::new(Algorithm::RS256);
            // GitHub accepts the App id as a number in `iss`, which jsonwebtoken's own
            // issuer check does not read; it is compared below.
            v.required_spec_claims = ["exp", "iat"].iter().map(|s| s.to_string()).collect();
            v.leeway = 60;
            let decoded = jsonwebtoken::decode::<AppClaims>(jwt, key, &v);
            if let Err(e) = &decoded {
                tracing::debug!(app_id = app.app_id, error = %e, "sim: App JWT rejected");
            }
            if let Ok(data) = decoded {
                let iss = match &data.claims.iss {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if iss == app.app_id.to_string() {
                    return Some(app);
                }
            }
        }
        None
    }

    /// Mints an installation token for `app`; returns `(token, expires_at)`.
    pub fn mint(
        &mut self,
        app: &SimApp,
        ttl_secs: u64,
        now: i64,
        rng: &mut impl Rng,
    ) -> (String, i64) {
        let suffix: String = (0..36)
            .map(|_| {
                let c = rng.gen_range(0..36u8);
                char::from(if c < 10 { b'0' + c } else { b'a' + c - 10 })
            })
            .collect();
        let token = format!("ghs_{suffix}");
        let expires_at = now + ttl_secs as i64;
        self.installation_tokens.insert(
            token.clone(),
            InstallationToken {
                installation_id: app.installation_id,
                expires_at,
                workflows: app.workflows,
                custom_properties: app.custom_properties,
            },
        );
        (token, expires_at)
    }
}

fn bearer(h: &str) -> Option<&str> {
    h.strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .or_else(|| h.strip_prefix("token "))
        .map(str::trim)
}
