#!/usr/bin/env python3
"""Read benchmark (issue 13): Tandem's GraphQL reads against the raw SQL a careful engineer
writes for them, on Tandem's own schema, in one run.

    bench/read/run.py --scale small --db postgres            # 30 s per load
    bench/read/run.py --scale small --db sqlite --duration 10

For PostgreSQL it starts its own cluster (initdb in a temporary directory, its own port,
`pg_stat_statements` loaded, fsync off: a read benchmark, nothing to keep), generates the data
(`generate.py`), builds `tandem` in release mode, starts it on a free port and, for each read:

1. sends every request body it will use once and fails if any answer carries GraphQL errors
   or misses the rows it asks for;
2. sends them all again, one at a time, counting the SQL statements the server sends per
   request (`pg_stat_statements` calls of the server's own role, reset before the pass);
3. runs `wrk` (32 connections, 2 threads, `--latency`) with a Lua script that picks one of 64
   seeded request bodies per request, measuring the server's CPU (/proc utime + stime), its
   peak RSS (VmHWM), PostgreSQL's CPU (the postmaster's children) and the statements again
   (calls during the load over wrk's request count);
4. runs the baseline, `pgbench -n -M prepared -c 32 -j 2` over 64 scripts, one per sample,
   each the one statement a careful engineer writes with the sample's values; p50 and p99
   from pgbench's per-transaction log.

Then it prints a Markdown table and writes it, with the conditions and (PostgreSQL) the
EXPLAIN of the keyset cursor's statement as the server sends it, to `--out`.

SQLite runs the same reads against a SQLite file; it has no baseline and no statement counts.

Needs: PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin), psql and pgbench, wrk
(`apt-get install wrk`; installed when missing and run as root), cargo.
"""

import argparse
import base64
import datetime as dt
import glob
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PG_BIN = os.environ.get("TANDEM_BENCH_PG_BIN", "/usr/lib/postgresql/15/bin")
JWT = "readbench-jwt-secret-readbench-jwt-secret-0123"
SAMPLES = 64
SERVER_ROLE = "tandem"
TICK = os.sysconf("SC_CLK_TCK")


def log(message):
    print(message, file=sys.stderr, flush=True)


def gid(node_type, uuid):
    return base64.urlsafe_b64encode(f"{node_type}:{uuid}".encode()).decode().rstrip("=")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- PostgreSQL cluster ------------------------------------------------------------------------


class Cluster:
    """A throwaway PostgreSQL cluster. initdb refuses to run as root, so as root the cluster
    runs as the `postgres` user (`runuser`)."""

    def __init__(self, workdir):
        self.data = os.path.join(workdir, "pg")
        self.log = os.path.join(workdir, "pg.log")
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        os.mkdir(self.data, 0o700)
        if self.as_user:
            import pwd
            user = pwd.getpwnam("postgres")
            os.chown(self.data, user.pw_uid, user.pw_gid)
            os.chmod(workdir, 0o755)
            open(self.log, "w").close()
            os.chown(self.log, user.pw_uid, user.pw_gid)

    def start(self):
        subprocess.run(self.as_user + [f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U",
                                       "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": self.port,
            "unix_socket_directories": f"'{self.data}'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "pg_stat_statements.max": 10000,
            "max_connections": 200,
            "shared_buffers": "'1GB'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_wal_size": "'4GB'",
        }
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write("\n# tandem read benchmark\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        subprocess.run(self.as_user + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w",
                                       "start"], check=True, stdout=subprocess.DEVNULL)
        self.psql("postgres", f"CREATE ROLE {SERVER_ROLE} LOGIN SUPERUSER")
        self.psql("postgres", f"CREATE DATABASE tandem OWNER {SERVER_ROLE}")
        self.psql("tandem", "CREATE EXTENSION pg_stat_statements")
        with open(os.path.join(self.data, "postmaster.pid")) as pid:
            self.pid = int(pid.readline())

    def stop(self):
        subprocess.run(self.as_user + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "stop"],
                       stdout=subprocess.DEVNULL)

    def url(self, user="postgres"):
        return f"postgres://{user}@127.0.0.1:{self.port}/tandem"

    def psql(self, database, sql):
        return subprocess.run(
            ["psql", f"postgres://postgres@127.0.0.1:{self.port}/{database}", "-X", "-Atq",
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True,
        ).stdout.strip()

    def cpu_ticks(self):
        """utime + stime of the postmaster's children, by pid."""
        ticks = {}
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.pid:
                ticks[stat] = int(fields[11]) + int(fields[12])
        return ticks

    def reset_statements(self):
        self.psql("tandem", "SELECT pg_stat_statements_reset()")

    def statements(self):
        out = self.psql("tandem", "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                                  f"WHERE userid = '{SERVER_ROLE}'::regrole")
        return int(out)


def cpu_delta(before, after):
    return sum(value - before.get(key, 0) for key, value in after.items()) / TICK


# --- the server --------------------------------------------------------------------------------


class Server:
    def __init__(self, binary, database_url, workdir):
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "tandem.log"), "w")
        # One token drives the whole load: the per-caller rate limit would measure itself.
        env = dict(os.environ, TANDEM_JWT_SECRET=JWT, TANDEM_LOG_FORMAT="text", TANDEM_RATE_LIMIT="0",
                   RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        started = time.monotonic()
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--database-url", database_url,
             "--sync-scheduler", "false"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        while True:
            if self.process.poll() is not None:
                sys.exit(f"tandem exited; see {self.log.name}")
            try:
                urllib.request.urlopen(f"{self.address}/readyz", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() - started > 60:
                    sys.exit("tandem did not become ready in 60 s")
                time.sleep(0.05)
        self.start_seconds = time.monotonic() - started

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def memory_kb(self, field):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def post(address, token, body):
    request = urllib.request.Request(
        f"{address}/graphql", data=body.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


# --- the reads ---------------------------------------------------------------------------------

TICKETS = """query Tickets($environment: ID!) {
  tickets(filter: {environmentIds: [$environment]}, orderBy: {field: UPDATED_AT, direction: DESC}, first: 50) {
    edges { node { id title status priority updatedAt environment { name } system { name } assignedTeam { name } } }
    pageInfo { endCursor hasNextPage }
  }
}"""
CHANGE_LOG = """query ChangeLog($environment: ID!, $from: DateTime!, $to: DateTime!, $after: String) {
  changeLog(filter: {environmentIds: [$environment], occurredAfter: $from, occurredBefore: $to},
            orderBy: {field: OCCURRED_AT, direction: DESC}, first: 100, after: $after) {
    edges { node { id summary details category source occurredAt actorName } }
    pageInfo { endCursor hasNextPage }
  }
}"""
TICKET = """query Ticket($id: ID!) {
  node(id: $id) {
    id
    ... on Ticket {
      title status priority updatedAt
      changes(first: 20, orderBy: {field: OCCURRED_AT, direction: DESC}) {
        edges { node { id summary occurredAt actorName } }
      }
    }
  }
}"""
WHO_OWNS = """query WhoOwns($environment: ID!, $function: String!, $system: ID) {
  whoOwns(environmentId: $environment, function: $function, systemId: $system) {
    decidedBy
    responsibility { id responsibleTeam { name } accountableTeam { name } }
  }
}"""
NODE = """query Node($id: ID!) { node(id: $id) { id ... on System { name kind hostname } } }"""
GAPS = """query Gaps($environment: ID!) {
  ownershipGaps(environmentId: $environment) { gaps { kind severity summary } }
}"""
RECORD = """mutation Record($environment: ID!) {
  recordChange(input: {environmentId: $environment, summary: "Bench change", category: CONFIGURATION,
                       details: {step: 1, window: "maintenance"}}) {
    changeLogEntry { id }
    userErrors { message }
  }
}"""

SQL_TICKETS = """SELECT t.id, t.title, t.status, t.priority, t.updated_at, e.name, s.name, tm.name
FROM tickets t JOIN environments e ON e.id = t.environment_id
LEFT JOIN systems s ON s.id = t.system_id LEFT JOIN teams tm ON tm.id = t.assigned_team_id
WHERE t.environment_id = '{environment}' ORDER BY t.updated_at DESC, t.id DESC LIMIT 51;"""
SQL_CHANGE_LOG = """SELECT id, summary, details, category, source, occurred_at, actor_name
FROM change_log_entries
WHERE environment_id = '{environment}' AND occurred_at >= '{start}' AND occurred_at < '{end}'{keyset}
ORDER BY occurred_at DESC, id DESC LIMIT 101;"""
SQL_TICKET = """SELECT t.id, t.title, t.status, t.priority, t.updated_at, c.id, c.summary, c.occurred_at, c.actor_name
FROM tickets t LEFT JOIN LATERAL (
  SELECT id, summary, occurred_at, actor_name FROM change_log_entries
  WHERE ticket_id = t.id ORDER BY occurred_at DESC, id DESC LIMIT 20) c ON true
WHERE t.id = '{ticket}';"""
SQL_WHO_OWNS = """SELECT r.id, r.system_id, rt.name, at.name
FROM responsibilities r JOIN functions f ON f.id = r.function_id
JOIN teams rt ON rt.id = r.responsible_team_id LEFT JOIN teams at ON at.id = r.accountable_team_id
WHERE r.environment_id = '{environment}' AND f.key = '{function}' AND f.organization_id IS NULL
  AND r.status IN ('AGREED', 'RETIRED') AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
  AND (r.system_id = '{system}' OR r.system_id IS NULL)
ORDER BY r.system_id IS NULL, r.valid_from DESC LIMIT 1;"""
SQL_NODE = "SELECT id, name, kind, hostname FROM systems WHERE id = '{system}';"
# Only the first of the report's checks (required functions without an agreed owner): the
# report's other checks have no one-statement equivalent, so this baseline flatters SQL.
SQL_GAPS = """SELECT f.key, f.name FROM environments e JOIN functions f
  ON f.organization_id IS NULL AND f.required_by ?| ARRAY(SELECT jsonb_array_elements_text(e.compliance_frameworks))
WHERE e.id = '{environment}' AND NOT EXISTS (
  SELECT 1 FROM responsibilities r WHERE r.environment_id = e.id AND r.function_id = f.id
    AND r.system_id IS NULL AND r.status IN ('AGREED', 'RETIRED') AND r.valid_from <= now()
    AND (r.valid_to IS NULL OR r.valid_to > now()));"""
SQL_RECORD = """BEGIN;
INSERT INTO change_log_entries (id, environment_id, summary, details, actor_id, actor_name, source,
  category, occurred_at, recorded_at, change_set_id, principal, recorded_by_id)
VALUES (gen_random_uuid(), '{environment}', 'Bench change', '{{"step": 1, "window": "maintenance"}}',
  '{admin}', 'Bench Admin', 'API', 'CONFIGURATION', now(), now(), gen_random_uuid(), 'PERSON', '{admin}');
COMMIT;"""


class Read:
    def __init__(self, key, label, query, samples, sql=None, check=None):
        self.key, self.label, self.query, self.samples = key, label, query, samples
        self.sql, self.check = sql, check

    def bodies(self):
        return [json.dumps({"query": self.query, "variables": variables})
                for variables, _ in self.samples]

    def scripts(self):
        return [self.sql.format(**values) for _, values in self.samples]


def month_windows(meta):
    start = dt.datetime.fromisoformat(meta["year"][0])
    windows = []
    for month in range(12):
        lower = (start.replace(day=1) + dt.timedelta(days=31 * month)).replace(day=1)
        upper = (lower + dt.timedelta(days=32)).replace(day=1)
        windows.append((lower, upper))
    return windows


def build_reads(meta, address, token):
    rng = random.Random(13)
    envs = meta["environments"]
    windows = month_windows(meta)

    def z(instant):
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")

    reads = [Read("typename", "`{ __typename }` (the floor)", "{ __typename }", [({}, {})])]

    samples = []
    for _ in range(SAMPLES):
        env = rng.choice(envs)
        samples.append(({"environment": gid("Environment", env)}, {"environment": env}))
    reads.append(Read("tickets", "50 tickets of one environment, newest first, with environment, "
                      "system and team names", TICKETS, samples, SQL_TICKETS,
                      lambda d: len(d["tickets"]["edges"]) == 50))

    page1, page2 = [], []
    for _ in range(SAMPLES):
        env = rng.choice(envs)
        lower, upper = rng.choice(windows)
        variables = {"environment": gid("Environment", env), "from": z(lower), "to": z(upper)}
        values = {"environment": env, "start": lower.isoformat(), "end": upper.isoformat(), "keyset": ""}
        page1.append((variables, values))
        first = post(address, token, json.dumps({"query": CHANGE_LOG, "variables": variables}))
        if "errors" in first:
            sys.exit(f"change log page 1 failed: {first['errors']}")
        cursor = first["data"]["changeLog"]["pageInfo"]["endCursor"]
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        keyset = f"\n  AND (occurred_at, id) < ('{decoded['k']}', '{decoded['i']}')"
        page2.append((dict(variables, after=cursor), dict(values, keyset=keyset)))
    reads.append(Read("changelog1", "change log of one environment, one-month window, 100 per "
                      "page, page 1", CHANGE_LOG, page1, SQL_CHANGE_LOG,
                      lambda d: len(d["changeLog"]["edges"]) == 100))
    reads.append(Read("changelog2", "the same, page 2 by cursor", CHANGE_LOG, page2, SQL_CHANGE_LOG,
                      lambda d: len(d["changeLog"]["edges"]) > 0))

    samples = [({"id": gid("Ticket", t)}, {"ticket": t}) for t in rng.sample(meta["tickets"], SAMPLES)]
    reads.append(Read("ticket", "one ticket by id with its 20 latest change-log entries", TICKET,
                      samples, SQL_TICKET, lambda d: d["node"] is not None))

    samples = []
    for env, system in rng.sample(meta["systems"], SAMPLES):
        function = rng.choice(meta["functions"])
        samples.append(({"environment": gid("Environment", env), "function": function,
                         "system": gid("System", system)},
                        {"environment": env, "function": function, "system": system}))
    reads.append(Read("whoowns", "`whoOwns` (a function, for a system)", WHO_OWNS, samples,
                      SQL_WHO_OWNS, lambda d: d["whoOwns"] is not None))

    samples = [({"id": gid("System", system)}, {"system": system})
               for _, system in rng.sample(meta["systems"], SAMPLES)]
    reads.append(Read("node", "`node` by id (a system)", NODE, samples, SQL_NODE,
                      lambda d: d["node"] is not None))

    samples = [({"environment": gid("Environment", env)}, {"environment": env})
               for env in (rng.choice(envs) for _ in range(SAMPLES))]
    reads.append(Read("gaps", "`ownershipGaps` of one environment", GAPS, samples, SQL_GAPS,
                      lambda d: len(d["ownershipGaps"]["gaps"]) > 0))

    samples = [({"environment": gid("Environment", env)},
                {"environment": env, "admin": meta["provider_admin_id"]})
               for env in (rng.choice(envs) for _ in range(SAMPLES))]
    reads.append(Read("record", "`recordChange` (a write: one entry)", RECORD, samples, SQL_RECORD,
                      lambda d: d["recordChange"]["changeLogEntry"] is not None
                      and not d["recordChange"]["userErrors"]))
    return reads


# --- load generators ---------------------------------------------------------------------------


def duration_ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        return float("nan")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def run_wrk(address, token, bodies, args, workdir):
    lua = os.path.join(workdir, "request.lua")
    with open(lua, "w") as f:
        f.write("local bodies = {\n")
        for body in bodies:
            f.write(f"[==[{body}]==],\n")
        f.write("}\n")
        f.write(f'local headers = {{["Content-Type"] = "application/json", '
                f'["Authorization"] = "Bearer {token}"}}\n')
        f.write("local count = 0\n"
                "function setup(thread) count = count + 1; thread:set('seed', count) end\n"
                "function init(args) math.randomseed(os.time() * 100 + (seed or 0)) end\n"
                "function request() return wrk.format('POST', '/graphql', headers, "
                "bodies[math.random(#bodies)]) end\n")
    out = subprocess.run(
        ["wrk", "-c", str(args.connections), "-t", str(args.threads), "-d", f"{args.duration}s",
         "--timeout", "10s", "--latency", "-s", lua, f"{address}/graphql"],
        check=True, capture_output=True, text=True,
    ).stdout
    result = {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        # Anchored: the thread statistics above carry percentages too ("+/- Stdev 89.99%").
        "p50": duration_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": duration_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "non2xx": 0,
        "errors": 0,
    }
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        result["non2xx"] = int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        result["errors"] = sum(map(int, match.groups()))
    return result


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def run_pgbench(cluster, scripts, args, workdir):
    directory = tempfile.mkdtemp(prefix="pgbench-", dir=workdir)
    files = []
    for n, sql in enumerate(scripts):
        path = os.path.join(directory, f"s{n}.sql")
        with open(path, "w") as f:
            f.write(sql + "\n")
        files += ["-f", path]
    prefix = os.path.join(directory, "log")
    out = subprocess.run(
        ["pgbench", "-n", "-M", "prepared", "-c", str(args.connections), "-j", str(args.threads),
         "-T", str(args.duration), "-l", f"--log-prefix={prefix}", *files, cluster.url()],
        check=True, capture_output=True, text=True,
    ).stdout
    latencies = []
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            latencies.extend(int(line.split()[2]) for line in f)
    latencies.sort()
    shutil.rmtree(directory)
    return {
        "rate": float(re.search(r"tps = ([\d.]+) \(without initial", out).group(1)),
        "p50": percentile(latencies, 0.50) / 1000,
        "p99": percentile(latencies, 0.99) / 1000,
        "failed": int(m.group(1)) if (m := re.search(r"number of failed transactions: (\d+)", out)) else 0,
    }


# --- one read ----------------------------------------------------------------------------------


def precheck(read, server, token):
    """Every body once: no GraphQL errors, and the rows the read asks for. Returns how many
    requests it sent."""
    bodies = read.bodies()
    if read.key == "record":
        bodies = bodies[:4]
    for body in bodies:
        answer = post(server.address, token, body)
        if "errors" in answer or answer.get("data") is None:
            sys.exit(f"{read.key}: the server answered with errors: {json.dumps(answer)[:2000]}")
        if read.check and not read.check(answer["data"]):
            sys.exit(f"{read.key}: the answer misses rows: {json.dumps(answer)[:2000]}")
    return len(bodies)


def measure_tandem(read, server, cluster, token, args, workdir):
    # Statements per request come from a second pass over the bodies, one request at a time
    # (the first pass warmed the server's statement cache): exact, where dividing the calls
    # during the load by wrk's count would add the requests still in flight when wrk stops.
    precheck(read, server, token)
    if cluster:
        cluster.reset_statements()
    sent = precheck(read, server, token)
    statements = top = None
    if cluster:
        statements = cluster.statements() / sent
        top = cluster.psql(
            "tandem", f"SELECT round(calls::numeric / {sent}, 2) "
            "|| ' × ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 240) FROM pg_stat_statements "
            f"WHERE userid = '{SERVER_ROLE}'::regrole ORDER BY calls DESC, query LIMIT 12")
        cluster.reset_statements()
        pg_before = cluster.cpu_ticks()
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    result = run_wrk(server.address, token, read.bodies(), args, workdir)
    wall = time.monotonic() - started
    result["cpu"] = (server.cpu_seconds() - cpu_before) / wall
    result["cpu_ms"] = (server.cpu_seconds() - cpu_before) * 1000 / max(result["requests"], 1)
    result["rss_mb"] = server.memory_kb("VmHWM") / 1024
    if cluster:
        result["pg_cpu"] = cpu_delta(pg_before, cluster.cpu_ticks()) / wall
        result["statements"] = statements
        result["statements_load"] = cluster.statements() / max(result["requests"], 1)
        result["top"] = top
    if result["requests"] == 0:
        sys.exit(f"{read.key}: no request completed in {args.duration} s")
    if result["non2xx"] or result["errors"]:
        sys.exit(f"{read.key}: {result['non2xx']} non-2xx responses, {result['errors']} socket errors")
    return result


def row(label, tandem, baseline, db):
    def fmt_rate(value):
        return f"{value:,.0f}"

    def fmt_ms(value):
        if value < 1:
            return f"{value:.2f} ms"
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"

    cells = [label, f"{fmt_rate(tandem['rate'])} · {fmt_ms(tandem['p50'])} · {fmt_ms(tandem['p99'])}"]
    if baseline:
        cells += [f"{fmt_rate(baseline['rate'])} tps · {fmt_ms(baseline['p50'])} · {fmt_ms(baseline['p99'])}",
                  f"{tandem['rate'] / baseline['rate']:.2f}", f"{tandem['p99'] / baseline['p99']:.1f}x"]
    else:
        cells += ["—", "—", "—"]
    cells += [f"{tandem['cpu']:.2f} ({tandem['cpu_ms']:.1f} ms/req)", f"{tandem['rss_mb']:.0f} MB"]
    if db == "postgres":
        cells += [f"{tandem['statements']:.1f} ({tandem['statements_load']:.1f})", f"{tandem['pg_cpu']:.2f}"]
    else:
        cells += ["—", "—"]
    return "| " + " | ".join(cells) + " |"


HEADER = ("| read | Tandem req/s · p50 · p99 | raw SQL tps · p50 · p99 | ratio | p99 ratio | "
          "server CPU, cores (per request) | peak RSS | SQL statements / request (under load) | PostgreSQL CPU, cores |\n"
          "|---|---|---|---|---|---|---|---|---|")


# --- EXPLAIN of the keyset cursor as the server sends it ---------------------------------------


def explain_keyset(cluster, server, token, read):
    """Logs one page-2 request's statements with their parameters, finds the keyset one, and
    EXPLAINs it prepared: with a custom plan, after the sixth execution (the plan cache's own
    choice), and with the generic plan forced."""
    with open(cluster.log) as f:
        f.seek(0, os.SEEK_END)
        start = f.tell()
    cluster.psql("postgres", "ALTER SYSTEM SET log_statement = 'all'")
    cluster.psql("postgres", "SELECT pg_reload_conf()")
    time.sleep(0.5)
    post(server.address, token, read.bodies()[0])
    cluster.psql("postgres", "ALTER SYSTEM RESET log_statement")
    cluster.psql("postgres", "SELECT pg_reload_conf()")
    with open(cluster.log) as f:
        f.seek(start)
        lines = f.read().splitlines()
    statement = parameters = None
    for n, line in enumerate(lines):
        match = re.search(r"LOG:  execute [^:]*: (SELECT .*FROM \"change_log_entries\".*)", line)
        if match and n + 1 < len(lines) and "parameters:" in lines[n + 1]:
            statement = match.group(1)
            parameters = re.findall(r"\$\d+ = ('(?:[^']|'')*'|NULL)", lines[n + 1])
            break
    if not statement:
        return "The keyset statement was not found in the statement log."

    def typed(value):
        text = value.strip("'")
        if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text):
            return "uuid"
        if re.fullmatch(r"\d{4}-\d\d-\d\d[ T][\d:.]+([+-]\d\d(:\d\d)?|Z)?", text):
            return "timestamptz"
        if re.fullmatch(r"-?\d+", text):
            return "bigint"
        return "text"

    types = ", ".join(typed(p) for p in parameters)
    values = ", ".join(parameters)
    report = [f"Statement (as logged):\n\n```sql\n{statement}\n```\n\nParameters: {values}\n"]
    cases = [("page 2 of the month, custom plan", "force_custom_plan", 1, values),
             ("page 2 of the month, the plan cache's choice after the sixth execution", "auto", 6, values),
             ("page 2 of the month, generic plan forced", "force_generic_plan", 1, values)]
    # The same statement for page 40 of the whole year (4,000 rows in): what a generic plan
    # costs when the cursor is deep in a wide window.
    variables = json.loads(read.bodies()[0])["variables"]
    cursor = variables["after"]
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    environment = base64.urlsafe_b64decode(variables["environment"] + "==").decode().split(":", 1)[1]
    deep = cluster.psql("tandem", "SELECT occurred_at || '|' || id FROM change_log_entries "
                                  f"WHERE environment_id = '{environment}' "
                                  "ORDER BY occurred_at DESC, id DESC OFFSET 3899 LIMIT 1")
    if deep:
        deep_at, deep_id = deep.split("|")
        window = [cluster.psql("tandem", f"SELECT '{variables[key]}'::timestamptz") for key in ("from", "to")]
        year = [cluster.psql("tandem", f"SELECT '{value}'::timestamptz") for value in json.load(
            open(os.path.join(os.path.dirname(cluster.data), "meta.json")))["year"]]
        cursor_at = cluster.psql("tandem", f"SELECT '{decoded['k']}'::timestamptz")
        replaced = []
        for value in parameters:
            text = value.strip("'")
            replaced.append({window[0]: f"'{year[0]}'", window[1]: f"'{year[1]}'", cursor_at: f"'{deep_at}'",
                             decoded["i"]: f"'{deep_id}'"}.get(text, value))
        deep_values = ", ".join(replaced)
        cases += [("page 40 of the year, custom plan", "force_custom_plan", 1, deep_values),
                  ("page 40 of the year, generic plan forced", "force_generic_plan", 1, deep_values)]
        # The row form of the same condition, for comparison (not what the server sends).
        row_form = re.sub(
            r'\("change_log_entries"\."occurred_at" ([<>]) (\$\d+) OR \("change_log_entries"\."occurred_at" = '
            r'\$\d+ AND "change_log_entries"\."id" [<>] (\$\d+)\)\)',
            r'("change_log_entries"."occurred_at", "change_log_entries"."id") \1 (\2, \3)', statement)
        if row_form != statement:
            cases.append(("page 40 of the year, generic plan forced, the condition in row form "
                          "`(occurred_at, id) < (x, y)` (not what the server sends)",
                          "force_generic_plan", 1, deep_values, row_form))
    for case in cases:
        title, mode, runs, values = case[:4]
        text_of = case[4] if len(case) > 4 else statement
        sql = (f"SET plan_cache_mode = {mode};\nPREPARE keyset ({types}) AS {text_of};\n"
               + f"EXECUTE keyset ({values});\n" * runs
               + f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE keyset ({values});\n")
        plan = subprocess.run(["psql", cluster.url(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                              input=sql, capture_output=True, text=True)
        text = plan.stdout if plan.returncode == 0 else plan.stderr
        plan_lines = [line for line in text.splitlines() if "->" in line or "Buffers" in line
                      or "Execution Time" in line or line.startswith(("Limit", "Sort", "Index", "Seq"))
                      or "Filter" in line or "Cond" in line or "ERROR" in line]
        shown = f"Parameters: {values}\n\n" if title.endswith("custom plan") and "40" in title else ""
        report.append(f"{title} (`plan_cache_mode = {mode}`):\n\n{shown}```\n"
                      + "\n".join(plan_lines) + "\n```\n")
    return "\n".join(report)


# --- main --------------------------------------------------------------------------------------


def build(args):
    if args.tandem:
        return args.tandem
    log("Building tandem (release)…")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "api", "--bin", "tandem"], check=True, cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "tandem")


def ensure_tools(db):
    if not shutil.which("wrk"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log("wrk is missing: apt-get install -y wrk")
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
        else:
            sys.exit("wrk is missing: install it (apt-get install wrk)")
    needed = ["psql", "pgbench", f"{PG_BIN}/initdb"] if db == "postgres" else []
    for tool in needed:
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (PostgreSQL 15 server and client)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=["small", "large"], default="small")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--duration", type=int, default=30, help="seconds per load (default 30)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds; the second runs each baseline before its read")
    parser.add_argument("--reads", help="comma-separated subset: typename,tickets,changelog1,"
                                        "changelog2,ticket,whoowns,node,gaps,record")
    parser.add_argument("--tandem", help="a tandem binary to use instead of building one")
    parser.add_argument("--out", help="results file (default bench/read/results/<scale>-<db>.md)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()

    ensure_tools(args.db)
    binary = build(args)
    workdir = tempfile.mkdtemp(prefix="tandem-readbench-")
    out_path = args.out or os.path.join(HERE, "results", f"{args.scale}-{args.db}.md")
    cluster = server = None
    load_before = os.getloadavg()
    try:
        meta_path = os.path.join(workdir, "meta.json")
        generator = [sys.executable, os.path.join(HERE, "generate.py"), "--scale", args.scale,
                     "--tandem", binary, "--meta", meta_path]
        if args.db == "postgres":
            cluster = Cluster(workdir)
            cluster.start()
            subprocess.run(generator + ["--postgres", cluster.url()], check=True, stdout=sys.stderr)
            database_url = cluster.url(SERVER_ROLE)
        else:
            path = os.path.join(workdir, "tandem.db")
            subprocess.run(generator + ["--sqlite", path], check=True, stdout=sys.stderr)
            database_url = f"sqlite://{path}?mode=rwc"
        with open(meta_path) as f:
            meta = json.load(f)

        token = subprocess.run(
            [binary, "token", "--sub", meta["provider_admin"], "--org", meta["provider_slug"],
             "--role", "ADMIN", "--ttl", "12h", "--jwt-secret", JWT],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        server = Server(binary, database_url, workdir)
        idle_mb = server.memory_kb("VmRSS") / 1024
        log(f"tandem ready in {server.start_seconds:.2f} s ({idle_mb:.0f} MB) at {server.address}")

        reads = build_reads(meta, server.address, token)
        if args.reads:
            wanted = args.reads.split(",")
            reads = [read for read in reads if read.key in wanted]
        rows = []
        statements = []
        explain = None
        for round_number in range(args.rounds):
            for read in reads:
                baseline_first = round_number % 2 == 1
                baseline = None
                if baseline_first and read.sql and cluster:
                    log(f"[{round_number + 1}] {read.key}: raw SQL")
                    baseline = run_pgbench(cluster, read.scripts(), args, workdir)
                log(f"[{round_number + 1}] {read.key}: tandem")
                tandem = measure_tandem(read, server, cluster, token, args, workdir)
                if not baseline_first and read.sql and cluster:
                    log(f"[{round_number + 1}] {read.key}: raw SQL")
                    baseline = run_pgbench(cluster, read.scripts(), args, workdir)
                label = read.label + (f" (round {round_number + 1})" if args.rounds > 1 else "")
                line = row(label, tandem, baseline, args.db)
                log(line)
                rows.append(line)
                if tandem.get("top"):
                    statements.append(f"{read.label} (round {round_number + 1}), calls per request × "
                                      f"statement:\n\n```\n{tandem['top']}\n```\n")
                if read.key == "changelog2" and cluster and explain is None:
                    explain = explain_keyset(cluster, server, token, read)

        counts = meta["counts"]
        conditions = [
            f"- {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, commit "
            + subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
            + f", {os.cpu_count()} cores, load average {load_before[0]:.2f} at the start; the load "
              "generator runs on the same machine",
            f"- scale `{args.scale}` on {'PostgreSQL 15' if args.db == 'postgres' else 'SQLite'}: "
            f"{counts['environments']:,} environments, {counts['systems']:,} systems, "
            f"{counts['tickets']:,} tickets, {counts['change_log_entries']:,} change-log entries",
            f"- wrk: {args.connections} connections, {args.threads} threads, {args.duration} s per read, "
            f"{SAMPLES} seeded request bodies per read, the provider admin's token; "
            f"tandem release build, default settings (pool of 10), ready in "
            f"{server.start_seconds:.2f} s, {idle_mb:.0f} MB idle",
        ]
        if args.db == "postgres":
            conditions.append(
                f"- raw SQL: pgbench -n -M prepared -c {args.connections} -j {args.threads} "
                f"-T {args.duration}, {SAMPLES} scripts (one per sample); its own cluster: "
                "shared_buffers 1GB, fsync, synchronous_commit and full_page_writes off; "
                "statements per request from pg_stat_statements (the server's role only, "
                "BEGIN/COMMIT included) over one sequential pass of the request bodies after a "
                "warm-up pass; in brackets the calls during the load over wrk's request count "
                "(which misses the up to 32 requests still in flight when wrk stops)")
        else:
            conditions.append("- no raw-SQL baseline on SQLite, and no statement counts")
        table = "\n".join([HEADER] + rows)
        text = "\n".join(conditions) + "\n\n" + table + "\n"
        if explain:
            text += "\n### The keyset cursor's statement (page 2)\n\n" + explain
        if statements:
            text += ("\n### The statements the server sent (pg_stat_statements, top 12 per read)\n\n"
                     + "\n".join(statements))
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        with open(out_path, "w") as f:
            f.write(text)
        print(text)
        log(f"written to {out_path}")
    finally:
        if server:
            server.stop()
        if cluster:
            cluster.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
