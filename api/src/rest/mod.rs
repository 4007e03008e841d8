//! The few routes that are not GraphQL.

pub mod health;
