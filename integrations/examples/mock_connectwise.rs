//! A ConnectWise Manage mock serving many tickets, for `bench/sync.py`: prints its URL on the
//! first line of stdout and serves until it is killed.
//!
//! `mock_connectwise [TICKETS] [COMPANIES]` (default 100000 tickets over 3 companies).

use std::io::Write;

use integrations::mock::connectwise;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let tickets = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let companies = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
    let at = chrono::Utc::now() - chrono::Duration::hours(1);
    let server = connectwise::start(connectwise::fixture(companies, tickets, at)).await;
    println!("{}", server.url);
    std::io::stdout().flush().expect("stdout");
    let _ = tokio::signal::ctrl_c().await;
}
