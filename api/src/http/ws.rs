//! `GET /graphql/ws`: subscriptions over WebSocket (graphql-transport-ws, and the older
//! graphql-ws for clients that still speak it).
//!
//! The token travels in the `connection_init` payload, as `{"Authorization": "Bearer <jwt>"}`
//! (or `{"token": "<jwt>"}`), because browsers cannot set headers on a WebSocket. A bad token
//! closes the connection (code 1002, as async-graphql does, with the reason); nothing is
//! subscribed.

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::auth::bearer::authenticate;
use crate::graphql::loaders::{DataSink, Loaders};
use crate::state::AppState;

/// Upgrades to a GraphQL WebSocket and serves subscriptions for the authenticated caller.
pub async fn subscribe(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        let schema = state.schema.clone();
        GraphQLWebSocket::new(socket, schema, protocol)
            .on_connection_init(move |payload| async move {
                let token = ["Authorization", "authorization", "token"]
                    .iter()
                    .find_map(|key| payload.get(*key).and_then(serde_json::Value::as_str))
                    .map(|value| if value.starts_with("Bearer ") { value.to_owned() } else { format!("Bearer {value}") });
                let mut headers = HeaderMap::new();
                if let Some(token) = token.and_then(|token| HeaderValue::from_str(&token).ok()) {
                    headers.insert(AUTHORIZATION, token);
                }
                let viewer = authenticate(&state.jwt, &state.db, &headers)
                    .await
                    .map_err(|error| async_graphql::Error::new(error.public_message()))?;
                tracing::info!(person.subject = %viewer.person.subject, "subscription connection opened");
                Ok(Loaders::attach(Data::default(), &state.db)
                    .data(state.db.clone())
                    .data(state.events.clone())
                    .data(viewer))
            })
            .serve()
            .await;
    })
}
