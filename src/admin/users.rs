//! Creating and managing user accounts.

use crate::login::password::normalize_email;
use crate::state::AppState;
use crate::store::User;

use super::AdminError;
pub use crate::account::users::UserView;
use crate::account::users::valid_email;

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub locale: String,
    pub password: Option<String>,
}

pub const MIN_PASSWORD_LENGTH: usize = 10;

pub async fn create(state: &AppState, new: NewUser) -> Result<UserView, AdminError> {
    let email = valid_email(&new.email).ok_or_else(|| {
        AdminError::Invalid(format!("{:?} is not a valid email address", new.email))
    })?;
    let name = crate::account::names::validate_name(&new.name)
        .map_err(|problem| AdminError::Invalid(problem.to_string()))?;
    if !["sv", "en"].contains(&new.locale.as_str()) {
        return Err(AdminError::Invalid("the language must be sv or en".into()));
    }
    if state.store.user_by_email(&email).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let password_hash = match &new.password {
        Some(password) => {
            if password.chars().count() < MIN_PASSWORD_LENGTH {
                return Err(AdminError::Invalid(format!(
                    "the password must have at least {MIN_PASSWORD_LENGTH} characters"
                )));
            }
            Some(state.passwords.hash(password).await?)
        }
        None => None,
    };
    let now = state.clock.now();
    let user = User {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        email_verified: true,
        name,
        locale: new.locale,
        password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_user(&user).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(_) => {
            AdminError::Conflict(format!("a user with email {} already exists", user.email))
        }
        other => other.into(),
    })?;
    Ok(UserView::from(&user))
}

pub async fn list(state: &AppState) -> Result<Vec<UserView>, AdminError> {
    Ok(state
        .store
        .list_users()
        .await?
        .iter()
        .map(UserView::from)
        .collect())
}

/// Finds a user by id or email.
pub async fn find(state: &AppState, id_or_email: &str) -> Result<User, AdminError> {
    let found = if id_or_email.contains('@') {
        state
            .store
            .user_by_email(&normalize_email(id_or_email))
            .await?
    } else {
        state.store.user_by_id(id_or_email).await?
    };
    found.ok_or_else(|| AdminError::NotFound(format!("no user {id_or_email:?}")))
}

pub async fn set_disabled(
    state: &AppState,
    id_or_email: &str,
    disabled: bool,
) -> Result<UserView, AdminError> {
    let mut user = find(state, id_or_email).await?;
    state
        .store
        .set_user_disabled(&user.id, disabled, state.clock.now())
        .await?;
    user.disabled = disabled;
    Ok(UserView::from(&user))
}
