//! `Viewer`: the caller, as the token and the database describe them.

use async_graphql::Object;

use crate::auth;
use crate::graphql::types::enums::Role;
use crate::graphql::types::{Organization, Person};

/// The caller of this request.
pub struct Viewer(pub auth::Viewer);

/// The caller of this request.
#[Object]
impl Viewer {
    /// The person the token's `sub` claim names.
    async fn person(&self) -> Person {
        Person(self.0.person.clone())
    }

    /// The caller's own organization (the token's `org` claim).
    async fn organization(&self) -> Organization {
        Organization(self.0.organization.clone())
    }

    /// The role the token claims.
    async fn role(&self) -> Role {
        self.0.role.into()
    }
}
