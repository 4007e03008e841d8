//! GraphiQL, served entirely from the binary: the page a browser gets at `GET /graphql`, and its
//! scripts and styles at `GET /graphql/assets/{name}`, embedded at build time from
//! `api/assets/graphiql/` (pinned production builds from the npm registry; see its README), so the
//! page works with no network beyond this server and its policy allows scripts and styles from
//! this origin only.
//!
//! The page links each asset with `?v=` and the start of its SHA-256, so an asset's URL names
//! its bytes: assets are cached for a year (`immutable`) and a new binary's page links new URLs.
//! Assets carry an `ETag` (answered with 304) and go gzip-compressed to clients that accept it.

use std::io::Write;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};
use crate::state::REQUEST_ID_HEADER;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the page loads, in the order it loads the scripts.
const ASSETS: &[Asset] = &[
    asset!("graphiql.min.css", CSS),
    asset!("tandem-graphiql.css", CSS),
    asset!("react.production.min.js", JAVASCRIPT),
    asset!("react-dom.production.min.js", JAVASCRIPT),
    asset!("graphiql.min.js", JAVASCRIPT),
    asset!("tandem-graphiql.js", JAVASCRIPT),
];

/// How long a browser keeps an asset: its URL changes with its bytes.
const CACHE_ASSET: &str = "public, max-age=31536000, immutable";

/// An asset ready to serve: its tag and its gzip-compressed bytes, computed once.
struct Prepared {
    asset: &'static Asset,
    /// The first 16 hex digits of the SHA-256 of the bytes.
    version: String,
    gzip: Bytes,
}

static PREPARED: LazyLock<Vec<Prepared>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.bytes);
            let version = digest[..8]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing to a Vec cannot fail.
            let gzip = encoder
                .write_all(asset.bytes)
                .and_then(|()| encoder.finish())
                .unwrap_or_default();
            Prepared {
                asset,
                version,
                gzip: Bytes::from(gzip),
            }
        })
        .collect()
});

static PAGE: LazyLock<String> = LazyLock::new(|| {
    // Relative URLs: from the page at `.../graphql`, `graphql/assets/x` is `.../graphql/assets/x`,
    // so the page also works behind a proxy that serves it under a path prefix.
    let link = |name: &str| {
        let prepared = PREPARED
            .iter()
            .find(|prepared| prepared.asset.name == name)
            .expect("the page links embedded assets only");
        format!("graphql/assets/{name}?v={}", prepared.version)
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Tandem GraphQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{css}">
    <link rel="stylesheet" href="{page_css}">
  </head>
  <body>
    <div id="graphiql">Loading…</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
    <script src="{react}"></script>
    <script src="{react_dom}"></script>
    <script src="{graphiql}"></script>
    <script src="{start}"></script>
  </body>
</html>
"#,
        css = link("graphiql.min.css"),
        page_css = link("tandem-graphiql.css"),
        react = link("react.production.min.js"),
        react_dom = link("react-dom.production.min.js"),
        graphiql = link("graphiql.min.js"),
        start = link("tandem-graphiql.js"),
    )
});

/// The GraphiQL page (`GET /graphql` from a browser). Not cached: it names the assets of this
/// binary.
pub fn page() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// `GET /graphql/assets/{name}`: an embedded script or style sheet. Cached for good only under
/// its own `?v=` (the page links that): during a rolling upgrade an older server asked for a
/// newer version answers what it has with `no-cache`, so nobody keeps old bytes under a new URL.
pub async fn asset(
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(prepared) = PREPARED.iter().find(|prepared| prepared.asset.name == name) else {
        let request_id = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok());
        return ApiError::request(ErrorCode::NotFound, "no such GraphiQL asset")
            .into_response_with_id(request_id);
    };
    let gzip = accepts_gzip(&headers);
    let tag = if gzip {
        format!("\"{}-gzip\"", prepared.version)
    } else {
        format!("\"{}\"", prepared.version)
    };
    let mut response = if none_match(&headers, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        // A `Bytes` clone shares the buffer.
        let mut response = prepared.gzip.clone().into_response();
        response
            .headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        prepared.asset.bytes.into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(prepared.asset.content_type),
    );
    let this_version = query.as_deref().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.strip_prefix("v=") == Some(prepared.version.as_str()))
    });
    response_headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(if this_version {
            CACHE_ASSET
        } else {
            "no-cache"
        }),
    );
    response_headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        response_headers.insert(ETAG, tag);
    }
    response
}

/// Whether `Accept-Encoding` names gzip (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.trim().trim_start_matches("W/"))
        .any(|item| item == tag || item == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_every_asset_by_its_version() {
        for prepared in PREPARED.iter() {
            let link = format!(
                "graphql/assets/{}?v={}",
                prepared.asset.name, prepared.version
            );
            assert!(PAGE.contains(&link), "{link} missing from the page");
            assert_eq!(prepared.version.len(), 16);
        }
        assert!(!PAGE.contains("http"), "the page names no other origin");
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
