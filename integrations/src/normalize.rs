//! Reading the vendors' own signals into Tandem's enums: which statuses are closed, waiting or
//! new, how urgent a priority is, what kind of device a class or type names. These seed the
//! per-integration value mappings; an admin's override always wins over them.

use entities::enums::{Priority, SystemKind, TicketStatus};

/// The status a vendor status suggests from its label and flags: closed flags and terminal
/// names end as CLOSED or RESOLVED, waiting parties and SLA holds as WAITING, fresh ones as NEW.
#[must_use]
pub fn status(label: &str, closed: bool) -> TicketStatus {
    let label = label.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| label.contains(word));
    if has(&["resolved", "fixed", "with user"]) {
        TicketStatus::Resolved
    } else if closed || has(&["closed", "complete", "cancel", "invoiced", "billed"]) {
        TicketStatus::Closed
    } else if has(&[
        "wait",
        "hold",
        "pending",
        "scheduled",
        "customer",
        "vendor",
        "parts",
    ]) {
        TicketStatus::Waiting
    } else if has(&["new", "open", "unassigned", "not responded"]) && !has(&["reopen"]) {
        TicketStatus::New
    } else {
        TicketStatus::InProgress
    }
}

/// The priority a vendor label suggests ("Priority 1 - Emergency", "High", "P3", "MAJOR").
#[must_use]
pub fn priority(label: &str) -> Priority {
    let label = label.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| label.contains(word));
    if has(&["critical", "emergency", "urgent", "priority 1", "p1"]) {
        Priority::Critical
    } else if has(&["high", "major", "priority 2", "p2", "quick"]) {
        Priority::High
    } else if has(&[
        "low",
        "minor",
        "information",
        "none",
        "priority 4",
        "priority 5",
        "p4",
        "p5",
    ]) {
        Priority::Low
    } else {
        Priority::Medium
    }
}

/// The priority of the `rank`-th (0-based, most urgent first) of `count` ranked priorities.
#[must_use]
pub fn priority_by_rank(rank: usize, count: usize) -> Priority {
    match (rank, count) {
        (_, 0 | 1) => Priority::Medium,
        (0, _) => Priority::Critical,
        (1, _) => Priority::High,
        (rank, count) if rank + 1 >= count && count > 3 => Priority::Low,
        (2, _) => Priority::Medium,
        _ => Priority::Low,
    }
}

/// The system kind a vendor class or type name suggests (NinjaOne `nodeClass`, Datto
/// `deviceType.category`, ConnectWise configuration types, Autotask categories, Halo asset
/// types), with the operating system as a hint.
#[must_use]
pub fn kind(class: &str, operating_system: Option<&str>) -> SystemKind {
    let class = class.to_ascii_lowercase();
    let os = operating_system.unwrap_or_default().to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| class.contains(word));
    if has(&["firewall"]) {
        SystemKind::Firewall
    } else if has(&["printer"]) {
        SystemKind::Printer
    } else if has(&["switch", "router", "wap", "access point", "network", "nms_"]) {
        SystemKind::NetworkDevice
    } else if has(&["guest", "virtual machine", "vm"]) && !has(&["host"]) {
        SystemKind::VirtualMachine
    } else if has(&["server", "host", "esxi"]) {
        SystemKind::Server
    } else if has(&["laptop", "notebook"]) {
        // A vendor's type that names the form factor wins over an operating-system guess.
        SystemKind::Laptop
    } else if has(&["android", "ios", "ipados", "phone", "tablet", "mobile"]) {
        SystemKind::MobileDevice
    } else if os.contains("server") {
        // Generic types ("Managed Workstation", an RMM-fed CI) running a server OS are servers.
        SystemKind::Server
    } else if has(&["workstation", "desktop", "mac", "pc"]) {
        SystemKind::Workstation
    } else if has(&["backup"]) {
        SystemKind::BackupSet
    } else if has(&["tenant", "cloud"]) {
        SystemKind::CloudTenant
    } else {
        SystemKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_signals_seed_the_mappings() {
        assert_eq!(status("Waiting Customer", false), TicketStatus::Waiting);
        assert_eq!(status("Anything", true), TicketStatus::Closed);
        assert_eq!(status("Complete", false), TicketStatus::Closed);
        assert_eq!(status("Resolved", false), TicketStatus::Resolved);
        assert_eq!(status("New", false), TicketStatus::New);
        assert_eq!(status("Scheduled/Dispatched", false), TicketStatus::Waiting);
        assert_eq!(status("Reopened", false), TicketStatus::InProgress);
        assert_eq!(
            priority("Priority 1 - Emergency Response"),
            Priority::Critical
        );
        assert_eq!(priority("Priority 3 - Normal Response"), Priority::Medium);
        assert_eq!(priority("Information"), Priority::Low);
        assert_eq!(priority_by_rank(0, 5), Priority::Critical);
        assert_eq!(priority_by_rank(4, 5), Priority::Low);
        assert_eq!(kind("WINDOWS_SERVER", None), SystemKind::Server);
        assert_eq!(kind("WINDOWS_WORKSTATION", None), SystemKind::Workstation);
        assert_eq!(kind("NMS_FIREWALL", None), SystemKind::Firewall);
        assert_eq!(
            kind("Managed Workstation", Some("Windows Server 2022")),
            SystemKind::Server
        );
        assert_eq!(kind("Laptop", None), SystemKind::Laptop);
        assert_eq!(
            kind("Laptop", Some("Windows Server 2022")),
            SystemKind::Laptop,
            "the vendor's form factor wins over the OS guess"
        );
    }
}
