/**
 * Keeping secrets out of messages, for every catalog: which properties hold secrets, and masking their
 * values (and any other secret a catalog knows, such as OAuth2 tokens it was issued) wherever a message
 * repeats text it did not write itself: a server's error, an SDK's error, the catalog configuration.
 */

/**
 * Keys whose values are secrets. `access-key` covers the key id as well: Java's and PyIceberg's docs
 * treat the pair as one credential, and an id alone names the account. `authorization` is the
 * `header.Authorization` a REST catalog may be given.
 */
const SECRET_KEY = /(secret|password|passwd|token|credential|private|session|access-key|api-key|authorization)/i;

/** Values this short are not masked: they would mangle ordinary words in the message. */
const MIN_SECRET_LENGTH = 4;

export function isSecretProperty(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** The values of the secret-looking keys of `properties`. */
export function secretValues(properties: Record<string, string>): string[] {
  return Object.entries(properties)
    .filter(([k]) => isSecretProperty(k))
    .map(([, v]) => v);
}

/**
 * Replaces every secret value in `text` with `***`. Longer values go first, so a secret that contains
 * another (a `client_id:secret` credential and its secret) is masked whole.
 */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  const sorted = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  for (const s of sorted) out = out.split(s).join('***');
  return out;
}

/**
 * A copy of catalog properties safe to print: values of secret-looking keys become "***" and a
 * password inside a URI (`postgresql://user:pw@host`) is masked. Every error that shows configuration
 * goes through it.
 */
export function redactConfig(props: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) {
    out[k] = isSecretProperty(k) ? '***' : v.replace(/^((?:jdbc:)?[a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^/@]*@/i, '$1:***@');
  }
  return out;
}
