import { LakehouseError } from '../core/errors.ts';
import type { FileIO } from './io/file-io.ts';
import type { TableMetadata } from './spec/table-metadata.ts';
import type { TableRequirement, TableUpdate } from './spec/table-updates.ts';

/**
 * What the table format needs from a catalog (the table format declares the narrow interface it
 * needs, like iceberg-go's `CatalogIO`, so it never imports `catalog/`, which implements it). A commit sends requirements and updates as data
 * (iceberg-rust `ActionCommit`); the catalog checks the requirements against its current metadata,
 * applies the updates and swaps the pointer atomically.
 *
 * Outcomes: resolves = landed; throws CommitConflictError = nothing landed (rebase, retry);
 * throws CommitStateUnknownError = may have landed (reload and look for our snapshot).
 */
export type Namespace = string[];

export interface TableIdentifier {
  namespace: Namespace;
  name: string;
}

export interface LoadedTable {
  identifier: TableIdentifier;
  metadataLocation: string;
  metadata: TableMetadata;
  io: FileIO;
}

export interface CatalogPort {
  readonly name: string;
  loadTable(identifier: TableIdentifier): Promise<LoadedTable>;
  commitTable(identifier: TableIdentifier, requirements: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable>;
}

export function identifierToString(id: TableIdentifier): string {
  return [...id.namespace, id.name].join('.');
}

/** `db.events` -> { namespace: ['db'], name: 'events' }; nested namespaces split on dots. */
export function parseIdentifier(text: string, defaultNamespace: Namespace = []): TableIdentifier {
  const parts = text.split('.').map((p) => p.trim());
  if (parts.some((p) => p.length === 0)) {
    throw new LakehouseError("INVALID_ARGUMENT", `Table name "${text}" is not valid: use <namespace>.<table>, e.g. lakehouse.campaign_events.`);
  }
  const name = parts.pop()!;
  const namespace = parts.length > 0 ? parts : defaultNamespace;
  return { namespace, name };
}
