//! Responses shaped as the GraphQL specification says (`graphql::shape`): every object's
//! fields in selection order, a failed nullable field present as `null` with its error, and a
//! failed non-null field nulling its nearest nullable parent (`data` when there is none), over
//! HTTP (single operations, mutations, batches) and in subscription events over graphql-ws.
//!
//! `serde_json::Value` sorts object keys, so the order is read from the raw text with
//! [`Ordered`].

use std::fmt::Write as _;
use std::time::Duration;

use entities::enums::Role;
use futures_util::StreamExt;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};
use tests::TestApp;
use tokio_tungstenite::tungstenite::Message;

use crate::subscriptions::{Socket, connect, subscribe};

/// A JSON value whose objects keep their keys in the order of the text.
enum Ordered {
    Object(Vec<(String, Ordered)>),
    List(Vec<Ordered>),
    Scalar,
    Null,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = Ordered;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Ordered>()? {
                    fields.push((key, value));
                }
                Ok(Ordered::Object(fields))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Ordered>()? {
                    items.push(item);
                }
                Ok(Ordered::List(items))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_none<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        deserializer.deserialize_any(OrderedVisitor)
    }
}

impl Ordered {
    fn get(&self, key: &str) -> &Ordered {
        match self {
            Ordered::Object(fields) => fields
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value)
                .unwrap_or_else(|| panic!("no `{key}`")),
            _ => panic!("not an object at `{key}`"),
        }
    }

    fn index(&self, index: usize) -> &Ordered {
        match self {
            Ordered::List(items) => &items[index],
            _ => panic!("not a list"),
        }
    }

    /// The keys of every object, in order: `{a,b{c}}`; a list shows its items' outline once
    /// when they all share it, `null` stands for null, and `*` for a scalar.
    fn outline(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Ordered::Object(fields) => {
                out.push('{');
                for (index, (name, value)) in fields.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    match value {
                        Ordered::Scalar => {}
                        Ordered::Null => out.push_str(":null"),
                        _ => value.write(out),
                    }
                }
                out.push('}');
            }
            Ordered::List(items) => {
                let outlines: Vec<String> = items.iter().map(Ordered::outline).collect();
                if outlines.windows(2).all(|pair| pair[0] == pair[1]) {
                    let _ = write!(out, "[{}]", outlines.first().map_or("", String::as_str));
                } else {
                    let _ = write!(out, "[{}]", outlines.join("|"));
                }
            }
            Ordered::Scalar => out.push('*'),
            Ordered::Null => out.push_str("null"),
        }
    }
}

/// `POST /graphql` with a raw body; returns the status, the body as JSON and in text order.
async fn post(app: &TestApp, token: &str, body: &Value) -> anyhow::Result<(u16, Value, Ordered)> {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text)?,
        serde_json::from_str(&text)?,
    ))
}

async fn ticket_and_environment(app: &TestApp, token: &str) -> anyhow::Result<(Value, Value)> {
    let data = app
        .query(
            token,
            "{ tickets(first: 1) { edges { node { id environment { id } } } } }",
            Value::Null,
        )
        .await?;
    let node = &data["tickets"]["edges"][0]["node"];
    anyhow::ensure!(node["id"].is_string(), "the demo has no ticket: {data}");
    Ok((node["id"].clone(), node["environment"]["id"].clone()))
}

/// Ten root fields and aliases, through a named fragment, an inline fragment and a skipped
/// field; some resolve at once (`viewer`), others after DataLoader batches (`environment`).
const ORDERED: &str = r"
query Ordered($skip: Boolean!) {
  viewer { role organization { name } person { displayName } }
  t: tickets(first: 20) { edges { node { environment { name } title priority id } } totalCount }
  organizations(first: 5) { totalCount }
  e: environments(first: 5) { edges { node { name id } } }
  ...Counts
  a: viewer { role }
  hidden: teams(first: 1) @skip(if: $skip) { totalCount }
  people(first: 3) { totalCount }
  ... on Query { alerts(first: 5) { edges { node { environment { name } message id } } } }
  engagements(first: 2) { totalCount }
  __typename
}
fragment Counts on Query { teams(first: 5) { totalCount } }
";

const ORDERED_OUTLINE: &str = "{viewer{role,organization{name},person{displayName}},\
t{edges[{node{environment{name},title,priority,id}}],totalCount},organizations{totalCount},\
e{edges[{node{name,id}}]},teams{totalCount},a{role},people{totalCount},\
alerts{edges[{node{environment{name},message,id}}]},engagements{totalCount},__typename}";

#[tokio::test]
async fn fields_keep_selection_order_over_thirty_runs() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    for run in 0..30 {
        let (status, body, ordered) = post(
            &app,
            &token,
            &json!({ "query": ORDERED, "variables": { "skip": true } }),
        )
        .await?;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            ordered.get("data").outline(),
            ORDERED_OUTLINE,
            "run {run}: {body}"
        );
        // The lists hold something, so their items' order was checked.
        assert!(body["data"]["t"]["totalCount"].as_u64() > Some(1), "{body}");
        assert!(!body["data"]["alerts"]["edges"][1].is_null(), "{body}");
    }
    // With the skipped field included, it takes its place in the selection.
    let (_, _, ordered) = post(
        &app,
        &token,
        &json!({ "query": ORDERED, "variables": { "skip": false } }),
    )
    .await?;
    assert_eq!(
        ordered.get("data").outline(),
        ORDERED_OUTLINE.replace("a{role},", "a{role},hidden{totalCount},")
    );
    app.stop().await
}

#[tokio::test]
async fn fragments_on_an_interface_follow_the_concrete_type() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let (ticket, environment) = ticket_and_environment(&app, &token).await?;
    // For a ticket, `id` is first collected after `title` (the Environment fragment does not
    // apply); for an environment, first.
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Environment { id name } ... on Ticket { environment { name } title } id __typename } }";
    let (_, body, ordered) = post(
        &app,
        &token,
        &json!({ "query": query, "variables": { "ids": [ticket, environment] } }),
    )
    .await?;
    assert!(body.get("errors").is_none(), "{body}");
    let nodes = ordered.get("data").get("nodes");
    assert_eq!(
        nodes.index(0).outline(),
        "{environment{name},title,id,__typename}"
    );
    assert_eq!(nodes.index(1).outline(), "{id,name,__typename}");
    app.stop().await
}

#[tokio::test]
async fn a_failing_nullable_field_is_null_with_an_error_at_its_path() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let query = r#"{ viewer { role } node(id: "bogus") { id } ticket(id: "bogus") { title } after: viewer { role } }"#;
    let (status, body, ordered) = post(&app, &token, &json!({ "query": query })).await?;
    assert_eq!(status, 200);
    assert_eq!(
        ordered.get("data").outline(),
        "{viewer{role},node:null,ticket:null,after{role}}"
    );
    assert_eq!(body["data"]["viewer"]["role"], "ADMIN");
    let mut paths: Vec<&Value> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| &error["path"])
        .collect();
    paths.sort_by_key(|path| path.to_string());
    assert_eq!(paths, [&json!(["node"]), &json!(["ticket"])], "{body}");
    for error in body["errors"].as_array().expect("errors") {
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(error["extensions"]["requestId"].is_string(), "{body}");
    }
    app.stop().await
}

#[tokio::test]
async fn a_failing_non_null_field_nulls_its_nearest_nullable_parent() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let (ticket, _) = ticket_and_environment(&app, &token).await?;

    // `Ticket.changes` is non-null: its failure nulls the (nullable) ticket, and only it.
    let query = "query($id: ID!) { viewer { role } ticket(id: $id) { title changes(first: 101) { totalCount } } node(id: $id) { ... on Ticket { title changes(first: 101) { totalCount } } } last: viewer { role } }";
    let (status, body, ordered) = post(
        &app,
        &token,
        &json!({ "query": query, "variables": { "id": ticket } }),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(
        ordered.get("data").outline(),
        "{viewer{role},ticket:null,node:null,last{role}}",
        "{body}"
    );
    let mut paths: Vec<String> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| error["path"].to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [r#"["node","changes"]"#, r#"["ticket","changes"]"#],
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["message"],
        "`first` must be at most 100 (got 101); page with `after`"
    );

    // A non-null root field: `data` itself is null, whatever else succeeded.
    for accept in ["application/json", "application/graphql-response+json"] {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&token)
            .header("accept", accept)
            .json(&json!({ "query": "{ viewer { role } tickets(first: 101) { totalCount } }" }))
            .send()
            .await?;
        // A field error is not a request error: 200 under both media types.
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await?;
        assert_eq!(body["data"], Value::Null, "{body}");
        assert!(
            body.as_object().expect("body").contains_key("data"),
            "{body}"
        );
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["tickets"]));
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    app.stop().await
}

#[tokio::test]
async fn mutations_are_shaped_the_same_way() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let (_, environment) = ticket_and_environment(&app, &token).await?;
    let query = r"mutation($env: ID!) {
      first: createTicket(input: { environmentId: $env, title: 'First' }) {
        ticket { environment { name } title changes(first: 101) { totalCount } } userErrors { code }
      }
      second: createTicket(input: { environmentId: $env, title: 'Second' }) {
        userErrors { code } ticket { environment { name } title status }
      }
    }"
    .replace('\'', "\"");
    let (status, body, ordered) = post(
        &app,
        &token,
        &json!({ "query": query, "variables": { "env": environment } }),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(
        ordered.get("data").outline(),
        "{first{ticket:null,userErrors[]},second{userErrors[],ticket{environment{name},title,status}}}",
        "{body}"
    );
    assert_eq!(body["data"]["second"]["ticket"]["title"], "Second");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(
        body["errors"][0]["path"],
        json!(["first", "ticket", "changes"])
    );
    // The first ticket was written all the same: only its response was nulled.
    let titles = app
        .all_nodes(&token, "tickets", "title")
        .await?
        .into_iter()
        .filter(|node| node["title"] == "First" || node["title"] == "Second")
        .count();
    assert_eq!(titles, 2);

    // A failing root mutation field (its payload is non-null): `data` is null.
    let viewer = app.token("demo|harbor-compliance", "harbor-health", Role::Viewer);
    let (_, environment) = ticket_and_environment(&app, &viewer).await?;
    let (status, body, _) = post(
        &app,
        &viewer,
        &json!({
            "query": "mutation($env: ID!) { createTicket(input: { environmentId: $env, title: \"x\" }) { ticket { id } } }",
            "variables": { "env": environment },
        }),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["createTicket"]));
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    app.stop().await
}

#[tokio::test]
async fn each_operation_of_a_batch_is_shaped() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let batch = json!([
        { "query": r#"{ viewer { role } node(id: "bogus") { id } z: viewer { role } }"# },
        { "query": "{ viewer { role } tickets(first: 101) { totalCount } }" },
        { "query": ORDERED, "variables": { "skip": true } },
    ]);
    for _ in 0..5 {
        let (status, body, ordered) = post(&app, &token, &batch).await?;
        assert_eq!(status, 200);
        assert_eq!(
            ordered.index(0).get("data").outline(),
            "{viewer{role},node:null,z{role}}"
        );
        assert_eq!(body[0]["errors"][0]["path"], json!(["node"]));
        assert_eq!(body[1]["data"], Value::Null, "{body}");
        assert_eq!(body[1]["errors"][0]["path"], json!(["tickets"]));
        assert_eq!(ordered.index(2).get("data").outline(), ORDERED_OUTLINE);
        assert!(body[2].get("errors").is_none(), "{body}");
    }
    app.stop().await
}

/// The next text message, in text order.
async fn next_raw(socket: &mut Socket) -> anyhow::Result<(Value, Ordered)> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("no message within 5 s"))?
            .ok_or_else(|| anyhow::anyhow!("socket closed"))??;
        if let Message::Text(text) = message {
            return Ok((serde_json::from_str(&text)?, serde_json::from_str(&text)?));
        }
    }
}

#[tokio::test]
async fn subscription_events_are_shaped() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let (_, environment) = ticket_and_environment(&app, &token).await?;
    let mut socket = connect(&app, &token).await?;
    subscribe(
        &mut socket,
        "order",
        "subscription { ticketChanged { environment { name } title t: title status id } }",
    )
    .await?;
    // `ticketChanged` is non-null: a failure inside the ticket nulls the event's `data`.
    subscribe(
        &mut socket,
        "fail",
        "subscription { ticketChanged { title changes(first: 101) { totalCount } } }",
    )
    .await?;
    app.query(
        &token,
        "mutation($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } } }",
        json!({ "input": { "environmentId": environment, "title": "Shaped" } }),
    )
    .await?;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (event, ordered) = next_raw(&mut socket).await?;
        assert_eq!(event["type"], "next", "{event}");
        match event["id"].as_str() {
            Some("order") => {
                assert_eq!(
                    ordered.get("payload").get("data").outline(),
                    "{ticketChanged{environment{name},title,t,status,id}}",
                    "{event}"
                );
                assert_eq!(event["payload"]["data"]["ticketChanged"]["t"], "Shaped");
            }
            Some("fail") => {
                assert_eq!(event["payload"]["data"], Value::Null, "{event}");
                assert!(
                    event["payload"]
                        .as_object()
                        .expect("payload")
                        .contains_key("data"),
                    "{event}"
                );
                assert_eq!(
                    event["payload"]["errors"][0]["path"],
                    json!(["ticketChanged", "changes"]),
                    "{event}"
                );
                assert_eq!(
                    event["payload"]["errors"][0]["message"],
                    "`first` must be at most 100 (got 101); page with `after`"
                );
            }
            other => panic!("unexpected id {other:?}: {event}"),
        }
        seen.push(event["id"].clone());
    }
    seen.sort_by_key(Value::to_string);
    assert_eq!(seen, [json!("fail"), json!("order")]);
    app.stop().await
}
