import { CLIENT_REGION, type FileIO } from '../iceberg/io/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { boolProperty, intProperty } from '../core/properties.ts';

/**
 * The settings of a Glue catalog: its property names (PyIceberg's and Java's spelling, so one
 * configuration serves all three), the typed options, and how they resolve against each other and
 * the AWS_* environment, checked once when the catalog is built so that a bad setting fails at
 * start-up with a sentence naming it.
 */

// ---- catalog properties (PyIceberg / Java spelling) ----

export const WAREHOUSE = 'warehouse';
export const GLUE_REGION = 'glue.region';
export const GLUE_ENDPOINT = 'glue.endpoint';
/** The Glue Data Catalog's id: the AWS account id owning it (cross-account catalogs). */
export const GLUE_ID = 'glue.id';
export const GLUE_ACCESS_KEY_ID = 'glue.access-key-id';
export const GLUE_SECRET_ACCESS_KEY = 'glue.secret-access-key';
export const GLUE_SESSION_TOKEN = 'glue.session-token';
/** PyIceberg's fallbacks for every AWS client when the glue.* key is absent. */
export const CLIENT_ACCESS_KEY_ID = 'client.access-key-id';
export const CLIENT_SECRET_ACCESS_KEY = 'client.secret-access-key';
export const CLIENT_SESSION_TOKEN = 'client.session-token';
/**
 * UpdateTable's SkipArchive. Glue otherwise keeps every old table version, and an account has a
 * limit on them that streaming commits reach quickly; Java and PyIceberg default it to true.
 */
export const GLUE_SKIP_ARCHIVE = 'glue.skip-archive';
export const GLUE_SKIP_ARCHIVE_DEFAULT = true;
/** Java's name check (lower-case letters, digits, `_`; Glue lower-cases names and Athena needs them so). */
export const GLUE_SKIP_NAME_VALIDATION = 'glue.skip-name-validation';
export const GLUE_SKIP_NAME_VALIDATION_DEFAULT = false;
/** Retries of a read after throttling, 5xx or a network error (our retry helper, 100 ms .. 5 s). */
export const GLUE_MAX_RETRIES = 'glue.max-retries';
export const GLUE_MAX_RETRIES_DEFAULT = 4;

/** The part of the SDK client this class uses; unit tests pass an object that scripts the answers. */
export interface GlueClientLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  send(command: any): Promise<any>;
  destroy?(): void;
}

export interface GlueCatalogOptions {
  name: string;
  /**
   * Root of default table locations, `<warehouse>/<db>.db/<table>` (the Hive layout Java and PyIceberg
   * use for Glue). May be absent when every database has a LocationUri or tables get explicit locations.
   */
  warehouse?: string;
  /** Default: glue.region / client.region, then AWS_REGION / AWS_DEFAULT_REGION, then the SDK's profile. */
  region?: string;
  /** e.g. `http://127.0.0.1:5000` for moto; default: glue.endpoint, AWS_ENDPOINT_URL_GLUE, AWS_ENDPOINT_URL, AWS. */
  endpoint?: string;
  /** Static credentials; default: glue.* / client.* properties, AWS_* variables, then the SDK default chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Default: glue.id. */
  catalogId?: string;
  /** All catalog properties: glue.* settings above, and s3.* for the FileIO of table files. */
  properties?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** Replaces the FileIO chosen by location scheme (tests, custom stores). */
  io?: FileIO;
  /** A ready client instead of one built from the options (unit tests). */
  client?: GlueClientLike;
  /** Base for a relative warehouse path; default the working directory. */
  cwd?: string;
  /** Replaces the retry wait (unit tests). */
  sleep?: (ms: number) => Promise<void>;
}


/** The typed options a set of flat catalog properties stands for (without name, env and properties). */
export function glueOptionsFromProperties(props: Record<string, string>): Omit<GlueCatalogOptions, 'name'> {
  const opts: Omit<GlueCatalogOptions, 'name'> = {};
  const set = <K extends Exclude<keyof GlueCatalogOptions, 'name'>>(key: K, value: GlueCatalogOptions[K] | undefined) => {
    if (value !== undefined) opts[key] = value;
  };
  const first = (...keys: string[]) => firstSet(...keys.map((k) => props[k]));
  set('warehouse', first(WAREHOUSE));
  set('region', first(GLUE_REGION, CLIENT_REGION));
  set('endpoint', first(GLUE_ENDPOINT));
  set('catalogId', first(GLUE_ID));
  set('accessKeyId', first(GLUE_ACCESS_KEY_ID, CLIENT_ACCESS_KEY_ID));
  set('secretAccessKey', first(GLUE_SECRET_ACCESS_KEY, CLIENT_SECRET_ACCESS_KEY));
  set('sessionToken', first(GLUE_SESSION_TOKEN, CLIENT_SESSION_TOKEN));
  return opts;
}

/** The first value that is set: options win over properties, which win over the environment. */
export function firstSet(...values: Array<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

export interface GlueCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Everything a Glue catalog needs from its options besides the name, warehouse and FileIO. */
export interface GlueSettings {
  endpoint: string | undefined;
  region: string | undefined;
  /** The endpoint requests go to, for messages: the configured URL or AWS's regional one. */
  endpointLabel: string;
  catalogId: string | undefined;
  /** Undefined: the SDK's default chain (profile files, SSO, instance roles) finds them at the first call. */
  credentials: GlueCredentials | undefined;
  /** Credential values, masked in any server message the catalog repeats. */
  secrets: string[];
  skipArchive: boolean;
  skipNameValidation: boolean;
  maxRetries: number;
}

/** Resolves and checks the options of catalog `o.name` against its properties and the environment. */
export function glueSettings(o: GlueCatalogOptions, props: Record<string, string>, env: NodeJS.ProcessEnv): GlueSettings {
  const fromProps = glueOptionsFromProperties(props);
  const endpoint = firstSet(o.endpoint, fromProps.endpoint, env.AWS_ENDPOINT_URL_GLUE, env.AWS_ENDPOINT_URL);
  if (endpoint !== undefined && !/^https?:\/\/[^/]/i.test(endpoint)) {
    throw new LakehouseError('INVALID_CONFIG', `Catalog '${o.name}': ${GLUE_ENDPOINT} "${endpoint}" is not an http(s) URL; write e.g. http://127.0.0.1:5000.`);
  }
  // A custom endpoint (moto, a proxy) ignores the region but the signer needs one.
  const region = firstSet(o.region, fromProps.region, env.AWS_REGION, env.AWS_DEFAULT_REGION) ?? (endpoint ? 'us-east-1' : undefined);

  // Keys come as a pair from one source, as in resolveFileIO: an id from one place with a secret
  // from another can never sign correctly.
  const given = o.accessKeyId !== undefined || o.secretAccessKey !== undefined;
  const viaProps = fromProps.accessKeyId !== undefined || fromProps.secretAccessKey !== undefined;
  const fromEnv = {
    accessKeyId: firstSet(env.AWS_ACCESS_KEY_ID),
    secretAccessKey: firstSet(env.AWS_SECRET_ACCESS_KEY),
    sessionToken: firstSet(env.AWS_SESSION_TOKEN),
  };
  const source = given ? o : viaProps ? fromProps : fromEnv;
  if ((source.accessKeyId === undefined) !== (source.secretAccessKey === undefined)) {
    throw new LakehouseError(
      'INVALID_CONFIG',
      `Catalog '${o.name}' has half of its Glue credentials: give both ${GLUE_ACCESS_KEY_ID} and ${GLUE_SECRET_ACCESS_KEY}, or neither to use the AWS default chain.`,
    );
  }
  const credentials =
    source.accessKeyId !== undefined && source.secretAccessKey !== undefined
      ? { accessKeyId: source.accessKeyId, secretAccessKey: source.secretAccessKey, ...(source.sessionToken ? { sessionToken: source.sessionToken } : {}) }
      : undefined;

  const owner = `Catalog '${o.name}'`;
  return {
    endpoint,
    region,
    endpointLabel: endpoint ?? (region ? `https://glue.${region}.amazonaws.com` : 'AWS Glue (region from the AWS profile)'),
    catalogId: firstSet(o.catalogId, fromProps.catalogId),
    credentials,
    secrets: [source.accessKeyId, source.secretAccessKey, source.sessionToken].filter((s): s is string => !!s),
    skipArchive: boolProperty(props, GLUE_SKIP_ARCHIVE, GLUE_SKIP_ARCHIVE_DEFAULT, { owner }),
    skipNameValidation: boolProperty(props, GLUE_SKIP_NAME_VALIDATION, GLUE_SKIP_NAME_VALIDATION_DEFAULT, { owner }),
    maxRetries: intProperty(props, GLUE_MAX_RETRIES, GLUE_MAX_RETRIES_DEFAULT, { min: 0, owner }),
  };
}
