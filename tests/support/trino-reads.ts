import { TrinoClient } from '../../sql/trino-client.ts';
import type { Schema } from '../../iceberg/index.ts';
import { canonicalRows } from '../interop/canonical.ts';

/**
 * Trino as an independent reader in the integration tests: the running Trino (infra/services/trino.sh),
 * its `iceberg` catalog pointed at the same REST server our writer commits to.
 */
export function requireTrino(): TrinoClient {
  const uri = process.env.LAKEHOUSE_TRINO_URI;
  if (!uri) {
    throw new Error(
      'LAKEHOUSE_TRINO_URI is not set: the Trino tests need a running Trino. Start it with `infra/services.sh up trino` ' +
        '(it brings up MinIO and the REST server too) and export what .cache/services/services.env says.',
    );
  }
  return new TrinoClient({ uri, catalog: 'iceberg' });
}

/** `"ns"."table"` for Trino SQL (one namespace level: Trino's schemas do not nest). */
export function trinoTable(namespace: readonly string[], name: string): string {
  return `${[...namespace, name].map((p) => `"${p.replaceAll('"', '""')}"`).join('.')}`;
}

/**
 * Every row of the table as Trino reads it, as sorted canonical JSON lines (tests/interop/canonical.ts): the
 * client already returns lakehouse's value representation, so the rows compare as text with PyIceberg's.
 */
export async function readCanonicalWithTrino(trino: TrinoClient, schema: Schema, namespace: readonly string[], name: string): Promise<string[]> {
  const columns = schema.fields.map((f) => `"${f.name}"`).join(', ');
  const { rows } = await trino.query(`SELECT ${columns} FROM ${trinoTable(namespace, name)}`);
  return canonicalRows(schema, rows);
}
