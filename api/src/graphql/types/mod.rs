//! GraphQL object, interface and enum types. Each object wraps an entity model; only this crate
//! knows the wire format.

pub mod enums;
pub mod environment;
pub mod node;
pub mod organization;
pub mod person;
pub mod viewer;

pub use environment::Environment;
pub use node::Node;
pub use organization::Organization;
pub use person::Person;
pub use viewer::Viewer;
