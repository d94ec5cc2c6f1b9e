#!/usr/bin/env bash
# npm run build: compiles the library and the CLI to dist/ (JavaScript, declarations, source maps),
# copies the SQL files the DuckDB jobs read at run time beside their modules, and stamps the build so
# bin/lakehouse knows it is current. A fresh dist/ each time: a deleted source leaves no stale module.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf dist
npx tsc -p tsconfig.build.json
mkdir -p dist/sql
cp sql/*.sql dist/sql/
touch dist/.built
