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
