//! Claims about a user, released by scope. Never `null` or `""`: a missing value is left out.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::store::User;

use super::scopes::{SUPPORTED_SCOPES, claims_for_scope};

fn user_claim(user: &User, claim: &str) -> Option<Value> {
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| json!(s.trim()));
    match claim {
        "name" => non_empty(&user.name),
        "given_name" => user.name.split_whitespace().next().and_then(non_empty),
        "family_name" => {
            let parts: Vec<&str> = user.name.split_whitespace().collect();
            (parts.len() > 1).then(|| json!(parts[1..].join(" ")))
        }
        "locale" => non_empty(&user.locale),
        "updated_at" => Some(json!(user.updated_at)),
        "email" => non_empty(&user.email),
        "email_verified" => Some(json!(user.email_verified)),
        _ => None,
    }
}

/// What the `claims` request parameter (OIDC Core §5.5) asked for: claim names per target, and
/// the `acr` values an ID token must carry if `acr` was requested with `value(s)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
}

impl RequestedClaims {
    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty() && self.acr_values.is_empty()
    }

    /// Parses the parameter; the error is an `invalid_request` description.
    pub fn parse(raw: &str) -> Result<RequestedClaims, &'static str> {
        let value: Value =
            serde_json::from_str(raw).map_err(|_| "The claims parameter is not valid JSON.")?;
        let object = value
            .as_object()
            .ok_or("The claims parameter must be a JSON object.")?;
        let mut out = RequestedClaims::default();
        for (target, names) in object {
            let list = match target.as_str() {
                "userinfo" => &mut out.userinfo,
                "id_token" => &mut out.id_token,
                // Other members are extensions we do not know: ignore them (§5.5).
                _ => continue,
            };
            let names = names
                .as_object()
                .ok_or("The claims parameter's members must be JSON objects.")?;
            for (name, request) in names {
                if !(request.is_null() || request.is_object()) {
                    return Err("Each requested claim must be null or a JSON object.");
                }
                if target == "id_token" && name == "acr" {
                    if let Some(v) = request.get("value").and_then(Value::as_str) {
                        out.acr_values.push(v.to_string());
                    }
                    if let Some(values) = request.get("values").and_then(Value::as_array) {
                        out.acr_values
                            .extend(values.iter().filter_map(Value::as_str).map(str::to_string));
                    }
                }
                list.push(name.clone());
            }
        }
        Ok(out)
    }

    /// Drops the claims carried by a scope the client is not allowed (the parameter names
    /// claims without their scope, but never beyond the client's scopes).
    pub fn limit_to_scopes(&mut self, allowed: &[String]) {
        let permitted = |claim: &String| {
            SUPPORTED_SCOPES
                .iter()
                .filter(|scope| claims_for_scope(scope).contains(&claim.as_str()))
                .all(|scope| allowed.iter().any(|a| a == scope))
        };
        self.userinfo.retain(permitted);
        self.id_token.retain(permitted);
    }

    /// The scopes carrying the claims asked for by name: what the user consents to with them.
    pub fn scopes_needed(&self) -> Vec<&'static str> {
        SUPPORTED_SCOPES
            .iter()
            .copied()
            .filter(|scope| {
                self.userinfo
                    .iter()
                    .chain(&self.id_token)
                    .any(|claim| claims_for_scope(scope).contains(&claim.as_str()))
            })
            .collect()
    }

    /// From a grant's stored JSON (absent or unreadable: nothing requested).
    pub fn from_stored(stored: Option<&str>) -> RequestedClaims {
        stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
}

/// `sub` plus the claims of every granted scope and every claim requested by name that we hold:
/// the UserInfo response.
pub fn userinfo_claims(user: &User, scopes: &[&str], requested: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    let by_scope = scopes
        .iter()
        .flat_map(|scope| claims_for_scope(scope).iter().copied());
    for claim in by_scope.chain(requested.iter().map(String::as_str)) {
        if let Some(value) = user_claim(user, claim) {
            claims.insert(claim.to_string(), value);
        }
    }
    claims
}

/// Claims requested by name for the ID token that we hold (scope claims stay in UserInfo).
pub fn id_token_claims(user: &User, requested: &[String]) -> Map<String, Value> {
    requested
        .iter()
        .filter_map(|claim| user_claim(user, claim).map(|v| (claim.clone(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_parameter_names_claims_and_acr_values() {
        let parsed = RequestedClaims::parse(
            r#"{"userinfo":{"name":{"essential":true},"email":null},
                "id_token":{"acr":{"values":["a","b"]},"auth_time":null},"x":{}}"#,
        )
        .unwrap();
        assert_eq!(parsed.userinfo, ["name", "email"]);
        assert_eq!(parsed.id_token, ["acr", "auth_time"]);
        assert_eq!(parsed.acr_values, ["a", "b"]);
        assert!(RequestedClaims::parse("[]").is_err());
        assert!(RequestedClaims::parse("{").is_err());
        assert!(RequestedClaims::parse(r#"{"userinfo":{"name":3}}"#).is_err());
        let only_name = RequestedClaims::parse(r#"{"userinfo":{"name":null}}"#).unwrap();
        let claims = userinfo_claims(&user("Anna Svensson"), &["openid"], &only_name.userinfo);
        assert_eq!(claims["name"], "Anna Svensson");
        assert!(!claims.contains_key("email"));
    }

    fn user(name: &str) -> User {
        User {
            id: "u1".into(),
            email: "anna@example.se".into(),
            email_verified: true,
            name: name.into(),
            locale: "sv".into(),
            password_hash: None,
            disabled: false,
            created_at: 1,
            updated_at: 2,
        }
    }

    #[test]
    fn only_granted_scopes_release_claims() {
        let claims = userinfo_claims(&user("Anna Svensson"), &["openid"], &[]);
        assert_eq!(claims.len(), 1);
        let claims = userinfo_claims(
            &user("Anna Maria Svensson"),
            &["openid", "profile", "email"],
            &[],
        );
        assert_eq!(claims["given_name"], "Anna");
        assert_eq!(claims["family_name"], "Maria Svensson");
        assert_eq!(claims["email_verified"], true);
    }

    #[test]
    fn empty_values_are_left_out() {
        let claims = userinfo_claims(&user("  "), &["profile"], &["name".into()]);
        assert!(!claims.contains_key("name") && !claims.contains_key("given_name"));
    }
}
