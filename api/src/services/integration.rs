//! Placeholder: being moved here from `graphql/mutation/integration.rs`.
