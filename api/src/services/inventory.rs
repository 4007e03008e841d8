//! Placeholder: being moved here from `graphql/mutation/inventory.rs`.
