#!/usr/bin/env bash
# npm run build: compiles the library and the CLI to dist/ (JavaScript, declarations, source maps),
# copies the SQL files the DuckDB jobs read at run time and the plain .mjs modules beside their
# modules, and stamps the build so bin/lakehouse knows it is current. It builds beside dist/ and swaps the folders at the end: a CLI
# that is running from dist/ (and loads its commands lazily) never finds it half written, and a
# deleted source leaves no stale module behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf dist.next dist.old
npx tsc -p tsconfig.build.json --outDir dist.next
mkdir -p dist.next/sql
cp sql/*.sql dist.next/sql/
# Plain JavaScript modules (the Parquet encoding thread's entry) and their type declarations.
cp iceberg/writer/*.mjs iceberg/writer/*.d.mts dist.next/iceberg/writer/
touch dist.next/.built
[ -d dist ] && mv dist dist.old
mv dist.next dist
rm -rf dist.old
