//! Placeholder: being moved here from `graphql/mutation/work.rs`.
