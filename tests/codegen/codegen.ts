// Generates TypeScript types for Tandem's schema and the sample operations (README: "Generate a
// typed client"). CI runs it against the checked-in SDL, then type-checks client.ts.
import type { CodegenConfig } from "@graphql-codegen/cli";

// Tandem's scalars as they travel in JSON.
const scalars = {
  DateTime: "string", // RFC 3339, always UTC on output (`+00:00`), microsecond precision
  Date: "string", // a calendar day, YYYY-MM-DD
  JSON: "Record<string, unknown>", // free-form details, attributes, settings
};

const config: CodegenConfig = {
  schema: "../../api/schema.graphql",
  documents: "operations/*.graphql",
  generates: {
    // Every type of the schema (inputs for mutations, enums, objects).
    "generated/schema.ts": {
      plugins: ["typescript"],
      config: { scalars, strictScalars: true, enumsAsTypes: true },
    },
    // The result and variable types of each operation. typescript-operations 6 writes the
    // schema types its operations need itself, so it gets a file of its own: with the
    // `typescript` plugin in the same file, those types would be declared twice.
    "generated/operations.ts": {
      plugins: ["typescript-operations"],
      config: { scalars, strictScalars: true, enumsAsTypes: true },
    },
  },
};

export default config;
