//! Relay global object ids: `base64url("<Type>:<uuid>")`, opaque to clients.
//!
//! A global id names its type, so `node(id:)` knows which table to read, and an id of one type
//! passed where another is expected is rejected instead of silently matching nothing.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::ApiError;

/// The object types that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// `Organization`.
    Organization,
    /// `Engagement`.
    Engagement,
    /// `Team`.
    Team,
    /// `Person`.
    Person,
    /// `Environment`.
    Environment,
    /// `System`.
    System,
    /// `Function`.
    Function,
    /// `Responsibility`.
    Responsibility,
    /// `Runbook`.
    Runbook,
    /// `RunbookRevision`.
    RunbookRevision,
    /// `ChangeLogEntry`.
    ChangeLogEntry,
    /// `Ticket`.
    Ticket,
    /// `TicketNote`.
    TicketNote,
    /// `Alert`.
    Alert,
    /// `Integration`.
    Integration,
    /// `SyncRun`.
    SyncRun,
    /// `ComplianceObligation`.
    ComplianceObligation,
    /// `EvidenceRecord`.
    EvidenceRecord,
    /// `ExternalId`: the uuid is the row holding the link (a system link, ticket, alert or
    /// change log entry).
    ExternalId,
    /// A change set: the change log entries one mutation or one sync page wrote. Not a node
    /// (`node(id:)` answers null); `ChangeLogFilter.changeSetId` lists its entries.
    ChangeSet,
    /// `WebhookEndpoint`.
    WebhookEndpoint,
    /// `WebhookDelivery`.
    WebhookDelivery,
}

impl NodeType {
    const ALL: [Self; 22] = [
        Self::Organization,
        Self::Engagement,
        Self::Team,
        Self::Person,
        Self::Environment,
        Self::System,
        Self::Function,
        Self::Responsibility,
        Self::Runbook,
        Self::RunbookRevision,
        Self::ChangeLogEntry,
        Self::Ticket,
        Self::TicketNote,
        Self::Alert,
        Self::Integration,
        Self::SyncRun,
        Self::ComplianceObligation,
        Self::EvidenceRecord,
        Self::ExternalId,
        Self::ChangeSet,
        Self::WebhookEndpoint,
        Self::WebhookDelivery,
    ];

    /// The GraphQL type name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Organization => "Organization",
            Self::Engagement => "Engagement",
            Self::Team => "Team",
            Self::Person => "Person",
            Self::Environment => "Environment",
            Self::System => "System",
            Self::Function => "Function",
            Self::Responsibility => "Responsibility",
            Self::Runbook => "Runbook",
            Self::RunbookRevision => "RunbookRevision",
            Self::ChangeLogEntry => "ChangeLogEntry",
            Self::Ticket => "Ticket",
            Self::TicketNote => "TicketNote",
            Self::Alert => "Alert",
            Self::Integration => "Integration",
            Self::SyncRun => "SyncRun",
            Self::ComplianceObligation => "ComplianceObligation",
            Self::EvidenceRecord => "EvidenceRecord",
            Self::ExternalId => "ExternalId",
            Self::ChangeSet => "ChangeSet",
            Self::WebhookEndpoint => "WebhookEndpoint",
            Self::WebhookDelivery => "WebhookDelivery",
        }
    }
}

/// The global id of `id` as a `node_type`.
pub fn encode(node_type: NodeType, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", node_type.name())))
}

/// Decodes any global id.
///
/// # Errors
/// [`ApiError::BadUserInput`] on `field` when `id` is not a global id Tandem issued.
pub fn decode(field: &str, id: &ID) -> Result<(NodeType, Uuid), ApiError> {
    let invalid = || ApiError::bad_input(field, format!("`{}` is not a valid id", id.as_str()));
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_bytes())
        .map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let (type_name, uuid) = text.split_once(':').ok_or_else(invalid)?;
    let node_type = NodeType::ALL
        .into_iter()
        .find(|candidate| candidate.name() == type_name)
        .ok_or_else(invalid)?;
    let uuid = Uuid::parse_str(uuid).map_err(|_| invalid())?;
    Ok((node_type, uuid))
}

/// Decodes a global id that must be of `expected` type.
///
/// # Errors
/// [`ApiError::BadUserInput`] on `field` when `id` is invalid or of another type.
pub fn decode_as(field: &str, expected: NodeType, id: &ID) -> Result<Uuid, ApiError> {
    let (node_type, uuid) = decode(field, id)?;
    if node_type != expected {
        return Err(ApiError::bad_input(
            field,
            format!("`{}` is not an id of type {}", id.as_str(), expected.name()),
        ));
    }
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_name_their_type() {
        let uuid = Uuid::now_v7();
        let id = encode(NodeType::Environment, uuid);
        assert_eq!(decode("id", &id).unwrap(), (NodeType::Environment, uuid));
        assert_eq!(decode_as("id", NodeType::Environment, &id).unwrap(), uuid);
        let error = decode_as("id", NodeType::Organization, &id).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not an id of type Organization"),
            "{error}"
        );
    }

    #[test]
    fn rejects_ids_tandem_did_not_issue() {
        for bad in ["", "not base64!", "T3JnYW5pemF0aW9u", "VW5rbm93bjoxMjM"] {
            let error = decode("id", &ID(bad.to_owned())).unwrap_err();
            assert!(
                error.to_string().contains("is not a valid id"),
                "{bad}: {error}"
            );
        }
    }
}
