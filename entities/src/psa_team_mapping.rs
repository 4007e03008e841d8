//! Which vendor assignee (board/queue/team, and a member) stands for a Tandem team in a PSA,
//! per integration (two-way sync).

use sea_orm::entity::prelude::*;

/// A row of `psa_team_mappings`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "psa_team_mappings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub integration_id: Uuid,
    /// A team of the integration's organization.
    pub team_id: Uuid,
    /// The vendor's board id (ConnectWise), queue id (Autotask), team name (HaloPSA).
    pub vendor_group: String,
    /// The vendor's member/resource/agent id, when one is mapped.
    pub vendor_member: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
