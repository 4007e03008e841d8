//! GraphiQL served from the binary: the page links only this server's assets, each served as
//! the committed file with its media type, a year's `immutable` caching, an `ETag` answered
//! with 304, and gzip for clients that ask. The page in a real browser, offline, is
//! `tests/browser/graphiql.test.mjs`.

use std::io::Read;

use sha2::{Digest, Sha256};
use tests::TestApp;

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/assets/graphiql");

/// The `src` and `href` values of the page.
fn links(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').expect("a closing quote");
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

#[tokio::test]
async fn the_page_links_only_embedded_assets_and_allows_nothing_else() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert_eq!(
        page.headers()["content-security-policy"],
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src data:; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'none'"
    );
    let html = page.text().await?;
    assert!(!html.contains("<script>"), "no inline script: {html}");
    assert!(!html.contains("style="), "no inline style: {html}");
    let mut links = links(&html);
    links.sort();
    let names: Vec<&str> = links
        .iter()
        .filter_map(|link| link.strip_prefix("graphql/assets/"))
        .filter_map(|link| link.split_once("?v=").map(|(name, _)| name))
        .collect();
    assert_eq!(
        names,
        [
            "graphiql.min.css",
            "graphiql.min.js",
            "react-dom.production.min.js",
            "react.production.min.js",
            "tandem-graphiql.css",
            "tandem-graphiql.js",
        ]
    );
    // The favicon is empty, so the browser asks for nothing else.
    assert_eq!(links[0], "data:,");
    app.stop().await
}

#[tokio::test]
async fn every_asset_is_the_committed_file_cached_by_version_and_gzipped_on_request()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let html = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await?
        .text()
        .await?;
    let assets: Vec<String> = links(&html)
        .into_iter()
        .filter(|link| link.starts_with("graphql/assets/"))
        .collect();
    assert_eq!(assets.len(), 6);
    for link in assets {
        let (path, version) = link.split_once("?v=").expect("a version");
        let name = path.trim_start_matches("graphql/assets/");
        let committed = std::fs::read(format!("{ASSETS}/{name}"))?;
        let digest: String = Sha256::digest(&committed)[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(version, digest, "{name}: the version is its SHA-256");
        let media = if name.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };

        let plain = app
            .client
            .get(format!("{}/{link}", app.address))
            .header("accept-encoding", "identity")
            .send()
            .await?;
        assert_eq!(plain.status(), 200, "{name}");
        assert_eq!(plain.headers()["content-type"], media, "{name}");
        assert_eq!(
            plain.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(plain.headers()["vary"], "accept-encoding");
        assert!(plain.headers().get("content-encoding").is_none());
        let etag = plain.headers()["etag"].to_str()?.to_owned();
        assert_eq!(etag, format!("\"{digest}\""));
        assert_eq!(
            plain.bytes().await?.as_ref(),
            committed.as_slice(),
            "{name}"
        );

        // Another version's URL (a rolling upgrade): the bytes this server has, not cached.
        let other = app
            .client
            .get(format!("{}/{path}?v=0000000000000000", app.address))
            .send()
            .await?;
        assert_eq!(other.status(), 200, "{name}");
        assert_eq!(other.headers()["cache-control"], "no-cache", "{name}");

        let again = app
            .client
            .get(format!("{}/{link}", app.address))
            .header("if-none-match", &etag)
            .send()
            .await?;
        assert_eq!(again.status(), 304, "{name}");
        assert!(again.bytes().await?.is_empty());

        let gzip = app
            .client
            .get(format!("{}/{link}", app.address))
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await?;
        assert_eq!(gzip.status(), 200);
        assert_eq!(gzip.headers()["content-encoding"], "gzip", "{name}");
        assert_eq!(
            gzip.headers()["etag"].to_str()?,
            format!("\"{digest}-gzip\"")
        );
        let compressed = gzip.bytes().await?;
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_ref()).read_to_end(&mut inflated)?;
        assert_eq!(inflated, committed, "{name}");
        // The scripts shrink to a third or less; the style sheet, mostly base64 fonts, to 70 %.
        if committed.len() > 100_000 {
            let (parts, of) = if name.ends_with(".js") {
                (1, 3)
            } else {
                (7, 10)
            };
            assert!(
                compressed.len() * of < committed.len() * parts,
                "{name}: {} of {} bytes",
                compressed.len(),
                committed.len()
            );
        }
    }
    app.stop().await
}

#[tokio::test]
async fn an_unknown_asset_is_a_coded_404() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    for path in [
        "graphql/assets/nothing.js",
        "graphql/assets/..%2FCargo.toml",
        "graphql/assets/package.json",
    ] {
        let response = app
            .client
            .get(format!("{}/{path}", app.address))
            .send()
            .await?;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await?;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{body}"
        );
    }
    app.stop().await
}
