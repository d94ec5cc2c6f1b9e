import type { CatalogPort, LoadedTable, TableIdentifier, TableRequirement, TableUpdate } from '../../iceberg/index.ts';

/**
 * A catalog whose commits wait at the catalog call until `release()`: a commit caught in flight, with
 * its data files, manifests and manifest list written but not yet part of the table. Never released,
 * it is a writer that died there.
 */
export class PausedCatalog implements CatalogPort {
  readonly name = 'paused';
  /** Resolves when a commit has reached the catalog call. */
  readonly reached: Promise<void>;
  release!: () => void;
  private onReach!: () => void;
  private readonly gate: Promise<void>;

  constructor(private readonly inner: CatalogPort) {
    this.reached = new Promise((r) => { this.onReach = r; });
    this.gate = new Promise((r) => { this.release = r; });
  }

  loadTable(id: TableIdentifier): Promise<LoadedTable> { return this.inner.loadTable(id); }

  async commitTable(id: TableIdentifier, reqs: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    this.onReach();
    await this.gate;
    return this.inner.commitTable(id, reqs, updates);
  }
}
