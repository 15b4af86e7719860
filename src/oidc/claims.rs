//! Claims about a user, released by scope. Never `null` or `""`: a missing value is left out.

use serde_json::{Map, Value, json};

use crate::store::User;

use super::scopes::claims_for_scope;

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

/// `sub` plus the claims of every granted scope: the UserInfo response.
pub fn userinfo_claims(user: &User, scopes: &[&str]) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    for scope in scopes {
        for claim in claims_for_scope(scope) {
            if let Some(value) = user_claim(user, claim) {
                claims.insert((*claim).to_string(), value);
            }
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let claims = userinfo_claims(&user("Anna Svensson"), &["openid"]);
        assert_eq!(claims.len(), 1);
        let claims = userinfo_claims(
            &user("Anna Maria Svensson"),
            &["openid", "profile", "email"],
        );
        assert_eq!(claims["given_name"], "Anna");
        assert_eq!(claims["family_name"], "Maria Svensson");
        assert_eq!(claims["email_verified"], true);
    }

    #[test]
    fn empty_values_are_left_out() {
        let claims = userinfo_claims(&user("  "), &["profile"]);
        assert!(!claims.contains_key("name") && !claims.contains_key("given_name"));
    }
}
