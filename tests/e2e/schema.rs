//! The schema is the documentation front-end teams read: it must be current and fully described.

use serde_json::Value;

#[test]
fn committed_sdl_matches_the_built_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/schema.graphql");
    let committed = std::fs::read_to_string(path).expect("api/schema.graphql exists");
    let built = api::graphql::sdl();
    assert!(
        committed == built,
        "api/schema.graphql is stale: run `cargo run -q -- schema > api/schema.graphql` and commit it"
    );
}

const INTROSPECTION: &str = "{ __schema { types {
  name kind description
  fields { name description args { name description } }
  inputFields { name description }
  enumValues { name description }
} } }";

#[tokio::test]
async fn every_type_field_argument_and_enum_value_has_a_description() {
    let response = api::graphql::build_schema(Default::default())
        .execute(INTROSPECTION)
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response
        .data
        .into_json()
        .expect("introspection result is JSON");
    let described = |item: &Value| {
        item["description"]
            .as_str()
            .is_some_and(|text| !text.trim().is_empty())
    };
    let mut undocumented = Vec::new();
    for schema_type in data["__schema"]["types"].as_array().expect("types") {
        let name = schema_type["name"].as_str().expect("name");
        // GraphQL's own types and scalars are documented by the specification.
        if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name) {
            continue;
        }
        if !described(schema_type) {
            undocumented.push(name.to_owned());
        }
        for member_kind in ["fields", "inputFields", "enumValues"] {
            for member in schema_type[member_kind].as_array().into_iter().flatten() {
                let member_name = format!("{name}.{}", member["name"].as_str().unwrap_or_default());
                if !described(member) {
                    undocumented.push(member_name.clone());
                }
                for argument in member["args"].as_array().into_iter().flatten() {
                    if !described(argument) {
                        undocumented.push(format!(
                            "{member_name}({})",
                            argument["name"].as_str().unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "undocumented schema elements: {undocumented:#?}"
    );
}

/// The introspection query every standard tool sends (GraphiQL's docs explorer, graphql-codegen,
/// Apollo, Postman, Insomnia): graphql-js 16.15.0's `getIntrospectionQuery()`, plain and with
/// every option on, answered over HTTP in full, while other queries keep their depth limit.
#[tokio::test]
async fn standard_introspection_queries_are_answered() -> anyhow::Result<()> {
    let app = tests::TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    for fixture in [
        "graphql-js-16.15.0.graphql",
        "graphql-js-16.15.0-all-options.graphql",
    ] {
        let path = format!(
            "{}/fixtures/introspection/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        let query = std::fs::read_to_string(&path)?;
        let (status, body) = app
            .graphql(Some(&token), &query, serde_json::json!({}))
            .await?;
        assert_eq!(status, 200, "{fixture}: {body}");
        assert!(
            body.get("errors").is_none(),
            "{fixture}: {}",
            body["errors"]
        );
        let schema = &body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "Query");
        assert_eq!(schema["subscriptionType"]["name"], "Subscription");
        let types = schema["types"].as_array().expect("types");
        // What a client rebuilds the schema from: every type of the SDL, with its fields'
        // types resolved through their wrappers.
        let sdl = api::graphql::sdl();
        for name in [
            "Ticket",
            "Environment",
            "ChangeLogEntry",
            "SyncRun",
            "DateTime",
        ] {
            assert!(sdl.contains(name));
            assert!(
                types.iter().any(|found| found["name"] == name),
                "{fixture}: {name} is missing"
            );
        }
        let ticket = types
            .iter()
            .find(|found| found["name"] == "Ticket")
            .unwrap();
        let environment = ticket["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|field| field["name"] == "environment")
            .unwrap();
        assert_eq!(environment["type"]["kind"], "NON_NULL");
        assert_eq!(environment["type"]["ofType"]["name"], "Environment");
    }
    app.stop().await
}

/// Introspection is bounded by its own shape instead: deeper `ofType` chains than any standard
/// tool sends, lists nested beyond `types > fields > args`, or `__schema` twice are refused
/// with what was found and the limit.
#[tokio::test]
async fn introspection_that_multiplies_its_answer_is_refused() -> anyhow::Result<()> {
    let app = tests::TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let mut chain = "name".to_owned();
    for _ in 0..20 {
        chain = format!("ofType {{ {chain} }}");
    }
    let cases = [
        (
            format!("{{ __type(name: \"Ticket\") {{ fields {{ type {{ {chain} }} }} }} }}"),
            "QUERY_TOO_DEEP",
            "at most 20",
        ),
        (
            "{ __schema { types { fields { type { ofType { fields { type { ofType { fields { name } } } } } } } } } }".to_owned(),
            "QUERY_TOO_DEEP",
            "nests 4 lists",
        ),
        (
            "{ a: __schema { types { name } } b: __schema { types { name } } }".to_owned(),
            "QUERY_TOO_COMPLEX",
            "asks for __schema 2 times",
        ),
    ];
    for (query, code, says) in cases {
        let (_, body) = app
            .graphql(Some(&token), &query, serde_json::json!({}))
            .await?;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
        assert!(body["data"].is_null(), "{body}");
    }
    // Fragments spreading each other twice over double with each level: a few lines that
    // expand to millions of fields are refused before validation walks them (which took
    // minutes of a worker thread), and are measured without walking them either.
    let fragments = |levels: usize| {
        let mut document = String::from("query { viewer { ...F0 } }\n");
        for level in 0..levels {
            document.push_str(&format!(
                "fragment F{level} on Viewer {{ role ...F{next} ...F{next} }}\n",
                next = level + 1
            ));
        }
        document.push_str(&format!("fragment F{levels} on Viewer {{ role }}\n"));
        document
    };
    let started = std::time::Instant::now();
    let (_, body) = app
        .graphql(Some(&token), &fragments(30), serde_json::json!({}))
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("fields once its fragments are expanded; at most 10000"),
        "{message}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let (_, body) = app
        .graphql(Some(&token), &fragments(8), serde_json::json!({}))
        .await?;
    assert_eq!(body["data"]["viewer"]["role"], "ADMIN", "{body}");
    let mut deep = "slug".to_owned();
    for _ in 0..6 {
        deep = format!(
            "organization {{ environments(first: 1) {{ edges {{ node {{ {deep} }} }} }} }}"
        );
    }
    let query = format!("query {{ viewer {{ ...D }} }} fragment D on Viewer {{ {deep} }}");
    let (_, body) = app
        .graphql(Some(&token), &query, serde_json::json!({}))
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("at most 12 are allowed"), "{message}");
    app.stop().await
}

/// A fragment that spreads itself, directly or through another, is refused before validation
/// (whose complexity pass would otherwise recurse until the stack overflows and the process
/// aborts); so is a document whose operations and unused fragments together expand too far.
#[tokio::test]
async fn fragment_cycles_and_documents_that_expand_too_far_are_refused() -> anyhow::Result<()> {
    let app = tests::TestApp::spawn_with_demo().await?;
    let viewer = app.token(
        api::demo::CLIENT_IT_ADMIN.0,
        api::demo::CLIENT_IT_ADMIN.1,
        entities::enums::Role::Viewer,
    );
    let doubling = |levels: usize| {
        let mut fragments = String::new();
        for level in 0..levels {
            fragments.push_str(&format!(
                "fragment F{level} on Viewer {{ role ...F{next} ...F{next} }}\n",
                next = level + 1
            ));
        }
        fragments.push_str(&format!("fragment F{levels} on Viewer {{ role }}\n"));
        fragments
    };
    let cases = [
        (
            "query { viewer { ...A } } fragment A on Viewer { role ...A }".to_owned(),
            "GRAPHQL_VALIDATION_FAILED",
            "the fragment `A` spreads itself",
        ),
        (
            "query { viewer { ...A } } fragment A on Viewer { role ...B } fragment B on Viewer { ...A }"
                .to_owned(),
            "GRAPHQL_VALIDATION_FAILED",
            "spreads itself",
        ),
        (
            // Unused by the operation, but validation walks it all the same.
            "query { viewer { role } } fragment A on Viewer { role ...A }".to_owned(),
            "GRAPHQL_VALIDATION_FAILED",
            "spreads itself",
        ),
        (
            // Each operation within the budget, all of them together far beyond it.
            format!(
                "{}{}",
                (0..40)
                    .map(|number| format!("query q{number} {{ viewer {{ ...F0 }} }}\n"))
                    .collect::<String>(),
                doubling(8)
            ),
            "QUERY_TOO_COMPLEX",
            "the document selects",
        ),
        (
            // Never spread, and still walked by validation.
            format!("query {{ viewer {{ role }} }}\n{}", doubling(14)),
            "QUERY_TOO_COMPLEX",
            "the document selects",
        ),
    ];
    for (document, code, says) in cases {
        for transport in ["POST", "GET"] {
            let body: serde_json::Value = if transport == "POST" {
                app.graphql(Some(&viewer), &document, serde_json::json!({}))
                    .await?
                    .1
            } else {
                app.client
                    .get(format!("{}/graphql", app.address))
                    .bearer_auth(&viewer)
                    .query(&[("query", document.as_str())])
                    .send()
                    .await?
                    .json()
                    .await?
            };
            assert_eq!(
                body["errors"][0]["extensions"]["code"], code,
                "{transport}: {body}"
            );
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{transport}: {message}");
        }
    }
    // The server is still up and answering.
    let (_, body) = app
        .graphql(Some(&viewer), "{ viewer { role } }", serde_json::json!({}))
        .await?;
    assert_eq!(body["data"]["viewer"]["role"], "VIEWER", "{body}");
    app.stop().await
}
