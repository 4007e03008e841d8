//! `GET /graphql/ws`: subscriptions over WebSocket (graphql-transport-ws, and the older
//! graphql-ws for clients that still speak it).
//!
//! The token travels in the `connection_init` payload, as `{"Authorization": "Bearer <jwt>"}`
//! (or `{"token": "<jwt>"}`), because browsers cannot set headers on a WebSocket.
//!
//! The connection follows the caller's rights for as long as it lives (see
//! [`Standing`]): a refused `connection_init`, or rights that end later (token expiry,
//! deactivation, an engagement that ended, a role no longer held), close it with
//! graphql-transport-ws's codes, 4401 (authentication) or 4403 (rights), and the reason. The
//! server pings every keep-alive interval, rechecks the caller's rights at each ping (so a
//! connection without events is closed too), and drops a client that has not been heard from for
//! two intervals.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use crate::auth::bearer::authenticate;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::loaders::{Batches, DataSink, Loaders};
use crate::graphql::subscription::{CLOSE_UNAUTHORIZED, Ended, Standing};
use crate::state::AppState;

/// graphql-transport-ws's close code for a message that breaks the protocol.
const CLOSE_BAD_REQUEST: u16 = 4400;
/// graphql-transport-ws's close code for a client that did not send `connection_init` in time.
const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// graphql-transport-ws's close code for a `subscribe` under an id that is running.
const CLOSE_SUBSCRIBER_EXISTS: u16 = 4409;
/// The longest a connection may wait for its `connection_init`.
const MAX_INIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Most operations one connection may run at once.
pub const MAX_OPERATIONS: usize = 100;
/// Longest close reason: a control frame's 125 bytes less the code's two.
const MAX_CLOSE_REASON: usize = 123;
/// The WebSocket close code for a peer that went away (here: stopped answering pings).
const CLOSE_GOING_AWAY: u16 = 1001;

/// Upgrades to a GraphQL WebSocket and serves subscriptions for the authenticated caller.
pub async fn subscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The first subprotocol the client offers that we speak (as async-graphql-axum picks it).
    let protocol = headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|name| WebSocketProtocols::from_str(name.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return ApiError::request(
            ErrorCode::BadRequest,
            "offer the `graphql-transport-ws` subprotocol (or the older `graphql-ws`)",
        )
        .into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // A message is a GraphQL request: no larger than an HTTP body may be.
        .max_message_size(state.ws_max_message)
        .on_upgrade(move |socket| serve(state, protocol, socket))
}

/// Runs one connection: GraphQL messages, the close frames of ended rights, and keep-alive.
async fn serve(state: AppState, protocol: WebSocketProtocols, socket: WebSocket) {
    let (mut sink, source) = socket.split();
    let heard = Arc::new(Mutex::new(Instant::now()));
    let (close, mut closed) = tokio::sync::mpsc::unbounded_channel::<Ended>();
    // Set by `connection_init`: why it was refused, or the standing it opened.
    let refused: Arc<Mutex<Option<Ended>>> = Arc::default();
    let standing: Arc<OnceLock<Arc<Standing>>> = Arc::default();

    // The ids of the operations the client has started and that have not completed.
    let active: Arc<Mutex<HashSet<String>>> = Arc::default();
    // The claims `connection_init` verified: every operation started later counts against the
    // caller's rate, as an HTTP request would.
    let claims: Arc<OnceLock<crate::auth::Claims>> = Arc::default();
    let input = {
        let (heard, active, close) = (Arc::clone(&heard), Arc::clone(&active), close.clone());
        let (callers, claims) = (Arc::clone(&state.callers), Arc::clone(&claims));
        source
            .take_while(|message| std::future::ready(message.is_ok()))
            .filter_map(move |message| {
                *heard.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                std::future::ready(match message {
                    Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                        let data = message.into_data();
                        if let Some(refusal) = track(&active, &data, Direction::FromClient) {
                            // Announced as the close; async-graphql never sees the message.
                            let _ = close.send(refusal);
                            return std::future::ready(None);
                        }
                        if let Some(claims) = claims.get()
                            && starts_operation(&data)
                            && let Err(error) = callers.admit(claims)
                        {
                            let _ = close.send(Ended::from_error(&error));
                            return std::future::ready(None);
                        }
                        Some(data)
                    }
                    _ => None,
                })
            })
    };
    let init = {
        let (state, refused, standing, claims) = (
            state.clone(),
            Arc::clone(&refused),
            Arc::clone(&standing),
            Arc::clone(&claims),
        );
        move |payload: serde_json::Value| async move {
            let token = ["Authorization", "authorization", "token"]
                .iter()
                .find_map(|key| payload.get(*key).and_then(serde_json::Value::as_str))
                .map(|value| {
                    if value.starts_with("Bearer ") {
                        value.to_owned()
                    } else {
                        format!("Bearer {value}")
                    }
                });
            let mut headers = HeaderMap::new();
            if let Some(token) = token.and_then(|token| HeaderValue::from_str(&token).ok()) {
                headers.insert(AUTHORIZATION, token);
            }
            let viewer = match authenticate(&state.jwt, &state.callers, &state.db, &headers).await {
                Ok(viewer) => viewer,
                Err(error) => {
                    let ended = Ended::from_error(&error);
                    let message = ended.reason.clone();
                    *refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(ended);
                    return Err(async_graphql::Error::new(message));
                }
            };
            tracing::info!(person.subject = %viewer.person.subject, "subscription connection opened");
            let opened = Arc::new(Standing::new(state.db.clone(), viewer.clone(), Some(close)));
            // `connection_init` runs once per connection (a second one is refused by the protocol).
            let _ = standing.set(Arc::clone(&opened));
            let _ = claims.set(viewer.claims.clone());
            Ok(
                Loaders::attach(Data::default(), &state.db, Batches::Spawned)
                    .data(state.db.clone())
                    .data(state.events.clone())
                    .data(viewer)
                    .data(opened),
            )
        }
    };
    let mut graphql = async_graphql::http::WebSocket::new(state.schema.clone(), input, protocol)
        .on_connection_init(init);

    let keepalive = state.ws_keepalive;
    // A connection that never authenticates is not held: two keep-alive intervals, 10 s at most.
    let init_deadline = tokio::time::sleep((keepalive * 2).min(MAX_INIT_WAIT));
    tokio::pin!(init_deadline);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let outgoing = tokio::select! {
            // What the GraphQL side produced first, so a feed's last error goes out before the
            // close frame that follows it.
            biased;
            message = graphql.next() => match message {
                None => break,
                Some(WsMessage::Text(text)) => {
                    track(&active, text.as_bytes(), Direction::ToClient);
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    let refusal = refused.lock().unwrap_or_else(PoisonError::into_inner).take();
                    close_frame(protocol_close(code, reason, refusal))
                }
            },
            Some(ended) = closed.recv() => close_frame(ended),
            () = &mut init_deadline, if standing.get().is_none() => close_frame(Ended {
                code: CLOSE_INIT_TIMEOUT,
                reason: "Connection initialisation timeout".to_owned(),
            }),
            _ = ticks.tick() => {
                let silent = heard.lock().unwrap_or_else(PoisonError::into_inner).elapsed();
                if silent > keepalive * 2 {
                    tracing::info!(silent_ms = silent.as_millis(), "WebSocket client stopped answering pings");
                    close_frame(Ended { code: CLOSE_GOING_AWAY, reason: "no answer to pings".to_owned() })
                } else {
                    if let Some(standing) = standing.get() {
                        // An end is announced through `closed` and sent on the next turn.
                        let _ = standing.recheck().await;
                    }
                    Message::Ping(Bytes::new())
                }
            }
        };
        let last = matches!(outgoing, Message::Close(_));
        if sink.send(outgoing).await.is_err() || last {
            break;
        }
    }
}

/// The close frame async-graphql asked for, with graphql-transport-ws's codes where it uses
/// others: a refused `connection_init` closes with 4401 or 4403 (`refusal`) instead of 1002, a
/// `subscribe` before the handshake with 4401, a malformed message with 4400.
fn protocol_close(code: u16, reason: String, refusal: Option<Ended>) -> Ended {
    match (code, refusal) {
        (1002, Some(refusal)) => refusal,
        (1002, None) => Ended {
            code: CLOSE_BAD_REQUEST,
            reason,
        },
        (1011, None) if reason == "The handshake is not completed." => Ended {
            code: CLOSE_UNAUTHORIZED,
            reason: "Unauthorized: send connection_init first".to_owned(),
        },
        (code, _) => Ended { code, reason },
    }
}

/// Which way a message goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    FromClient,
    ToClient,
}

/// Keeps the set of the client's running operations: a `subscribe` (`start`) adds its id, a
/// client's `complete` (`stop`) or the server's `complete`/`error` removes it. Refuses (with
/// graphql-transport-ws's codes) a second operation under a running id (4409) and more than
/// [`MAX_OPERATIONS`] at once (4400), so one connection cannot hold unbounded streams.
fn track(active: &Mutex<HashSet<String>>, data: &[u8], direction: Direction) -> Option<Ended> {
    // Events are most of what goes out: only an end (async-graphql writes `type` first) is read.
    if direction == Direction::ToClient
        && !(data.starts_with(br#"{"type":"complete""#) || data.starts_with(br#"{"type":"error""#))
    {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    let envelope: Envelope = serde_json::from_slice(data).ok()?;
    let id = envelope.id?;
    let mut active = active.lock().unwrap_or_else(PoisonError::into_inner);
    match (direction, envelope.kind.as_str()) {
        (Direction::FromClient, "subscribe" | "start") => {
            if active.contains(&id) {
                return Some(Ended {
                    code: CLOSE_SUBSCRIBER_EXISTS,
                    reason: format!("Subscriber for {id} already exists"),
                });
            }
            if active.len() >= MAX_OPERATIONS {
                return Some(Ended {
                    code: CLOSE_BAD_REQUEST,
                    reason: format!(
                        "at most {MAX_OPERATIONS} operations may run on one connection"
                    ),
                });
            }
            active.insert(id);
        }
        (Direction::FromClient, "complete" | "stop")
        | (Direction::ToClient, "complete" | "error") => {
            active.remove(&id);
        }
        _ => {}
    }
    None
}

/// Whether a client's message starts an operation (`subscribe`, or `start` in the older
/// protocol).
fn starts_operation(data: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Envelope>(data)
        .is_ok_and(|envelope| matches!(envelope.kind.as_str(), "subscribe" | "start"))
}

/// A close frame; its reason is cut to the 123 bytes a control frame has room for.
fn close_frame(ended: Ended) -> Message {
    let mut reason = ended.reason;
    if reason.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    Message::Close(Some(CloseFrame {
        code: ended.code,
        reason: reason.into(),
    }))
}
