#!/usr/bin/env python3
"""Sync benchmark: 100,000 tickets from a local ConnectWise mock (paged as ConnectWise pages:
forward-only, 1,000 per page) into PostgreSQL with `tandem sync`.

Reports, for the first (full) run: records per second and peak RSS; for a second run with no
vendor change: its time and that it wrote nothing; for a third run with --full (the whole
vendor walked again, nothing written): its time. The baseline, measured in the same run, is
reading every page from the mock without Tandem (Python, one connection): the sync's rate is
given as a ratio of it.

Usage: bench/sync.py [TICKETS]   (needs PostgreSQL; TANDEM_BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/postgres, names the server and an admin database)
"""

import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import graphql, sh  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/tandem-target"))
TICKETS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
ADMIN_URL = os.environ.get("TANDEM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
JWT = "bench-jwt-secret-bench-jwt-secret-0123456789"
KEY = base64.b64encode(b"b" * 32).decode()


def timed(args, env):
    """Runs args; returns (seconds, peak RSS in MB, stdout)."""
    started = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-f", "%M"] + args, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{args} failed:\n{done.stdout}\n{done.stderr}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kb / 1024, done.stdout


def main():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    sh("cargo", "build", "--release", "--quiet", "-p", "api", "--bin", "tandem", cwd=ROOT, env=env)
    sh("cargo", "build", "--release", "--quiet", "-p", "integrations", "--features", "mock",
       "--example", "mock_connectwise", cwd=ROOT, env=env)
    tandem = os.path.join(TARGET, "release", "tandem")
    mock = subprocess.Popen([os.path.join(TARGET, "release", "examples", "mock_connectwise"), str(TICKETS)],
                            stdout=subprocess.PIPE, text=True)
    mock_url = mock.stdout.readline().strip()

    database = f"tandem_bench_{os.getpid()}"
    parsed = urllib.parse.urlparse(ADMIN_URL)
    sh("psql", ADMIN_URL, "-q", "-c", f"CREATE DATABASE {database}")
    db_url = parsed._replace(path=f"/{database}").geturl()
    run_env = dict(os.environ, TANDEM_DATABASE_URL=db_url, TANDEM_JWT_SECRET=JWT, TANDEM_SECRET_KEY=KEY,
                   TANDEM_SYNC_SCHEDULER="false", TANDEM_LOG_FORMAT="json", RUST_LOG="warn")
    server = subprocess.Popen([tandem, "serve", "--demo", "--listen", "127.0.0.1:0"], env=run_env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines, address = [], None
        while address is None:
            line = server.stdout.readline()
            lines.append(line)
            found = re.search(r"GraphiQL: (http://[^/]+)/graphql", line)
            address = found and found.group(1)
        token = next(lines[i + 1].strip() for i, l in enumerate(lines) if l.startswith("Provider admin"))
        created = graphql(address, token,
            "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } userErrors { message } } }",
            {"input": {"name": "ConnectWise bench", "kind": "CONNECTWISE_MANAGE", "baseUrl": mock_url,
                       "settings": {"companyId": "acme", "clientId": "bench", "syncNotes": False},
                       "credentials": {"publicKey": "pubkey", "privateKey": "privkey"}}})
        integration = created["createIntegration"]["integration"]["id"]
        environments = graphql(address, token, "{ environments { edges { node { id name } } } }", {})
        by_name = {edge["node"]["name"]: edge["node"]["id"] for edge in environments["environments"]["edges"]}
        for company, name in (("250", "Production"), ("251", "Riverside Clinic"), ("252", "Main Office")):
            graphql(address, token,
                "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
                {"input": {"integrationId": integration, "externalCompanyId": company, "environmentId": by_name[name]}})
    finally:
        server.terminate()
        server.wait()

    # Baseline: every page straight from the mock, parsed, nothing written.
    auth = "Basic " + base64.b64encode(b"acme+pubkey:privkey").decode()
    started, page_id, fetched = time.monotonic(), 0, 0
    while True:
        request = urllib.request.Request(
            f"{mock_url}/v2025_1/apis/3.0/service/tickets?pageSize=1000&orderBy=id%20asc&pageId={page_id}",
            headers={"Authorization": auth, "clientId": "bench", "pagination-type": "forward-only"})
        with urllib.request.urlopen(request) as response:
            page = json.load(response)
            link = response.headers.get("link")
        fetched += len(page)
        if not link:
            break
        page_id = page[-1]["id"]
    baseline = time.monotonic() - started
    assert fetched == TICKETS, fetched

    if os.environ.get("BENCH_PROFILE"):
        # Per-page fetch and write times of one run, for finding where the time goes.
        profile_env = dict(run_env, RUST_LOG="api::sync=debug", TANDEM_LOG_FORMAT="json")
        with open(os.environ["BENCH_PROFILE"], "w") as log:
            subprocess.run([tandem, "sync", "--integration", "ConnectWise bench"], env=profile_env, stdout=subprocess.DEVNULL, stderr=log)
        mock.terminate()
        sh("psql", ADMIN_URL, "-q", "-c", f"DROP DATABASE {database}")
        return

    sync = [tandem, "sync", "--integration", "ConnectWise bench"]
    first, first_rss, first_out = timed(sync, run_env)
    second, second_rss, second_out = timed(sync, run_env)
    third, third_rss, third_out = timed(sync + ["--full"], run_env)
    mock.terminate()
    sh("psql", ADMIN_URL, "-q", "-c", f"DROP DATABASE {database}")

    summary = lambda out: out.strip().splitlines()[-1]
    for label, out in (("first", first_out), ("second", second_out), ("third", third_out)):
        print(f"{label}: {summary(out)}")
    assert ", 0 created, 0 updated," in summary(second_out), summary(second_out)
    assert ", 0 created, 0 updated," in summary(third_out), summary(third_out)
    rate = TICKETS / first
    print()
    print(f"tickets                         {TICKETS}")
    print(f"baseline: read all pages        {baseline:.2f} s ({TICKETS / baseline:,.0f} records/s)")
    print(f"first sync (writes everything)  {first:.2f} s ({rate:,.0f} tickets/s, {first / baseline:.1f}x the baseline), peak RSS {first_rss:.0f} MB")
    print(f"second sync (no change)         {second:.2f} s, zero writes, peak RSS {second_rss:.0f} MB")
    print(f"third sync --full (no change)   {third:.2f} s ({third / baseline:.1f}x the baseline), zero writes, peak RSS {third_rss:.0f} MB")


if __name__ == "__main__":
    main()
