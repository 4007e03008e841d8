//! `Ticket` and `TicketNote`: work items, created in Tandem or synced from a PSA.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{environment, function, system, team, ticket, ticket_note};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::{
    EscalationsOfTicket, NotesOfTicket, WritesOfTicket, load_by_id, load_group, load_required,
};
use crate::graphql::pagination::{Page, PageArgs, instant_key, page_cost, page_in_memory};
use crate::graphql::query::Within;
use crate::graphql::query::change_log::{ChangeLogFilter, ChangeLogOrder, list_changes};
use crate::graphql::types::enums::{Priority, TicketStatus};
use crate::graphql::types::{
    ChangeLogEntry, Environment, Escalation, ExternalId, Function, Person, Routing, Sla, System,
    Team,
};
use crate::ids::{self, NodeType};

/// A work item.
pub struct Ticket(pub ticket::Model);

/// A work item, created in Tandem or synced from a PSA, with a normalized status and priority
/// beside the PSA's own values.
#[Object]
impl Ticket {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Ticket, self.0.id)
    }

    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Normalized status.
    async fn status(&self) -> TicketStatus {
        self.0.status.into()
    }

    /// Normalized priority.
    async fn priority(&self) -> Priority {
        self.0.priority.into()
    }

    /// The PSA's own status value.
    async fn external_status(&self) -> Option<&str> {
        self.0.external_status.as_deref()
    }

    /// The PSA's own priority value.
    async fn external_priority(&self) -> Option<&str> {
        self.0.external_priority.as_deref()
    }

    /// Who asked.
    async fn requester(&self) -> Option<&str> {
        self.0.requester.as_deref()
    }

    /// The environment the ticket is about.
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        load_required::<environment::Entity>(ctx, self.0.environment_id)
            .await
            .map(Environment)
            .extend()
    }

    /// The system the ticket is about.
    async fn system(&self, ctx: &Context<'_>) -> Result<Option<System>> {
        match self.0.system_id {
            Some(id) => load_by_id::<system::Entity>(ctx, id)
                .await
                .map(|found| found.map(System))
                .extend(),
            None => Ok(None),
        }
    }

    /// The function the ticket falls under.
    async fn function(&self, ctx: &Context<'_>) -> Result<Option<Function>> {
        match self.0.function_id {
            Some(id) => load_by_id::<function::Entity>(ctx, id)
                .await
                .map(|found| found.map(Function))
                .extend(),
            None => Ok(None),
        }
    }

    /// How the responsibility matrix routed the ticket when it came without an assignee; null when
    /// it came with an assignee.
    async fn routing(&self) -> Option<Routing> {
        Routing::kept(self.0.routed_by_id, self.0.routing_reason.as_deref())
    }

    /// The team working the ticket.
    async fn assigned_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.assigned_team_id {
            Some(id) => load_by_id::<team::Entity>(ctx, id)
                .await
                .map(|found| found.map(Team))
                .extend(),
            None => Ok(None),
        }
    }

    /// The person working the ticket; null when the caller may not see them.
    async fn assigned_person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.assigned_person_id).await
    }

    /// The ticket's notes, oldest first; `last: 3` gives the three newest.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<TicketNote>> {
        // Batched: a page of tickets reads all their notes in one statement.
        let notes = load_group::<NotesOfTicket>(ctx, self.0.id).await.extend()?;
        let items = notes
            .into_iter()
            .map(|note| ((instant_key(note.created_at), note.id), TicketNote(note)))
            .collect();
        page_in_memory(
            "created_at",
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

    /// Change log entries made under this ticket.
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
            ticket: Some(self.0.id),
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

    /// The ticket's record in the PSA, if it came from one.
    async fn external_ids(&self) -> Vec<ExternalId> {
        ExternalId::from_columns(
            self.0.id,
            &self.0.external_source,
            &self.0.external_id,
            &self.0.external_url,
        )
    }

    /// Where it stands against its routed entry's SLA target for its priority, judged now; null
    /// when routing found no target.
    async fn sla(&self) -> Option<Sla> {
        Sla::of(
            self.0.response_due_at,
            self.0.resolution_due_at,
            self.0.sla_calendar,
            self.0.responded_at,
            self.0.resolved_at,
            chrono::Utc::now(),
        )
    }

    /// The last step of the escalation path notified; 0 before the first.
    async fn escalation_level(&self) -> i32 {
        self.0.escalation_level
    }

    /// When the next escalation is due; null when none is (acknowledged, responded to,
    /// resolved, past the last step, or never routed).
    async fn next_escalation_at(&self) -> Option<DateTimeUtc> {
        self.0.next_escalation_at
    }

    /// Its escalations, in step order: a plain list, since a path has at most 50 steps and each
    /// is notified at most once.
    async fn escalations(&self, ctx: &Context<'_>) -> Result<Vec<Escalation>> {
        let found = load_group::<EscalationsOfTicket>(ctx, self.0.id)
            .await
            .extend()?;
        Ok(found.into_iter().map(Escalation).collect())
    }

    /// What Tandem wrote, or is writing, back to the PSA the ticket is synced from (two-way
    /// sync), oldest first: each job with its state, attempts and last error.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn psa_writes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<PsaWrite>> {
        let jobs = load_group::<WritesOfTicket>(ctx, self.0.id)
            .await
            .extend()?;
        let items = jobs
            .into_iter()
            .map(|job| ((instant_key(job.created_at), job.id), PsaWrite(job)))
            .collect();
        page_in_memory(
            "created_at",
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

    /// When the ticket was first responded to: its first status change away from `NEW`, or the
    /// first note by a person of its assigned team's organization.
    async fn responded_at(&self) -> Option<DateTimeUtc> {
        self.0.responded_at
    }

    /// When the ticket was opened.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the ticket last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }

    /// When the ticket was resolved.
    async fn resolved_at(&self) -> Option<DateTimeUtc> {
        self.0.resolved_at
    }

    /// When the ticket was closed.
    async fn closed_at(&self) -> Option<DateTimeUtc> {
        self.0.closed_at
    }
}

/// A note on a ticket.
pub struct TicketNote(pub ticket_note::Model);

/// A note on a ticket.
#[Object]
impl TicketNote {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::TicketNote, self.0.id)
    }

    /// The note, as written.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Whether the note is internal (not shown to the requester in the PSA).
    async fn internal(&self) -> bool {
        self.0.internal
    }

    /// The author, when a person in Tandem the caller may see.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.author_id).await
    }

    /// The author's name as the PSA gave it, when not a person in Tandem.
    async fn author_name(&self) -> Option<&str> {
        self.0.author_name.as_deref()
    }

    /// The ticket.
    async fn ticket(&self, ctx: &Context<'_>) -> Result<Ticket> {
        load_required::<ticket::Entity>(ctx, self.0.ticket_id)
            .await
            .map(Ticket)
            .extend()
    }

    /// When the note was written.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }
}

/// One change Tandem writes back to a synced PSA ticket.
pub struct PsaWrite(pub entities::psa_write::Model);

/// One change Tandem writes back to a synced PSA ticket (two-way sync), with its attempts.
#[Object]
impl PsaWrite {
    /// What it writes.
    async fn kind(&self) -> crate::graphql::types::enums::PsaWriteKind {
        self.0.kind.into()
    }

    /// Where it stands.
    async fn status(&self) -> crate::graphql::types::enums::PsaWriteStatus {
        self.0.status.into()
    }

    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// Why the last attempt failed (or why it was dropped), in Tandem's words.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// The vendor's id of what it created (a note).
    async fn vendor_id(&self) -> Option<&str> {
        self.0.vendor_id.as_deref()
    }

    /// When it is tried next, while pending.
    async fn next_attempt_at(&self) -> Option<DateTimeUtc> {
        self.0.next_attempt_at
    }

    /// When it was queued (with the change it writes).
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the vendor accepted it.
    async fn done_at(&self) -> Option<DateTimeUtc> {
        self.0.done_at
    }
}
