// The README's examples run as written: the change-log script (Python) and the subscription
// example (Node, graphql-ws) are taken from README.md itself, between their
// `<!-- readme-example: NAME -->` markers, and run against `tandem serve --demo`. The only change
// made to them is the address: the demo listens on a free port, not on 8080.
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { environmentNamed, repo, startDemo, uuidOf } from "./demo.mjs";

/// The fenced code block right after `<!-- readme-example: NAME ... -->` in README.md.
function example(name) {
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  const marker = readme.indexOf(`<!-- readme-example: ${name} `);
  assert.notEqual(marker, -1, `README.md has no example marked ${name}`);
  const block = /```[a-z]*\n([\s\S]*?)\n```/.exec(readme.slice(marker));
  assert.ok(block, `no code block after the ${name} marker`);
  return block[1];
}

/// The README's address replaced by the demo's.
function pointedAt(code, demo) {
  const address = new URL(demo.url).host;
  assert.ok(code.includes("127.0.0.1:8080"), "the example names the quick start's address");
  return code.replaceAll("127.0.0.1:8080", address);
}

/// Runs `command` (for at most a minute); resolves with its output and exit code.
function run(command, args, options) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, {
      ...options,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => resolveRun({ code, stdout, stderr }));
  });
}

/// A token of the demo's NinjaOne integration: what it records is the RMM's.
async function rmmToken() {
  const data = await demo.graphql(
    demo.providerToken,
    "{ integrations(first: 20) { edges { node { id kind } } } }"
  );
  const ninja = data.integrations.edges.find((edge) => edge.node.kind === "NINJAONE");
  assert.ok(ninja, "the demo has a NinjaOne integration");
  return demo.integrationToken(uuidOf(ninja.node.id));
}

let demo;
before(async () => {
  demo = await startDemo();
});
after(async () => {
  await demo?.stop();
});

test("the change-log script prints every entry of the last 30 days, once, across pages", async () => {
  const script = pointedAt(example("change-log-script"), demo);
  // The demo has fewer than 100 such entries in 30 days: 60 more that its RMM observed take the
  // script to a second page.
  const production = await environmentNamed(demo, demo.clientToken, "Production");
  const records = Array.from({ length: 60 }, (_, n) => ({
    externalId: `reboot-${n}`,
    environmentId: production,
    summary: `Rebooted workstation ${n}`,
    category: "MAINTENANCE",
    occurredAt: new Date(Date.now() - (n + 1) * 11 * 3600 * 1000).toISOString(),
  }));
  const recorded = await demo.graphql(
    await rmmToken(),
    "mutation($input: RecordChangesInput!) { recordChanges(input: $input) { results { outcome } userErrors { message } } }",
    { input: { source: { kind: "NINJAONE" }, records } }
  );
  assert.deepEqual(recorded.recordChanges.userErrors, []);
  assert.equal(recorded.recordChanges.results.length, 60);
  const started = new Date();
  const result = await run("python3", ["-c", script], {
    env: { ...process.env, TANDEM_TOKEN: demo.providerToken },
  });
  const finished = new Date();
  assert.equal(result.code, 0, `the script failed:\n${result.stderr}`);
  assert.equal(result.stderr, "");
  const lines = result.stdout.split("\n").filter((line) => line !== "");

  // What it must have printed, read independently: every PSA, RMM and MANUAL entry the provider
  // sees, without a time filter, in pages.
  const all = [];
  let cursor = null;
  for (;;) {
    const data = await demo.graphql(
      demo.providerToken,
      `query($after: String) { changeLog(first: 100, after: $after, filter: { sources: [PSA, RMM, MANUAL] }) {
         pageInfo { hasNextPage endCursor } edges { node { occurredAt summary } } } }`,
      { after: cursor }
    );
    all.push(...data.changeLog.edges.map((edge) => edge.node));
    if (!data.changeLog.pageInfo.hasNextPage) break;
    cursor = data.changeLog.pageInfo.endCursor;
  }
  const day = 24 * 3600 * 1000;
  // The script took "now" somewhere between `started` and `finished`.
  const surely = all.filter((entry) => {
    const at = Date.parse(entry.occurredAt);
    return at >= finished.getTime() - 30 * day && at < started.getTime();
  });
  const maybe = all.filter((entry) => {
    const at = Date.parse(entry.occurredAt);
    return at >= started.getTime() - 30 * day - 1000 && at < finished.getTime();
  });
  const line = (entry) => `${entry.occurredAt} ${entry.summary}`;

  assert.ok(surely.length > 100, `the demo has more than a page of such entries (${surely.length})`);
  assert.ok(lines.length >= surely.length && lines.length <= maybe.length, `${lines.length} lines`);
  assert.equal(new Set(lines).size, lines.length, "no entry is printed twice");
  const known = new Set(maybe.map(line));
  for (const printed of lines) {
    assert.match(printed, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}) \S/);
    assert.ok(known.has(printed), `printed an entry outside the range: ${printed}`);
  }
  const printed = new Set(lines);
  for (const entry of surely) {
    assert.ok(printed.has(line(entry)), `missing: ${line(entry)}`);
  }
});

test("the subscription example prints an RMM entry when it is recorded, and nothing else", async () => {
  const code = pointedAt(example("subscription"), demo);
  // Next to package.json, so that `graphql-ws` resolves from this directory's node_modules.
  const file = join(import.meta.dirname, "readme-subscription.generated.mjs");
  writeFileSync(file, code);
  const major = Number(process.versions.node.split(".")[0]);
  const flags = major < 22 ? ["--experimental-websocket", "--no-warnings"] : [];
  const child = spawn(process.execPath, [...flags, file], {
    env: { ...process.env, TANDEM_TOKEN: demo.providerToken },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  try {
    const production = await environmentNamed(demo, demo.clientToken, "Production");
    const rmm = await rmmToken();

    // Written by a person through the API: the example's filter (sources: [RMM]) leaves it out.
    const manual = `Rotated the Wi-Fi key ${Date.now()}`;
    await demo.graphql(
      demo.providerToken,
      "mutation($input: RecordChangeInput!) { recordChange(input: $input) { userErrors { message } } }",
      { input: { environmentId: production, summary: manual, category: "NETWORK" } }
    );

    // The subscription starts when the script has connected: until its first event arrives,
    // record an RMM observation every half second (each its own entry).
    const summary = `Agent updated on HHP-DC01 (${Date.now()})`;
    const deadline = Date.now() + 20_000;
    for (let n = 0; !stdout.includes(summary); n++) {
      assert.ok(Date.now() < deadline, `no event within 20 s:\n${stdout}\n${stderr}`);
      assert.equal(child.exitCode, null, `the example exited:\n${stderr}`);
      if (n % 5 === 0) {
        const data = await demo.graphql(
          rmm,
          `mutation($input: RecordChangesInput!) { recordChanges(input: $input) {
             results { outcome } userErrors { message } } }`,
          {
            input: {
              source: { kind: "NINJAONE" },
              records: [
                {
                  externalId: `readme-${n}`,
                  environmentId: production,
                  summary,
                  category: "PATCH",
                  occurredAt: new Date(Date.now() - 60_000).toISOString(),
                  actorName: "NinjaOne policy",
                },
              ],
            },
          }
        );
        assert.deepEqual(data.recordChanges.userErrors, []);
      }
      await new Promise((wait) => setTimeout(wait, 100));
    }
    // Node prints `event.data` as an object literal.
    assert.match(
      stdout,
      new RegExp(
        `changeLogEntryRecorded: \\{\\s*summary: '${summary.replace(/[()]/g, "\\$&")}',\\s*environment: \\{ name: 'Production' \\}`
      )
    );
    assert.ok(!stdout.includes(manual), `the filter let a MANUAL/API entry through:\n${stdout}`);
    assert.equal(stderr, "");
  } finally {
    child.kill("SIGTERM");
    rmSync(file, { force: true });
  }
});
