//! The caller cache: a resolved [`Viewer`] reused, for a few seconds, by the next requests
//! that present the same claims, so a request does not read the caller's organization, person
//! and engagements again each time.
//!
//! - The key is what resolving reads from a token: its organization, subject, role and
//!   integration. Two tokens that differ in any of them never share an entry; the token itself
//!   is verified (signature, `exp`, issuer, audience) on every request before the cache is asked,
//!   and the served viewer carries that request's own claims.
//! - An entry is served only while the process's callers epoch
//!   ([`EventBus::callers_epoch`]) is the one read before it was resolved: every committed write
//!   that changes a person, an organization or an engagement moves the epoch after its commit
//!   (`UnitOfWork::access_changed` / `callers_changed`), so the very next request resolves again,
//!   and a resolve that raced such a write is never kept.
//! - An entry lives at most the TTL (`TANDEM_CALLER_CACHE_TTL`, 0 turns the cache off), which
//!   bounds how long a change no event announced goes unseen (the database edited by hand; on
//!   PostgreSQL other servers' writes move the epoch too, `events::fanout`), and never past
//!   the UTC day it was resolved on (engagements are in force by calendar day).
//! - At most [`MAX_ENTRIES`] callers are kept; when full, expired entries go, then everything.
//! - Refusals are never cached: a caller who is refused resolves again on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use entities::enums::Role;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::auth::rate::RateLimit;
use crate::auth::{Claims, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::events::EventBus;

/// Most callers kept at once.
pub const MAX_ENTRIES: usize = 10_000;

/// Resolved callers, kept briefly; see the module documentation.
#[derive(Debug)]
pub struct CallerCache {
    ttl: Duration,
    events: EventBus,
    entries: Mutex<HashMap<CallerKey, Entry>>,
    rate: Option<RateLimit>,
}

/// What resolving reads from a token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CallerKey {
    org: String,
    sub: String,
    role: Role,
    integration: Option<Uuid>,
}

impl CallerKey {
    fn of(claims: &Claims) -> Self {
        Self {
            org: claims.org.clone(),
            sub: claims.sub.clone(),
            role: claims.role,
            integration: claims.integration,
        }
    }
}

#[derive(Debug)]
struct Entry {
    viewer: Viewer,
    epoch: u64,
    resolved_at: Instant,
    day: NaiveDate,
}

impl CallerCache {
    /// A cache whose entries live `ttl` (zero: nothing is kept) and end at once with every
    /// callers change announced on `events`.
    pub fn new(ttl: Duration, events: EventBus) -> Self {
        Self {
            ttl,
            events,
            entries: Mutex::new(HashMap::new()),
            rate: None,
        }
    }

    /// The same cache, admitting each caller at most at `rate` ([`RateLimit`]).
    #[must_use]
    pub fn with_rate_limit(mut self, rate: Option<RateLimit>) -> Self {
        self.rate = rate;
        self
    }

    /// The rate limit, if there is one.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate.as_ref()
    }

    /// Counts a request of the caller verified `claims` name against its rate (noted for the
    /// response's headers).
    ///
    /// # Errors
    /// [`ApiError::RateLimited`] with the wait, when the caller is over its rate.
    pub fn admit(&self, claims: &Claims) -> ApiResult<()> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        match rate.admit(claims) {
            Ok(admission) => {
                crate::auth::rate::note(admission);
                Ok(())
            }
            Err(wait) => {
                crate::metrics::rate_limited();
                crate::auth::rate::note(rate.refused(wait));
                Err(ApiError::RateLimited { retry_after: wait })
            }
        }
    }

    /// The viewer verified `claims` resolve to: a cached one when it is still valid, else
    /// [`Viewer::resolve`] on `db` (kept for the next requests).
    ///
    /// # Errors
    /// As [`Viewer::resolve`].
    pub async fn resolve(&self, db: &DatabaseConnection, claims: &Claims) -> ApiResult<Viewer> {
        if self.ttl.is_zero() {
            return Viewer::resolve(db, claims).await;
        }
        let key = CallerKey::of(claims);
        let today = Utc::now().date_naive();
        // Read before resolving: a write that commits during the resolve moves the epoch, and
        // what was read may predate it.
        let epoch = self.events.callers_epoch();
        if let Some(mut viewer) = self.cached(&key, epoch, today) {
            viewer.claims = claims.clone();
            return Ok(viewer);
        }
        let viewer = Viewer::resolve(db, claims).await?;
        self.keep(key, &viewer, epoch, today);
        Ok(viewer)
    }

    fn cached(&self, key: &CallerKey, epoch: u64, today: NaiveDate) -> Option<Viewer> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(key)
            .filter(|entry| self.fresh(entry, epoch, today))
            .map(|entry| entry.viewer.clone())
    }

    fn fresh(&self, entry: &Entry, epoch: u64, today: NaiveDate) -> bool {
        entry.epoch == epoch && entry.day == today && entry.resolved_at.elapsed() < self.ttl
    }

    fn keep(&self, key: CallerKey, viewer: &Viewer, epoch: u64, today: NaiveDate) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let current = self.events.callers_epoch();
            entries.retain(|_, entry| self.fresh(entry, current, today));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                viewer: viewer.clone(),
                epoch,
                resolved_at: Instant::now(),
                day: today,
            },
        );
    }
}
