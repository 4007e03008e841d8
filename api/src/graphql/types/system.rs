//! `System`: anything managed in an environment.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{environment, system};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::{LinksOfSystem, OwnersKey, load_group, load_owners, load_required};
use crate::graphql::pagination::{Page, PageArgs, page_cost};
use crate::graphql::query::Within;
use crate::graphql::query::change_log::{ChangeLogFilter, ChangeLogOrder, list_changes};
use crate::graphql::query::work::{TicketFilter, TicketOrder, list_tickets};
use crate::graphql::scalars::Json;
use crate::graphql::types::enums::SystemKind;
use crate::graphql::types::{ChangeLogEntry, Environment, ExternalId, Responsibility, Ticket};
use crate::ids::{self, NodeType};

/// Anything managed in an environment.
pub struct System(pub system::Model);

/// Anything managed in an environment: a server, workstation, network device, cloud tenant, SaaS
/// application or backup set, possibly linked to its records in the RMM and the PSA.
#[Object]
impl System {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::System, self.0.id)
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What kind of system it is.
    async fn kind(&self) -> SystemKind {
        self.0.kind.into()
    }

    /// Network host name.
    async fn hostname(&self) -> Option<&str> {
        self.0.hostname.as_deref()
    }

    /// Hardware serial number.
    async fn serial_number(&self) -> Option<&str> {
        self.0.serial_number.as_deref()
    }

    /// Primary MAC address.
    async fn mac_address(&self) -> Option<&str> {
        self.0.mac_address.as_deref()
    }

    /// Operating system and version.
    async fn operating_system(&self) -> Option<&str> {
        self.0.operating_system.as_deref()
    }

    /// Primary IP address.
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip_address.as_deref()
    }

    /// Free-form description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Other facts (model, vendor, location, ...), a JSON object.
    async fn attributes(&self) -> Json {
        Json(self.0.attributes.clone())
    }

    /// Which source last set each attribute, a JSON object of attribute name to source.
    async fn attribute_sources(&self) -> Json {
        Json(self.0.attribute_sources.clone())
    }

    /// The environment the system is in.
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        load_required::<environment::Entity>(ctx, self.0.environment_id)
            .await
            .map(Environment)
            .extend()
    }

    /// The system's records in external systems (RMM device, PSA configuration, ...).
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<ExternalId>> {
        let links = load_group::<LinksOfSystem>(ctx, self.0.id).await.extend()?;
        Ok(links
            .into_iter()
            .map(|link| ExternalId::new(link.id, link.source, link.external_id, link.external_url))
            .collect())
    }

    /// Tickets about this system.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<TicketFilter>,
        #[graphql(desc = "Sort order; most recently updated first when omitted.")] order_by: Option<
            TicketOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Ticket>> {
        let within = Within {
            system: Some(self.0.id),
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

    /// Change log entries about this system.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn changes(
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
            system: Some(self.0.id),
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

    /// Who owns this system, per function: for each function, the agreed matrix entry in force at
    /// `at` (now by default), this system's own entry where there is one, else the environment's
    /// function-level default.
    async fn owners(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The instant to read the matrix at; now when omitted.")] at: Option<
            DateTimeUtc,
        >,
        #[graphql(
            desc = "The instant the record is read as it stood; the current record when omitted. Not later than now."
        )]
        as_of: Option<DateTimeUtc>,
    ) -> Result<Vec<Responsibility>> {
        let clock = crate::graphql::query::matrix::clock(ctx, at, as_of).extend()?;
        let key = OwnersKey {
            environment_id: self.0.environment_id,
            system_id: self.0.id,
            at: clock.at,
            as_of: clock.as_of,
        };
        Ok(load_owners(ctx, key)
            .await
            .extend()?
            .into_iter()
            .map(Responsibility)
            .collect())
    }

    /// When the system was retired; retired systems keep their history.
    async fn retired_at(&self) -> Option<DateTimeUtc> {
        self.0.retired_at
    }

    /// When the system was added.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the system was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
