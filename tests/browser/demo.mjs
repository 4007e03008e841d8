// Runs `tandem serve --demo` for a test: a temp directory and SQLite database, a free port, and
// the tokens the banner prints. The binary is $TANDEM_BIN, else the debug build in
// $CARGO_TARGET_DIR (or ./target), as `cargo build -p api --bin tandem` leaves it.
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

export const repo = resolve(import.meta.dirname, "../..");

export function tandemBinary() {
  return (
    process.env.TANDEM_BIN ??
    join(process.env.CARGO_TARGET_DIR ?? join(repo, "target"), "debug", "tandem")
  );
}

/// Starts the demo server; resolves once it listens, with its address, the printed tokens, a way
/// to mint other tokens with the same secret, and `stop()`.
export async function startDemo() {
  const dir = mkdtempSync(join(tmpdir(), "tandem-demo-"));
  // A secret of our own (the demo would make one up), so that `tandem token` can mint an
  // integration's token that this server accepts.
  const secret = randomBytes(32).toString("hex");
  const env = {
    ...process.env,
    TANDEM_JWT_SECRET: secret,
    TANDEM_DATABASE_URL: `sqlite://${join(dir, "tandem.db")}?mode=rwc`,
    RUST_LOG: "warn",
  };
  const child = spawn(tandemBinary(), ["serve", "--demo", "--listen", "127.0.0.1:0"], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));

  const banner = await new Promise((resolveBanner, reject) => {
    const lines = [];
    const timer = setTimeout(
      () => reject(new Error(`no banner within 60 s:\n${lines.join("\n")}\n${stderr}`)),
      60_000
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tandem exited with ${code} before listening:\n${lines.join("\n")}\n${stderr}`));
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${tandemBinary()} (build it: cargo build -p api --bin tandem): ${error.message}`));
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      if (line.startsWith("GraphiQL: ")) {
        clearTimeout(timer);
        resolveBanner(lines);
      }
    });
  });

  // "Provider admin (Northwind MSP), valid 24h:" then the token on the next line.
  const token = (label) => {
    const at = banner.findIndex((line) => line.startsWith(label));
    const value = banner[at + 1]?.trim();
    if (at < 0 || !value?.startsWith("eyJ")) {
      throw new Error(`no token for ${label} in the banner:\n${banner.join("\n")}`);
    }
    return value;
  };
  const url = banner.at(-1).split(" ")[1].replace(/\/graphql$/, "");

  return {
    url,
    banner,
    providerToken: token("Provider admin (Northwind MSP)"),
    clientToken: token("Client internal IT admin (Harbor Health)"),
    /// A token for an integration (its uuid), as a sync job would have.
    integrationToken(integration) {
      return execFileSync(
        tandemBinary(),
        [
          "token",
          "--sub",
          "demo|northwind-sync",
          "--org",
          "northwind-msp",
          "--role",
          "INTEGRATION",
          "--integration",
          integration,
        ],
        { env, encoding: "utf8" }
      ).trim();
    },
    /// POST /graphql; returns `data`, throws on errors.
    async graphql(token, query, variables = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      if (!response.ok || body.errors) {
        throw new Error(`${response.status}: ${JSON.stringify(body)}`);
      }
      return body.data;
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/// The uuid inside a global id (`base64url("<Type>:<uuid>")`).
export function uuidOf(globalId) {
  return Buffer.from(globalId, "base64url").toString("utf8").split(":")[1];
}

/// The id of the environment named `name` that `token` sees.
export async function environmentNamed(demo, token, name) {
  const data = await demo.graphql(
    token,
    "{ environments(first: 100) { edges { node { id name } } } }"
  );
  const found = data.environments.edges.find((edge) => edge.node.name === name);
  if (!found) throw new Error(`no environment ${name}: ${JSON.stringify(data)}`);
  return found.node.id;
}
