//! Service levels: when a routed ticket or alert is due, on which clock, and whether it was late.
//!
//! A matrix entry carries at most one target per priority (`sla_targets`): response minutes,
//! optional resolution minutes, and a calendar. `ALWAYS` counts every minute; `BUSINESS_HOURS`
//! counts only the minutes inside the environment's business hours, Monday to Friday, in its
//! time zone (08:00-18:00 `UTC` unless the environment says otherwise), so a ticket opened on
//! Friday at 17:30 New York time with 60 business minutes is due on Monday at 08:30 there.
//! Due times are computed once, when the item is routed, and kept on it, like the routing
//! decision itself: later changes to the matrix or the environment never move them.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use entities::enums::SlaCalendar;
use entities::{environment, sla_target};

/// Longest SLA target, in minutes (a year).
pub const MAX_TARGET_MINUTES: i32 = 525_600;

/// The clock an environment's business-hours targets count on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    /// The time zone.
    pub zone: Tz,
    /// Minutes after local midnight the day starts.
    pub start_minute: i32,
    /// Minutes after local midnight the day ends (after the start).
    pub end_minute: i32,
}

impl Default for BusinessHours {
    fn default() -> Self {
        Self {
            zone: Tz::UTC,
            start_minute: 8 * 60,
            end_minute: 18 * 60,
        }
    }
}

impl BusinessHours {
    /// The business hours `environment` keeps; an unknown zone name (never written: the service
    /// validates it) counts as `UTC`.
    #[must_use]
    pub fn of(environment: &environment::Model) -> Self {
        Self {
            zone: parse_zone(&environment.time_zone).unwrap_or(Tz::UTC),
            start_minute: environment.business_start_minute,
            end_minute: environment.business_end_minute,
        }
    }

    /// `start` plus `minutes` counted on `calendar`.
    #[must_use]
    pub fn add(&self, calendar: SlaCalendar, start: DateTime<Utc>, minutes: i32) -> DateTime<Utc> {
        match calendar {
            SlaCalendar::Always => start + Duration::minutes(i64::from(minutes)),
            SlaCalendar::BusinessHours => self.add_business_minutes(start, minutes),
        }
    }

    /// `start` plus `minutes` of business time: the minutes inside business hours on weekdays,
    /// in the zone. Days whose hours fall in a daylight-saving gap count what the clock shows.
    ///
    /// Whole weeks are skipped by arithmetic from the first local midnight on: any seven local
    /// days hold five business days, so a target of a year on a short day (525,600 minutes on a
    /// 1 h day is ~33 years) is reached exactly, walking at most the first day and the last week
    /// day by day. A skipped week counts its nominal minutes (a clock change inside business
    /// hours, which a usual window does not contain, is not subtracted there).
    fn add_business_minutes(&self, start: DateTime<Utc>, minutes: i32) -> DateTime<Utc> {
        let mut left = i64::from(minutes.max(0));
        let mut at = start;
        let per_week = 5 * i64::from((self.end_minute - self.start_minute).max(0));
        // At most the first day and the last week or so are walked; the bound only guards a bad
        // calendar.
        for _ in 0..1_000 {
            let local = at.with_timezone(&self.zone);
            let date = local.date_naive();
            let (open, close) = (
                self.local(date, self.start_minute),
                self.local(date, self.end_minute),
            );
            let weekday = !matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
            if weekday && at < close {
                let from = at.max(open);
                let available = (close - from).num_minutes();
                if left <= available {
                    return from + Duration::minutes(left);
                }
                left -= available;
            }
            // On to the start of the next day, past as many whole weeks as leave at least one
            // minute to count (so the end falls inside a day's hours as above).
            let mut next = date.succ_opt().unwrap_or(date);
            if per_week > 0 && left > per_week {
                let weeks = (left - 1) / per_week;
                if let Some(later) =
                    next.checked_add_days(chrono::Days::new(7 * weeks.unsigned_abs()))
                {
                    next = later;
                    left -= weeks * per_week;
                }
            }
            at = self.local(next, 0);
        }
        at
    }

    /// The instant `minute` minutes after local midnight on `date` (the earliest when the
    /// clock is turned back, the moment after a gap when it is turned forward).
    fn local(&self, date: chrono::NaiveDate, minute: i32) -> DateTime<Utc> {
        let minute = minute.clamp(0, 24 * 60);
        let naive = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
        let mut probe = naive;
        for _ in 0..4 {
            if let Some(found) = self.zone.from_local_datetime(&probe).earliest() {
                return found.with_timezone(&Utc);
            }
            probe += Duration::minutes(30);
        }
        Utc.from_utc_datetime(&naive)
    }
}

/// `name` as an IANA time zone.
#[must_use]
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// When a routed item is due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueTimes {
    /// Response due.
    pub response_due_at: Option<DateTime<Utc>>,
    /// Resolution due.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// The calendar they were counted on.
    pub calendar: Option<SlaCalendar>,
}

impl DueTimes {
    /// The due times of an item routed at `at` under `target` in an environment keeping `hours`.
    #[must_use]
    pub fn of(target: &sla_target::Model, hours: &BusinessHours, at: DateTime<Utc>) -> Self {
        Self {
            response_due_at: Some(hours.add(target.calendar, at, target.response_minutes)),
            resolution_due_at: target
                .resolution_minutes
                .map(|minutes| hours.add(target.calendar, at, minutes)),
            calendar: Some(target.calendar),
        }
    }
}

/// Whether a target due at `due` was breached: by `done` when it was met then, else by `now`.
#[must_use]
pub fn breached(
    due: Option<DateTime<Utc>>,
    done: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<bool> {
    due.map(|due| done.unwrap_or(now) > due)
}

/// Longest period a report covers, in days.
pub const MAX_REPORT_DAYS: i64 = 366;

/// One row of the SLA report: one team's routed items of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The team the items were routed to.
    pub team: entities::team::Model,
    /// Its organization's kind: the provider's side (MSP) or the client's own (internal IT).
    pub side: entities::enums::OrganizationKind,
    /// Tickets and alerts routed with a target.
    pub items: u64,
    /// Responded to (acknowledged) by the response due time.
    pub response_met: u64,
    /// Responded to late, or not yet and already late.
    pub response_breached: u64,
    /// Resolved by the resolution due time (items with a resolution target only).
    pub resolution_met: u64,
    /// Resolved late, or not yet and already late.
    pub resolution_breached: u64,
}

/// Per team, how the tickets and alerts of `environment_ids` created (raised) in `[from, to)`
/// and routed with an SLA target did, judged at `now` for what is still open: response met or
/// breached, and resolution met or breached (an item still open before its due time counts in
/// neither). Rows are ordered by team name. Two queries for the items, one for their teams and
/// organizations.
///
/// # Errors
/// Database errors.
pub async fn report(
    db: &impl sea_orm::ConnectionTrait,
    environment_ids: &[uuid::Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<ReportRow>, sea_orm::DbErr> {
    use entities::{alert, organization, team, ticket};
    use sea_orm::{EntityTrait, QueryFilter, QuerySelect};
    use std::collections::BTreeMap;

    /// (team, response due, responded, resolution due, resolved)
    type Facts = (
        uuid::Uuid,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    // Only the five columns judged: a year of items is read, and their descriptions and
    // messages are not needed for it.
    let tickets: Vec<Facts> = ticket::Entity::find()
        .select_only()
        .columns([
            ticket::Column::AssignedTeamId,
            ticket::Column::ResponseDueAt,
            ticket::Column::RespondedAt,
            ticket::Column::ResolutionDueAt,
            ticket::Column::ResolvedAt,
        ])
        .filter(
            ticket::COLUMN
                .environment_id
                .is_in(environment_ids.iter().copied()),
        )
        .filter(ticket::COLUMN.created_at.gte(from))
        .filter(ticket::COLUMN.created_at.lt(to))
        .filter(ticket::COLUMN.response_due_at.is_not_null())
        .filter(ticket::COLUMN.assigned_team_id.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let alerts: Vec<Facts> = alert::Entity::find()
        .select_only()
        .columns([
            alert::Column::AssignedTeamId,
            alert::Column::ResponseDueAt,
            alert::Column::AcknowledgedAt,
            alert::Column::ResolutionDueAt,
            alert::Column::ResolvedAt,
        ])
        .filter(
            alert::COLUMN
                .environment_id
                .is_in(environment_ids.iter().copied()),
        )
        .filter(alert::COLUMN.raised_at.gte(from))
        .filter(alert::COLUMN.raised_at.lt(to))
        .filter(alert::COLUMN.response_due_at.is_not_null())
        .filter(alert::COLUMN.assigned_team_id.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let facts = tickets.into_iter().chain(alerts);
    let mut counts: BTreeMap<uuid::Uuid, [u64; 5]> = BTreeMap::new();
    for (team_id, response_due, responded, resolution_due, resolved) in facts {
        let row = counts.entry(team_id).or_default();
        row[0] += 1;
        match (responded, now > response_due) {
            (Some(at), _) if at <= response_due => row[1] += 1,
            (Some(_), _) | (None, true) => row[2] += 1,
            (None, false) => {}
        }
        if let Some(due) = resolution_due {
            match (resolved, now > due) {
                (Some(at), _) if at <= due => row[3] += 1,
                (Some(_), _) | (None, true) => row[4] += 1,
                (None, false) => {}
            }
        }
    }
    let teams = team::Entity::find()
        .filter(team::COLUMN.id.is_in(counts.keys().copied()))
        .all(db)
        .await?;
    let kinds: std::collections::HashMap<uuid::Uuid, entities::enums::OrganizationKind> =
        organization::Entity::find()
            .filter(
                organization::COLUMN
                    .id
                    .is_in(teams.iter().map(|found| found.organization_id)),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found.kind))
            .collect();
    let mut rows: Vec<ReportRow> = teams
        .into_iter()
        .filter_map(|team| {
            let [
                items,
                response_met,
                response_breached,
                resolution_met,
                resolution_breached,
            ] = *counts.get(&team.id)?;
            Some(ReportRow {
                side: *kinds.get(&team.organization_id)?,
                team,
                items,
                response_met,
                response_breached,
                resolution_met,
                resolution_breached,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        a.team
            .name
            .cmp(&b.team.name)
            .then(a.team.id.cmp(&b.team.id))
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn business_minutes_skip_the_weekend_in_the_environments_zone() {
        let new_york = BusinessHours {
            zone: chrono_tz::America::New_York,
            ..BusinessHours::default()
        };
        // Friday 2026-12-04 17:30 in New York is 22:30 UTC; 30 minutes that day, 30 on Monday.
        let due = new_york.add(SlaCalendar::BusinessHours, at("2026-12-04T22:30:00Z"), 60);
        assert_eq!(due, at("2026-12-07T13:30:00Z"));
        // Opened on Saturday: counting starts on Monday at 08:00.
        let due = new_york.add(SlaCalendar::BusinessHours, at("2026-12-05T15:00:00Z"), 90);
        assert_eq!(due, at("2026-12-07T14:30:00Z"));
        // Around the clock ignores the calendar.
        let due = new_york.add(SlaCalendar::Always, at("2026-12-04T22:30:00Z"), 60);
        assert_eq!(due, at("2026-12-04T23:30:00Z"));
    }

    #[test]
    fn business_minutes_span_days_and_a_clock_change() {
        let utc = BusinessHours::default();
        // Monday 17:00 UTC + 3 business hours: one hour Monday, two Tuesday from 08:00.
        let due = utc.add(SlaCalendar::BusinessHours, at("2026-12-07T17:00:00Z"), 180);
        assert_eq!(due, at("2026-12-08T10:00:00Z"));
        // New York leaves daylight saving on Sunday 2026-11-01: Friday 17:00 EDT (21:00 UTC) +
        // 120 minutes is Monday 09:00 EST (14:00 UTC).
        let new_york = BusinessHours {
            zone: chrono_tz::America::New_York,
            ..BusinessHours::default()
        };
        let due = new_york.add(SlaCalendar::BusinessHours, at("2026-10-30T21:00:00Z"), 120);
        assert_eq!(due, at("2026-11-02T14:00:00Z"));
    }

    #[test]
    fn a_year_long_target_on_a_one_hour_day_is_reached_exactly() {
        let one_hour = BusinessHours {
            zone: Tz::UTC,
            start_minute: 9 * 60,
            end_minute: 10 * 60,
        };
        // Monday 2026-01-05 09:00 UTC. 500,000 minutes are 8,333 one-hour days and 20 minutes:
        // 1,666 weeks of five, then Monday to Wednesday, then 20 minutes on Thursday.
        let start = at("2026-01-05T09:00:00Z");
        let due = one_hour.add(SlaCalendar::BusinessHours, start, 500_000);
        assert_eq!(
            due,
            start + Duration::weeks(1_666) + Duration::days(3) + Duration::minutes(20)
        );
        assert_eq!(due, at("2057-12-13T09:20:00Z"));
        // The longest target accepted, from a Saturday: 1,752 weeks to the Saturday, then 60
        // minutes on each weekday of the next week (525,600 = 1,752 * 300 + 0; so 1,751 weeks
        // and a full week of five hours, ending Friday 10:00).
        let saturday = at("2026-01-10T12:00:00Z");
        let due = one_hour.add(SlaCalendar::BusinessHours, saturday, MAX_TARGET_MINUTES);
        assert_eq!(
            due,
            saturday + Duration::weeks(1_751) + Duration::days(6) - Duration::hours(2)
        );
    }

    /// The day-by-day walk without the week skip or a bound: what the skip must agree with.
    fn walked(hours: &BusinessHours, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        let (mut left, mut at) = (minutes, start);
        loop {
            let date = at.with_timezone(&hours.zone).date_naive();
            let (open, close) = (
                hours.local(date, hours.start_minute),
                hours.local(date, hours.end_minute),
            );
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && at < close {
                let from = at.max(open);
                let available = (close - from).num_minutes();
                if left <= available {
                    return from + Duration::minutes(left);
                }
                left -= available;
            }
            at = hours.local(date.succ_opt().unwrap(), 0);
        }
    }

    #[test]
    fn skipping_weeks_agrees_with_walking_day_by_day() {
        let new_york = BusinessHours {
            zone: chrono_tz::America::New_York,
            ..BusinessHours::default()
        };
        for start in [
            "2026-12-04T22:30:00Z",
            "2026-12-05T15:00:00Z",
            "2026-03-06T20:17:31Z",
            "2026-10-30T21:00:00Z",
            "2026-07-15T03:00:00Z",
        ] {
            for minutes in [
                1,
                599,
                600,
                3_000,
                3_001,
                12_345,
                100_000,
                MAX_TARGET_MINUTES,
            ] {
                assert_eq!(
                    new_york.add(SlaCalendar::BusinessHours, at(start), minutes),
                    walked(&new_york, at(start), i64::from(minutes)),
                    "{start} + {minutes}"
                );
            }
        }
    }

    #[test]
    fn a_breach_is_judged_when_the_target_was_met_or_now() {
        let due = Some(at("2026-12-07T10:00:00Z"));
        assert_eq!(
            breached(
                due,
                Some(at("2026-12-07T09:59:00Z")),
                at("2027-01-01T00:00:00Z")
            ),
            Some(false)
        );
        assert_eq!(breached(due, None, at("2026-12-07T10:01:00Z")), Some(true));
        assert_eq!(breached(None, None, at("2026-12-07T10:01:00Z")), None);
    }
}
