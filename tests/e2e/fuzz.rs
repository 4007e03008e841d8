//! Property-based fuzzing of the public surface, on the database the suite runs on: generated
//! GraphQL documents (token soup from the language's punctuation, the schema's names and hostile
//! literals, and brackets nested up to thousands deep), generated variables, ids and cursors
//! (garbage, and well-formed ones holding hostile contents), and webhook bodies. Every answer must
//! be a GraphQL or JSON error with a code other than `INTERNAL`, never a 5xx, and the server must
//! keep answering.
//!
//! Cases per property: `TANDEM_FUZZ_CASES` (default 64); CI runs more (README, Development).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use tests::TestApp;

thread_local! {
    /// How the cases of the current property were answered: by error code, or `data`.
    static OUTCOMES: std::cell::RefCell<std::collections::BTreeMap<String, usize>> = std::cell::RefCell::default();
}

fn cases() -> u32 {
    std::env::var("TANDEM_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Runs `property` over `strategy` against one server, then checks it still answers.
fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    property: impl AsyncFn(&TestApp, &str, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = runtime
        .block_on(TestApp::spawn_with_demo())
        .expect("a server");
    let token = app.provider_admin_token();
    let mut runner = runner();
    let result = runner.run(&strategy, |case| {
        runtime.block_on(property(&app, &token, case))
    });
    runtime.block_on(async {
        let data = app
            .query(&token, "{ viewer { role } }", Value::Null)
            .await
            .expect("the server still answers");
        assert_eq!(data["viewer"]["role"], "ADMIN");
    });
    if let Err(failure) = result {
        panic!("{name}: {failure}");
    }
    let outcomes = OUTCOMES.with_borrow_mut(std::mem::take);
    eprintln!(
        "{name}: {} cases, no crash, every error coded; answers: {outcomes:?}",
        cases()
    );
    runtime.block_on(app.stop()).expect("the server stops");
}

/// What every answer must be: JSON, no 5xx, every error with a code, none `INTERNAL`.
fn coded(status: u16, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "status {status}: {body}");
    let errors = body.get("errors").and_then(Value::as_array);
    prop_assert!(
        errors.is_some() || body.get("data").is_some() || body.get("accepted").is_some(),
        "neither data nor errors: {body}"
    );
    let outcome = errors
        .and_then(|errors| errors.first())
        .and_then(|error| error["extensions"]["code"].as_str())
        .unwrap_or("data")
        .to_owned();
    OUTCOMES.with_borrow_mut(|outcomes| *outcomes.entry(outcome).or_default() += 1);
    for error in errors.into_iter().flatten() {
        let code = error["extensions"]["code"].as_str();
        prop_assert!(code.is_some(), "an error without a code: {error}");
        prop_assert_ne!(code, Some("INTERNAL"), "{}", error);
        prop_assert!(error["message"].is_string(), "{error}");
    }
    Ok(())
}

/// POSTs a raw JSON body to `/graphql`.
async fn post(app: &TestApp, token: &str, body: String) -> Result<(u16, Value), TestCaseError> {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|error| TestCaseError::fail(format!("the request failed: {error}")))?;
    let status = response.status().as_u16();
    let body = response
        .json::<Value>()
        .await
        .map_err(|error| TestCaseError::fail(format!("not JSON ({status}): {error}")))?;
    Ok((status, body))
}

const NAMES: &[&str] = &[
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "Query",
    "Mutation",
    "viewer",
    "role",
    "person",
    "displayName",
    "organization",
    "tickets",
    "first",
    "last",
    "after",
    "before",
    "filter",
    "statuses",
    "environmentIds",
    "node",
    "id",
    "environments",
    "edges",
    "pageInfo",
    "endCursor",
    "totalCount",
    "summary",
    "systems",
    "changeLogEntries",
    "whoOwns",
    "__schema",
    "__type",
    "__typename",
    "types",
    "name",
    "fields",
    "ofType",
    "kind",
    "true",
    "false",
    "null",
    "Ticket",
    "Environment",
    "TicketStatus",
    "NEW",
    "ID",
    "String",
    "Int",
    "JSON",
    "input",
    "createTicket",
    "recordChange",
    "environmentId",
    "title",
    "occurredAt",
    "include",
    "skip",
    "if",
    "deprecated",
    "responsibilityMatrix",
    "ownershipGaps",
    "integrations",
    "syncRuns",
];

/// One token of a document.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(NAMES).prop_map(str::to_owned),
        8 => proptest::sample::select(vec!["{", "}", "[", "]", "(", ")", ":", "=", "!", "|", "&", ",", "...", "@", "$", "$v", "$id"]).prop_map(str::to_owned),
        2 => proptest::sample::select(vec![
            "\"x\"", "\"\\u0000\"", "\"\\\"\"", "\"\"\"block \\\"\"\" \"\"\"", "\"\"\"", "\"\\uD800\"", "\"\\u{1F600}\"",
            "-1", "0", "1.5e308", "1e999", "9223372036854775808", "-0.0", "#comment\n", "\u{feff}",
            "\"9999-12-31T23:59:59Z\"", "\"VGlja2V0OjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA\"",
        ]).prop_map(str::to_owned),
        1 => ".{0,6}",
    ]
}

/// A literal argument value, as GraphQL text.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|number| number.to_string()),
        (-5i64..200).prop_map(|number| number.to_string()),
        ".{0,12}".prop_map(|text| Value::from(text).to_string()),
        id_or_cursor().prop_map(|text| Value::from(text).to_string()),
        proptest::sample::select(vec![
            "null",
            "true",
            "NEW",
            "RESOLVED",
            "[]",
            "{}",
            "[NEW, BOGUS]",
            "1e999",
            "\"\\u0000\""
        ])
        .prop_map(str::to_owned),
    ]
}

/// A document of the schema's own shape with literal arguments of any kind.
fn shaped() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(vec![
            "tickets",
            "changeLog",
            "environments",
            "systems",
            "organizations",
            "integrations",
        ]),
        proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "first", "last", "after", "before", "filter", "orderBy", "bogus",
                ]),
                literal(),
            ),
            0..4,
        ),
        proptest::sample::select(vec![
            "totalCount",
            "edges { cursor node { id } }",
            "pageInfo { hasNextPage endCursor }",
            "nodes { id }",
        ]),
    )
        .prop_map(|(field, arguments, selection)| {
            let arguments: Vec<String> = arguments
                .into_iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            if arguments.is_empty() {
                format!("{{ {field} {{ {selection} }} }}")
            } else {
                format!("{{ {field}({}) {{ {selection} }} }}", arguments.join(", "))
            }
        })
}

/// A document: token soup, the schema's shapes with hostile literals, or brackets nested up to
/// thousands deep.
fn document() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => shaped(),
        4 => proptest::collection::vec(token(), 0..80).prop_map(|tokens| tokens.join(" ")),
        1 => (
            proptest::sample::select(vec!["[", "{a:", "{", "("]),
            0usize..4_000,
            proptest::sample::select(vec![
                "{ node(id: @) { id } }",
                "query($v: [[Int]] = @) { viewer { role } }",
                "{ viewer @include(if: @) { role } }",
                "{ tickets(first: 1, filter: @) { totalCount } }",
                "@",
            ]),
        )
            .prop_map(|(open, depth, shape)| {
                let close = match open {
                    "[" => "]",
                    "(" => ")",
                    _ => "}",
                };
                let value = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                shape.replace('@', &value)
            }),
    ]
}

#[test]
fn generated_documents_get_coded_errors() {
    fuzz("documents", document(), async |app, token, document| {
        let body = json!({ "query": document }).to_string();
        let (status, body) = post(app, token, body).await?;
        coded(status, &body)
    });
}

/// Any JSON, to depth 6.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        proptest::sample::select(vec!["NEW", "RESOLVED", "\u{0}", "9999-12-31T23:59:59Z", ""])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "environmentIds",
                        "statuses",
                        "systemIds",
                        "a",
                        "first",
                        "id"
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|fields| Value::Object(
                fields
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

#[test]
fn generated_variables_get_coded_errors() {
    const DOCUMENTS: &[&str] = &[
        "query($v: ID!) { node(id: $v) { id } }",
        "query($v: TicketFilter) { tickets(first: 5, filter: $v) { totalCount } }",
        "query($v: Int) { tickets(first: $v) { totalCount } }",
        "query($v: [TicketStatus!]) { tickets(first: 5, filter: { statuses: $v }) { totalCount } }",
        "query($v: String) { tickets(first: 5, after: $v) { totalCount } }",
    ];
    let strategy = (
        proptest::sample::select(DOCUMENTS),
        json_value(),
        any::<bool>(),
    );
    fuzz(
        "variables",
        strategy,
        async |app, token, (document, value, raw)| {
            // Also variables that are not an object at all.
            let variables = if raw { value } else { json!({ "v": value }) };
            let body = json!({ "query": document, "variables": variables }).to_string();
            let (status, body) = post(app, token, body).await?;
            coded(status, &body)
        },
    );
}

/// An id or a cursor: garbage, or well-formed base64 holding hostile contents.
fn id_or_cursor() -> impl Strategy<Value = String> {
    let order = proptest::sample::select(vec![
        "id",
        "occurred_at",
        "created_at",
        "updated_at",
        "priority",
        "x",
    ]);
    let key = prop_oneof![
        Just(Value::Null),
        ".{0,16}".prop_map(Value::from),
        proptest::sample::select(vec![
            "9999-12-31T23:59:59Z",
            "2026-13-45",
            "'; drop table tickets; --",
            "\u{0}",
            "NaN",
            "-1"
        ])
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ];
    let kind = proptest::sample::select(vec![
        "Ticket",
        "Environment",
        "Person",
        "Organization",
        "Nope",
        "",
        "Ticket:Ticket",
    ]);
    prop_oneof![
        ".{0,40}",
        proptest::collection::vec(any::<u8>(), 0..48)
            .prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
        (order, key, any::<u128>()).prop_map(|(order, key, id)| {
            let id = uuid::Uuid::from_u128(id);
            URL_SAFE_NO_PAD.encode(json!({ "o": order, "k": key, "i": id }).to_string())
        }),
        (kind, any::<u128>(), ".{0,4}").prop_map(|(kind, id, tail)| {
            URL_SAFE_NO_PAD.encode(format!("{kind}:{}{tail}", uuid::Uuid::from_u128(id)))
        }),
    ]
}

#[test]
fn generated_ids_and_cursors_get_coded_errors() {
    const DOCUMENTS: &[&str] = &[
        "query($v: ID!) { node(id: $v) { id } }",
        "query($v: String) { tickets(first: 5, after: $v) { totalCount edges { node { id } } } }",
        "query($v: String) { tickets(last: 5, before: $v, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount } }",
        "query($v: String) { changeLog(first: 5, after: $v) { edges { cursor } } }",
        "query($v: String) { changeLog(last: 5, before: $v, orderBy: { direction: ASC }) { edges { cursor } } }",
        "query($v: ID!) { tickets(first: 5, filter: { environmentIds: [$v] }) { totalCount } }",
    ];
    let strategy = (proptest::sample::select(DOCUMENTS), id_or_cursor());
    fuzz(
        "ids and cursors",
        strategy,
        async |app, token, (document, text)| {
            let body = json!({ "query": document, "variables": { "v": text } }).to_string();
            let (status, body) = post(app, token, body).await?;
            coded(status, &body)
        },
    );
}

/// A webhook call: which integration, which body, which credentials.
#[derive(Debug, Clone)]
struct Callback {
    target: usize,
    body: Vec<u8>,
    /// 0: none, 1: the right shared secret, 2: a wrong one, 3: a ConnectWise signature over the
    /// body with the mock's key, 4: an Autotask-style signature with a wrong secret.
    credential: u8,
    content_type: Option<&'static str>,
}

fn callback() -> impl Strategy<Value = Callback> {
    let body = prop_oneof![
        3 => json_value().prop_map(|value| value.to_string().into_bytes()),
        2 => (json_value(), ".{0,12}", any::<i64>()).prop_map(|(value, kind, id)| {
            json!({ "Type": kind, "ID": id, "CompanyId": "acme", "Action": "updated",
                "Metadata": { "key_url": value }, "activityType": "CONDITION", "statusCode": value,
                "resources": value })
            .to_string()
            .into_bytes()
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => Just(format!("{}1{}", "[".repeat(3_000), "]".repeat(3_000)).into_bytes()),
    ];
    (
        0usize..4,
        body,
        0u8..5,
        proptest::sample::select(vec![Some("application/json"), Some("text/plain"), None]),
    )
        .prop_map(|(target, body, credential, content_type)| Callback {
            target,
            body,
            credential,
            content_type,
        })
}

#[test]
fn generated_webhook_calls_get_coded_answers() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let (app, _servers, targets) = runtime
        .block_on(async {
            let app = TestApp::spawn_with_demo().await?;
            let (connectwise, connectwise_id) = crate::sync::connectwise(&app, 3, 1000).await?;
            let (ninja, ninja_id) = crate::sync::ninja(&app, 1000).await?;
            let targets = vec![
                connectwise_id.to_string(),
                ninja_id.to_string(),
                uuid::Uuid::new_v4().to_string(),
                "not-an-id%00".to_owned(),
            ];
            anyhow::Ok((app, (connectwise, ninja), targets))
        })
        .expect("a server with two integrations");
    let mut runner = runner();
    let result = runner.run(&callback(), |call| {
        runtime.block_on(async {
            let mut request = app
                .client
                .post(format!("{}/webhooks/{}", app.address, targets[call.target]))
                .body(call.body.clone());
            if let Some(content_type) = call.content_type {
                request = request.header("content-type", content_type);
            }
            request = match call.credential {
                1 => request.header("x-tandem-webhook-secret", "ninja-hook-secret"),
                2 => request.header("authorization", "Bearer not-the-secret"),
                3 => request.header(
                    "x-content-signature",
                    integrations::webhooks::connectwise_signature(
                        integrations::mock::connectwise::SIGNING_KEY,
                        &call.body,
                    ),
                ),
                4 => request.header(
                    "x-hook-signature",
                    integrations::webhooks::autotask_signature("wrong", &call.body),
                ),
                _ => request,
            };
            let response = request
                .send()
                .await
                .map_err(|error| TestCaseError::fail(format!("the request failed: {error}")))?;
            let status = response.status().as_u16();
            let body: Value = response
                .json()
                .await
                .map_err(|error| TestCaseError::fail(format!("not JSON ({status}): {error}")))?;
            prop_assert!(
                [202, 400, 401, 404, 413, 415].contains(&status),
                "status {status}: {body}"
            );
            coded(status, &body)
        })
    });
    if let Err(failure) = result {
        panic!("webhooks: {failure}");
    }
    let outcomes = OUTCOMES.with_borrow_mut(std::mem::take);
    eprintln!(
        "webhooks: {} cases, no crash, every error coded; answers: {outcomes:?}",
        cases()
    );
    runtime.block_on(app.stop()).expect("the server stops");
}
