//! The few routes that are not GraphQL.

pub mod export;
pub mod health;
