//! Limits that keep one request from costing the server too much, beyond async-graphql's own
//! depth and complexity limits (set in `graphql::build_schema`).
//!
//! - [`AliasLimit`]: at most [`MAX_ALIASES`] aliased fields per document, since aliases let one
//!   query ask for the same expensive field many times over.
//! - [`MAX_BATCH`]: at most this many operations per batched request (checked in `http`).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, Variables};

use crate::error::ErrorCode;

/// Most aliased fields a document may hold.
pub const MAX_ALIASES: usize = 30;
/// Most operations a batched request may hold.
pub const MAX_BATCH: usize = 10;

/// Refuses documents with more than [`MAX_ALIASES`] aliases.
pub struct AliasLimit;

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension)
    }
}

struct AliasLimitExtension;

#[async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let aliases = count_aliases(&document);
        if aliases > MAX_ALIASES {
            return Err(coded_error(
                ErrorCode::TooManyAliases,
                format!("the query uses {aliases} aliases; at most {MAX_ALIASES} are allowed"),
            ));
        }
        Ok(document)
    }
}

/// A GraphQL error carrying `code`.
pub fn coded_error(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    error.extensions = Some(extensions);
    error
}

fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations: usize = match &document.operations {
        DocumentOperations::Single(operation) => in_selection(&operation.node.selection_set.node),
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| in_selection(&operation.node.selection_set.node))
            .sum(),
    };
    let fragments: usize = document
        .fragments
        .values()
        .map(|fragment| in_selection(&fragment.node.selection_set.node))
        .sum();
    operations + fragments
}

fn in_selection(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + in_selection(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_selection(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::count_aliases;

    #[test]
    fn counts_aliases_in_operations_fragments_and_nested_fields() {
        let document = async_graphql::parser::parse_query(
            "query { a: viewer { b: role } c: viewer { role } ...F } fragment F on Query { d: viewer { role } }",
        )
        .unwrap();
        assert_eq!(count_aliases(&document), 4);
    }
}
