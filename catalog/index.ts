/**
 * Catalogs: the front door of `catalog/` for programs that use lakehouse as a library
 * (`lakehouse/catalog`). `loadCatalog` opens any configured catalog (file < environment < overrides)
 * and loads only the code of the type it opens; the concrete catalogs have their own entry points
 * (`lakehouse/catalog/sql`, `/rest`, `/glue`), so importing this one loads no database driver and no
 * AWS SDK.
 */
export type { Catalog, CreateTableOptions, DropTableOptions, PropertiesUpdateSummary } from './catalog.ts';
export { namespaceToString } from './catalog.ts';
export {
  loadCatalog, resolveCatalogConfig, type LoadCatalogOptions, type ResolvedCatalogConfig,
  CONFIG_FILE_ENV, DEFAULT_CATALOG_ENV, DEFAULT_CONFIG_FILE, DEFAULT_CATALOG_NAME, SUPPORTED_CATALOG_TYPES,
} from './load-catalog.ts';
