// GraphiQL in a real browser (Debian's Chromium, driven by playwright-core), offline: every
// request that is not to the demo server is aborted and recorded, and none may be attempted.
// Steps, each with a screenshot in $TANDEM_SCREENSHOTS (else a temp dir): load the page, put the
// token in the headers pane and run a query, reload (the headers are still there), open the docs
// explorer and its Query type, run a subscription and see the event a mutation over HTTP causes.
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { chromium } from "playwright-core";

import { environmentNamed, startDemo } from "./demo.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = process.env.TANDEM_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "tandem-graphiql-"));
mkdirSync(shots, { recursive: true });

let demo;
let profile;
let context;
before(async () => {
  demo = await startDemo();
  profile = mkdtempSync(join(tmpdir(), "tandem-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await demo?.stop();
  console.log(`screenshots: ${shots}`);
});

/// The text of the CodeMirror editor inside `selector`.
function editorText(page, selector) {
  return page.locator(`${selector} .CodeMirror`).first().evaluate((node) => node.CodeMirror.getValue());
}

/// Replaces the text of the editor inside `selector` as a person would: click, select all, type.
async function typeInto(page, selector, text) {
  await page.locator(`${selector} .CodeMirror`).first().click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  // Inserted as typed text, without the editor's bracket auto-closing per key.
  await page.keyboard.insertText(text);
  assert.equal(await editorText(page, selector), text);
}

/// Waits until the result pane's text satisfies `check`; returns the text.
async function resultWhere(page, check, what) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = await editorText(page, ".result-window");
    if (check(text)) return text;
    if (Date.now() > deadline) assert.fail(`result pane never showed ${what}:\n${text}`);
    await page.waitForTimeout(100);
  }
}

test("GraphiQL works offline: query with a token, headers kept across reloads, docs, subscription", async (t) => {
  const origin = new URL(demo.url).origin;
  const foreign = [];
  const sockets = [];
  const policyViolations = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    foreign.push(url);
    return route.abort("internetdisconnected");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("websocket", (socket) => sockets.push(socket.url()));
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) policyViolations.push(message.text());
  });
  let step = 0;
  const shot = async (name) => {
    step += 1;
    const path = join(shots, `${String(step).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path });
    t.diagnostic(`step ${step}: ${name} (${path})`);
  };

  // 1. The page loads from the server alone.
  const response = await page.goto(`${demo.url}/graphql`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"], /script-src 'self';/);
  await page.locator(".graphiql-container").waitFor();
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
  await shot("loaded");

  // 2. The token goes in the headers pane; a query runs with it.
  const headers = JSON.stringify({ Authorization: `Bearer ${demo.providerToken}` });
  await page.getByRole("button", { name: "Headers" }).click();
  await typeInto(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", headers);
  await typeInto(
    page,
    ".graphiql-query-editor",
    "{ viewer { role organization { name } } }"
  );
  await page.locator(".graphiql-execute-button").click();
  const result = await resultWhere(page, (text) => text.includes('"viewer"'), "the viewer");
  assert.deepEqual(JSON.parse(result).data, {
    viewer: { role: "ADMIN", organization: { name: "Northwind Managed Services" } },
  });
  await shot("query-with-token");

  // 3. After a reload, the headers are still there. (GraphiQL stores its tabs a moment after an
  // edit: reload once they are stored, as a person would.)
  await page.waitForFunction(
    (token) => (localStorage.getItem("graphiql:tabState") ?? "").includes(token),
    demo.providerToken
  );
  await page.reload();
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
  await page.getByRole("button", { name: "Headers" }).click();
  assert.equal(
    await editorText(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)"),
    headers
  );
  await shot("reloaded-headers-kept");

  // 4. The docs explorer shows the schema (introspection with the kept token).
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  const docs = page.locator(".graphiql-doc-explorer");
  await docs.getByText("Root Types").waitFor();
  await docs.locator("a.graphiql-doc-explorer-type-name", { hasText: /^Query$/ }).first().click();
  await docs.locator(".graphiql-doc-explorer-field-name", { hasText: /^changeLog$/ }).waitFor();
  await docs.locator(".graphiql-doc-explorer-field-name", { hasText: /^viewer$/ }).waitFor();
  await shot("docs-query-type");

  // 5. A subscription over graphql-ws receives the entry a mutation over HTTP records.
  await typeInto(
    page,
    ".graphiql-query-editor",
    "subscription { changeLogEntryRecorded { summary source category } }"
  );
  // GraphiQL parses the edited query a moment after the edit, and only then knows that it is a
  // subscription (to send over WebSocket): run it after that, as a person would.
  await page.waitForTimeout(1000);
  await page.locator(".graphiql-execute-button").click();
  const production = await environmentNamed(demo, demo.clientToken, "Production");
  const summary = `Replaced the core switch ${Date.now()}`;
  // The subscription is live once the server acknowledged it; until the event shows, record it
  // again every second (the first may precede the subscribe message).
  const deadline = Date.now() + 20_000;
  let shown = "";
  for (let n = 0; !shown.includes(summary); n++) {
    assert.ok(Date.now() < deadline, `no event within 20 s:\n${shown}`);
    if (n % 10 === 0) {
      const data = await demo.graphql(
        demo.providerToken,
        "mutation($input: RecordChangeInput!) { recordChange(input: $input) { userErrors { message } } }",
        { input: { environmentId: production, summary, category: "NETWORK" } }
      );
      assert.deepEqual(data.recordChange.userErrors, []);
    }
    await page.waitForTimeout(100);
    shown = await editorText(page, ".result-window");
  }
  assert.deepEqual(JSON.parse(shown).data, {
    changeLogEntryRecorded: { summary, source: "API", category: "NETWORK" },
  });
  await shot("subscription-event");

  // 6. The settings dialog (its scroll lock adds a <style> element: the policy allows it).
  await page.getByRole("button", { name: "Open settings dialog" }).click();
  await page.getByRole("dialog").waitFor();
  await shot("settings-dialog");
  await page.keyboard.press("Escape");

  assert.deepEqual(foreign, [], "the page asked for nothing outside the server");
  assert.deepEqual(policyViolations, [], "nothing was refused by the page's policy");
  const wsUrl = `${origin.replace(/^http/, "ws")}/graphql/ws`;
  assert.ok(sockets.length > 0 && sockets.every((url) => url === wsUrl), `${sockets}`);
});
