// Small OCI image layouts for feeding real skopeo without the network: random layer tars
// (gzip), a config, a manifest and an index, every byte determined by the seed.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface OciImageOptions {
  seed: number;
  layers?: number; // default 2
  layerBytes?: number; // size of the one file in each layer, default 2048
  tag?: string; // default 'latest'
}

export interface OciImage {
  dir: string;
  tag: string;
  reference: string; // oci:DIR:TAG, for skopeo
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[]; // compressed (as stored)
  diffIds: string[]; // uncompressed
}

// A seeded byte stream (SHA-256 in counter mode): reproducible across Node versions.
export function seededBytes(seed: number, label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let filled = 0;
  for (let counter = 0; filled < length; counter++) {
    const block = createHash('sha256').update(`${seed}:${label}:${counter}`).digest();
    filled += block.copy(out, filled);
  }
  return out;
}

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

// One regular file in a POSIX ustar archive: a 512-byte header, the data padded to 512, then
// two zero blocks. mtime/uid/gid fixed so the archive depends only on name and content.
export function tarOneFile(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(data.length, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, '        '); // checksum is computed over the header with this field as spaces
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}

function writeBlob(dir: string, content: Buffer): string {
  const digest = sha256(content);
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), content);
  return digest;
}

export function writeOciImage(dir: string, options: OciImageOptions): OciImage {
  const tag = options.tag ?? 'latest';
  const layerCount = options.layers ?? 2;
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const layerDigests: string[] = [];
  const diffIds: string[] = [];
  const layerDescriptors: object[] = [];
  for (let i = 0; i < layerCount; i++) {
    const tar = tarOneFile(`layer${i}/data.bin`, seededBytes(options.seed, `layer${i}`, options.layerBytes ?? 2048));
    const gz = gzipSync(tar, { level: 6 });
    diffIds.push(sha256(tar));
    const digest = writeBlob(dir, gz);
    layerDigests.push(digest);
    layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: gz.length });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Labels: { 'buildfleet.test.seed': String(options.seed) } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const configDigest = writeBlob(dir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layerDescriptors,
    }),
  );
  const manifestDigest = writeBlob(dir, manifest);
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { dir, tag, reference: `oci:${dir}:${tag}`, manifestDigest, configDigest, layerDigests, diffIds };
}
