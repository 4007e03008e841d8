//! The few routes that are not GraphQL.

pub mod evidence;
pub mod export;
pub mod health;
pub mod matrix_export;
pub mod metrics;
pub mod packages;
pub mod webhooks;
