#!/usr/bin/env python3
"""Deterministic data for the read benchmark (issue 13), in Tandem's own schema.

The schema comes from `tandem migrate`; the rows from a fixed seed, so two databases generated
at one scale hold the same records with the same ids. PostgreSQL is loaded with COPY through one
`psql` (a generator pipe, foreign-key triggers off while loading: the rows are consistent by
construction), then `VACUUM ANALYZE`; SQLite through the `sqlite3` module, `executemany` in one
transaction, and no ANALYZE (Tandem runs none on SQLite).

What it writes, per scale (small / large):

- one provider (`bench-msp`) with an admin (`bench|msp-admin`, whose token the benchmark uses),
  20 technicians and four teams; one client per five environments, each with an admin, an
  "Internal IT" team and an engagement with the provider active today (co-managed and fully
  managed alternate);
- 50 / 500 environments, 100 systems each (5,000 / 50,000);
- the matrix: per environment an agreed function-level entry for 16 of the 19 standard
  functions (the other three are left unowned, so `ownershipGaps` reports them), an escalation
  step for most, approvals by both parties, and 5 system-level entries;
- 1,000 tickets per environment (50,000 / 500,000), assigned to teams, over one year;
- 4,000 / 10,000 change-log entries per environment (200,000 / 5,000,000) over the same year,
  half of them naming a ticket of their environment and half naming one system.

Ids are UUIDv7 like the ones Tandem writes (time-ordered: the row's time in the first 48 bits),
the other bits from the seeded generator. The data's year is fixed: [2025-11-01, 2026-11-01).

It also writes `meta.json` next to `--meta`: the provider admin's subject and organization and
seeded samples of ids (environments, tickets, systems, function keys) the benchmark's requests
pick from.

Usage:
  generate.py --scale small --tandem target/release/tandem --postgres postgres://...
  generate.py --scale small --tandem target/release/tandem --sqlite /tmp/bench.db
"""

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid

SCALES = {
    # environments, systems per environment, tickets per environment, entries per environment
    "small": (50, 100, 1_000, 4_000),
    "large": (500, 100, 1_000, 10_000),
}
SEED = 13
UTC = dt.timezone.utc
START = dt.datetime(2024, 1, 1, tzinfo=UTC)
YEAR_FROM = dt.datetime(2025, 11, 1, tzinfo=UTC)
YEAR_TO = dt.datetime(2026, 11, 1, tzinfo=UTC)
YEAR_US = int((YEAR_TO - YEAR_FROM).total_seconds() * 1_000_000)
PROVIDER_SLUG = "bench-msp"
PROVIDER_ADMIN = "bench|msp-admin"
FRAMEWORKS = ["HIPAA", "CMMC", "FTC_SAFEGUARDS", "NIST_CSF_2", "CYBER_INSURANCE"]
SYSTEM_KINDS = ["SERVER", "WORKSTATION", "LAPTOP", "VIRTUAL_MACHINE", "NETWORK_DEVICE",
                "FIREWALL", "PRINTER", "CLOUD_TENANT", "SAAS_APPLICATION", "BACKUP_SET"]
CATEGORIES = ["CONFIGURATION", "ACCESS", "PATCH", "DEPLOYMENT", "HARDWARE", "NETWORK",
              "SECURITY", "BACKUP", "INCIDENT", "MAINTENANCE", "DOCUMENTATION", "INVENTORY"]
STATUSES = ["NEW"] * 10 + ["IN_PROGRESS"] * 15 + ["WAITING"] * 5 + ["RESOLVED"] * 30 + ["CLOSED"] * 40
PRIORITIES = ["CRITICAL"] + ["HIGH"] * 3 + ["MEDIUM"] * 4 + ["LOW"] * 2
PROVIDER_TEAMS = ["Service Desk", "NOC", "Security Operations", "Projects"]
# The standard functions a team of the provider owns by CSF function; the rest go to the
# client's internal IT in co-managed environments.
PROVIDER_CSF = {"GV": 3, "ID": 0, "PR": 1, "DE": 2, "RS": 0, "RC": 1}


class Json(str):
    """A JSON text (jsonb in PostgreSQL, TEXT in SQLite)."""


class Rng(random.Random):
    def uuid7(self, at):
        """A UUIDv7 whose timestamp is `at`; the other 74 bits from the seeded generator."""
        ms = int(at.timestamp() * 1000)
        bits = self.getrandbits(74)
        value = (ms << 80) | (0x7 << 76) | ((bits >> 62) << 64) | (0b10 << 62) | (bits & ((1 << 62) - 1))
        return uuid.UUID(int=value)

    def instant(self):
        """A time in the data's year. Microseconds are odd, so the SQLite text form has six
        fraction digits as sqlx writes it (`SecondsFormat::AutoSi`): text comparison stays
        in time order."""
        return YEAR_FROM + dt.timedelta(microseconds=self.randrange(YEAR_US) | 1)


# --- sinks -------------------------------------------------------------------------------------


def pg_text(value):
    """One value in COPY's text format (the most frequent types first: this runs per value)."""
    cls = value.__class__
    if cls is uuid.UUID:
        return str(value)
    if value is None:
        return "\\N"
    if cls is dt.datetime or cls is dt.date:
        return value.isoformat()
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


# The tables whose secondary indexes are dropped while loading and built again after it (the
# same definitions, read from `pg_indexes`): building an index once is several times faster
# than growing it row by row.
BULK_TABLES = ("tickets", "change_log_entries", "change_log_entry_systems")


class PostgresSink:
    """COPY through one psql, in one transaction. `SET session_replication_role = replica` skips
    the foreign-key triggers while loading (the generator keeps the rows consistent), and the
    big tables' secondary indexes are built after their rows are in."""

    def __init__(self, url):
        self.url = url
        tables = ", ".join(f"'{t}'" for t in BULK_TABLES)
        self.indexes = subprocess.run(
            ["psql", url, "-X", "-Atc",
             f"SELECT indexname || '|' || indexdef FROM pg_indexes WHERE schemaname = 'public' "
             f"AND tablename IN ({tables}) AND indexname NOT IN (SELECT conname FROM pg_constraint)"],
            check=True, capture_output=True, text=True,
        ).stdout.splitlines()
        self.psql = subprocess.Popen(
            ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            stdin=subprocess.PIPE, text=True, bufsize=1 << 20,
        )
        self.psql.stdin.write("SET session_replication_role = replica;\n"
                              "SET maintenance_work_mem = '512MB';\nBEGIN;\n")
        for line in self.indexes:
            self.psql.stdin.write(f"DROP INDEX {line.split('|', 1)[0]};\n")

    def write(self, table, columns, rows):
        out = self.psql.stdin
        out.write(f"COPY {table} ({', '.join(columns)}) FROM stdin;\n")
        count = 0
        chunk = []
        for row in rows:
            chunk.append("\t".join(map(pg_text, row)))
            if len(chunk) == 10_000:
                out.write("\n".join(chunk) + "\n")
                count += len(chunk)
                chunk = []
        if chunk:
            out.write("\n".join(chunk) + "\n")
            count += len(chunk)
        out.write("\\.\n")
        return count

    def close(self):
        for line in self.indexes:
            self.psql.stdin.write(line.split("|", 1)[1] + ";\n")
        self.psql.stdin.write("COMMIT;\n")
        self.psql.stdin.close()
        if self.psql.wait() != 0:
            sys.exit("psql failed while loading")
        subprocess.run(["psql", self.url, "-X", "-q", "-c", "VACUUM ANALYZE"], check=True)

    def functions(self):
        out = subprocess.run(
            ["psql", self.url, "-X", "-Atc",
             "SELECT id, key, csf_function FROM functions WHERE organization_id IS NULL ORDER BY key"],
            check=True, capture_output=True, text=True,
        ).stdout
        return [(uuid.UUID(i), k, c) for i, k, c in (line.split("|") for line in out.split())]


def sqlite_value(value):
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


class SqliteSink:
    """executemany in one transaction."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys = OFF")
        self.db.execute("BEGIN")

    def write(self, table, columns, rows):
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        count = 0

        def converted():
            nonlocal count
            for row in rows:
                count += 1
                yield tuple(map(sqlite_value, row))

        self.db.executemany(sql, converted())
        return count

    def close(self):
        # No ANALYZE: Tandem never analyzes a SQLite database (`sync::engine::refresh_statistics`
        # leaves SQLite to plan by its indexes), and with `sqlite_stat1` present SQLite plans
        # `ownershipGaps`' observed-changes query by the ticket_id index (`ticket_id IS NULL`
        # looks selective), reading half the change log: 9 requests/s instead of hundreds.
        self.db.execute("COMMIT")
        self.db.close()

    def functions(self):
        rows = self.db.execute(
            "SELECT id, key, csf_function FROM functions WHERE organization_id IS NULL ORDER BY key"
        ).fetchall()
        return [(uuid.UUID(bytes=i), k, c) for i, k, c in rows]


# --- the data ----------------------------------------------------------------------------------


def generate(sink, scale):
    environments, systems_per, tickets_per, entries_per = SCALES[scale]
    clients = environments // 5
    rng = Rng(SEED)
    functions = sink.functions()
    counts = {}

    def write(table, columns, rows):
        started = time.monotonic()
        counts[table] = sink.write(table, columns, rows)
        print(f"  {table}: {counts[table]:,} rows in {time.monotonic() - started:.1f} s", flush=True)

    # Organizations, engagements, people, teams.
    provider = rng.uuid7(START)
    client_ids = [rng.uuid7(START) for _ in range(clients)]
    org_rows = [(provider, PROVIDER_SLUG, "Bench MSP", "PROVIDER", START, START)]
    org_rows += [(c, f"client-{n:04}", f"Client {n:04}", "CLIENT", START, START)
                 for n, c in enumerate(client_ids, 1)]
    write("organizations", ["id", "slug", "name", "kind", "created_at", "updated_at"], org_rows)
    models = ["CO_MANAGED", "FULLY_MANAGED"]
    write("engagements",
          ["id", "provider_id", "client_id", "operating_model", "starts_on", "ends_on", "notes",
           "created_at", "updated_at"],
          [(rng.uuid7(START), provider, c, models[n % 2], START.date(), None, None, START, START)
           for n, c in enumerate(client_ids)])

    admin = rng.uuid7(START)
    technicians = [(rng.uuid7(START), f"Technician {n:02}") for n in range(1, 21)]
    client_admins = [rng.uuid7(START) for _ in client_ids]
    people = [(admin, provider, PROVIDER_ADMIN, "Bench Admin", "admin@bench-msp.example", "ADMIN")]
    people += [(t, provider, f"bench|tech-{n:02}", name, f"tech{n:02}@bench-msp.example", "MEMBER")
               for n, (t, name) in enumerate(technicians, 1)]
    people += [(a, c, f"bench|client-{n:04}-admin", f"Client {n:04} Admin", None, "ADMIN")
               for n, (a, c) in enumerate(zip(client_admins, client_ids), 1)]
    write("people",
          ["id", "organization_id", "subject", "display_name", "email", "role", "active",
           "created_at", "updated_at"],
          [row + (True, START, START) for row in people])

    provider_teams = [rng.uuid7(START) for _ in PROVIDER_TEAMS]
    client_teams = [rng.uuid7(START) for _ in client_ids]
    team_rows = [(t, provider, name, None, START, START) for t, name in zip(provider_teams, PROVIDER_TEAMS)]
    team_rows += [(t, c, "Internal IT", None, START, START) for t, c in zip(client_teams, client_ids)]
    write("teams", ["id", "organization_id", "name", "description", "created_at", "updated_at"], team_rows)
    members = [(t, admin, START) for t in provider_teams]
    members += [(provider_teams[n % 4], t, START) for n, (t, _) in enumerate(technicians)]
    members += [(t, a, START) for t, a in zip(client_teams, client_admins)]
    write("team_memberships", ["team_id", "person_id", "created_at"], members)

    # Environments and systems.
    env_ids, env_client = [], []
    env_rows = []
    for n in range(environments):
        client = n // 5
        env = rng.uuid7(START)
        env_ids.append(env)
        env_client.append(client)
        frameworks = sorted(rng.sample(FRAMEWORKS, 2))
        env_rows.append((env, client_ids[client], f"Client {client + 1:04} site {n % 5 + 1}", f"Environment {n + 1}",
                         Json(json.dumps(frameworks)), None, START, START))
    write("environments",
          ["id", "organization_id", "name", "description", "compliance_frameworks", "archived_at",
           "created_at", "updated_at"], env_rows)

    system_ids = []  # per environment
    system_rows = []
    for n, env in enumerate(env_ids):
        ids = []
        for s in range(systems_per):
            system = rng.uuid7(START)
            ids.append(system)
            kind = SYSTEM_KINDS[s % len(SYSTEM_KINDS)]
            name = f"{kind.lower().replace('_', '-')}-{n + 1:03}-{s + 1:03}"
            system_rows.append((
                system, env, name, kind, f"{name}.site{n + 1}.example", f"SN{n + 1:04}{s + 1:04}",
                None, "Windows Server 2022" if kind == "SERVER" else None,
                f"10.{n % 250}.{s // 250}.{s % 250 + 1}", None,
                Json('{"location": "Head office"}'), Json("{}"), None, START, START,
            ))
        system_ids.append(ids)
    write("systems",
          ["id", "environment_id", "name", "kind", "hostname", "serial_number", "mac_address",
           "operating_system", "ip_address", "description", "attributes", "attribute_sources",
           "retired_at", "created_at", "updated_at"], system_rows)
    del system_rows

    # The matrix.
    resp_rows, approvals, steps = [], [], []
    for n, env in enumerate(env_ids):
        client = env_client[n]
        co_managed = client % 2 == 0
        skipped = {(n + k * 7) % len(functions) for k in range(3)}
        entries = []
        for f, (function, key, csf) in enumerate(functions):
            if f in skipped:
                continue
            team = provider_teams[PROVIDER_CSF[csf]]
            if co_managed and f % 3 == 0:
                team = client_teams[client]
            accountable = provider_teams[0] if f % 5 else None
            entries.append((function, None, team, accountable))
        for _ in range(5):
            function = functions[rng.randrange(len(functions))][0]
            entries.append((function, rng.choice(system_ids[n]), provider_teams[1], provider_teams[0]))
        for function, system, team, accountable in entries:
            resp = rng.uuid7(START)
            resp_rows.append((resp, env, function, system, team, accountable, START, None, "AGREED",
                              None, None, admin, START, START))
            approvals.append((rng.uuid7(START), resp, provider, admin, START, "AGREE"))
            approvals.append((rng.uuid7(START), resp, client_ids[client], client_admins[client], START, "AGREE"))
            if rng.random() < 0.8:
                steps.append((rng.uuid7(START), resp, 1, team, None, "TICKET", 30))
    write("responsibilities",
          ["id", "environment_id", "function_id", "system_id", "responsible_team_id",
           "accountable_team_id", "valid_from", "valid_to", "status", "notes", "supersedes_id",
           "created_by_id", "created_at", "updated_at"], resp_rows)
    write("responsibility_approvals",
          ["id", "responsibility_id", "organization_id", "person_id", "approved_at", "decision"], approvals)
    write("escalation_steps",
          ["id", "responsibility_id", "position", "team_id", "person_id", "channel",
           "minutes_before_next"], steps)

    # Tickets.
    ticket_ids = []  # per environment
    ticket_cols = ["id", "environment_id", "system_id", "function_id", "integration_id", "title",
                   "description", "status", "priority", "external_status", "external_priority",
                   "requester", "assigned_team_id", "assigned_person_id", "routed_by_id",
                   "routing_reason", "created_at", "updated_at", "resolved_at", "closed_at",
                   "external_source", "external_id", "external_url", "organization_id"]

    def tickets():
        for n, env in enumerate(env_ids):
            client = env_client[n]
            ids = []
            for t in range(tickets_per):
                created = rng.instant()
                # An even number of microseconds keeps them odd (see `Rng::instant`).
                delta = 2 * int(rng.expovariate(1 / 86_400_000_000))
                if created + dt.timedelta(microseconds=delta) >= YEAR_TO:
                    delta = 2 * int((YEAR_TO - created) / dt.timedelta(microseconds=2) * rng.random())
                updated = created + dt.timedelta(microseconds=delta)
                ticket = rng.uuid7(created)
                ids.append(ticket)
                status = rng.choice(STATUSES)
                system = rng.choice(system_ids[n]) if rng.random() < 0.9 else None
                team = client_teams[client] if rng.random() < 0.2 else provider_teams[rng.randrange(4)]
                person = technicians[rng.randrange(20)][0] if rng.random() < 0.5 else None
                yield (
                    ticket, env, system, functions[t % len(functions)][0], None,
                    f"Ticket {n + 1}-{t + 1}: {rng.choice(CATEGORIES).lower()} request",
                    "Reported by the client's staff.", status, rng.choice(PRIORITIES), None, None,
                    f"user{t % 50}@client.example", team, person, None, None, created, updated,
                    updated if status in ("RESOLVED", "CLOSED") else None,
                    updated if status == "CLOSED" else None, None, None, None, None,
                )
            ticket_ids.append(ids)

    write("tickets", ticket_cols, tickets())

    # Change log.
    links = []
    entry_sample = []
    entry_cols = ["id", "environment_id", "summary", "details", "reason", "actor_id", "actor_name",
                  "source", "category", "occurred_at", "recorded_at", "ticket_id", "corrects_id",
                  "change_set_id", "integration_id", "external_source", "external_id",
                  "external_url", "organization_id", "principal", "recorded_by_id"]

    def entries():
        for n, env in enumerate(env_ids):
            for e in range(entries_per):
                occurred = rng.instant()
                entry = rng.uuid7(occurred)
                actor, actor_name = technicians[rng.randrange(20)]
                category = rng.choice(CATEGORIES)
                ticket = rng.choice(ticket_ids[n]) if rng.random() < 0.5 else None
                if rng.random() < 0.5:
                    links.append((entry, rng.choice(system_ids[n])))
                if e == 0:
                    entry_sample.append(entry)
                details = Json(f'{{"step": {e % 7 + 1}, "change": "{category.lower()}", '
                               f'"ticket": {"true" if ticket else "false"}, "window": "maintenance"}}')
                yield (
                    entry, env, f"{category.title()} change {e + 1} in environment {n + 1}", details,
                    "Scheduled work" if e % 4 == 0 else None, actor, actor_name,
                    "MANUAL" if e % 3 else "API", category, occurred,
                    occurred + dt.timedelta(minutes=5), ticket, None, rng.uuid7(occurred), None,
                    None, None, None, None, "PERSON", actor,
                )

    write("change_log_entries", entry_cols, entries())
    write("change_log_entry_systems", ["change_log_entry_id", "system_id"], links)

    # Seeded samples for the benchmark's requests.
    pick = Rng(SEED + 1)
    envs = list(range(environments))
    meta = {
        "scale": scale,
        "provider_slug": PROVIDER_SLUG,
        "provider_admin": PROVIDER_ADMIN,
        "provider_admin_id": str(admin),
        "year": [YEAR_FROM.isoformat(), YEAR_TO.isoformat()],
        "environments": [str(e) for e in env_ids],
        "tickets": [str(pick.choice(ticket_ids[pick.choice(envs)])) for _ in range(256)],
        "systems": [[str(env_ids[n]), str(pick.choice(system_ids[n]))]
                    for n in (pick.choice(envs) for _ in range(256))],
        "functions": [key for _, key, _ in functions],
        "entries": [str(e) for e in entry_sample],
        "counts": counts,
    }
    return meta


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--tandem", required=True, help="the tandem binary (runs `tandem migrate`)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--postgres", help="database URL of an empty PostgreSQL database")
    target.add_argument("--sqlite", help="path of a new SQLite file")
    parser.add_argument("--meta", default="meta.json", help="where to write the samples (JSON)")
    args = parser.parse_args()

    url = args.postgres or f"sqlite://{os.path.abspath(args.sqlite)}?mode=rwc"
    started = time.monotonic()
    subprocess.run([args.tandem, "migrate", "--database-url", url], check=True,
                   stdout=subprocess.DEVNULL)
    sink = PostgresSink(args.postgres) if args.postgres else SqliteSink(args.sqlite)
    print(f"Generating the {args.scale} scale into {'PostgreSQL' if args.postgres else 'SQLite'}:", flush=True)
    meta = generate(sink, args.scale)
    sink.close()
    with open(args.meta, "w") as out:
        json.dump(meta, out, indent=1)
    print(f"Generated in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
