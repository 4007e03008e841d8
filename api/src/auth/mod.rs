//! Authentication and tenancy: who is calling, and what they may see.
//!
//! - `bearer`: the request's bearer token, verified and resolved to its viewer.
//! - `cache`: resolved callers kept for a few seconds, dropped at once by the writes that
//!   change them.
//! - `jwt`: token claims, verification (HS256 secret or RS256 public key) and minting.
//! - `viewer`: turns verified claims into a [`viewer::Viewer`] (the person, their organization,
//!   their role and the organizations they may see). Every read goes through
//!   [`viewer::Viewer::can_see_organization`] or the id list it is built on.

pub mod bearer;
pub mod cache;
pub mod jwt;
pub mod rate;
pub mod viewer;

pub use jwt::{Claims, JwtKeys};
pub use viewer::Viewer;
