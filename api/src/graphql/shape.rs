//! Spec-shaped responses: every object's fields in selection order, a failed nullable field
//! present as `null`, and a failed non-null field nulling its nearest nullable parent (`data`
//! itself when there is none), as the GraphQL specification's "Handling Execution Errors" says.
//!
//! async-graphql 7.2.1 (the pinned executor) does neither: it gathers an object's fields in the
//! order they complete and leaves a failed field out of `data`. 8.0.0-rc.5 keeps the order and
//! propagates non-null failures, but nulls the *parent* of a failed nullable field too (a
//! failed `node(id:)` makes all of `data` null), so it is no fix either (CHANGELOG). This
//! extension shapes the responses of the pinned executor on every path that executes a
//! document: queries, mutations, each operation of a batch, and each subscription event (the
//! library runs the `execute` hook once per event).
//!
//! - [`Extension::resolve`], around every field and list item: a nullable one that fails
//!   becomes `null` and its error is kept for the response; a non-null one that fails (or whose
//!   own non-null child failed) marks its parent, and the nearest nullable ancestor becomes
//!   `null` when it completes (children always complete before their parent). It also notes the
//!   concrete object type of values that stand where an interface or union is expected, which
//!   the ordering needs for fragments.
//! - [`Extension::execute`], once the operation (or event) has run: adds the kept errors, nulls
//!   `data` when a root field marked it, and reorders every object of `data` by the executed
//!   document: the spec's CollectFields (aliases, fragments and their type conditions,
//!   `@skip`/`@include` with the request's variables).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve,
    ResolveInfo,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, OperationDefinition, Selection,
    SelectionSet, TypeCondition,
};
use async_graphql::registry::Registry;
use async_graphql::{
    Name, PathSegment, Positioned, QueryPathNode, QueryPathSegment, Response, ServerError,
    ServerResult, Value, Variables,
};

/// The extension factory; register it ahead of [`crate::graphql::limits::Limits`], whose
/// `parse_query` does not call the rest of the chain.
#[derive(Default)]
pub struct Shape {
    /// The object types that may stand where an interface or union is expected, computed from
    /// the schema's registry once.
    members: Arc<OnceLock<HashSet<String>>>,
}

impl ExtensionFactory for Shape {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ShapeExtension {
            members: Arc::clone(&self.members),
            executed: Mutex::default(),
            state: Mutex::default(),
        })
    }
}

/// One request's (or one subscription's) shaping.
struct ShapeExtension {
    members: Arc<OnceLock<HashSet<String>>>,
    /// The document and variables being executed, kept from `parse_query`.
    executed: Mutex<Option<(ExecutableDocument, Variables)>>,
    /// What the fields of the running execution left for `execute`; taken by it, so each
    /// subscription event starts empty.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The errors of nullable fields turned into `null`: the executor never saw them.
    errors: Vec<ServerError>,
    /// Paths ([`key`]) of values that must become `null` because a non-null child failed.
    marked: HashSet<String>,
    /// The concrete object type of values at abstract positions, by path.
    types: HashMap<String, String>,
}

/// The path of the whole `data`.
const ROOT: &str = "";

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A path as one string: response keys are names and indices are numbers, so `.` separates
/// them without ambiguity.
fn key(node: Option<&QueryPathNode<'_>>) -> String {
    let Some(node) = node else {
        return ROOT.to_owned();
    };
    let mut segments: Vec<&QueryPathSegment<'_>> = std::iter::once(node)
        .chain(node.parents())
        .map(|node| &node.segment)
        .collect();
    segments.reverse();
    let mut key = String::new();
    for (index, segment) in segments.into_iter().enumerate() {
        if index > 0 {
            key.push('.');
        }
        match segment {
            QueryPathSegment::Name(name) => key.push_str(name),
            QueryPathSegment::Index(index) => key.push_str(&index.to_string()),
        }
    }
    key
}

fn error_path(node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut path: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|node| match node.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
            QueryPathSegment::Index(index) => PathSegment::Index(index),
        })
        .collect();
    path.reverse();
    path
}

fn abstract_members(registry: &Registry) -> HashSet<String> {
    registry
        .types
        .values()
        .filter_map(|ty| ty.possible_types())
        .flatten()
        .cloned()
        .collect()
}

#[async_trait::async_trait]
impl Extension for ShapeExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        *lock(&self.executed) = Some((document.clone(), variables.clone()));
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let state = std::mem::take(&mut *lock(&self.state));
        response.errors.extend(state.errors);
        if state.marked.contains(ROOT) {
            response.data = Value::Null;
            return response;
        }
        let executed = lock(&self.executed);
        if let Some((document, variables)) = executed.as_ref()
            && let Some(operation) = operation(document, operation_name)
        {
            let walk = Walk {
                document,
                variables: effective_variables(&operation.node, variables),
                registry: &ctx.schema_env.registry,
                types: &state.types,
            };
            let mut path = Vec::new();
            walk.order(
                &mut response.data,
                &[&operation.node.selection_set.node],
                &mut path,
            );
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let node = info.path_node;
        let nullable = !info.return_type.ends_with('!');
        let in_list = matches!(node.segment, QueryPathSegment::Index(_));
        // A field's parent type is the concrete object when the field was collected through a
        // fragment that applied to it; the ordering needs it where an interface or union stands.
        if !in_list
            && node.parent.is_some()
            && self
                .members
                .get_or_init(|| abstract_members(&ctx.schema_env.registry))
                .contains(info.parent_type)
        {
            let parent = key(node.parent);
            lock(&self.state)
                .types
                .entry(parent)
                .or_insert_with(|| info.parent_type.to_owned());
        }
        let result = next.run(ctx, info).await;
        match result {
            Err(mut error) if nullable => {
                if error.path.is_empty() {
                    error.path = error_path(node);
                }
                lock(&self.state).errors.push(error);
                Ok(Some(Value::Null))
            }
            Err(error) => {
                // The executor records the error; a field's enclosing object leaves it out, so
                // that object must become null. A list item's error fails the list itself.
                if !in_list {
                    lock(&self.state).marked.insert(key(node.parent));
                }
                Err(error)
            }
            Ok(value) => {
                let mut state = lock(&self.state);
                if state.marked.is_empty() || !state.marked.remove(&key(Some(node))) {
                    return Ok(value);
                }
                if nullable {
                    Ok(Some(Value::Null))
                } else {
                    state.marked.insert(key(node.parent));
                    Ok(value)
                }
            }
        }
    }
}

/// The operation `execute` runs: validation has already made sure there is exactly one.
fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The request's variables, with the operation's defaults for those it left out.
fn effective_variables(operation: &OperationDefinition, variables: &Variables) -> Variables {
    let mut effective = variables.clone();
    for definition in &operation.variable_definitions {
        let name = &definition.node.name.node;
        if !effective.contains_key(name)
            && let Some(default) = &definition.node.default_value
        {
            effective.insert(name.clone(), default.node.clone());
        }
    }
    effective
}

/// Reorders `data` by the executed document.
struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: Variables,
    registry: &'a Registry,
    types: &'a HashMap<String, String>,
}

/// The response keys of one object, in order, each with the selection sets merged under it.
type Collected<'a> = IndexMap<Name, Vec<&'a SelectionSet>>;

impl<'a> Walk<'a> {
    fn order(&self, value: &mut Value, sets: &[&'a SelectionSet], path: &mut Vec<String>) {
        match value {
            Value::List(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    path.push(index.to_string());
                    self.order(item, sets, path);
                    path.pop();
                }
            }
            Value::Object(fields) => {
                // Without a noted type, no field of an applied fragment resolved here (only
                // `__typename`, if anything), and every fragment may be taken as applying.
                let concrete = if self.types.is_empty() {
                    None
                } else {
                    self.types.get(&path.join(".")).map(String::as_str)
                };
                let mut collected = Collected::new();
                let mut visited = HashSet::new();
                for set in sets {
                    self.collect(set, concrete, &mut collected, &mut visited);
                }
                let mut ordered = IndexMap::with_capacity(fields.len());
                for (name, subsets) in collected {
                    if let Some(mut value) = fields.shift_remove(&name) {
                        path.push(name.to_string());
                        self.order(&mut value, &subsets, path);
                        path.pop();
                        ordered.insert(name, value);
                    }
                }
                // Anything the document does not explain keeps its place after the rest.
                ordered.extend(fields.drain(..));
                *fields = ordered;
            }
            _ => {}
        }
    }

    /// The spec's CollectFields for an object of type `concrete`.
    fn collect(
        &self,
        set: &'a SelectionSet,
        concrete: Option<&str>,
        collected: &mut Collected<'a>,
        visited: &mut HashSet<&'a Name>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if !self.included(&field.node.directives) {
                        continue;
                    }
                    collected
                        .entry(field.node.response_key().node.clone())
                        .or_default()
                        .push(&field.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if !self.included(&spread.node.directives) || visited.contains(name) {
                        continue;
                    }
                    let Some(fragment) = self.document.fragments.get(name) else {
                        continue;
                    };
                    visited.insert(name);
                    if self.applies(Some(&fragment.node.type_condition.node), concrete) {
                        self.collect(
                            &fragment.node.selection_set.node,
                            concrete,
                            collected,
                            visited,
                        );
                    }
                }
                Selection::InlineFragment(fragment) => {
                    if self.included(&fragment.node.directives)
                        && self.applies(
                            fragment.node.type_condition.as_ref().map(|c| &c.node),
                            concrete,
                        )
                    {
                        self.collect(
                            &fragment.node.selection_set.node,
                            concrete,
                            collected,
                            visited,
                        );
                    }
                }
            }
        }
    }

    fn applies(&self, condition: Option<&TypeCondition>, concrete: Option<&str>) -> bool {
        let (Some(condition), Some(concrete)) = (condition, concrete) else {
            return true;
        };
        let condition = condition.on.node.as_str();
        condition == concrete
            || self
                .registry
                .types
                .get(condition)
                .is_some_and(|ty| ty.is_possible_type(concrete))
    }

    /// `@skip(if:)` and `@include(if:)`; a value that cannot be read counts as included (the
    /// executor has already refused such a document).
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let condition = directive.node.get_argument("if").and_then(|value| {
                value
                    .node
                    .clone()
                    .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                    .ok()
            });
            match (directive.node.name.node.as_str(), condition) {
                ("skip", Some(Value::Boolean(true))) => false,
                ("include", Some(Value::Boolean(false))) => false,
                _ => true,
            }
        })
    }
}
