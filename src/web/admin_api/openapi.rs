//! The OpenAPI 3.1 document of the admin API, generated from the handlers' annotations and the
//! types they take and give (utoipa), served at `/admin/api/openapi.json`.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{audit, clients, keys, passkeys, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Leasify ID admin API",
        description = "Users, clients, signing keys and the audit trail. Authenticate with a \
                       client_credentials access token for the audience `{issuer}/admin/api`."
    ),
    servers((url = "/admin/api/v1")),
    paths(
        users::list, users::create, users::get, users::update, users::resend_invitation,
        users::disable, users::enable, users::remove_personnummer, users::delete,
        users::sessions, users::revoke_access, users::revoke_session, users::consents,
        users::revoke_consent, users::set_admin_role, users::revoke_admin_role,
        passkeys::list, passkeys::remove,
        clients::list, clients::create, clients::get, clients::update, clients::rotate_secret,
        clients::delete,
        keys::list, keys::rotate,
        audit::query,
    ),
    components(schemas(super::problem::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "users", description = "Customers' accounts"),
        (name = "clients", description = "Apps that log in with Leasify ID"),
        (name = "keys", description = "Token signing keys"),
        (name = "audit", description = "What happened"),
    )
)]
pub struct AdminApiDoc;

struct BearerAuth;

/// Refusals any operation can answer, each a problem.
const COMMON_PROBLEMS: &[(&str, &str)] = &[
    ("400", "The request cannot be read"),
    (
        "401",
        "No valid access token for this API (see WWW-Authenticate)",
    ),
    ("403", "The token lacks the scope (see WWW-Authenticate)"),
    ("404", "No such resource"),
    ("409", "In conflict with what exists (an email in use, say)"),
    ("413", "The body is too large"),
    ("415", "The body is not JSON"),
    (
        "422",
        "Invalid fields, query parameters or Idempotency-Key reuse",
    ),
    (
        "503",
        "The database is briefly unavailable; retry after Retry-After",
    ),
];

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, description) in COMMON_PROBLEMS {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(*description)
                                .content(
                                    super::problem::PROBLEM_JSON,
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        AdminApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".into())
    })
}

pub async fn document() -> Response {
    let mut response = json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
