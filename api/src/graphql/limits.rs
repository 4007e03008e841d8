//! Limits that keep one request from costing the server too much.
//!
//! All are checked by one schema extension, [`Limits`], and every refusal states the limit and
//! the value found, in its message and in `extensions { code, limit, actual }`:
//!
//! - the query's cost ([`super::MAX_COMPLEXITY`], computed by async-graphql's validation: a
//!   connection costs its page size times what each item selects);
//! - at most [`MAX_ALIASES`] aliased fields per document, since aliases let one
//!   query ask for the same expensive field many times over; and the shape of the selection
//!   ([`check_selection`]): fields nested at most [`super::MAX_DEPTH`] deep, except inside
//!   introspection (`__schema`, `__type`), which standard tools query deeper (graphql-js's
//!   `getIntrospectionQuery()` nests 13 deep) and which is bounded instead by
//!   [`MAX_INTROSPECTION_DEPTH`], [`MAX_INTROSPECTION_LISTS`] lists on one path and one
//!   `__schema` per operation, since what it returns multiplies with each list it nests.
//! - [`MAX_BATCH`]: at most this many operations per batched request (checked in `http`).
//! - what a document and its variables may nest or repeat, counted on the
//!   text before the parser sees it ([`check_document`], [`check_variables`]). The parser and the
//!   input coercion recurse once per level of a value, so a value nested a few thousand deep
//!   would overflow a worker's stack and abort the process; these limits are what keeps any
//!   request, over any transport, from doing that.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult,
    Value as ConstValue, Variables,
};

use crate::error::ErrorCode;

/// Most aliased fields a document may hold.
pub const MAX_ALIASES: usize = 30;
/// Most operations a batched request may hold.
pub const MAX_BATCH: usize = 10;
/// Deepest nesting of brackets (selection sets, argument lists, lists, input objects) in a
/// document's text. Selection depth has its own, lower limit ([`super::MAX_DEPTH`]), checked
/// after parsing; this one bounds what the parser itself is given.
pub const MAX_NESTING: usize = 64;
/// Deepest nesting of lists and input objects in one value: an argument, a variable, a variable's
/// default or a directive argument (a JSON scalar such as `attributes` counts too).
pub const MAX_VALUE_DEPTH: usize = 32;
/// Most items one list in an argument or a variable may hold: a bound on what any request can
/// make the server walk. Operations keep their own, lower limits and answer them in their
/// payloads (a bulk upsert takes 1,000 records and says so in `userErrors`).
pub const MAX_LIST_LENGTH: usize = 10 * crate::services::bulk::MAX_RECORDS;
/// Most fragments a document may define.
pub const MAX_FRAGMENTS: usize = 200;
/// Most directives a document may use.
pub const MAX_DIRECTIVES: usize = 200;
/// Deepest nesting of fields under `__schema` or `__type` (the root field included): room for
/// the standard introspection queries' `ofType` chains.
pub const MAX_INTROSPECTION_DEPTH: usize = 20;
/// Most list fields of introspection (`types`, `fields`, `args`, ...) nested on one path: the
/// standard queries nest three (`types`, `fields`, `args`); each more multiplies the answer.
pub const MAX_INTROSPECTION_LISTS: usize = 3;
/// Most fields an operation may select once its fragments are expanded, as the executor and the
/// validator walk it. Fragments spreading others twice over double with each level, so a
/// document of a few lines can expand to millions of fields; validation walks every one of
/// them synchronously, holding a worker thread for minutes. This is checked before.
pub const MAX_EXPANDED_FIELDS: usize = 2 * super::MAX_COMPLEXITY;
/// Deepest nesting of selection sets (a field's, a fragment's, an inline fragment's) in one
/// another: the recursion of validation and execution (the library's own check, replaced here).
pub const MAX_SELECTION_NESTING: usize = 32;
/// The list fields of the introspection types.
const INTROSPECTION_LISTS: &[&str] = &[
    "types",
    "fields",
    "args",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
    "locations",
];

/// The one schema extension: checks the document's text and variables ([`check_document`],
/// [`check_variables`]) before anything parses them, parses the document itself and checks its
/// aliases and selection ([`check_selection`]), and reports the validated query's cost and depth
/// in `extensions.analyzer`. It parses instead of handing over to the library's parse step,
/// whose recursion check walks fragments once per spread (a few lines of fragments spreading
/// each other make that exponential); [`check_selection`] covers that check too.
///
/// The server's schema does not register it: [`crate::graphql::shape::Shape::with_limits`] runs
/// the same steps ([`LimitsExtension`]) from its own hooks, since the library runs every
/// registered extension around every field it resolves. This one is for schemas without `Shape`.
pub struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension::default())
    }
}

/// One request's limits: what [`Limits`] runs at each step, also run by
/// [`crate::graphql::shape::Shape::with_limits`] from its own hooks, so the schema has one
/// extension (the library wraps every field's resolution in every extension's `resolve`).
#[derive(Default)]
pub struct LimitsExtension {
    /// The validated query's cost and depth, for the response.
    validated: std::sync::Mutex<Option<ValidationResult>>,
}

impl LimitsExtension {
    /// The `request` step: reports the validated query's cost and depth in
    /// `extensions.analyzer` of `response`.
    pub fn finish(&self, response: Response) -> Response {
        let validated = self
            .validated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match validated {
            Some(validated) => response.extension(
                "analyzer",
                async_graphql::value!({
                    "complexity": validated.complexity,
                    "depth": validated.depth,
                }),
            ),
            None => response,
        }
    }

    /// The `parse_query` step: checks the text and variables, parses the document and checks
    /// its aliases and selection. It does not hand over to the library's parse step.
    ///
    /// # Errors
    /// The first limit exceeded, or the parser's error.
    pub fn parse(&self, query: &str, variables: &Variables) -> ServerResult<ExecutableDocument> {
        check_document(query).map_err(LimitExceeded::into_server_error)?;
        check_variables(variables).map_err(LimitExceeded::into_server_error)?;
        let document = async_graphql::parser::parse_query(query)?;
        let aliases = count_aliases(&document);
        if aliases > MAX_ALIASES {
            return Err(LimitExceeded::new(
                ErrorCode::TooManyAliases,
                format!("the query uses {aliases} aliases; at most {MAX_ALIASES} are allowed"),
            )
            .with(MAX_ALIASES, aliases)
            .into_server_error());
        }
        check_selection(&document).map_err(LimitExceeded::into_server_error)?;
        Ok(document)
    }

    /// The `validation` step, given the library's validation: the cost limit, and the cost and
    /// depth kept for [`LimitsExtension::finish`].
    ///
    /// # Errors
    /// The validation's errors, or the cost over [`super::MAX_COMPLEXITY`].
    pub fn validated(
        &self,
        validated: Result<ValidationResult, Vec<ServerError>>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let validated = validated?;
        // The cost limit is checked here rather than by the library (`limit_complexity`), whose
        // error says neither the cost nor the limit.
        let max = super::MAX_COMPLEXITY;
        if validated.complexity > max {
            return Err(vec![
                LimitExceeded::new(
                    ErrorCode::QueryTooComplex,
                    format!(
                        "the query costs {}; at most {max} is allowed (a connection costs its \
                         page size times what each item selects: ask for smaller pages)",
                        validated.complexity
                    ),
                )
                .with(max, validated.complexity)
                .into_server_error(),
            ]);
        }
        *self
            .validated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(validated);
        Ok(validated)
    }
}

#[async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        self.finish(next.run(ctx).await)
    }

    async fn parse_query(
        &self,
        _ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        _next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        self.parse(query, variables)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        self.validated(next.run(ctx).await)
    }
}

/// A request over one of the limits of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitExceeded {
    /// Which limit.
    pub code: ErrorCode,
    /// What was found and what is allowed.
    pub message: String,
    /// The limit and the value found, for `extensions.limit` and `extensions.actual`. The text
    /// scan ([`check_document`]) stops at the first item over a limit, so there `actual` is the
    /// limit plus one (the message says "more than").
    pub limit: Option<(usize, usize)>,
}

impl LimitExceeded {
    fn new(code: ErrorCode, message: String) -> Self {
        Self {
            code,
            message,
            limit: None,
        }
    }

    /// The same refusal, stating `limit` and the `actual` value found.
    fn with(mut self, limit: usize, actual: usize) -> Self {
        self.limit = Some((limit, actual));
        self
    }

    /// The GraphQL error for this refusal.
    pub fn into_server_error(self) -> ServerError {
        let mut error = coded_error(self.code, self.message);
        if let (Some((limit, actual)), Some(extensions)) = (self.limit, error.extensions.as_mut()) {
            extensions.set("limit", limit as u64);
            extensions.set("actual", actual as u64);
        }
        error
    }
}

/// One open bracket while scanning a document.
struct Open {
    /// `{`, `[` or `(`.
    bracket: u8,
    /// Lists and input objects nested inside the innermost argument list, this one included;
    /// `None` outside values (selection sets).
    value_depth: Option<usize>,
    /// Items seen so far directly in this list.
    items: usize,
}

/// Checks a document's text against [`MAX_NESTING`], [`MAX_VALUE_DEPTH`], [`MAX_LIST_LENGTH`],
/// [`MAX_FRAGMENTS`] and [`MAX_DIRECTIVES`] by scanning its tokens, without recursion and without
/// parsing it. Strings, block strings and comments are skipped; anything malformed is left to
/// the parser, which reports it.
///
/// # Errors
/// The first limit the document exceeds.
pub fn check_document(source: &str) -> Result<(), LimitExceeded> {
    let bytes = source.as_bytes();
    let mut open: Vec<Open> = Vec::new();
    let (mut fragments, mut directives) = (0usize, 0usize);
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'#' => {
                while bytes.get(at).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    at += 1;
                }
                continue;
            }
            b'"' => {
                item(&mut open)?;
                at = skip_string(bytes, at);
                continue;
            }
            b'{' | b'[' | b'(' => {
                item(&mut open)?;
                let value_depth = match (byte, open.last()) {
                    (b'(', _) => Some(0),
                    (
                        _,
                        Some(Open {
                            value_depth: Some(depth),
                            ..
                        }),
                    ) => Some(depth + 1),
                    _ => None,
                };
                if let Some(depth) = value_depth
                    && depth > MAX_VALUE_DEPTH
                {
                    return Err(LimitExceeded::new(
                        ErrorCode::ValueTooDeep,
                        format!(
                            "a value nests lists or input objects more than {MAX_VALUE_DEPTH} levels deep; at most {MAX_VALUE_DEPTH} are allowed"
                        ),
                    ).with(MAX_VALUE_DEPTH, depth));
                }
                open.push(Open {
                    bracket: byte,
                    value_depth,
                    items: 0,
                });
                if open.len() > MAX_NESTING {
                    return Err(LimitExceeded::new(
                        ErrorCode::QueryTooDeep,
                        format!(
                            "the document nests brackets more than {MAX_NESTING} levels deep; at most {MAX_NESTING} are allowed"
                        ),
                    ).with(MAX_NESTING, open.len()));
                }
            }
            b'}' | b']' | b')' => {
                let opening = match byte {
                    b'}' => b'{',
                    b']' => b'[',
                    _ => b'(',
                };
                // A stray closing bracket is the parser's to report.
                if open.last().is_some_and(|last| last.bracket == opening) {
                    open.pop();
                }
            }
            b'@' => {
                directives += 1;
                if directives > MAX_DIRECTIVES {
                    return Err(LimitExceeded::new(
                        ErrorCode::TooManyDirectives,
                        format!(
                            "the document uses more than {MAX_DIRECTIVES} directives; at most {MAX_DIRECTIVES} are allowed"
                        ),
                    ).with(MAX_DIRECTIVES, directives));
                }
            }
            b'$' => item(&mut open)?,
            b'_' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => {
                let start = at;
                while bytes.get(at).is_some_and(|&b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.')
                }) {
                    at += 1;
                }
                // The name after `$` is part of the variable already counted.
                if start == 0 || bytes[start - 1] != b'$' {
                    item(&mut open)?;
                }
                if open.is_empty() && &bytes[start..at] == b"fragment" {
                    fragments += 1;
                    if fragments > MAX_FRAGMENTS {
                        return Err(LimitExceeded::new(
                            ErrorCode::TooManyFragments,
                            format!(
                                "the document defines more than {MAX_FRAGMENTS} fragments; at most {MAX_FRAGMENTS} are allowed"
                            ),
                        ).with(MAX_FRAGMENTS, fragments));
                    }
                }
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

/// Counts one more item in the innermost list, if the innermost bracket is a list.
fn item(open: &mut [Open]) -> Result<(), LimitExceeded> {
    if let Some(list) = open.last_mut()
        && list.bracket == b'['
        && list.value_depth.is_some()
    {
        list.items += 1;
        if list.items > MAX_LIST_LENGTH {
            return Err(too_long(None, list.items));
        }
    }
    Ok(())
}

fn too_long(variable: Option<&str>, actual: usize) -> LimitExceeded {
    let place = variable.map_or_else(
        || "a list".to_owned(),
        |name| format!("a list in `${name}`"),
    );
    LimitExceeded::new(
        ErrorCode::ListTooLong,
        format!(
            "{place} holds more than {MAX_LIST_LENGTH} items; at most {MAX_LIST_LENGTH} are allowed"
        ),
    )
    .with(MAX_LIST_LENGTH, actual)
}

/// The index just past the string (or block string) that starts at `start`, read as the parser
/// reads it: an unclosed string ends at its line, an unclosed block string is an empty string.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut at = start + 3;
        while at < bytes.len() {
            if bytes[at..].starts_with(b"\\\"\"\"") {
                at += 4;
            } else if bytes[at..].starts_with(b"\"\"\"") {
                return at + 3;
            } else {
                at += 1;
            }
        }
        // Unclosed, the parser reads `""` as an empty string and goes on from the third quote:
        // so does the scanner, or brackets after it would be hidden from the count.
        return start + 2;
    }
    let mut at = start + 1;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\\' => at += 2,
            b'"' => return at + 1,
            // A string ends at its line; the parser reports the missing quote.
            b'\n' | b'\r' => return at,
            _ => at += 1,
        }
    }
    at
}

/// Checks every variable's value against [`MAX_VALUE_DEPTH`] and [`MAX_LIST_LENGTH`], without
/// recursion.
///
/// # Errors
/// The first limit a variable exceeds, naming the variable.
pub fn check_variables(variables: &Variables) -> Result<(), LimitExceeded> {
    for (name, value) in variables.iter() {
        let mut pending = vec![(value, 0usize)];
        while let Some((value, depth)) = pending.pop() {
            let children: Box<dyn Iterator<Item = &ConstValue>> = match value {
                ConstValue::List(items) => {
                    if items.len() > MAX_LIST_LENGTH {
                        return Err(too_long(Some(name.as_str()), items.len()));
                    }
                    Box::new(items.iter())
                }
                ConstValue::Object(fields) => Box::new(fields.values()),
                _ => continue,
            };
            if depth + 1 > MAX_VALUE_DEPTH {
                return Err(LimitExceeded::new(
                    ErrorCode::ValueTooDeep,
                    format!(
                        "`${name}` nests lists or objects more than {MAX_VALUE_DEPTH} levels deep; at most {MAX_VALUE_DEPTH} are allowed"
                    ),
                ).with(MAX_VALUE_DEPTH, depth + 1));
            }
            pending.extend(children.map(|child| (child, depth + 1)));
        }
    }
    Ok(())
}

/// A GraphQL error carrying `code`.
pub fn coded_error(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    error.extensions = Some(extensions);
    error
}

/// Checks how deep each operation of `document` nests its fields (following fragments, as the
/// executor does): at most [`super::MAX_DEPTH`], or inside introspection at most
/// [`MAX_INTROSPECTION_DEPTH`] with [`MAX_INTROSPECTION_LISTS`] lists on a path and one
/// `__schema` per operation.
///
/// # Errors
/// `QUERY_TOO_DEEP` or `QUERY_TOO_COMPLEX`, stating what was found and the limit.
pub fn check_selection(document: &ExecutableDocument) -> Result<(), LimitExceeded> {
    let mut shape = Shape {
        document,
        visiting: Vec::new(),
        memo: std::collections::HashMap::new(),
        root_memo: std::collections::HashMap::new(),
        cycle: None,
    };
    // Validation walks every operation and every fragment definition, used or not, so they
    // share one budget: the operations with their fragments expanded, and each definition once.
    let mut fields: usize = 0;
    for fragment in document.fragments.values() {
        let found = shape.of(&fragment.node.selection_set.node);
        fields = fields.saturating_add(found.fields);
    }
    let operations: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(operation) => vec![&operation.node.selection_set.node],
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| &operation.node.selection_set.node)
            .collect(),
    };
    for root in operations {
        let found = shape.root(root);
        // A fragment that spreads itself would send the library's validation into endless
        // recursion (its complexity and depth passes run even after the cycle is reported).
        if let Some(name) = shape.cycle.take() {
            return Err(LimitExceeded::new(
                ErrorCode::GraphqlValidationFailed,
                format!("the fragment `{name}` spreads itself"),
            ));
        }
        fields = fields.saturating_add(found.fields);
        if fields > MAX_EXPANDED_FIELDS {
            return Err(LimitExceeded::new(
                ErrorCode::QueryTooComplex,
                format!(
                    "the document selects {fields} fields once its fragments are expanded; at \
                     most {MAX_EXPANDED_FIELDS} are allowed"
                ),
            )
            .with(MAX_EXPANDED_FIELDS, fields));
        }
        if found.nesting > MAX_SELECTION_NESTING {
            return Err(LimitExceeded::new(
                ErrorCode::QueryTooDeep,
                format!(
                    "the query nests selections (fields, fragments, inline fragments) {} deep; \
                     at most {MAX_SELECTION_NESTING} are allowed",
                    found.nesting
                ),
            )
            .with(MAX_SELECTION_NESTING, found.nesting));
        }
        let max = super::MAX_DEPTH;
        if found.depth > max {
            return Err(LimitExceeded::new(
                ErrorCode::QueryTooDeep,
                format!(
                    "the query nests fields {} deep; at most {max} are allowed",
                    found.depth
                ),
            )
            .with(max, found.depth));
        }
        if found.introspection.depth > MAX_INTROSPECTION_DEPTH {
            return Err(LimitExceeded::new(
                ErrorCode::QueryTooDeep,
                format!(
                    "the introspection query nests fields {} deep; at most \
                     {MAX_INTROSPECTION_DEPTH} are allowed",
                    found.introspection.depth
                ),
            )
            .with(MAX_INTROSPECTION_DEPTH, found.introspection.depth));
        }
        if found.introspection.lists > MAX_INTROSPECTION_LISTS {
            return Err(LimitExceeded::new(
                ErrorCode::QueryTooDeep,
                format!(
                    "the introspection query nests {} lists (types, fields, args, ...) in one \
                     path; at most {MAX_INTROSPECTION_LISTS} are allowed",
                    found.introspection.lists
                ),
            )
            .with(MAX_INTROSPECTION_LISTS, found.introspection.lists));
        }
        if found.schemas > 1 {
            return Err(LimitExceeded::new(
                ErrorCode::QueryTooComplex,
                format!(
                    "the operation asks for __schema {} times; once is allowed",
                    found.schemas
                ),
            )
            .with(1, found.schemas));
        }
    }
    Ok(())
}

/// How deep a selection nests: fields on the deepest path (a leaf counts one), and list fields
/// on the path with the most of them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Depth {
    depth: usize,
    lists: usize,
    /// Fields selected in all, fragments expanded (saturating).
    fields: usize,
    /// Selection sets nested in one another (fields' sets, fragments, inline fragments): what
    /// the validator and the executor recurse on.
    nesting: usize,
}

impl Depth {
    /// The deeper of two sibling selections, and the fields of both.
    fn beside(self, other: Self) -> Self {
        Self {
            depth: self.depth.max(other.depth),
            lists: self.lists.max(other.lists),
            fields: self.fields.saturating_add(other.fields),
            nesting: self.nesting.max(other.nesting),
        }
    }
}

/// What an operation's root selection holds.
#[derive(Debug, Default, Clone, Copy)]
struct RootShape {
    /// Deepest path outside introspection.
    depth: usize,
    /// Deepest path and most lists under `__schema`/`__type`.
    introspection: Depth,
    /// `__schema` fields.
    schemas: usize,
    /// Fields selected in all, fragments expanded (saturating).
    fields: usize,
    /// Deepest nesting of selection sets.
    nesting: usize,
}

/// Walks selections; a fragment's shape is computed once, whatever number of times it is spread
/// (a document of many fragments spreading each other twice would otherwise take exponential
/// time). A fragment spread inside itself is noted in `cycle` and refused.
struct Shape<'a> {
    document: &'a ExecutableDocument,
    visiting: Vec<&'a str>,
    memo: std::collections::HashMap<&'a str, Depth>,
    root_memo: std::collections::HashMap<&'a str, RootShape>,
    /// A fragment found spreading itself (directly or through others).
    cycle: Option<String>,
}

impl<'a> Shape<'a> {
    /// The shape of an operation's root selection `set`, or of a fragment spread in it.
    fn root(&mut self, set: &'a SelectionSet) -> RootShape {
        let mut found = RootShape::default();
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let below = self.of(&field.node.selection_set.node);
                    let here = Depth {
                        depth: below.depth + 1,
                        lists: below.lists,
                        fields: below.fields.saturating_add(1),
                        nesting: below.nesting + 1,
                    };
                    found.fields = found.fields.saturating_add(here.fields);
                    found.nesting = found.nesting.max(here.nesting);
                    if name == "__schema" || name == "__type" {
                        found.schemas += usize::from(name == "__schema");
                        found.introspection = found.introspection.beside(here);
                    } else {
                        found.depth = found.depth.max(here.depth);
                    }
                    continue;
                }
                Selection::InlineFragment(fragment) => self.root(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    self.root_fragment(spread.node.fragment_name.node.as_str())
                }
            };
            found.depth = found.depth.max(inner.depth);
            found.introspection = found.introspection.beside(inner.introspection);
            found.schemas = found.schemas.saturating_add(inner.schemas);
            found.fields = found.fields.saturating_add(inner.fields);
            found.nesting = found.nesting.max(inner.nesting + 1);
        }
        found
    }

    fn root_fragment(&mut self, name: &'a str) -> RootShape {
        if let Some(known) = self.root_memo.get(name) {
            return *known;
        }
        if self.visiting.contains(&name) {
            self.cycle.get_or_insert_with(|| name.to_owned());
            return RootShape::default();
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return RootShape::default();
        };
        self.visiting.push(name);
        let found = self.root(&fragment.node.selection_set.node);
        self.visiting.pop();
        self.root_memo.insert(name, found);
        found
    }

    /// The shape below `set`.
    fn of(&mut self, set: &'a SelectionSet) -> Depth {
        let mut deepest = Depth::default();
        for item in &set.items {
            let here = match &item.node {
                Selection::Field(field) => {
                    let below = self.of(&field.node.selection_set.node);
                    let list = INTROSPECTION_LISTS.contains(&field.node.name.node.as_str());
                    Depth {
                        depth: below.depth + 1,
                        lists: below.lists + usize::from(list),
                        fields: below.fields.saturating_add(1),
                        nesting: below.nesting + 1,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let below = self.of(&fragment.node.selection_set.node);
                    Depth {
                        nesting: below.nesting + 1,
                        ..below
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let below = self.fragment(spread.node.fragment_name.node.as_str());
                    Depth {
                        nesting: below.nesting + 1,
                        ..below
                    }
                }
            };
            deepest = deepest.beside(here);
        }
        deepest
    }

    fn fragment(&mut self, name: &'a str) -> Depth {
        if let Some(known) = self.memo.get(name) {
            return *known;
        }
        if self.visiting.contains(&name) {
            self.cycle.get_or_insert_with(|| name.to_owned());
            return Depth::default();
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Depth::default();
        };
        self.visiting.push(name);
        let found = self.of(&fragment.node.selection_set.node);
        self.visiting.pop();
        self.memo.insert(name, found);
        found
    }
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
    use super::*;

    fn nested(open: &str, close: &str, depth: usize) -> String {
        format!("{}\"x\"{}", open.repeat(depth), close.repeat(depth))
    }

    fn code(source: &str) -> Option<ErrorCode> {
        check_document(source).err().map(|refused| refused.code)
    }

    #[test]
    fn values_may_nest_up_to_the_limit_and_no_deeper() {
        let ok = format!(
            "{{ node(id: {}) {{ id }} }}",
            nested("[", "]", MAX_VALUE_DEPTH)
        );
        assert_eq!(code(&ok), None);
        let deep = format!(
            "{{ node(id: {}) {{ id }} }}",
            nested("[", "]", MAX_VALUE_DEPTH + 1)
        );
        assert_eq!(code(&deep), Some(ErrorCode::ValueTooDeep));
        let objects = format!(
            "{{ tickets(filter: {}) {{ totalCount }} }}",
            nested("{a: ", "}", 40)
        );
        assert_eq!(code(&objects), Some(ErrorCode::ValueTooDeep));
    }

    #[test]
    fn thousands_of_levels_are_refused_without_recursing() {
        for (open, close) in [("[", "]"), ("{a:", "}")] {
            let source = format!(
                "query($v: [[Int]] = {}) {{ viewer {{ role }} }}",
                nested(open, close, 100_000)
            );
            assert_eq!(code(&source), Some(ErrorCode::ValueTooDeep));
        }
        let selections = format!("{}{}", "{ a ".repeat(100_000), "}".repeat(100_000));
        assert_eq!(code(&selections), Some(ErrorCode::QueryTooDeep));
        let directive = format!(
            "{{ viewer @include(if: {}) {{ role }} }}",
            nested("[", "]", 5_000)
        );
        assert_eq!(code(&directive), Some(ErrorCode::ValueTooDeep));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let brackets = "[".repeat(10_000);
        let source = format!(
            "# {brackets}\n{{ node(id: \"{brackets}\\\"{brackets}\") {{ id }} a: node(id: \"\"\"{brackets}\\\"\"\"{brackets}\"\"\") {{ id }} }}"
        );
        assert_eq!(code(&source), None);
    }

    #[test]
    fn an_unclosed_block_string_hides_nothing() {
        // The parser reads `""` then a string `" "`, then the list: so must the scanner.
        let source = format!(
            "{{ a(b: [\"\"\" \", {}]) {{ c }} }}",
            nested("[", "]", 5_000)
        );
        assert_eq!(code(&source), Some(ErrorCode::ValueTooDeep));
        // ...and the string the third quote opens ends at its line, as the parser ends it.
        let source = format!("\"\"\" x\n{}", "{ a ".repeat(5_000));
        assert_eq!(code(&source), Some(ErrorCode::QueryTooDeep));
    }

    #[test]
    fn lists_may_hold_up_to_the_limit() {
        let items = |n: usize| vec!["1"; n].join(", ");
        let ok = format!("{{ a(ids: [{}]) }}", items(MAX_LIST_LENGTH));
        assert_eq!(code(&ok), None);
        let long = format!("{{ a(ids: [{}]) }}", items(MAX_LIST_LENGTH + 1));
        assert_eq!(code(&long), Some(ErrorCode::ListTooLong));
        // Items are values, not characters: objects, strings, variables and negative numbers.
        let mixed = format!(
            "query($x: ID) {{ a(ids: [{}]) }}",
            vec!["{a: [1, 2, 3]} \"s\" $x -1.5e3 true"; MAX_LIST_LENGTH / 5].join(" ")
        );
        assert_eq!(code(&mixed), None);
        let over = format!(
            "{mixed} {{ b(ids: [{}]) }}",
            vec!["$x"; MAX_LIST_LENGTH + 1].join(",")
        );
        assert_eq!(code(&over), Some(ErrorCode::ListTooLong));
    }

    #[test]
    fn fragments_and_directives_are_counted() {
        let fragments: String = (0..=MAX_FRAGMENTS)
            .map(|n| format!("fragment F{n} on Query {{ viewer {{ role }} }} "))
            .collect();
        assert_eq!(
            code(&format!("{{ viewer {{ role }} }} {fragments}")),
            Some(ErrorCode::TooManyFragments)
        );
        let directives = "@skip(if: false) ".repeat(MAX_DIRECTIVES + 1);
        assert_eq!(
            code(&format!("{{ viewer {directives} {{ role }} }}")),
            Some(ErrorCode::TooManyDirectives)
        );
        // A field named `fragment` inside a selection is not a definition.
        let fields = "fragment ".repeat(MAX_FRAGMENTS + 1);
        assert_eq!(code(&format!("{{ {fields} }}")), None);
    }

    #[test]
    fn variables_are_walked_without_recursion() {
        let mut deep = ConstValue::from(1);
        for _ in 0..100_000 {
            deep = ConstValue::List(vec![deep]);
        }
        let mut variables = Variables::default();
        variables.insert(async_graphql::Name::new("v"), deep);
        let refused = check_variables(&variables).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ValueTooDeep);
        assert!(refused.message.contains("`$v`"), "{}", refused.message);
        // Dropping 100,000 levels recursively would overflow this test's stack too.
        let mut value = variables.remove(&async_graphql::Name::new("v")).unwrap();
        while let ConstValue::List(mut items) = value {
            value = items.pop().unwrap_or(ConstValue::Null);
        }

        let mut variables = Variables::default();
        variables.insert(
            async_graphql::Name::new("ids"),
            ConstValue::List(vec![ConstValue::from(1); MAX_LIST_LENGTH + 1]),
        );
        assert_eq!(
            check_variables(&variables).unwrap_err().code,
            ErrorCode::ListTooLong
        );
        let mut ok = Variables::default();
        ok.insert(
            async_graphql::Name::new("ids"),
            ConstValue::List(vec![ConstValue::from(1); MAX_LIST_LENGTH]),
        );
        assert_eq!(check_variables(&ok), Ok(()));
    }

    #[test]
    fn counts_aliases_in_operations_fragments_and_nested_fields() {
        let document = async_graphql::parser::parse_query(
            "query { a: viewer { b: role } c: viewer { role } ...F } fragment F on Query { d: viewer { role } }",
        )
        .unwrap();
        assert_eq!(count_aliases(&document), 4);
    }

    fn doubling_fragments(levels: usize) -> String {
        let mut document = String::from("query { viewer { ...F0 } }\n");
        for level in 0..levels {
            document.push_str(&format!(
                "fragment F{level} on Viewer {{ role ...F{next} ...F{next} }}\n",
                next = level + 1
            ));
        }
        document.push_str(&format!("fragment F{levels} on Viewer {{ role }}\n"));
        document
    }

    #[test]
    fn fragments_are_measured_once_however_often_they_are_spread() {
        let document = async_graphql::parser::parse_query(doubling_fragments(60)).unwrap();
        let refused = check_selection(&document).unwrap_err();
        assert_eq!(refused.code, ErrorCode::QueryTooComplex);
        let document = async_graphql::parser::parse_query(doubling_fragments(8)).unwrap();
        assert_eq!(check_selection(&document), Ok(()));
    }

    #[tokio::test]
    async fn the_schema_refuses_an_exploding_document_before_validating_it() {
        let schema = crate::graphql::build_schema(crate::graphql::SchemaOptions::default());
        let started = std::time::Instant::now();
        let response = schema.execute(doubling_fragments(30)).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        assert!(
            response.errors[0]
                .message
                .contains("fragments are expanded"),
            "{:?}",
            response.errors
        );
    }
}
