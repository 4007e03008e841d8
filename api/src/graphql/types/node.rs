//! The Relay `Node` interface: every object with a global id.

use async_graphql::{ID, Interface};

use crate::graphql::types::{Environment, Organization, Person};

/// An object with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global id."))]
pub enum Node {
    /// An organization.
    Organization(Organization),
    /// An environment.
    Environment(Environment),
    /// A person.
    Person(Person),
}
