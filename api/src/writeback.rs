//! Two-way PSA sync: the write-back queue (`psa_writes`) and its rules, vendor-neutral.
//!
//! An integration opts in with the setting `writeBack: true` (PSAs only; an RMM's is refused).
//! Then, in the transaction of the change itself, a job is queued per write:
//! - a synced ticket the matrix routes (as the sync creates it) to a team the integration's
//!   team mapping names: `ASSIGN` (the vendor assignee) and `NOTE` (the routing reason,
//!   internal), in that order;
//! - a note added in Tandem to a synced ticket: `NOTE` (with its visibility);
//! - a status set in Tandem on a synced ticket: `STATUS` (the vendor value the integration's
//!   value mappings give that status; none is queued when no vendor value means it).
//!
//! `sync::writeback` (the worker; it lives with the sync, whose connectors it uses, since the
//! services queue jobs here) sends them with the integration's connector, one ticket's jobs in order. Echoes are
//! suppressed where the job completes: a created note's vendor id goes on the Tandem note (the
//! routing note gets a Tandem note of its own), a pushed status's vendor label on the ticket's
//! `external_status`, so the next sync finds nothing new. Conflicts are decided by the sync
//! (`sync::store`, with [`pending_statuses`] and [`drop_superseded`]): a status the vendor
//! changed while Tandem's push was pending wins, the push is dropped and the losing Tandem value
//! goes to the change log; while the vendor's status is unchanged, Tandem's pending one stands.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::enums::{
    IntegrationKind, PsaWriteKind, PsaWriteStatus, TicketStatus, ValueMappingDomain,
};
use entities::{integration, psa_team_mapping, psa_write, ticket, value_mapping};
use integrations::connector::{TicketWrite, VendorAssignee};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, IntoActiveModel, QueryFilter, QueryOrder};

/// The integration setting that turns write-back on.
pub const SETTING: &str = "writeBack";

/// Whether Tandem can write to `kind` (the PSAs).
#[must_use]
pub fn writes_to(kind: IntegrationKind) -> bool {
    matches!(
        kind,
        IntegrationKind::ConnectwiseManage | IntegrationKind::Autotask | IntegrationKind::Halopsa
    )
}

/// What is wrong with a team mapping's vendor assignee for `kind`, as (field, message): the ids
/// each vendor takes, checked when the mapping is saved rather than when every job fails on it.
#[must_use]
pub fn assignee_problem(
    kind: IntegrationKind,
    group: &str,
    member: Option<&str>,
) -> Option<(&'static str, &'static str)> {
    let number = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    match kind {
        IntegrationKind::ConnectwiseManage if !number(group) => {
            Some(("group", "a ConnectWise service board id is a number"))
        }
        IntegrationKind::ConnectwiseManage if member.is_some_and(|member| !number(member)) => {
            Some(("member", "a ConnectWise member id is a number"))
        }
        IntegrationKind::Autotask if !number(group) => {
            Some(("group", "an Autotask queue id is a number"))
        }
        IntegrationKind::Autotask
            if member.is_some_and(|member| {
                !member
                    .split_once(':')
                    .is_some_and(|(resource, role)| number(resource) && number(role))
            }) =>
        {
            Some((
                "member",
                "an Autotask member is `resourceId:roleId` (a resource is assigned with one of its roles)",
            ))
        }
        IntegrationKind::Halopsa if member.is_some_and(|member| !number(member)) => {
            Some(("member", "a HaloPSA agent id is a number"))
        }
        _ => None,
    }
}

/// Whether `found` writes back: a PSA whose setting `writeBack` is `true`.
#[must_use]
pub fn enabled(found: &integration::Model) -> bool {
    writes_to(found.kind)
        && found
            .settings
            .get(SETTING)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
}

/// A new pending job writing `write` to `ticket_id`'s vendor ticket, due now.
#[must_use]
pub fn job(
    integration_id: Uuid,
    ticket_id: Uuid,
    write: &TicketWrite,
    note_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> psa_write::Model {
    psa_write::Model {
        id: Uuid::now_v7(),
        integration_id,
        ticket_id,
        kind: match write {
            TicketWrite::Assign { .. } => PsaWriteKind::Assign,
            TicketWrite::Note { .. } => PsaWriteKind::Note,
            TicketWrite::Status { .. } => PsaWriteKind::Status,
        },
        payload: serde_json::to_value(write).unwrap_or_default(),
        status: PsaWriteStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        lease_owner: None,
        lease_expires_at: None,
        last_error: None,
        vendor_id: None,
        note_id,
        created_at: now,
        updated_at: now,
        done_at: None,
    }
}

/// Inserts `jobs` (in the caller's transaction).
///
/// # Errors
/// Database errors.
pub async fn enqueue(db: &impl ConnectionTrait, jobs: Vec<psa_write::Model>) -> Result<(), DbErr> {
    if jobs.is_empty() {
        return Ok(());
    }
    psa_write::Entity::insert_many(jobs.into_iter().map(IntoActiveModel::into_active_model))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The team mapping of integration `integration_id`: team to vendor assignee.
///
/// # Errors
/// Database errors.
pub async fn team_mapping(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
) -> Result<HashMap<Uuid, VendorAssignee>, DbErr> {
    Ok(psa_team_mapping::Entity::find()
        .filter(psa_team_mapping::COLUMN.integration_id.eq(integration_id))
        .all(db)
        .await?
        .into_iter()
        .map(|found| {
            (
                found.team_id,
                VendorAssignee {
                    group: found.vendor_group,
                    member: found.vendor_member,
                },
            )
        })
        .collect())
}

/// The writes that put a ticket the matrix just routed where it belongs in the PSA: the
/// assignment and the routing reason as an internal note, when its team is mapped.
#[must_use]
pub fn routed(
    mapping: &HashMap<Uuid, VendorAssignee>,
    created: &ticket::Model,
    now: DateTime<Utc>,
) -> Vec<psa_write::Model> {
    let (Some(integration_id), Some(team_id)) = (created.integration_id, created.assigned_team_id)
    else {
        return Vec::new();
    };
    let Some(assignee) = mapping.get(&team_id) else {
        return Vec::new();
    };
    let mut jobs = vec![job(
        integration_id,
        created.id,
        &TicketWrite::Assign {
            assignee: assignee.clone(),
        },
        None,
        now,
    )];
    if let Some(reason) = created.routing_reason.as_deref().filter(|r| !r.is_empty()) {
        // Created after the assignment: version-7 ids are monotonic within the process, so the
        // worker's id order sends the assignment first.
        jobs.push(job(
            integration_id,
            created.id,
            &TicketWrite::Note {
                text: format!("Routed by Tandem: {reason}"),
                internal: true,
            },
            None,
            now,
        ));
    }
    jobs
}

/// The integration a change to `found` made in Tandem is written back to: the ticket's own, when
/// it is synced from it and writes back, and the change was not made by that integration itself
/// (its sync token reporting the vendor's own change).
///
/// # Errors
/// Database errors.
pub async fn target(
    db: &impl ConnectionTrait,
    found: &ticket::Model,
    actor_integration: Option<Uuid>,
) -> Result<Option<integration::Model>, DbErr> {
    let (Some(integration_id), Some(_)) = (found.integration_id, found.external_id.as_ref()) else {
        return Ok(None);
    };
    if actor_integration == Some(integration_id) {
        return Ok(None);
    }
    Ok(integration::Entity::find_by_id(integration_id)
        .one(db)
        .await?
        .filter(enabled))
}

/// The vendor status value that means `status` for integration `integration_id` (the lowest
/// such value, for a stable choice), if any.
///
/// # Errors
/// Database errors.
pub async fn vendor_status(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
    status: TicketStatus,
) -> Result<Option<value_mapping::Model>, DbErr> {
    let name = sea_orm::ActiveEnum::to_value(&status);
    let candidates = value_mapping::Entity::find()
        .filter(value_mapping::COLUMN.integration_id.eq(integration_id))
        .filter(
            value_mapping::COLUMN
                .domain
                .eq(ValueMappingDomain::TicketStatus),
        )
        .filter(value_mapping::COLUMN.normalized_value.eq(name))
        .all(db)
        .await?;
    Ok(lowest_value(candidates))
}

/// The mapping with the lowest vendor value: by number where the values are ids (Autotask's
/// `7` before `10`), by text otherwise.
fn lowest_value(candidates: Vec<value_mapping::Model>) -> Option<value_mapping::Model> {
    candidates.into_iter().min_by(|a, b| {
        match (
            a.external_value.parse::<u64>(),
            b.external_value.parse::<u64>(),
        ) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => a.external_value.cmp(&b.external_value),
        }
    })
}

/// The pending status pushes of `tickets`, oldest first per ticket.
///
/// # Errors
/// Database errors.
pub async fn pending_statuses(
    db: &impl ConnectionTrait,
    tickets: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Vec<psa_write::Model>>, DbErr> {
    let mut found: HashMap<Uuid, Vec<psa_write::Model>> = HashMap::new();
    for job in psa_write::Entity::find()
        .filter(psa_write::COLUMN.ticket_id.is_in(tickets))
        .filter(psa_write::COLUMN.kind.eq(PsaWriteKind::Status))
        .filter(psa_write::COLUMN.status.eq(PsaWriteStatus::Pending))
        .order_by_asc(psa_write::Column::Id)
        .all(db)
        .await?
    {
        found.entry(job.ticket_id).or_default().push(job);
    }
    Ok(found)
}

/// The status value a job pushes.
#[must_use]
pub fn pushed_status(job: &psa_write::Model) -> Option<String> {
    match serde_json::from_value::<TicketWrite>(job.payload.clone()).ok()? {
        TicketWrite::Status { status } => Some(status),
        _ => None,
    }
}

/// Drops `jobs` (pending status pushes the vendor's own change won over), in the caller's
/// transaction.
///
/// # Errors
/// Database errors.
pub async fn drop_superseded(
    db: &impl ConnectionTrait,
    jobs: &[psa_write::Model],
    vendor_value: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    psa_write::Entity::update_many()
        .col_expr(psa_write::Column::Status, Expr::value(PsaWriteStatus::Dropped))
        .col_expr(psa_write::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(
            psa_write::Column::LastError,
            Expr::value(format!(
                "dropped: the vendor changed the status to `{vendor_value}` while this push was pending; the vendor's value stands"
            )),
        )
        .col_expr(psa_write::Column::UpdatedAt, Expr::value(now))
        .filter(psa_write::COLUMN.id.is_in(jobs.iter().map(|job| job.id)))
        .filter(psa_write::COLUMN.status.eq(PsaWriteStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_vendor_takes_its_own_ids_in_a_team_mapping() {
        use IntegrationKind::{Autotask, ConnectwiseManage, Halopsa};
        assert_eq!(assignee_problem(ConnectwiseManage, "1", Some("181")), None);
        assert_eq!(assignee_problem(ConnectwiseManage, "1", None), None);
        assert_eq!(
            assignee_problem(ConnectwiseManage, "Help Desk", None).map(|(field, _)| field),
            Some("group")
        );
        assert_eq!(
            assignee_problem(ConnectwiseManage, "1", Some("-1")).map(|(field, _)| field),
            Some("member")
        );
        assert_eq!(
            assignee_problem(Autotask, "29682833", Some("29682885:29683461")),
            None
        );
        for member in ["29682885", "29682885:", ":1", "a:b", "1:2:3"] {
            assert_eq!(
                assignee_problem(Autotask, "29682833", Some(member)).map(|(field, _)| field),
                Some("member"),
                "{member}"
            );
        }
        // Halo's team is its name; its agent an id.
        assert_eq!(assignee_problem(Halopsa, "1st Line", Some("14")), None);
        assert_eq!(
            assignee_problem(Halopsa, "1st Line", Some("Ann")).map(|(field, _)| field),
            Some("member")
        );
    }
}
