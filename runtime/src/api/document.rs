//! The API's OpenAPI 3.1 document: its frame (what it is, the admin token as
//! its bearer scheme), the paths the handlers declare, and the problem
//! answers every operation can give, declared here once and listed on each.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "tib", description = "The operators' API of the tib runtime: integrations, connections, runs, users, notifications, and the company's people and licenses across every account"),
    servers((url = "/api/v1")),
    security(("token" = []))
)]
struct Frame;

/// The document before the paths: what the API is, and who may use it.
pub(super) fn frame() -> OpenApi {
    let mut document = <Frame as utoipa::OpenApi>::openapi();
    let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
    document.components.get_or_insert_with(Default::default).add_security_scheme("token", scheme);
    document
}

/// The problem answers any operation may give, by status; those only an operation on a connection
/// gives are marked.
const PROBLEMS: [(&str, &str, &str, Scope); 5] = [
    (
        "400",
        "BadRequest",
        "The request cannot be read: a parameter of the wrong type, a body that is not the schema's JSON",
        Scope::Input,
    ),
    ("401", "Unauthorized", "No token, or not one of this server's", Scope::All),
    ("403", "Forbidden", "The token's holder is a viewer: viewers read only", Scope::Change),
    ("404", "NotFound", "No such connection, integration, person or token", Scope::Connection),
    ("500", "Failed", "The server could not do it (the store, the vault); its log says why", Scope::All),
];

/// Which operations a problem answer is listed on.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    All,
    /// Those that take parameters or a body.
    Input,
    /// Those on a path naming a connection or an integration.
    Connection,
    /// Those that change something: an admin's only.
    Change,
}

/// The document with the problem answers as reusable responses, listed on every operation they apply to.
pub(super) fn finish(mut document: OpenApi) -> OpenApi {
    let components = document.components.get_or_insert_with(Default::default);
    for (_, name, description, _) in PROBLEMS {
        let content = Content::new(Some(Ref::from_schema_name("Problem")));
        let response = utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content("application/problem+json", content)
            .build();
        components.responses.insert(name.to_owned(), RefOr::T(response));
    }
    for (path, item) in document.paths.paths.iter_mut() {
        let on_connection = path.contains('{');
        let operations =
            [(&mut item.get, false), (&mut item.put, true), (&mut item.post, true), (&mut item.delete, true)];
        for (operation, changes) in operations.into_iter().filter_map(|(o, changes)| Some((o.as_mut()?, changes))) {
            let takes_input =
                operation.request_body.is_some() || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            for (status, name, _, scope) in PROBLEMS {
                let applies = match scope {
                    Scope::All => true,
                    Scope::Input => takes_input,
                    Scope::Connection => on_connection,
                    Scope::Change => changes,
                };
                if applies {
                    list(operation, status, name);
                }
            }
        }
    }
    document
}

/// Lists a reusable response on an operation, unless it declares that status itself.
fn list(operation: &mut Operation, status: &str, name: &str) {
    let responses = &mut operation.responses.responses;
    responses.entry(status.to_owned()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
}
