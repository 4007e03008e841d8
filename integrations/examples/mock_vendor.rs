//! A mock of any of the five vendors serving many records, for `bench/vendors.py`: prints its URL
//! on the first line of stdout and what an integration needs on the second (`{"kind",
//! "settings", "credentials", "companies"}`: the vendor ids to map), serves until it gets
//! SIGINT, then prints what it served as one
//! JSON line (`{"requests": n, "token_requests": n, "max_in_flight": n, "note_requests": n}`)
//! and exits.
//!
//! `mock_vendor <connectwise|autotask|halopsa|datto|ninjaone> [--tickets N] [--companies C]
//! [--latency-ms L] [--notes-every K]`
//!
//! `--tickets` is the number of the vendor's ticket-like records (default 20,000): tickets for
//! the PSAs (a note on every K-th, default 20: the mocks look notes up by scanning them, so
//! tens of thousands would make the mock, not Tandem, the bottleneck), alerts for Datto RMM (half open, half resolved),
//! activities (change log entries) for NinjaOne, whose alerts list is not paged. Companies
//! (default 3) are ConnectWise 250..., Autotask 170..., Halo 57..., Datto sites
//! `uid(0x5173, n)`, NinjaOne organizations 1.... `--latency-ms` delays every API request (a
//! vendor is milliseconds away, not microseconds).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use integrations::mock::{self, MockServer};

struct Options {
    kind: String,
    tickets: usize,
    companies: usize,
    latency_ms: u64,
    notes_every: usize,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        kind: args.next().unwrap_or_else(|| "connectwise".to_owned()),
        tickets: 20_000,
        companies: 3,
        latency_ms: 0,
        notes_every: 20,
    };
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|value| value.parse().ok());
        match (flag.as_str(), value) {
            ("--tickets", Some(value)) => options.tickets = value,
            ("--companies", Some(value)) => options.companies = value,
            ("--latency-ms", Some(value)) => options.latency_ms = value as u64,
            ("--notes-every", Some(value)) => options.notes_every = value,
            _ => panic!("unknown or incomplete option {flag}"),
        }
    }
    options
}

async fn start(options: &Options) -> MockServer {
    let at = Utc::now() - chrono::Duration::hours(1);
    let (tickets, companies) = (options.tickets, options.companies);
    let noted = (0..tickets as i64).step_by(options.notes_every.max(1));
    match options.kind.as_str() {
        "connectwise" => {
            let mut store = mock::connectwise::fixture(companies, tickets, at);
            store.notes = noted
                .map(|n| {
                    mock::connectwise::note(
                        1_000_000 + n,
                        48_000 + n,
                        "Called the user.",
                        false,
                        at,
                    )
                })
                .collect();
            mock::connectwise::start(store).await
        }
        "autotask" => {
            let mut store = mock::autotask::fixture(companies, tickets, at);
            store.notes = noted
                .map(|n| mock::autotask::note(1_000_000 + n, 30_000 + n, "Called the user.", 1, at))
                .collect();
            mock::autotask::start(store).await
        }
        "halopsa" => {
            let mut store = mock::halopsa::fixture(companies, tickets, at);
            store.notes = noted
                .map(|n| {
                    mock::halopsa::action(1_000_000 + n, 18_000 + n, "Called the user.", false, at)
                })
                .collect();
            mock::halopsa::start(store).await
        }
        "datto" => {
            let mut store = mock::datto::fixture(companies as u64, at);
            let devices = store.devices.clone();
            store.alerts = (0..tickets as u64)
                .map(|n| {
                    let device = &devices[n as usize % devices.len()];
                    mock::datto::alert(
                        n,
                        device,
                        if n % 2 == 0 { "High" } else { "Moderate" },
                        "Free space on C: is below the threshold",
                        n % 2 == 1,
                        at,
                    )
                })
                .collect();
            mock::datto::start(store).await
        }
        "ninjaone" => {
            let mut store = mock::ninjaone::fixture(companies, at);
            let devices: Vec<i64> = store
                .devices
                .iter()
                .filter_map(|device| device["id"].as_i64())
                .collect();
            store.changes = (0..tickets as i64)
                .map(|n| {
                    mock::ninjaone::activity(
                        100_000 + n,
                        devices[n as usize % devices.len()],
                        "PATCH_MANAGEMENT",
                        "Installed KB5043145",
                        at,
                    )
                })
                .collect();
            mock::ninjaone::start(store).await
        }
        other => panic!("unknown vendor {other}"),
    }
}

/// What an integration with the mock needs: its kind, settings and credentials, and the vendor
/// ids of the companies to map.
fn integration(options: &Options) -> serde_json::Value {
    let n = options.companies;
    let (kind, (settings, credentials), companies): (&str, _, Vec<String>) =
        match options.kind.as_str() {
            "connectwise" => (
                "CONNECTWISE_MANAGE",
                mock::connectwise::configuration(),
                (0..n).map(|k| (250 + k).to_string()).collect(),
            ),
            "autotask" => (
                "AUTOTASK",
                mock::autotask::configuration(),
                (0..n).map(|k| (170 + k).to_string()).collect(),
            ),
            "halopsa" => (
                "HALOPSA",
                mock::halopsa::configuration(),
                (0..n).map(|k| (57 + k).to_string()).collect(),
            ),
            "datto" => (
                "DATTO_RMM",
                mock::datto::configuration(),
                (0..n as u64).map(|k| mock::datto::uid(0x5173, k)).collect(),
            ),
            _ => (
                "NINJAONE",
                mock::ninjaone::configuration(),
                (1..=n).map(|k| k.to_string()).collect(),
            ),
        };
    serde_json::json!({ "kind": kind, "settings": settings, "credentials": credentials, "companies": companies })
}

#[tokio::main]
async fn main() {
    let options = options();
    let server = start(&options).await;
    server
        .state
        .set_latency(Duration::from_millis(options.latency_ms));
    println!("{}", server.url);
    println!("{}", integration(&options));
    std::io::stdout().flush().expect("stdout");
    let _ = tokio::signal::ctrl_c().await;
    let by_path: BTreeMap<String, usize> = server.state.requests_by_path().into_iter().collect();
    println!(
        "{}",
        serde_json::json!({
            "requests": server.state.requests(),
            "token_requests": server.state.token_requests(),
            "max_in_flight": server.state.max_in_flight(),
            "note_requests": by_path
                .iter()
                .filter(|(path, _)| path.contains("otes") || path.ends_with("/Actions"))
                .map(|(_, count)| count)
                .sum::<usize>(),
        })
    );
    std::io::stdout().flush().expect("stdout");
}
