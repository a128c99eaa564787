/** The agent's secret cache: in-memory LRU with an offline policy, plus its encrypted disk copy. */
export {
  type CacheEntry,
  type CacheLookup,
  SecretCache,
  type SecretCacheOptions,
} from "./secret_cache.ts";
export {
  keyMaterialFromPrivateKeyPem,
  type LoadResult,
  PersistentCache,
  readCacheKeyFile,
  type SkippedFile,
} from "./persistent_cache.ts";
