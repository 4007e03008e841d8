//! Placeholder: being moved here from `graphql/mutation/runbook.rs`.
