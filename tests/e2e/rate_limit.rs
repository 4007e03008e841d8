//! Per-caller rate limiting (issue 12, item 6): a caller over `TANDEM_RATE_LIMIT` is answered
//! 429 with `Retry-After` on every door (GraphQL, exports), other callers are not affected, and
//! every admitted response says how much of the burst is left.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{TestApp, test_server_settings};

// One a second: slow enough that a refused caller stays refused for the next few requests
// however slow the machine.
const RATE: u32 = 1;
const BURST: u32 = 5;

async fn limited_app() -> anyhow::Result<TestApp> {
    let mut settings = test_server_settings();
    settings.rate_limit = RATE;
    settings.rate_limit_burst = BURST;
    settings.metrics_token = Some("scraper-token-0123456789abcdef".to_owned().into());
    TestApp::spawn_with(settings, true).await
}

async fn ask(app: &TestApp, token: &str) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await?)
}

/// The process's count of rate-limit refusals so far.
async fn refusals(app: &TestApp) -> anyhow::Result<f64> {
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("scraper-token-0123456789abcdef")
        .send()
        .await?
        .text()
        .await?;
    Ok(metrics
        .lines()
        .find(|line| line.starts_with("tandem_rate_limited_total "))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0))
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

#[tokio::test]
async fn a_caller_over_its_rate_waits_and_other_callers_do_not() -> anyhow::Result<()> {
    let app = limited_app().await?;
    let provider = app.provider_admin_token();
    let before = refusals(&app).await?;
    for left in (0..u64::from(BURST)).rev() {
        let response = ask(&app, &provider).await?;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "x-ratelimit-limit"),
            Some(u64::from(BURST))
        );
        // The bucket refills while the requests run: at least what is left, never more than the burst.
        let remaining = header(&response, "x-ratelimit-remaining").unwrap();
        assert!(
            remaining >= left && remaining < u64::from(BURST),
            "{remaining} vs {left}"
        );
        assert!(header(&response, "x-ratelimit-reset").is_some());
    }
    // Drain whatever refilled, until refused.
    let mut refused = None;
    for _ in 0..20 {
        let response = ask(&app, &provider).await?;
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("the caller is refused once over its burst");
    let retry_after = header(&refused, "retry-after").expect("Retry-After");
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some(0));
    assert_eq!(
        header(&refused, "x-ratelimit-limit"),
        Some(u64::from(BURST))
    );
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );

    // The same caller on another door shares its bucket; another caller has its own.
    let export = app
        .client
        .get(format!("{}/export/change-log?format=csv", app.address))
        .bearer_auth(&provider)
        .send()
        .await?;
    assert_eq!(export.status(), 429);
    assert_eq!(ask(&app, &app.client_admin_token()).await?.status(), 200);
    // A forged or expired token is refused as such, never counted against anyone.
    for _ in 0..10 {
        assert_eq!(ask(&app, "not-a-token").await?.status(), 401);
    }

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(
        ask(&app, &provider).await?.status(),
        200,
        "after Retry-After"
    );

    let after = refusals(&app).await?;
    assert!(after - before >= 2.0, "{before} -> {after}");
    app.stop().await
}

#[tokio::test]
async fn three_hundred_requests_at_once_from_one_token_get_only_the_burst() -> anyhow::Result<()> {
    let app = limited_app().await?;
    let token = app.provider_admin_token();
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..300).map(|_| ask(&app, &token))).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut admitted = 0;
    for answer in answers {
        match answer?.status().as_u16() {
            200 => admitted += 1,
            429 => {}
            other => panic!("status {other}"),
        }
    }
    // The burst, plus what the rate refilled while they ran.
    let most = f64::from(BURST) + f64::from(RATE) * elapsed + 1.0;
    assert!(
        admitted >= BURST && f64::from(admitted) <= most,
        "{admitted} admitted in {elapsed:.2} s"
    );
    app.stop().await
}

#[tokio::test]
async fn operations_over_a_websocket_count_against_the_same_rate() -> anyhow::Result<()> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let app = limited_app().await?;
    let token = app.provider_admin_token();
    // `connection_init` is one request of the burst; the operations started after it are the rest.
    let mut socket = crate::subscriptions::connect(&app, &token).await?;
    for id in 0..(BURST + 3) {
        socket
            .send(Message::Text(
                json!({ "id": id.to_string(), "type": "subscribe", "payload": { "query": "{ viewer { role } }" } })
                    .to_string()
                    .into(),
            ))
            .await?;
    }
    let mut answered = 0;
    let closed = loop {
        let message = crate::subscriptions::next(&mut socket).await?;
        match message["type"].as_str() {
            Some("next") => answered += 1,
            Some("closed") => break message,
            _ => {}
        }
    };
    assert_eq!(closed["code"], 1013, "try again later: {closed}");
    assert!(
        closed["reason"].as_str().unwrap().contains("rate limit"),
        "{closed}"
    );
    assert!(answered < BURST + 3, "{answered} operations ran");
    app.stop().await
}
