// What containers/image keeps in each top-level bucket of blob-info-cache-v1.boltdb
// (c/image pkg/blobinfocache/boltdb/boltdb.go; docs/formats.md §2a).
const purposes: Record<string, string> = {
  uncompressedDigest: 'blob digest → its uncompressed digest',
  digestByUncompressed: 'uncompressed digest → sub-bucket of the compressed digests known for it',
  knownLocations: 'transport → scope (registry/repo) → blob digest → location → last-seen time',
  digestCompressor: 'blob digest → compressor name (gzip, zstd, uncompressed); since c/image 5.10',
  uncompressedDigestByTOC: 'TOC digest → uncompressed digest; since c/image 5.32.1',
  digestSpecificVariantCompressor: 'blob digest → compressor, NUL, annotations JSON; since c/image 5.32.1',
};

export function cimageBucketPurpose(name: string): string | undefined {
  return Object.hasOwn(purposes, name) ? purposes[name] : undefined;
}
