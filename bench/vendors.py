#!/usr/bin/env python3
"""Sync benchmark per vendor: 20,000 ticket-like records from each of the five vendor mocks
(integrations/examples/mock_vendor.rs) into PostgreSQL with `tandem sync` (release build), and
ConnectWise ticket notes off, one ticket at a time, and at the default concurrency against a
mock with a per-request latency.

Each run gets a scratch database with the demo data, one integration created through the API
with three companies mapped, and a fresh mock. Reported per run: time, records/s (the vendor's
ticket-like records: tickets, Datto alerts, NinjaOne activities), what was created, requests the
mock answered (notes requests apart), the most requests in flight at once, and peak RSS
(`/usr/bin/time -f %M`).

Usage: bench/vendors.py [RECORDS] [LATENCY_MS]   (defaults 20000 and 5; needs PostgreSQL and
psql; TANDEM_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres, names
the server and an admin database)
"""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import graphql, sh  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/tandem-target"))
RECORDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
LATENCY_MS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ADMIN_URL = os.environ.get("TANDEM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
JWT = "bench-jwt-secret-bench-jwt-secret-0123456789"
KEY = base64.b64encode(b"b" * 32).decode()
ENVIRONMENTS = ("Production", "Riverside Clinic", "Main Office")

# (label, vendor, settings added, mock latency in ms)
PER_VENDOR = [
    ("ConnectWise, notes off", "connectwise", {"syncNotes": False}, 0),
    ("ConnectWise, notes on", "connectwise", {}, 0),
    ("Autotask (notes in bulk)", "autotask", {}, 0),
    ("HaloPSA (actions as notes)", "halopsa", {}, 0),
    ("Datto RMM (alerts)", "datto", {}, 0),
    ("NinjaOne (activities)", "ninjaone", {}, 0),
]
NOTES = [
    ("ConnectWise, notes off", "connectwise", {"syncNotes": False}, LATENCY_MS),
    ("ConnectWise, notes one ticket at a time", "connectwise", {"noteConcurrency": 1}, LATENCY_MS),
    ("ConnectWise, notes at the default (8)", "connectwise", {}, LATENCY_MS),
]


def create_integration(tandem, env, setup, mock_url, settings):
    """Creates the integration through the API (a demo server, stopped after) and maps three
    companies; returns its name."""
    server = subprocess.Popen([tandem, "serve", "--demo", "--listen", "127.0.0.1:0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    name = f"{setup['kind']} bench"
    try:
        lines, address = [], None
        while address is None:
            line = server.stdout.readline()
            if not line:
                sys.exit("the demo server stopped:\n" + "".join(lines))
            lines.append(line)
            found = re.search(r"GraphiQL: (http://[^/]+)/graphql", line)
            address = found and found.group(1)
        token = next(lines[i + 1].strip() for i, l in enumerate(lines) if l.startswith("Provider admin"))
        created = graphql(address, token,
            "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } userErrors { field message } } }",
            {"input": {"name": name, "kind": setup["kind"], "baseUrl": mock_url,
                       "settings": dict(setup["settings"], **settings), "credentials": setup["credentials"]}})
        assert created["createIntegration"]["userErrors"] == [], created
        integration = created["createIntegration"]["integration"]["id"]
        environments = graphql(address, token, "{ environments { edges { node { id name } } } }", {})
        by_name = {edge["node"]["name"]: edge["node"]["id"] for edge in environments["environments"]["edges"]}
        for company, environment in zip(setup["companies"], ENVIRONMENTS):
            mapped = graphql(address, token,
                "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
                {"input": {"integrationId": integration, "externalCompanyId": company, "environmentId": by_name[environment]}})
            assert mapped["mapIntegrationCompany"]["userErrors"] == [], mapped
    finally:
        server.terminate()
        server.wait()
    return name


def run(tandem, mock_bin, label, vendor, settings, latency_ms):
    mock = subprocess.Popen([mock_bin, vendor, "--tickets", str(RECORDS), "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    mock_url = mock.stdout.readline().strip()
    setup = json.loads(mock.stdout.readline())
    database = f"tandem_bench_{os.getpid()}_{vendor}"
    sh("psql", ADMIN_URL, "-q", "-c", f"DROP DATABASE IF EXISTS {database}")
    sh("psql", ADMIN_URL, "-q", "-c", f"CREATE DATABASE {database}")
    db_url = urllib.parse.urlparse(ADMIN_URL)._replace(path=f"/{database}").geturl()
    env = dict(os.environ, TANDEM_DATABASE_URL=db_url, TANDEM_JWT_SECRET=JWT, TANDEM_SECRET_KEY=KEY,
               TANDEM_SYNC_SCHEDULER="false", TANDEM_LOG_FORMAT="json", RUST_LOG="warn",
               TANDEM_ALLOW_PRIVATE_VENDOR_ADDRESSES="true")
    try:
        name = create_integration(tandem, env, setup, mock_url, settings)
        started = time.monotonic()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", tandem, "sync", "--integration", name],
                              env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"{label} failed:\n{done.stdout}\n{done.stderr}")
        peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
        summary = done.stdout.strip().splitlines()[-1]
    finally:
        mock.send_signal(signal.SIGINT)
        stats = json.loads(mock.stdout.readline() or "{}")
        mock.wait()
        sh("psql", ADMIN_URL, "-q", "-c", f"DROP DATABASE {database}")
    created = int(re.search(r"(\d+) created", summary).group(1))
    failed = int(re.search(r"(\d+) failed", summary).group(1))
    assert failed == 0, summary
    notes = f"{stats.get('note_requests', 0):,}" if stats.get("note_requests") else "0"
    row = (f"| {label} | {latency_ms} ms | {seconds:.2f} s | {RECORDS / seconds:,.0f}/s | {created:,} | "
           f"{stats.get('requests', 0):,} | {notes} | {stats.get('max_in_flight', 0)} | {peak_mb:.0f} MB |")
    print(row, flush=True)
    return seconds


def main():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    sh("cargo", "build", "--release", "--quiet", "-p", "api", "--bin", "tandem", cwd=ROOT, env=env)
    sh("cargo", "build", "--release", "--quiet", "-p", "integrations", "--features", "mock",
       "--example", "mock_vendor", cwd=ROOT, env=env)
    tandem = os.path.join(TARGET, "release", "tandem")
    mock_bin = os.path.join(TARGET, "release", "examples", "mock_vendor")
    header = ("| run | mock latency | time | records/s | created | requests | of which notes | "
              "most in flight | peak RSS |\n|---|---|---|---|---|---|---|---|---|")
    print(f"{RECORDS:,} records per vendor\n")
    print(header, flush=True)
    for label, vendor, settings, latency in PER_VENDOR:
        run(tandem, mock_bin, label, vendor, settings, latency)
    print(f"\nConnectWise notes, {LATENCY_MS} ms a request, measured in one run of this script\n")
    print(header, flush=True)
    off, serial, default = (run(tandem, mock_bin, *case) for case in NOTES)
    print(f"\nnotes at the default concurrency: {serial / default:.1f}x faster than one ticket at a time "
          f"(notes off: {off:.2f} s)")
    assert serial / default >= 5, "the notes ratio must be at least 5x"


if __name__ == "__main__":
    main()
