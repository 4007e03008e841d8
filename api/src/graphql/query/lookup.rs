//! Typed lookups by global id (`environment(id:)`, `ticket(id:)`, ...): what `node(id:)` answers,
//! without an inline fragment, for clients and scripts that know what they hold. The visibility
//! rule is `node`'s own ([`find_node`]): null when the object does not exist or the caller may
//! not see it; an id of another type is a `BAD_USER_INPUT` error, since it is a client's mistake.

use async_graphql::{Context, ID, Object, Result, ResultExt};

use crate::error::ApiResult;
use crate::graphql::query::node::find_node;
use crate::graphql::types::{
    Alert, ChangeLogEntry, Engagement, Environment, Function, Integration, Node, Organization,
    Person, Responsibility, Runbook, RunbookRevision, SyncRun, System, Team, Ticket, TicketNote,
};
use crate::ids::{self, NodeType};

/// Typed lookups by global id.
#[derive(Default)]
pub struct LookupQuery;

/// The node `id` names when it is of `expected` type and visible.
async fn typed(ctx: &Context<'_>, id: &ID, expected: NodeType) -> ApiResult<Option<Node>> {
    ids::decode_as("id", expected, id)?;
    find_node(ctx, id).await
}

macro_rules! lookups {
    ($($(#[$doc:meta])* $field:ident => $variant:ident;)*) => {
        #[Object]
        impl LookupQuery {
            $(
                $(#[$doc])*
                async fn $field(
                    &self,
                    ctx: &Context<'_>,
                    #[graphql(desc = "Its global id.")] id: ID,
                ) -> Result<Option<$variant>> {
                    Ok(match typed(ctx, &id, NodeType::$variant).await.extend()? {
                        Some(Node::$variant(found)) => Some(found),
                        _ => None,
                    })
                }
            )*
        }
    };
}

lookups! {
    /// The organization with this id, or null when it does not exist or is not visible.
    organization => Organization;
    /// The engagement with this id, or null when it does not exist or is not visible.
    engagement => Engagement;
    /// The team with this id, or null when it does not exist or is not visible.
    team => Team;
    /// The person with this id, or null when they do not exist or are not visible.
    person => Person;
    /// The environment with this id, or null when it does not exist or is not visible.
    environment => Environment;
    /// The system with this id, or null when it does not exist or is not visible.
    system => System;
    /// The function with this id, or null when it does not exist or is not visible.
    function => Function;
    /// The responsibility (matrix entry) with this id, or null when it does not exist or is not
    /// visible.
    responsibility => Responsibility;
    /// The runbook with this id, or null when it does not exist or is not visible.
    runbook => Runbook;
    /// The runbook revision with this id, or null when it does not exist or is not visible.
    runbook_revision => RunbookRevision;
    /// The change log entry with this id, or null when it does not exist or is not visible.
    change_log_entry => ChangeLogEntry;
    /// The ticket with this id, or null when it does not exist or is not visible.
    ticket => Ticket;
    /// The ticket note with this id, or null when it does not exist or is not visible.
    ticket_note => TicketNote;
    /// The alert with this id, or null when it does not exist or is not visible.
    alert => Alert;
    /// The integration with this id, or null when it does not exist or is not visible.
    integration => Integration;
    /// The sync run with this id, or null when it does not exist or is not visible.
    sync_run => SyncRun;
}
