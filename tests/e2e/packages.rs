//! Packages (`GET /environments/{id}/packages/{evidence,handoff,exit}`): each archive is
//! unzipped in memory and its file list, index, CSV files and hashes are checked; the same
//! inputs give the same bytes; tenancy, roles and bad parameters are refused.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use entities::enums::Role;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tests::TestApp;

/// A download: status, `Content-Disposition`, body.
struct Download {
    status: u16,
    disposition: String,
    content_type: String,
    body: Vec<u8>,
}

impl Download {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn code(&self) -> Value {
        self.json()["errors"][0]["extensions"]["code"].clone()
    }
}

async fn download(app: &TestApp, token: Option<&str>, path: &str) -> anyhow::Result<Download> {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    Ok(Download {
        status: response.status().as_u16(),
        disposition: header("content-disposition"),
        content_type: header("content-type"),
        body: response.bytes().await?.to_vec(),
    })
}

/// The archive's files by name, and their order in the archive.
fn unzip(bytes: &[u8]) -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
    let mut files = BTreeMap::new();
    let mut order = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).unwrap();
        assert_eq!(file.compression(), zip::CompressionMethod::Deflated);
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        let name = file.name().unwrap().into_owned();
        order.push(name.clone());
        files.insert(name, content);
    }
    (files, order)
}

fn text(files: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    String::from_utf8(
        files
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone(),
    )
    .unwrap()
}

fn csv_rows(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(files[name].as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|record| {
            header
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The date every entry of the archive carries (`YYYY-MM-DD HH:MM:SS`).
fn entry_dates(bytes: &[u8]) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
    (0..archive.len())
        .map(|index| {
            let stamp = archive.by_index(index).unwrap().last_modified().unwrap();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                stamp.year(),
                stamp.month(),
                stamp.day(),
                stamp.hour(),
                stamp.minute(),
                stamp.second()
            )
        })
        .collect()
}

/// Every file is sorted in the archive, and listed with its true SHA-256 and size in both
/// `manifest.json` and `SHA256SUMS`, which list every file but themselves.
fn check_hashes(files: &BTreeMap<String, Vec<u8>>, order: &[String], package: &str) {
    let mut sorted = order.to_vec();
    sorted.sort();
    assert_eq!(order, sorted, "entries are sorted by name");
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["package"], package);
    let listed = manifest["files"].as_array().unwrap();
    let names: Vec<&str> = listed
        .iter()
        .map(|file| file["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = files
        .keys()
        .map(String::as_str)
        .filter(|name| *name != "manifest.json" && *name != "SHA256SUMS")
        .collect();
    assert_eq!(names, expected);
    let mut sums = String::new();
    for file in listed {
        let name = file["name"].as_str().unwrap();
        assert_eq!(file["sha256"], sha256(&files[name]), "{name}");
        assert_eq!(file["bytes"], files[name].len(), "{name}");
        sums.push_str(&format!("{}  {name}\n", sha256(&files[name])));
    }
    assert_eq!(text(files, "SHA256SUMS"), sums);
}

async fn id_by(
    app: &TestApp,
    token: &str,
    list: &str,
    field: &str,
    value: &str,
) -> anyhow::Result<Value> {
    let data = app
        .query(
            token,
            &format!("{{ {list}(first: 100) {{ edges {{ node {{ id {field} }} }} }} }}"),
            Value::Null,
        )
        .await?;
    Ok(data[list]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"][field] == value)
        .unwrap_or_else(|| panic!("no {list} with {field} {value}"))["node"]["id"]
        .clone())
}

/// Creates an entry and has both sides of the co-managed engagement agree it.
async fn agree(app: &TestApp, input: Value) -> anyhow::Result<Value> {
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    let created = app
        .query(&harbor, "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id } userErrors { field message } } }", json!({ "input": input }))
        .await?;
    let id = created["createResponsibility"]["responsibility"]["id"].clone();
    assert!(id.is_string(), "{created}");
    for (token, action) in [
        (&harbor, "proposeResponsibility"),
        (&harbor, "approveResponsibility"),
        (&provider, "approveResponsibility"),
    ] {
        act(app, token, action, &id).await?;
    }
    Ok(id)
}

async fn act(app: &TestApp, token: &str, action: &str, id: &Value) -> anyhow::Result<()> {
    let done = app
        .query(token, &format!("mutation($input: ResponsibilityActionInput!) {{ {action}(input: $input) {{ userErrors {{ message }} }} }}"), json!({ "input": { "id": id } }))
        .await?;
    assert_eq!(done[action]["userErrors"], json!([]), "{done}");
    Ok(())
}

/// The environment the evidence scenario builds: held to HIPAA, named with markup.
const ANNEX: &str = "Annex <script>alert(1)</script> & \"Co\"";

/// Harbor's new environment with: patching agreed from 2025 on (the whole of January 2026),
/// EDR agreed from January 10 and retired since (part of it), backup agreed from March (not in
/// January), and a change recorded in January.
async fn evidence_scenario(app: &TestApp) -> anyhow::Result<(Value, Vec<Value>)> {
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let environment = app
        .query(&harbor, "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }", json!({ "input": { "organizationId": organization, "name": ANNEX, "complianceFrameworks": ["HIPAA"] } }))
        .await?["createEnvironment"]["environment"]["id"]
        .clone();
    let internal_it = id_by(app, &harbor, "teams", "name", "Internal IT").await?;
    let soc = id_by(
        app,
        &provider,
        "teams",
        "name",
        "Security Operations Center",
    )
    .await?;
    let patching = agree(
        app,
        json!({ "environmentId": environment, "function": "patching", "responsibleTeamId": internal_it, "accountableTeamId": internal_it, "validFrom": "2025-06-01T00:00:00Z" }),
    )
    .await?;
    let edr = agree(
        app,
        json!({ "environmentId": environment, "function": "edr", "responsibleTeamId": soc, "accountableTeamId": internal_it, "validFrom": "2026-01-10T00:00:00Z" }),
    )
    .await?;
    act(app, &harbor, "retireResponsibility", &edr).await?;
    act(app, &provider, "retireResponsibility", &edr).await?;
    let status = app
        .query(
            &harbor,
            "query($id: ID!) { node(id: $id) { ... on Responsibility { status } } }",
            json!({ "id": edr }),
        )
        .await?;
    assert_eq!(status["node"]["status"], "RETIRED", "{status}");
    let backup = agree(
        app,
        json!({ "environmentId": environment, "function": "backup_recovery", "responsibleTeamId": internal_it, "validFrom": "2026-03-01T00:00:00Z" }),
    )
    .await?;
    let recorded = app
        .query(&harbor, "mutation($input: RecordChangeInput!) { recordChange(input: $input) { changeLogEntry { id } userErrors { message } } }",
            json!({ "input": { "environmentId": environment, "summary": "=SUM(A1) firewall rule for the EHR", "category": "CONFIGURATION", "occurredAt": "2026-01-20T12:00:00Z" } }))
        .await?;
    assert_eq!(
        recorded["recordChange"]["userErrors"],
        json!([]),
        "{recorded}"
    );
    Ok((environment, vec![patching, edr, backup]))
}

fn path(environment: &Value, rest: &str) -> String {
    format!(
        "/environments/{}/packages/{rest}",
        environment.as_str().unwrap()
    )
}

const JANUARY: &str = "evidence?framework=HIPAA&from=2026-01-01&to=2026-01-31";

#[tokio::test]
async fn an_evidence_package_holds_the_periods_matrix_sign_offs_coverage_changes_and_gaps()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (environment, entries) = evidence_scenario(&app).await?;
    let [patching, edr, backup] = [&entries[0], &entries[1], &entries[2]];
    let harbor = app.client_admin_token();

    let first = download(&app, Some(&harbor), &path(&environment, JANUARY)).await?;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.content_type, "application/zip");
    assert_eq!(
        first.disposition,
        "attachment; filename=\"evidence-harbor-health-annex-script-alert-1-script-co-hipaa-2026-01-01-to-2026-01-31.zip\""
    );
    let (files, order) = unzip(&first.body);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "SHA256SUMS",
            "change-log.csv",
            "coverage.csv",
            "evidence.csv",
            "gaps.csv",
            "index.html",
            "index.md",
            "manifest.json",
            "matrix.csv",
            "obligations.csv",
            "sign-offs.csv",
        ]
    );
    check_hashes(&files, &order, "evidence");
    // Entries are dated by the period's last day, never by the clock.
    assert_eq!(
        entry_dates(&first.body),
        vec!["2026-01-31 00:00:00".to_owned(); files.len()]
    );
    let manifest: Value = serde_json::from_slice(&files["manifest.json"])?;
    assert_eq!(
        manifest["inputs"],
        json!({ "environment": environment, "framework": "HIPAA", "from": "2026-01-01", "to": "2026-01-31" })
    );

    // The matrix: the two entries in force during January, not March's.
    let matrix = csv_rows(&files, "matrix.csv");
    let ids: Vec<&str> = matrix.iter().map(|row| row["entry_id"].as_str()).collect();
    assert_eq!(ids, [edr.as_str().unwrap(), patching.as_str().unwrap()]);
    assert!(!ids.contains(&backup.as_str().unwrap()));
    assert_eq!(matrix[1]["valid_from"], "2025-06-01T00:00:00Z");
    assert_eq!(matrix[1]["status"], "AGREED");
    assert_eq!(matrix[0]["status"], "RETIRED");
    assert_eq!(matrix[0]["responsible"], "Security Operations Center");
    for row in &matrix {
        let agreed = &row["agreed_by"];
        assert!(
            agreed.contains("Dana Whitfield (Harbor Health Partners) at ")
                && agreed.contains("Morgan Reyes (Northwind Managed Services) at "),
            "{agreed}"
        );
    }
    assert!(matrix[0]["retired_by"].contains("Dana Whitfield (Harbor Health Partners) at "));
    assert!(matrix[0]["valid_to"].starts_with("20"), "retired: it ends");
    assert_eq!(matrix[1]["retired_by"], "");
    let sign_offs = csv_rows(&files, "sign-offs.csv");
    let decisions: Vec<(&str, &str)> = sign_offs
        .iter()
        .map(|row| (row["function_key"].as_str(), row["decision"].as_str()))
        .collect();
    assert_eq!(
        decisions,
        [
            ("edr", "AGREE"),
            ("edr", "AGREE"),
            ("edr", "RETIRE"),
            ("edr", "RETIRE"),
            ("patching", "AGREE"),
            ("patching", "AGREE"),
        ]
    );

    // Coverage: patching the whole month, EDR part of it, backup never.
    let coverage = csv_rows(&files, "coverage.csv");
    let owned = |key: &str| {
        coverage
            .iter()
            .find(|row| row["function_key"] == key)
            .map(|row| (row["owned"].clone(), row["required"].clone()))
            .unwrap()
    };
    assert_eq!(owned("patching"), ("whole period".into(), "yes".into()));
    assert_eq!(owned("edr"), ("part of the period".into(), "no".into()));
    assert_eq!(owned("backup_recovery"), ("never".into(), "yes".into()));
    let index = text(&files, "index.md");
    // Category, functions, whole, part, never, required by HIPAA.
    assert!(index.contains("| PR.PS | 4 | 1 | 0 | 3 | 1 |"), "{index}");
    assert!(index.contains("| DE.CM | 2 | 0 | 1 | 1 | 1 |"), "{index}");

    // The change log: January's one entry (the matrix's own entries were recorded today).
    let changes = csv_rows(&files, "change-log.csv");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["occurred_at"], "2026-01-20T12:00:00Z");
    assert_eq!(
        changes[0]["summary"], "'=SUM(A1) firewall rule for the EHR",
        "a formula is neutralized"
    );
    assert!(index.contains("| CONFIGURATION | 1 | "), "{index}");

    // The gaps at the end of January: HIPAA's required functions without an owner then.
    let gaps = csv_rows(&files, "gaps.csv");
    let unowned: Vec<&str> = gaps
        .iter()
        .filter(|row| row["kind"] == "REQUIRED_FUNCTION_UNOWNED")
        .map(|row| row["about"].as_str())
        .collect();
    assert!(unowned.contains(&"function backup_recovery"), "{unowned:?}");
    assert!(!unowned.contains(&"function patching"), "{unowned:?}");
    assert!(index.contains("open at 2026-01-31T23:59:59Z"), "{index}");

    // The index in both formats: the same sections, markup escaped, nothing loaded.
    let html = text(&files, "index.html");
    for heading in [
        "Responsibility matrix across the period",
        "Coverage per NIST CSF 2.0 category",
        "Change log by category",
        "Open gaps",
    ] {
        assert!(index.contains(&format!("## {heading}")), "{heading}");
        assert!(html.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("Annex &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="));
    assert!(!index.contains("<script>"));
    assert!(html.contains("Dana Whitfield (Harbor Health Partners) at "));

    // The same inputs give the same bytes, one after the other and two at once.
    let second = download(&app, Some(&harbor), &path(&environment, JANUARY)).await?;
    assert!(second.body == first.body, "a second download differs");
    let (january, provider) = (path(&environment, JANUARY), app.provider_admin_token());
    let (left, right) = tokio::join!(
        download(&app, Some(&harbor), &january),
        download(&app, Some(&provider), &january),
    );
    assert!(left?.body == first.body);
    // The provider's admin sees the same people, so the same package.
    assert!(right?.body == first.body);
    // Another period is another package.
    let february = download(
        &app,
        Some(&harbor),
        &path(
            &environment,
            "evidence?framework=HIPAA&from=2026-02-01&to=2026-02-28",
        ),
    )
    .await?;
    assert_eq!(february.status, 200);
    assert!(february.body != first.body);
    Ok(())
}

#[tokio::test]
async fn handoff_and_exit_packages_state_the_record_at_their_instant_without_a_secret()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let production = id_by(&app, &harbor, "environments", "name", "Production").await?;

    // An integration with credentials, mapped to Production; its secrets go nowhere.
    const SECRET: &str = "pk-Zq81-never-in-a-package";
    let created = app
        .query(&provider, "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } userErrors { field code message } } }",
            json!({ "input": { "name": "Northwind PSA", "kind": "CONNECTWISE_MANAGE", "baseUrl": "https://api-na.myconnectwise.example",
                "settings": { "companyId": "northwind" }, "credentials": { "publicKey": "pub-key", "privateKey": SECRET, "clientId": SECRET } } }))
        .await?;
    assert_eq!(
        created["createIntegration"]["userErrors"],
        json!([]),
        "{created}"
    );
    let integration = created["createIntegration"]["integration"]["id"].clone();
    let mapped = app
        .query(&provider, "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": integration, "externalCompanyId": "250", "externalCompanyName": "Harbor Health", "environmentId": production } }))
        .await?;
    assert_eq!(mapped["mapIntegrationCompany"]["userErrors"], json!([]));

    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let handoff = format!("handoff?on={tomorrow}");
    let first = download(&app, Some(&provider), &path(&production, &handoff)).await?;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(
        first.disposition,
        format!("attachment; filename=\"handoff-harbor-health-production-{tomorrow}.zip\"")
    );
    let (files, order) = unzip(&first.body);
    check_hashes(&files, &order, "handoff");
    assert_eq!(
        entry_dates(&first.body),
        vec![format!("{tomorrow} 00:00:00"); files.len()]
    );
    for name in [
        "alerts.csv",
        "change-log.csv",
        "gaps.csv",
        "index.html",
        "index.md",
        "integrations.csv",
        "matrix.csv",
        "runbooks.csv",
        "sign-offs.csv",
        "systems.csv",
        "tickets.csv",
    ] {
        assert!(files.contains_key(name), "{name}: {:?}", files.keys());
    }
    // No secret, in any file or in the archive's bytes.
    for (name, content) in &files {
        assert!(
            !String::from_utf8_lossy(content).contains(SECRET),
            "{name} holds the secret"
        );
        assert!(
            !String::from_utf8_lossy(content).contains("pub-key"),
            "{name}"
        );
    }
    assert!(!String::from_utf8_lossy(&first.body).contains(SECRET));
    let integrations = csv_rows(&files, "integrations.csv");
    let ours = integrations
        .iter()
        .find(|row| row["name"] == "Northwind PSA")
        .unwrap_or_else(|| panic!("{integrations:?}"));
    assert_eq!(ours["id"], integration.as_str().unwrap());
    assert_eq!(ours["kind"], "CONNECTWISE_MANAGE");
    assert_eq!(ours["base_url"], "https://api-na.myconnectwise.example/");
    assert_eq!(ours["mapped_companies"], "250 (Harbor Health)");
    assert!(!text(&files, "integrations.csv").contains("companyId"));

    // The record as it stands: the demo's systems, runbooks with their content, the matrix.
    let systems = csv_rows(&files, "systems.csv");
    assert!(
        systems.iter().any(|row| row["name"] == "HHP-DC01"),
        "{systems:?}"
    );
    let runbooks = csv_rows(&files, "runbooks.csv");
    assert!(!runbooks.is_empty());
    for runbook in &runbooks {
        let content = text(&files, &runbook["file"]);
        assert!(!content.is_empty(), "{}", runbook["file"]);
    }
    let matrix = csv_rows(&files, "matrix.csv");
    assert!(
        matrix
            .iter()
            .any(|row| row["function_key"] == "patching" && row["status"] == "AGREED"),
        "{matrix:?}"
    );
    let index = text(&files, "index.md");
    for heading in [
        "Responsibility matrix",
        "Inventory",
        "Runbooks",
        "Open tickets and alerts",
        "Change log by category",
        "Integrations",
        "Open gaps",
    ] {
        assert!(index.contains(&format!("\n## {heading}\n")), "{heading}");
    }
    assert!(
        index.contains(&format!("read at {tomorrow}T00:00:00Z")),
        "{index}"
    );
    // The client's admin sees the same estate, the provider's integrations that feed it
    // included (read-only: the same rows, never credentials).
    let client_copy = download(&app, Some(&harbor), &path(&production, &handoff)).await?;
    assert_eq!(client_copy.status, 200);
    let (client_files, _) = unzip(&client_copy.body);
    assert_eq!(csv_rows(&client_files, "integrations.csv"), integrations);
    assert!(!String::from_utf8_lossy(&client_copy.body).contains(SECRET));
    // The same inputs, the same bytes.
    let again = download(&app, Some(&provider), &path(&production, &handoff)).await?;
    assert!(
        again.body == first.body,
        "a second handoff download differs"
    );

    // The exit of Cedar's fully managed period: the provider's engagement that ends in three
    // weeks, read at its last second.
    let cedar_office = id_by(&app, &provider, "environments", "name", "Main Office").await?;
    let exit = download(&app, Some(&provider), &path(&cedar_office, "exit")).await?;
    assert_eq!(exit.status, 200, "{}", String::from_utf8_lossy(&exit.body));
    let (exit_files, exit_order) = unzip(&exit.body);
    check_hashes(&exit_files, &exit_order, "exit");
    let manifest: Value = serde_json::from_slice(&exit_files["manifest.json"])?;
    let ends_on = manifest["inputs"]["endsOn"].as_str().unwrap().to_owned();
    assert_eq!(
        exit.disposition,
        format!("attachment; filename=\"exit-cedar-pine-main-office-northwind-msp-{ends_on}.zip\"")
    );
    let exit_index = text(&exit_files, "index.md");
    assert!(
        exit_index.starts_with(
            "# Exit package: Cedar & Pine Accounting — Main Office (engagement of Northwind Managed Services)"
        ),
        "{exit_index}"
    );
    let last_day = ends_on.parse::<chrono::NaiveDate>()?.pred_opt().unwrap();
    assert!(
        exit_index.contains(&format!("as of {last_day}T23:59:59Z")),
        "{exit_index}"
    );
    // The engagement named explicitly gives the same package.
    let engagement = manifest["inputs"]["engagement"].as_str().unwrap();
    let named = download(
        &app,
        Some(&provider),
        &path(&cedar_office, &format!("exit?engagement={engagement}")),
    )
    .await?;
    assert!(named.body == exit.body);
    // Harbor's own exit package: its fully managed period ended on 2025-03-01.
    let harbor_exit = download(&app, Some(&harbor), &path(&production, "exit")).await?;
    assert_eq!(harbor_exit.status, 200);
    let (harbor_files, _) = unzip(&harbor_exit.body);
    assert!(text(&harbor_files, "index.md").contains("as of 2025-02-28T23:59:59Z"));
    // An engagement of another client is not this environment's.
    let other = download(
        &app,
        Some(&harbor),
        &path(&production, &format!("exit?engagement={engagement}")),
    )
    .await?;
    assert_eq!((other.status, other.code()), (404, json!("NOT_FOUND")));
    Ok(())
}

#[tokio::test]
async fn packages_follow_tenancy_and_roles_and_write_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let production = id_by(&app, &harbor, "environments", "name", "Production").await?;
    let evidence = path(
        &production,
        "evidence?framework=HIPAA&from=2026-01-01&to=2026-06-30",
    );
    let handoff = path(&production, "handoff?on=2026-06-30");
    let exit = path(&production, "exit");
    let before = tests::dump(&app.db).await?;

    // Another client's admin: Harbor's environment does not exist for them.
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    for route in [&evidence, &handoff, &exit] {
        let refused = download(&app, Some(&cedar), route).await?;
        assert_eq!(
            (refused.status, refused.code()),
            (404, json!("NOT_FOUND")),
            "{route}"
        );
    }
    // A missing environment looks the same.
    let missing = format!(
        "/environments/{}/packages/handoff?on=2026-06-30",
        api::ids::encode(api::ids::NodeType::Environment, uuid::Uuid::now_v7()).0
    );
    let refused = download(&app, Some(&harbor), &missing).await?;
    assert_eq!((refused.status, refused.code()), (404, json!("NOT_FOUND")));

    // Harbor's compliance officer (a viewer) takes the evidence package, not the handoff or
    // exit; a member neither of those two.
    let viewer = app.token("demo|harbor-compliance", "harbor-health", Role::Viewer);
    let member = app.token("demo|harbor-it-tech", "harbor-health", Role::Member);
    let allowed = download(&app, Some(&viewer), &evidence).await?;
    assert_eq!(allowed.status, 200);
    assert_eq!(download(&app, Some(&member), &evidence).await?.status, 200);
    for token in [&viewer, &member] {
        for route in [&handoff, &exit] {
            let refused = download(&app, Some(token), route).await?;
            assert_eq!(
                (refused.status, refused.code()),
                (403, json!("FORBIDDEN")),
                "{route}"
            );
        }
    }
    // A member acting as a viewer is a viewer.
    let acting = app.token("demo|harbor-it-tech", "harbor-health", Role::Viewer);
    assert_eq!(download(&app, Some(&acting), &handoff).await?.status, 403);
    // A sync job's token takes no package.
    let rmm = app
        .query(
            &app.provider_admin_token(),
            "{ integrations(first: 10) { edges { node { id kind } } } }",
            Value::Null,
        )
        .await?["integrations"]["edges"][0]["node"]["id"]
        .clone();
    let sync = app.integration_token(
        "demo|northwind-sync",
        "northwind-msp",
        tests::decode_uuid(&rmm),
    );
    let refused = download(&app, Some(&sync), &evidence).await?;
    assert_eq!((refused.status, refused.code()), (403, json!("FORBIDDEN")));
    // No token.
    let refused = download(&app, None, &evidence).await?;
    assert_eq!(
        (refused.status, refused.code()),
        (401, json!("UNAUTHENTICATED"))
    );

    assert_eq!(
        tests::dump(&app.db).await?,
        before,
        "a package writes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn bad_parameters_are_refused_before_anything_is_built() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let production = id_by(&app, &harbor, "environments", "name", "Production").await?;
    let long = "x".repeat(8 * 1024);
    let cases = [
        "evidence?framework=HIPAA&from=2026-01-01&to=9999-12-31".to_owned(),
        "evidence?framework=HIPAA&from=2026-02-01&to=2026-01-31".to_owned(),
        "evidence?framework=HIPAA&from=2010-01-01&to=2026-01-31".to_owned(),
        "evidence?framework=HIPAA&from=1900-01-01&to=1900-12-31".to_owned(),
        "evidence?framework=HIPAA&from=2026-13-01&to=2026-12-31".to_owned(),
        "evidence?framework=HIPAA&from=2026-1-1&to=2026-12-31".to_owned(),
        "evidence?framework=HIPAA&from=2026-01-01".to_owned(),
        "evidence?from=2026-01-01&to=2026-01-31".to_owned(),
        "evidence?framework=SOX&from=2026-01-01&to=2026-01-31".to_owned(),
        // Production is not held to CMMC.
        "evidence?framework=CMMC&from=2026-01-01&to=2026-01-31".to_owned(),
        "evidence?framework=HIPAA%00&from=2026-01-01&to=2026-01-31".to_owned(),
        "evidence?framework=HIPAA&from=2026-01-01&to=2026-01-31&to=2026-02-28".to_owned(),
        "evidence?framework=HIPAA&from=2026-01-01&to=2026-01-31&at=now".to_owned(),
        format!("evidence?framework={long}&from=2026-01-01&to=2026-01-31"),
        "handoff".to_owned(),
        "handoff?on=9999-01-01".to_owned(),
        "handoff?on=2026-06-30%00".to_owned(),
        "handoff?on=yesterday".to_owned(),
        "exit?engagement=not-an-id".to_owned(),
    ];
    for case in &cases {
        let refused = download(&app, Some(&harbor), &path(&production, case)).await?;
        assert_eq!(
            (refused.status, refused.code()),
            (400, json!("BAD_USER_INPUT")),
            "{}: {}",
            &case[..case.len().min(80)],
            refused.json()
        );
        let message = refused.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.len() < 300, "{message}");
    }
    // An environment id that is not one.
    let refused = download(
        &app,
        Some(&harbor),
        "/environments/nope/packages/handoff?on=2026-06-30",
    )
    .await?;
    assert_eq!(
        (refused.status, refused.code()),
        (400, json!("BAD_USER_INPUT"))
    );
    Ok(())
}

/// The statements the server runs for one download.
async fn statements_for(app: &TestApp, token: &str, route: &str) -> anyhow::Result<usize> {
    let before = app.statements.lock().unwrap().len();
    let downloaded = download(app, Some(token), route).await?;
    assert_eq!(downloaded.status, 200);
    Ok(app.statements.lock().unwrap().len() - before)
}

#[tokio::test]
async fn a_package_runs_as_many_statements_however_much_it_holds() -> anyhow::Result<()> {
    // Without the caller cache, every request resolves its caller the same way.
    let settings = api::config::ServerSettings {
        caller_cache_ttl: std::time::Duration::ZERO,
        ..tests::test_server_settings()
    };
    let app = TestApp::spawn_with(settings, true).await?;
    let harbor = app.client_admin_token();
    let production = id_by(&app, &harbor, "environments", "name", "Production").await?;
    let system = id_by(&app, &harbor, "systems", "name", "HHP-DC01").await?;
    let today = chrono::Utc::now().date_naive();
    let handoff = path(
        &production,
        &format!("handoff?on={}", today.succ_opt().unwrap()),
    );
    let evidence = path(
        &production,
        &format!("evidence?framework=HIPAA&from=2026-01-01&to={today}"),
    );
    let handoff_before = statements_for(&app, &harbor, &handoff).await?;
    let evidence_before = statements_for(&app, &harbor, &evidence).await?;

    for number in 0..12 {
        let recorded = app
            .query(&harbor, "mutation($input: RecordChangeInput!) { recordChange(input: $input) { userErrors { message } } }",
                json!({ "input": { "environmentId": production, "systemIds": [system], "summary": format!("change {number}"), "category": "PATCH" } }))
            .await?;
        assert_eq!(recorded["recordChange"]["userErrors"], json!([]));
    }
    // More of every other section too: systems, runbooks, tickets.
    let internal_it = id_by(&app, &harbor, "teams", "name", "Internal IT").await?;
    for number in 0..3 {
        for (mutation, input) in [
            (
                "createSystem",
                json!({ "environmentId": production, "name": format!("HHP-NEW-{number}"), "kind": "SERVER" }),
            ),
            (
                "createRunbook",
                json!({ "environmentId": production, "title": format!("New runbook {number}"), "ownerTeamId": internal_it, "body": "# Steps" }),
            ),
            (
                "createTicket",
                json!({ "environmentId": production, "title": format!("New ticket {number}"), "systemId": system, "assignedTeamId": internal_it }),
            ),
        ] {
            let input_type = format!("{}{}Input", mutation[..1].to_uppercase(), &mutation[1..]);
            let done = app
                .query(&harbor, &format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ userErrors {{ message }} }} }}"), json!({ "input": input }))
                .await?;
            assert_eq!(done[mutation]["userErrors"], json!([]), "{done}");
        }
    }
    assert_eq!(
        statements_for(&app, &harbor, &handoff).await?,
        handoff_before
    );
    assert_eq!(
        statements_for(&app, &harbor, &evidence).await?,
        evidence_before
    );
    // And the package holds what was added.
    let (files, _) = unzip(&download(&app, Some(&harbor), &handoff).await?.body);
    assert!(text(&files, "systems.csv").contains("HHP-NEW-2"));
    assert!(text(&files, "tickets.csv").contains("New ticket 2"));
    assert!(text(&files, "change-log.csv").contains("change 11"));
    assert!(files.keys().any(|name| name.ends_with("-new-runbook-2.md")));
    Ok(())
}

#[tokio::test]
async fn a_section_over_the_cap_lists_the_first_rows_and_says_so() -> anyhow::Result<()> {
    use entities::enums::{ChangeCategory, ChangeSource, Principal};
    use entities::{change_log_entry, environment};
    use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};

    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let production = environment::Entity::find()
        .filter(environment::Column::Name.eq("Production"))
        .one(&app.db)
        .await?
        .expect("the demo's Production");
    // January 2020, long before the demo's history: 5,001 entries, one over the cap.
    let start: chrono::DateTime<chrono::Utc> = "2020-01-01T00:00:00Z".parse()?;
    let entries: Vec<_> = (0..=api::packages::MAX_ROWS)
        .map(|number| {
            change_log_entry::Model {
                id: uuid::Uuid::now_v7(),
                environment_id: production.id,
                summary: format!("bulk change {number:05}"),
                details: json!({}),
                reason: None,
                actor_id: None,
                actor_name: "bulk".into(),
                source: ChangeSource::System,
                category: ChangeCategory::Maintenance,
                occurred_at: start + chrono::Duration::seconds(number as i64),
                recorded_at: start + chrono::Duration::seconds(number as i64),
                ticket_id: None,
                corrects_id: None,
                change_set_id: None,
                integration_id: None,
                organization_id: None,
                principal: Principal::System,
                recorded_by_id: None,
                external_source: None,
                external_id: None,
                external_url: None,
            }
            .into_active_model()
        })
        .collect();
    for chunk in entries.chunks(500) {
        change_log_entry::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await?;
    }
    let environment = api::ids::encode(api::ids::NodeType::Environment, production.id).0;
    let downloaded = download(
        &app,
        Some(&harbor),
        &path(
            &json!(environment),
            "evidence?framework=HIPAA&from=2020-01-01&to=2020-01-31",
        ),
    )
    .await?;
    assert_eq!(downloaded.status, 200);
    let (files, _) = unzip(&downloaded.body);
    let changes = csv_rows(&files, "change-log.csv");
    assert_eq!(changes.len(), api::packages::MAX_ROWS);
    assert_eq!(changes[0]["summary"], "bulk change 00000");
    assert_eq!(changes.last().unwrap()["summary"], "bulk change 04999");
    let index = text(&files, "index.md");
    assert!(
        index.contains("Capped: only the first 5000 of 5001 entries are listed"),
        "{index}"
    );
    assert!(
        index.contains("| MAINTENANCE | 5001 | 0 | 0 | 0 | 0 | 5001 |"),
        "{index}"
    );
    Ok(())
}

#[tokio::test]
async fn the_demo_evidence_package_carries_each_obligation_its_evidence_hashes_sign_offs_and_files()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = id_by(&app, &harbor, "environments", "name", "Production").await?;
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(365);
    let route = path(
        &environment,
        &format!("evidence?framework=HIPAA&from={from}&to={today}"),
    );
    let first = download(&app, Some(&harbor), &route).await?;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let (files, order) = unzip(&first.body);
    check_hashes(&files, &order, "evidence");

    // The overdue risk analysis, owned by the client's compliance office.
    let obligations = csv_rows(&files, "obligations.csv");
    let risk = obligations
        .iter()
        .find(|row| row["obligation"] == "hipaa.risk_analysis")
        .expect("the risk analysis");
    assert_eq!(risk["status"], "OVERDUE", "{risk:?}");
    assert!(risk["owner"].contains("Compliance Office"), "{risk:?}");
    assert!(
        obligations
            .iter()
            .all(|row| row["obligation"].starts_with("hipaa.")),
        "only the framework asked for"
    );

    // The restore test the MSP produced, signed by the client, with its report in the archive.
    let evidence = csv_rows(&files, "evidence.csv");
    let restore = evidence
        .iter()
        .find(|row| {
            row["obligation"] == "hipaa.backup_restore_test" && !row["archive_path"].is_empty()
        })
        .expect("the restore test with its report");
    assert!(
        !restore["signed_off_by"].is_empty() && !restore["signed_at"].is_empty(),
        "{restore:?}"
    );
    assert_eq!(restore["result"], "PASSED");
    let report = &files[&restore["archive_path"]];
    assert!(restore["archive_path"].starts_with("evidence/hipaa-backup-restore-test/"));
    assert_eq!(
        restore["file_sha256"],
        sha256(report),
        "the row's hash is the file's"
    );
    assert!(String::from_utf8_lossy(report).contains("Backup restore test"));
    let index = text(&files, "index.md");
    assert!(index.contains("Obligations and evidence"), "{index}");
    assert!(text(&files, "index.html").contains("hipaa.risk_analysis"));

    let second = download(&app, Some(&harbor), &route).await?;
    assert_eq!(first.body, second.body, "byte for byte");
    // The provider's viewer downloads the same facts.
    let provider = app.provider_admin_token();
    let theirs = download(&app, Some(&provider), &route).await?;
    assert_eq!(theirs.status, 200);
    app.stop().await
}
