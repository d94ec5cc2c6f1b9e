import { requireS3Settings } from './s3-settings.ts';

/**
 * Catalog configs (as a lakehouse.config.json `catalogs` object) for every catalog type on the running
 * services, table files in MinIO under a per-test prefix. Fails with a sentence when the services'
 * variables are missing: these tests never fall back to fakes.
 */
export function serviceCatalogsConfig(prefix: string, sqliteFile?: string): Record<string, Record<string, string>> {
  const s3 = requireS3Settings();
  for (const k of ['LAKEHOUSE_PG_URI', 'LAKEHOUSE_REST_URI', 'LAKEHOUSE_GLUE_ENDPOINT']) {
    if (!process.env[k]) throw new Error(`${k} is not set: run the integration project (it starts the services) or export what infra/services.sh writes to .cache/services/services.env.`);
  }
  const warehouse = (name: string) => `s3://${s3.bucket}/${prefix}-${name}`;
  const catalogs: Record<string, Record<string, string>> = {
    pg: { type: 'sql', uri: process.env.LAKEHOUSE_PG_URI!, warehouse: warehouse('pg'), ...s3.properties },
    rest: { type: 'rest', uri: process.env.LAKEHOUSE_REST_URI!, ...s3.properties },
    glue: {
      type: 'glue', warehouse: warehouse('glue'), 'glue.endpoint': process.env.LAKEHOUSE_GLUE_ENDPOINT!,
      'glue.region': process.env.LAKEHOUSE_GLUE_REGION ?? 'us-east-1',
      'glue.access-key-id': process.env.LAKEHOUSE_GLUE_ACCESS_KEY ?? 'testing',
      'glue.secret-access-key': process.env.LAKEHOUSE_GLUE_SECRET_KEY ?? 'testing',
      ...s3.properties,
    },
  };
  if (sqliteFile) catalogs.sqlite = { type: 'sql', uri: `sqlite:///${sqliteFile}`, warehouse: warehouse('sqlite'), ...s3.properties };
  return catalogs;
}
