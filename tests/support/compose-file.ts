import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, VENV_PYTHON, ensureVenv } from '../interop/readers.ts';

/**
 * docker-compose.yml as Compose reads it, and the native stack's settings to compare it with.
 *
 * The YAML is parsed and validated in the readers' venv (no YAML parser is among the project's npm
 * packages): ruamel.yaml (vendored by strictyaml, pinned in infra/python/requirements.txt) with YAML 1.1
 * merge keys, as Compose resolves them, and python-jsonschema's Draft 2019-09 validator against the
 * Compose specification's schema (tests/fixtures/compose-spec/).
 */

export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
export const COMPOSE_SCHEMA = path.join(REPO_ROOT, 'tests', 'fixtures', 'compose-spec', 'compose-spec.json');

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  restart?: string;
}

export interface ComposeDocument {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface Validation {
  /** The document after YAML parsing and merge keys. */
  document: ComposeDocument;
  /** "path: message" per schema violation; empty when the file is valid. */
  errors: string[];
}

const VALIDATE_PY = `
import json, sys
import jsonschema
from strictyaml.ruamel import YAML
with open(sys.argv[1], encoding="utf-8") as f:
    doc = YAML(typ="safe", pure=True).load(f)
with open(sys.argv[2], encoding="utf-8") as f:
    schema = json.load(f)
validator = jsonschema.Draft201909Validator(schema)
errors = ["/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(doc)]
print(json.dumps({"document": doc, "errors": errors}))
`;

/** Parses `file` (YAML) and validates it against the Compose specification's JSON schema. */
export async function validateCompose(file: string, schema = COMPOSE_SCHEMA): Promise<Validation> {
  await ensureVenv();
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(VENV_PYTHON, ['-c', VALIDATE_PY, file, schema], { maxBuffer: 16 << 20 }, (err, out, stderr) => {
      if (err) reject(new Error(`validating ${file} failed: ${stderr || err.message}`));
      else resolve(out);
    });
  });
  return JSON.parse(stdout) as Validation;
}

/** The default of `NAME="${VAR:-default}"` in one of infra/services/*.sh. */
export function nativeDefault(script: string, variable: string): string {
  const text = readFileSync(path.join(REPO_ROOT, 'infra', 'services', script), 'utf8');
  const m = new RegExp(`^${variable}="?\\$\\{[A-Z0-9_]+:-([^}]*)\\}"?$`, 'm').exec(text) ?? new RegExp(`^${variable}=([^\\s"$]+)$`, 'm').exec(text);
  if (!m) throw new Error(`${variable} with a default was not found in infra/services/${script}`);
  return m[1]!;
}

/** Host ports a service publishes, as "host-ip:host-port" -> container port. */
export function publishedPorts(service: ComposeService): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of service.ports ?? []) {
    const parts = String(p).split(':');
    if (parts.length !== 3) throw new Error(`port "${p}" does not name a host address; publish on 127.0.0.1:<port>:<port>`);
    out.set(`${parts[0]}:${parts[1]}`, parts[2]!);
  }
  return out;
}

/** A service's command or entrypoint as one string. */
export function commandLine(service: ComposeService): string {
  const parts = [service.entrypoint, service.command].filter((c) => c !== undefined).map((c) => (Array.isArray(c) ? c.join(' ') : c));
  return parts.join(' ');
}
