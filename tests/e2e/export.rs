//! `GET /export/change-log`: the same filter and tenancy as `changeLog`, streamed as CSV or NDJSON.

use chrono::{Duration, Utc};
use entities::enums::{ChangeCategory, ChangeSource};
use entities::{change_log_entry, environment};
use sea_orm::{EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

async fn export(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
) -> anyhow::Result<(u16, String, String)> {
    let mut request = app
        .client
        .get(format!("{}/export/change-log?{query}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    Ok((status, content_type, response.text().await?))
}

async fn graphql_ids(app: &TestApp, token: &str, filter: Value) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(
                token,
                "query($filter: ChangeLogFilter, $after: String) { changeLog(filter: $filter, first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id } } } }",
                json!({ "filter": filter, "after": after }),
            )
            .await?;
        let page = &data["changeLog"];
        ids.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return Ok(ids);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Adds entries so that the export spans several chunks.
async fn add_entries(app: &TestApp, count: usize) -> anyhow::Result<()> {
    let environment = environment::Entity::find()
        .one(&app.db)
        .await?
        .expect("an environment");
    let now = Utc::now();
    let entries: Vec<_> = (0..count)
        .map(|number| {
            change_log_entry::Model {
                id: Uuid::now_v7(),
                environment_id: environment.id,
                summary: format!("=HYPERLINK(\"http://evil.example\") bulk change {number}"),
                details: json!({ "number": number }),
                reason: None,
                actor_id: None,
                actor_name: "bulk".into(),
                source: ChangeSource::Api,
                category: ChangeCategory::Other,
                occurred_at: now - Duration::seconds(number as i64),
                recorded_at: now,
                ticket_id: None,
                corrects_id: None,
                change_set_id: None,
                integration_id: None,
                organization_id: None,
                principal: entities::enums::Principal::System,
                recorded_by_id: None,
                external_source: None,
                external_id: None,
                external_url: None,
            }
            .into_active_model()
        })
        .collect();
    for chunk in entries.chunks(100) {
        change_log_entry::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn ndjson_export_holds_exactly_what_the_query_returns_in_order() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    add_entries(&app, 700).await?;
    let token = app.provider_admin_token();
    let (status, content_type, body) = export(&app, Some(&token), "format=ndjson").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<Value> = body
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let exported: Vec<String> = lines
        .iter()
        .map(|line| line["id"].as_str().unwrap().to_owned())
        .collect();
    let queried = graphql_ids(&app, &token, json!({})).await?;
    assert!(exported.len() > 900, "spans several chunks of 500");
    assert_eq!(exported, queried);
    assert!(
        lines[0]["details"].is_object(),
        "NDJSON keeps details as an object"
    );

    let (_, _, body) = export(&app, Some(&token), "format=ndjson&order=desc").await?;
    let mut newest_first: Vec<String> = body
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    newest_first.reverse();
    assert_eq!(newest_first, queried);
    app.stop().await
}

#[tokio::test]
async fn csv_export_applies_the_filter_and_neutralizes_formulas() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    add_entries(&app, 3).await?;
    let token = app.provider_admin_token();
    let filter = json!({ "sources": ["API", "MANUAL"], "categories": ["OTHER", "ACCESS"] });
    let queried = graphql_ids(&app, &token, filter).await?;
    let (status, content_type, body) = export(
        &app,
        Some(&token),
        "format=csv&sources=API,MANUAL&categories=OTHER&categories=ACCESS",
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers()?.clone();
    assert_eq!(&headers[0], "id");
    assert_eq!(&headers[7], "summary");
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let exported: Vec<&str> = records.iter().map(|record| &record[0]).collect();
    assert_eq!(exported, queried);
    assert!(
        records
            .iter()
            .all(|record| ["API", "MANUAL"].contains(&&record[12])
                && ["OTHER", "ACCESS"].contains(&&record[13]))
    );
    let formula = records
        .iter()
        .find(|record| record[7].contains("HYPERLINK"))
        .expect("a bulk entry");
    assert!(
        formula[7].starts_with("'="),
        "formulas are neutralized: {}",
        &formula[7]
    );
    app.stop().await
}

#[tokio::test]
async fn export_is_scoped_to_the_callers_tenant() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let (status, _, body) = export(&app, Some(&cedar), "format=ndjson").await?;
    assert_eq!(status, 200);
    let environments: std::collections::HashSet<String> = body
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["environment"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        environments.into_iter().collect::<Vec<_>>(),
        ["Main Office"]
    );
    assert_eq!(
        body.lines().count(),
        graphql_ids(&app, &cedar, json!({})).await?.len()
    );
    app.stop().await
}

#[tokio::test]
async fn bad_export_requests_get_clear_errors() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let (status, _, body) = export(&app, None, "format=csv").await?;
    assert_eq!(status, 401, "{body}");
    let cases = [
        ("", "`format` is required: csv or ndjson"),
        ("format=xml", "unknown format `xml`; use csv or ndjson"),
        (
            "format=csv&environmentId=abc",
            "unknown parameter `environmentId`",
        ),
        ("format=csv&environmentIds=nope", "`nope` is not a valid id"),
        (
            "format=csv&occurredAfter=yesterday",
            "`yesterday` is not an RFC 3339 instant",
        ),
        (
            "format=csv&sources=FAX",
            "`FAX` is not a valid value of `sources`",
        ),
        ("format=csv&order=sideways", "unknown order `sideways`"),
        (
            "format=csv&occurredAfter=2026-02-01T00:00:00Z&occurredBefore=2026-01-01T00:00:00Z",
            "`occurredBefore` must be later",
        ),
    ];
    for (query, message) in cases {
        let (status, content_type, body) = export(&app, Some(&token), query).await?;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(content_type, "application/json");
        let body: Value = serde_json::from_str(&body)?;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(message),
            "{query}: {body}"
        );
    }
    app.stop().await
}
