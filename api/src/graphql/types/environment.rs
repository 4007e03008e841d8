//! `Environment`: a client's IT estate or a part of it.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{environment, organization};
use sea_orm::prelude::DateTimeUtc;

use crate::error::ApiError;
use crate::graphql::loaders::load_by_id;
use crate::graphql::pagination::{Page, PageArgs, page_cost};
use crate::graphql::query::Within;
use crate::graphql::query::change_log::{ChangeLogFilter, ChangeLogOrder, list_changes};
use crate::graphql::query::inventory::{
    RunbookFilter, RunbookOrder, SystemFilter, SystemOrder, list_runbooks, list_systems,
};
use crate::graphql::query::work::{
    AlertFilter, AlertOrder, TicketFilter, TicketOrder, list_alerts, list_tickets,
};
use crate::graphql::types::enums::ComplianceFramework;
use crate::graphql::types::{Alert, ChangeLogEntry, Organization, Runbook, System, Ticket};
use crate::ids::{self, NodeType};

/// A client's IT estate or a part of it (production, one office), with its compliance frameworks.
pub struct Environment(pub environment::Model);

/// A client's IT estate or a part of it (production, one office), with its compliance frameworks.
#[Object]
impl Environment {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Environment, self.0.id)
    }

    /// Name, unique within the organization.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the environment covers.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The compliance frameworks the environment is held to.
    async fn compliance_frameworks(&self) -> Result<Vec<ComplianceFramework>> {
        let frameworks: Vec<entities::enums::ComplianceFramework> =
            serde_json::from_value(self.0.compliance_frameworks.clone())
                .map_err(|error| ApiError::Internal(error.into()))
                .extend()?;
        Ok(frameworks.into_iter().map(Into::into).collect())
    }

    /// The client organization that owns the environment.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_by_id::<organization::Entity>(ctx, self.0.organization_id)
            .await
            .and_then(|found| found.ok_or(ApiError::NotFound("organization")))
            .map(Organization)
            .extend()
    }

    /// The systems in the environment, by name by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn systems(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<SystemFilter>,
        #[graphql(desc = "Sort order; by name when omitted.")] order_by: Option<SystemOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<System>> {
        let within = Within {
            environment: Some(self.0.id),
            ..Within::default()
        };
        list_systems(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The environment's tickets, by last change by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<TicketFilter>,
        #[graphql(desc = "Sort order; by last change, oldest first, when omitted.")]
        order_by: Option<TicketOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Ticket>> {
        let within = Within {
            environment: Some(self.0.id),
            ..Within::default()
        };
        list_tickets(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The environment's alerts, oldest first by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<AlertFilter>,
        #[graphql(desc = "Sort order; by when raised, oldest first, when omitted.")]
        order_by: Option<AlertOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Alert>> {
        let within = Within {
            environment: Some(self.0.id),
            ..Within::default()
        };
        list_alerts(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The environment's runbooks, by title by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn runbooks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<RunbookFilter>,
        #[graphql(desc = "Sort order; by title when omitted.")] order_by: Option<RunbookOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Runbook>> {
        let within = Within {
            environment: Some(self.0.id),
            ..Within::default()
        };
        list_runbooks(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The environment's change log, by occurrence, oldest first, by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn change_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<ChangeLogFilter>,
        #[graphql(desc = "Sort order; by occurrence, oldest first, when omitted.")]
        order_by: Option<ChangeLogOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ChangeLogEntry>> {
        let within = Within {
            environment: Some(self.0.id),
            ..Within::default()
        };
        list_changes(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The IANA time zone business-hours SLA targets count in.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }

    /// Start of business hours (Monday to Friday), in minutes after local midnight.
    async fn business_start_minute(&self) -> i32 {
        self.0.business_start_minute
    }

    /// End of business hours, in minutes after local midnight.
    async fn business_end_minute(&self) -> i32 {
        self.0.business_end_minute
    }

    /// When the environment was archived; archived environments keep their history.
    async fn archived_at(&self) -> Option<DateTimeUtc> {
        self.0.archived_at
    }

    /// When the environment was created.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the environment was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
