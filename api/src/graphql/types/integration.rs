//! `Integration`, its mappings, and `SyncRun`: connections to PSA and RMM tools and their runs.

use async_graphql::{Context, ID, Object, Result, ResultExt, SimpleObject};
use entities::{environment, integration, organization, sync_run};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::{
    ErrorsOfSyncRun, MappingsOfIntegration, RetriesResolvedByRun, TeamMappingsOfIntegration,
    load_by_id, load_group, load_many, load_required,
};
use crate::graphql::mutation::integration::{ValueMapping, ValueMappingDomain};
use crate::graphql::pagination::{Page, PageArgs, instant_key, page_cost, page_in_memory};
use crate::graphql::query::Within;
use crate::graphql::query::integration::{SyncRunFilter, SyncRunOrder, list_sync_runs};
use crate::graphql::types::enums::{IntegrationKind, SyncStatus, SyncTrigger};
use crate::graphql::types::{Environment, Organization};
use crate::ids::{self, NodeType};

/// A Tandem team and the vendor assignee that stands for it in a PSA.
#[derive(SimpleObject)]
pub struct IntegrationTeamMapping {
    /// The team (of the integration's organization).
    pub team: crate::graphql::types::Team,
    /// The vendor's board id (ConnectWise), queue id (Autotask) or team name (HaloPSA).
    pub group: String,
    /// The vendor's member, resource or agent id, when one is mapped.
    pub member: Option<String>,
}

/// A configured connection to one PSA or RMM instance.
pub struct Integration(pub integration::Model);

/// A configured connection to one PSA or RMM instance. Its credentials are write-only: the API
/// says whether they are set, never what they are.
#[Object]
impl Integration {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Integration, self.0.id)
    }

    /// Display name, unique within the organization.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The vendor product.
    async fn kind(&self) -> IntegrationKind {
        self.0.kind.into()
    }

    /// The vendor API's base URL; without user, password, query or fragment for a caller who
    /// sees the integration read-only.
    async fn base_url(&self, ctx: &Context<'_>) -> Result<String> {
        if self.read_only_for(ctx)? {
            return Ok(crate::services::integration::public_url(&self.0.base_url));
        }
        Ok(self.0.base_url.clone())
    }

    /// Whether it syncs.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// Whether it writes back to the PSA (two-way sync; the setting `writeBack`).
    async fn write_back(&self) -> bool {
        crate::writeback::enabled(&self.0)
    }

    /// Which vendor assignee (board/queue/team and member) stands for which team of the
    /// integration's organization when Tandem writes an assignment back (two-way sync).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn team_mappings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<IntegrationTeamMapping>> {
        let mappings = load_group::<TeamMappingsOfIntegration>(ctx, self.0.id)
            .await
            .extend()?;
        let ids: Vec<uuid::Uuid> = mappings.iter().map(|mapping| mapping.team_id).collect();
        let teams: std::collections::HashMap<uuid::Uuid, entities::team::Model> =
            load_many::<entities::team::Entity>(ctx, &ids)
                .await
                .extend()?
                .into_iter()
                .map(|found| (found.id, found))
                .collect();
        let viewer = crate::graphql::context::ContextExt::viewer(ctx).extend()?;
        let result: Vec<_> = mappings
            .into_iter()
            .filter_map(|mapping| {
                let team = teams
                    .get(&mapping.team_id)
                    .filter(|found| viewer.can_see_organization(found.organization_id))?;
                Some((
                    (mapping.team_id.to_string(), mapping.id),
                    IntegrationTeamMapping {
                        team: crate::graphql::types::Team(team.clone()),
                        group: mapping.vendor_group,
                        member: mapping.vendor_member,
                    },
                ))
            })
            .collect();
        page_in_memory(
            "team_id",
            result,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// Whether credentials are stored (their value is never returned).
    async fn has_credentials(&self) -> bool {
        self.0.credentials_ciphertext.is_some()
    }

    /// Seconds between scheduled syncs; null when not scheduled.
    async fn sync_interval_seconds(&self) -> Option<i32> {
        self.0.sync_interval_seconds
    }

    /// The organization that configured it.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<organization::Entity>(ctx, self.0.organization_id)
            .await
            .map(Organization)
            .extend()
    }

    /// Which vendor company, organization or site feeds which environment, by the vendor's
    /// company id; mappings to environments the caller may not see are left out.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn mappings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<IntegrationMapping>> {
        let mappings = load_group::<MappingsOfIntegration>(ctx, self.0.id)
            .await
            .extend()?;
        // One batch for every mapping's environment (not one load each).
        let ids: Vec<uuid::Uuid> = mappings
            .iter()
            .map(|mapping| mapping.environment_id)
            .collect();
        let environments: std::collections::HashMap<uuid::Uuid, environment::Model> =
            load_many::<environment::Entity>(ctx, &ids)
                .await
                .extend()?
                .into_iter()
                .map(|found| (found.id, found))
                .collect();
        let viewer = crate::graphql::context::ContextExt::viewer(ctx).extend()?;
        let result: Vec<_> = mappings
            .into_iter()
            .filter_map(|mapping| {
                // A provider's integration may map clients this viewer cannot see: leave them out.
                let environment = environments
                    .get(&mapping.environment_id)
                    .filter(|found| viewer.can_see_organization(found.organization_id))?;
                Some((
                    (mapping.external_company_id.clone(), mapping.id),
                    IntegrationMapping {
                        external_company_id: mapping.external_company_id,
                        external_company_name: mapping.external_company_name,
                        environment: Environment(environment.clone()),
                    },
                ))
            })
            .collect();
        page_in_memory(
            "external_company_id",
            result,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// The integration's sync runs, oldest first by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<SyncRunFilter>,
        #[graphql(desc = "Sort order; by start, oldest first, when omitted.")] order_by: Option<
            SyncRunOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<SyncRun>> {
        let within = Within {
            integration: Some(self.0.id),
            ..Within::default()
        };
        list_sync_runs(
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

    /// The vendor's companies, organizations or sites (read from the vendor now), each with the
    /// environment it is mapped to, for choosing what to map. Admins of the integration's
    /// organization only.
    async fn vendor_companies(&self, ctx: &Context<'_>) -> Result<VendorCompanies> {
        use crate::graphql::context::ContextExt;
        let viewer = ctx.viewer().extend()?;
        let db = ctx.db().extend()?;
        let found =
            crate::services::integration::integration_to_list_companies(db, viewer, self.0.id)
                .await
                .map_err(crate::error::ApiError::from)
                .extend()?;
        let sync = ctx.data_unchecked::<crate::sync::service::SyncService>();
        // The vendor is reached here, as for `testIntegration`: the sync engine builds the
        // connector, the service joins the mappings.
        let listed =
            crate::sync::engine::vendor_companies(sync.key.as_deref(), &found, sync.egress).await;
        let companies = match listed {
            Ok(companies) => companies,
            Err(error) => {
                let message = match error {
                    crate::sync::SyncError::Vendor { error, .. }
                    | crate::sync::SyncError::Config(error) => error.to_string(),
                    other => other.to_string(),
                };
                return Ok(VendorCompanies {
                    ok: false,
                    message: Some(message),
                    companies: Vec::new(),
                });
            }
        };
        let companies = crate::services::integration::with_mapping_state(db, found.id, companies)
            .await
            .map_err(crate::error::ApiError::from)
            .extend()?;
        let mut result = Vec::with_capacity(companies.len());
        for company in companies {
            let environment = match company.environment_id {
                Some(id) => load_by_id::<environment::Entity>(ctx, id)
                    .await
                    .extend()?
                    .filter(|found| viewer.can_see_organization(found.organization_id)),
                None => None,
            };
            result.push(VendorCompany {
                external_company_id: company.external_id,
                name: company.name,
                mapped: company.environment_id.is_some(),
                environment: environment.map(Environment),
            });
        }
        Ok(VendorCompanies {
            ok: true,
            message: None,
            companies: result,
        })
    }

    /// Records that failed in a sync run and that no later run has written yet; each run
    /// re-reads them until one does. Null for a caller who sees the integration read-only (they
    /// may be other organizations' records).
    async fn pending_retries(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        if self.read_only_for(ctx)? {
            return Ok(None);
        }
        let db = crate::graphql::context::ContextExt::db(ctx).extend()?;
        let count = crate::services::integration::pending_retries(db, self.0.id)
            .await
            .map_err(crate::error::ApiError::from)
            .extend()?;
        Ok(Some(i32::try_from(count).unwrap_or(i32::MAX)))
    }

    /// What the vendor's ticket statuses and priorities mean here: seeded from the vendor's own
    /// signals at each sync; `overridden` ones were set by an admin (`setValueMapping`). By
    /// domain, then the vendor's value. Empty for a caller who sees the integration read-only
    /// (the provider's own configuration).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn value_mappings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ValueMapping>> {
        if self.read_only_for(ctx)? {
            let args = PageArgs {
                first,
                after,
                last,
                before,
            };
            return page_in_memory("domain", Vec::new(), args).extend();
        }
        use entities::enums::ValueMappingDomain as Stored;
        use entities::value_mapping;
        use sea_orm::{EntityTrait, QueryFilter, QueryOrder};
        let db = crate::graphql::context::ContextExt::db(ctx).extend()?;
        let found = value_mapping::Entity::find()
            .filter(value_mapping::COLUMN.integration_id.eq(self.0.id))
            .order_by_asc(value_mapping::Column::Domain)
            .order_by_asc(value_mapping::Column::ExternalValue)
            .all(db)
            .await
            .map_err(crate::error::ApiError::from)
            .extend()?;
        let items = found
            .into_iter()
            .filter_map(|mapping| {
                let (domain, name) = match mapping.domain {
                    Stored::TicketStatus => (ValueMappingDomain::TicketStatus, "TICKET_STATUS"),
                    Stored::TicketPriority => {
                        (ValueMappingDomain::TicketPriority, "TICKET_PRIORITY")
                    }
                    Stored::AlertSeverity | Stored::SystemKind => return None,
                };
                let key = format!("{name}:{}", mapping.external_value);
                Some((
                    (key, mapping.id),
                    ValueMapping {
                        domain,
                        external_value: mapping.external_value,
                        external_label: mapping.external_label,
                        normalized_value: mapping.normalized_value,
                        overridden: mapping.overridden,
                    },
                ))
            })
            .collect();
        page_in_memory(
            "domain",
            items,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// When the integration was created.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the integration was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }

    /// When it was deleted (`deleteIntegration`): it no longer syncs and cannot be changed;
    /// its sync runs and what it synced stay. Null while it is live.
    async fn deleted_at(&self) -> Option<DateTimeUtc> {
        self.0.deleted_at
    }
}

impl Integration {
    /// Whether the caller sees this integration read-only (`sees_read_only`).
    fn read_only_for(&self, ctx: &Context<'_>) -> Result<bool> {
        let viewer = crate::graphql::context::ContextExt::viewer(ctx).extend()?;
        Ok(crate::graphql::scope::sees_read_only(viewer, &self.0))
    }
}

/// Which external company, organization or site feeds which environment.
#[derive(SimpleObject)]
pub struct IntegrationMapping {
    /// The vendor's id of the company, organization or site.
    pub external_company_id: String,
    /// The vendor's name for it.
    pub external_company_name: Option<String>,
    /// The environment its records go to.
    pub environment: Environment,
}

/// The vendor's companies as `Integration.vendorCompanies` read them.
#[derive(SimpleObject)]
pub struct VendorCompanies {
    /// Whether the vendor could be read.
    pub ok: bool,
    /// Why not, in the uniform wording of `testIntegration`.
    pub message: Option<String>,
    /// The companies, organizations or sites, in the vendor's order.
    pub companies: Vec<VendorCompany>,
}

/// A vendor company, organization or site and its mapping state.
#[derive(SimpleObject)]
pub struct VendorCompany {
    /// The vendor's id (what `mapIntegrationCompany` takes).
    pub external_company_id: String,
    /// The vendor's name.
    pub name: String,
    /// Whether its records are synced (mapped to an environment).
    pub mapped: bool,
    /// The environment it is mapped to, when the viewer can see it.
    pub environment: Option<Environment>,
}

/// One run of an integration.
pub struct SyncRun(pub sync_run::Model);

/// One run of an integration: when, what started it, how it ended, and the records it handled.
#[Object]
impl SyncRun {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::SyncRun, self.0.id)
    }

    /// The integration run.
    async fn integration(&self, ctx: &Context<'_>) -> Result<Integration> {
        load_required::<integration::Entity>(ctx, self.0.integration_id)
            .await
            .map(Integration)
            .extend()
    }

    /// What started the run.
    async fn trigger(&self) -> SyncTrigger {
        self.0.trigger.into()
    }

    /// Whether the run ignored cursors and read everything.
    async fn full(&self) -> bool {
        self.0.full
    }

    /// How the run ended, or that it is still running.
    async fn status(&self) -> SyncStatus {
        self.0.status.into()
    }

    /// When the run started.
    async fn started_at(&self) -> DateTimeUtc {
        self.0.started_at
    }

    /// When the run finished.
    async fn finished_at(&self) -> Option<DateTimeUtc> {
        self.0.finished_at
    }

    /// Records read from the vendor.
    async fn records_fetched(&self) -> i32 {
        self.0.records_fetched
    }

    /// Records created in Tandem.
    async fn records_created(&self) -> i32 {
        self.0.records_created
    }

    /// Records changed in Tandem.
    async fn records_updated(&self) -> i32 {
        self.0.records_updated
    }

    /// Records already up to date.
    async fn records_unchanged(&self) -> i32 {
        self.0.records_unchanged
    }

    /// Records that failed validation.
    async fn records_failed(&self) -> i32 {
        self.0.records_failed
    }

    /// Records of vendor companies no mapping names: read, not written.
    async fn records_skipped(&self) -> i32 {
        self.0.records_skipped
    }

    /// What the run warns about: a mapping that matches no company the vendor lists, records
    /// skipped because no company is mapped. Empty when all is well, and for a caller who sees
    /// the integration read-only (they may name other organizations' companies).
    async fn warnings(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        if self.read_only_for(ctx).await? {
            return Ok(Vec::new());
        }
        Ok(crate::sync::engine::warnings_of(&self.0))
    }

    /// Records that had failed in earlier runs (the retry list) and this run wrote.
    async fn retried(&self, ctx: &Context<'_>) -> Result<i32> {
        // Batched: a page of runs reads its retries in one statement.
        let retried = load_group::<RetriesResolvedByRun>(ctx, self.0.id)
            .await
            .extend()?;
        Ok(i32::try_from(retried.len()).unwrap_or(i32::MAX))
    }

    /// Why the run failed. For a caller who sees the integration read-only, only that it failed
    /// (the reason may name other organizations' records or the provider's setup).
    async fn error(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if self.0.error.is_some() && self.read_only_for(ctx).await? {
            return Ok(Some(
                "the run failed; the integration's organization sees why".to_owned(),
            ));
        }
        Ok(self.0.error.clone())
    }

    /// The records that failed, with why, oldest first. Empty for a caller who sees the
    /// integration read-only (the records may be other organizations').
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn errors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<SyncRunError>> {
        if self.read_only_for(ctx).await? {
            let args = PageArgs {
                first,
                after,
                last,
                before,
            };
            return page_in_memory("occurred_at", Vec::new(), args).extend();
        }
        let errors = load_group::<ErrorsOfSyncRun>(ctx, self.0.id)
            .await
            .extend()?;
        let items = errors
            .into_iter()
            .map(|error| {
                (
                    (instant_key(error.occurred_at), error.id),
                    SyncRunError {
                        resource: error.resource,
                        external_id: error.external_id,
                        reason: error.reason,
                        occurred_at: error.occurred_at,
                    },
                )
            })
            .collect();
        page_in_memory(
            "occurred_at",
            items,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }
}

impl SyncRun {
    /// Whether the caller sees this run's integration read-only (`sees_read_only`).
    async fn read_only_for(&self, ctx: &Context<'_>) -> Result<bool> {
        let viewer = crate::graphql::context::ContextExt::viewer(ctx).extend()?;
        let found = load_required::<integration::Entity>(ctx, self.0.integration_id)
            .await
            .extend()?;
        Ok(crate::graphql::scope::sees_read_only(viewer, &found))
    }
}

/// A record that failed during a sync run.
#[derive(SimpleObject)]
pub struct SyncRunError {
    /// The vendor resource (`tickets`, `devices`, ...).
    pub resource: String,
    /// The record's id at the vendor.
    pub external_id: Option<String>,
    /// Why it failed.
    pub reason: String,
    /// When it failed.
    pub occurred_at: DateTimeUtc,
}
