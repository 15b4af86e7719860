//! Who may use the admin console and for what: administrators are ordinary users with a role,
//! granted and revoked here (by the CLI, the admin API and later the console), each role allowed
//! some parts of the console, and every change in it asking for a recent login.

use serde::Serialize;

use crate::audit::{Caller, kinds};
use crate::login::sessions::ActiveSession;
use crate::state::AppState;

use super::AdminError;
use super::users::{self, UserDetails};

/// An administrator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: users, apps, signing keys, the audit trail.
    Admin,
    /// Leasify's support desk: customers' accounts (invite, resend, disable and enable, end
    /// sessions) and reading the audit trail; never apps or keys.
    Support,
}

/// The parts of the console, each allowed to some roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Users,
    Clients,
    Keys,
    Audit,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Support];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Support => "support",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether this role may see and change `area`.
    pub fn may(self, area: Area) -> bool {
        match self {
            Role::Admin => true,
            Role::Support => matches!(area, Area::Users | Area::Audit),
        }
    }
}

/// The user's role, if they have one.
pub async fn role_of(state: &AppState, user_id: &str) -> Result<Option<Role>, AdminError> {
    let Some(grant) = state.store.admin_role_of(user_id).await? else {
        return Ok(None);
    };
    // The schema allows only known roles; anything else (a newer version's role, say) gives
    // no access rather than a guess.
    let role = Role::parse(&grant.role);
    if role.is_none() {
        tracing::warn!(user_id, role = %grant.role, "unknown admin role ignored");
    }
    Ok(role)
}

/// Gives the user (by id or email) `role`, replacing the one they had.
pub async fn grant(
    state: &AppState,
    caller: &Caller,
    id_or_email: &str,
    role: Role,
) -> Result<UserDetails, AdminError> {
    let user = users::find(state, id_or_email).await?;
    if role_of(state, &user.id).await? == Some(role) {
        return users::details(state, &user.id).await;
    }
    let now = state.clock.now();
    let event = caller
        .event(kinds::ADMIN_ROLE_GRANTED)
        .user(&user.id)
        .detail("role", role.as_str())
        .at(now);
    state
        .store
        .set_admin_role(&user.id, Some(role.as_str()), now, &[event])
        .await?;
    tracing::info!(user_id = %user.id, role = role.as_str(), "admin role granted");
    users::details(state, &user.id).await
}

/// Takes the user's role away (nothing happens if they had none). Their console access ends
/// at their next request: the role is read on every one.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    id_or_email: &str,
) -> Result<UserDetails, AdminError> {
    let user = users::find(state, id_or_email).await?;
    let Some(had) = role_of(state, &user.id).await? else {
        return users::details(state, &user.id).await;
    };
    let now = state.clock.now();
    let event = caller
        .event(kinds::ADMIN_ROLE_REVOKED)
        .user(&user.id)
        .detail("role", had.as_str())
        .at(now);
    state
        .store
        .set_admin_role(&user.id, None, now, &[event])
        .await?;
    tracing::info!(user_id = %user.id, "admin role revoked");
    users::details(state, &user.id).await
}

/// Whether the session's login is too old for a change in the console
/// (`admin.step_up_minutes`): the person must log in again first.
pub fn needs_step_up(state: &AppState, active: &ActiveSession) -> bool {
    state.clock.now() - active.session.auth_time > state.config.admin.step_up_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_gets_users_and_the_audit_trail_and_admin_everything() {
        for area in [Area::Users, Area::Clients, Area::Keys, Area::Audit] {
            assert!(Role::Admin.may(area), "{area:?}");
        }
        assert!(Role::Support.may(Area::Users));
        assert!(Role::Support.may(Area::Audit));
        for area in [Area::Clients, Area::Keys] {
            assert!(!Role::Support.may(area), "support may not touch {area:?}");
        }
    }

    #[tokio::test]
    async fn granting_and_revoking_is_audited_with_the_caller_and_idempotent() {
        let kit = crate::testkit::TestKit::new().await;
        let user = kit.user("karin@example.se").await;
        let operator = Caller::new(crate::audit::Actor::User("u-operator".into()));
        assert_eq!(role_of(&kit.state, &user.id).await.unwrap(), None);

        let shown = grant(&kit.state, &operator, "karin@example.se", Role::Support)
            .await
            .unwrap();
        assert_eq!(shown.admin_role, Some(Role::Support));
        // The same role again changes nothing and records nothing.
        grant(&kit.state, &operator, &user.id, Role::Support)
            .await
            .unwrap();
        grant(&kit.state, &operator, &user.id, Role::Admin)
            .await
            .unwrap();
        assert_eq!(
            role_of(&kit.state, &user.id).await.unwrap(),
            Some(Role::Admin)
        );
        let shown = revoke(&kit.state, &operator, &user.id).await.unwrap();
        assert_eq!(shown.admin_role, None);
        revoke(&kit.state, &operator, &user.id).await.unwrap();

        let mut events = kit
            .store()
            .audit_events(&crate::store::AuditQuery {
                user_id: Some(user.id.clone()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        events.reverse();
        let seen: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.details.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (kinds::ADMIN_ROLE_GRANTED, r#"{"role":"support"}"#),
                (kinds::ADMIN_ROLE_GRANTED, r#"{"role":"admin"}"#),
                (kinds::ADMIN_ROLE_REVOKED, r#"{"role":"admin"}"#),
            ]
        );
        assert!(
            events
                .iter()
                .all(|e| e.actor_type == "user" && e.actor_id.as_deref() == Some("u-operator"))
        );
        assert!(matches!(
            grant(&kit.state, &operator, "nobody@example.se", Role::Admin).await,
            Err(AdminError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_change_needs_a_login_within_the_step_up_window() {
        let kit = crate::testkit::TestKit::with_config(|c| c.admin.step_up_minutes = 15).await;
        let user = kit.user("admin@example.se").await;
        let active = kit
            .session(&user, crate::login::methods::Method::Password)
            .await;
        assert!(!needs_step_up(&kit.state, &active));
        kit.clock.advance(15 * 60);
        assert!(
            !needs_step_up(&kit.state, &active),
            "exactly 15 minutes is recent"
        );
        kit.clock.advance(1);
        assert!(needs_step_up(&kit.state, &active));
    }

    #[test]
    fn roles_have_stable_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse("root"), None);
        assert_eq!(
            serde_json::to_value(Role::Support).unwrap(),
            serde_json::json!("support")
        );
    }
}
