import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

// Stand-ins for pkgs.k8s.io and registry.k8s.io/ghcr.io on loopback, for the node image's
// official source: a signed flat apt repository as pkgs.k8s.io serves one (InRelease, Packages,
// the .debs) and a read-only registry speaking the distribution API's pull side (what
// go-containerregistry's remote.Image asks for), whose tags are multi-platform indexes as
// registry.k8s.io's are. Both come from real tools' output: debs from dpkg-deb, signatures
// from gpg, image blobs from imgbuild.

const run = promisify(execFile);

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface DebPackage {
  name: string;
  version: string;
  /** Files of the package: path in the package (e.g. usr/bin/kubeadm) → file on this host. */
  files: Record<string, string>;
}

export interface AptRepo {
  /** Directory the repository's files are in (served at the URL path the caller picks). */
  dir: string;
  /** The signing key, ASCII-armoured: what Release.key is on pkgs.k8s.io. */
  key: string;
}

/**
 * Builds a flat apt repository (`deb [signed-by=key] URL /`) of the packages in `dir`, signed by
 * a key made for it in `gnupgHome` (a short path: gpg-agent's socket lives there).
 */
export async function buildAptRepo(dir: string, gnupgHome: string, packages: DebPackage[]): Promise<AptRepo> {
  mkdirSync(dir, { recursive: true });
  const stanzas: string[] = [];
  for (const pkg of packages) {
    const stage = join(dir, '.stage', pkg.name);
    mkdirSync(join(stage, 'DEBIAN'), { recursive: true });
    for (const [path, src] of Object.entries(pkg.files)) {
      mkdirSync(join(stage, path, '..'), { recursive: true });
      writeFileSync(join(stage, path), readFileSync(src), { mode: 0o755 });
    }
    writeFileSync(
      join(stage, 'DEBIAN/control'),
      `Package: ${pkg.name}\nVersion: ${pkg.version}\nArchitecture: amd64\nMaintainer: breakfix tests <tests@breakfix.invalid>\nDescription: ${pkg.name} for the official-source image test\n`,
    );
    const filename = `${pkg.name}_${pkg.version}_amd64.deb`;
    // gzip level 1: these are hundreds of MB of binaries, and xz would take minutes.
    await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', stage, join(dir, filename)]);
    const deb = readFileSync(join(dir, filename));
    const control = (await run('dpkg-deb', ['-f', join(dir, filename)])).stdout.trim();
    stanzas.push(
      `${control}\nFilename: ${filename}\nSize: ${deb.length}\nSHA256: ${sha256(deb).slice('sha256:'.length)}\n`,
    );
  }
  const packagesFile = `${stanzas.join('\n')}`;
  writeFileSync(join(dir, 'Packages'), packagesFile);
  const release = [
    'Origin: breakfix test mirror',
    'Label: breakfix test mirror',
    'Architectures: amd64',
    `Date: ${new Date().toUTCString()}`,
    'SHA256:',
    ` ${sha256(packagesFile).slice('sha256:'.length)} ${Buffer.byteLength(packagesFile)} Packages`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'Release'), release);
  const key = await makeSigningKey(gnupgHome, 'breakfix test mirror');
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  await run('gpg', ['--batch', '--yes', '--clearsign', '-o', join(dir, 'InRelease'), join(dir, 'Release')], { env });
  return { dir, key };
}

/** A new signing key in `gnupgHome`; returns it ASCII-armoured. */
export async function makeSigningKey(gnupgHome: string, name: string): Promise<string> {
  mkdirSync(gnupgHome, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  await run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', name, 'ed25519', 'sign', 'never'], { env });
  return (await run('gpg', ['--armor', '--export', name], { env })).stdout;
}

/** Stops the gpg-agent a key directory started. */
export async function stopGpgAgent(gnupgHome: string): Promise<void> {
  await run('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } }).catch(
    () => undefined,
  );
}

interface Stored {
  body: Buffer;
  mediaType: string;
}

/** A read-only registry: manifests by repository and tag or digest, blobs by digest. */
export class Registry {
  private readonly manifests = new Map<string, Stored>();
  private readonly blobs = new Map<string, Buffer>();

  /**
   * Stores every image of an OCI layout directory (what `imgbuild -format oci-archive` writes,
   * unpacked) under `repositoryOf(its io.containerd.image.name)`, each tag pointing to an index
   * of the image for linux/amd64 and a decoy for linux/arm64 (its config says arm64), as
   * registry.k8s.io serves them. Returns each ref's amd64 and arm64 manifest digests.
   */
  addLayout(layout: string, repositoryOf: (ref: string) => string): Map<string, { amd64: string; arm64: string }> {
    const blob = (digest: string) => readFileSync(join(layout, 'blobs/sha256', digest.replace('sha256:', '')));
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; mediaType: string; annotations: Record<string, string> }[];
    };
    const digests = new Map<string, { amd64: string; arm64: string }>();
    for (const entry of index.manifests) {
      const ref = entry.annotations['io.containerd.image.name'] ?? '';
      const manifestBody = blob(entry.digest);
      const manifest = JSON.parse(manifestBody.toString('utf8')) as {
        config: { digest: string; size: number; mediaType: string };
        layers: { digest: string }[];
      };
      for (const layer of manifest.layers) this.blobs.set(layer.digest, blob(layer.digest));
      this.blobs.set(manifest.config.digest, blob(manifest.config.digest));
      // The arm64 decoy: the same layers under a config that says arm64.
      const config = JSON.parse(blob(manifest.config.digest).toString('utf8')) as Record<string, unknown>;
      const armConfig = Buffer.from(JSON.stringify({ ...config, architecture: 'arm64' }));
      this.blobs.set(sha256(armConfig), armConfig);
      const armManifest = Buffer.from(
        JSON.stringify({
          ...manifest,
          config: { ...manifest.config, digest: sha256(armConfig), size: armConfig.length },
        }),
      );
      const repository = repositoryOf(ref);
      const tag = ref.slice(ref.lastIndexOf(':') + 1);
      const indexBody = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            {
              mediaType: entry.mediaType,
              digest: sha256(armManifest),
              size: armManifest.length,
              platform: { architecture: 'arm64', os: 'linux' },
            },
            {
              mediaType: entry.mediaType,
              digest: entry.digest,
              size: manifestBody.length,
              platform: { architecture: 'amd64', os: 'linux' },
            },
          ],
        }),
      );
      this.manifests.set(`${repository}@${entry.digest}`, { body: manifestBody, mediaType: entry.mediaType });
      this.manifests.set(`${repository}@${sha256(armManifest)}`, { body: armManifest, mediaType: entry.mediaType });
      this.manifests.set(`${repository}:${tag}`, {
        body: indexBody,
        mediaType: 'application/vnd.oci.image.index.v1+json',
      });
      digests.set(ref, { amd64: entry.digest, arm64: sha256(armManifest) });
    }
    return digests;
  }

  /** Answers /v2/ requests; anything else is left to `next`. */
  handle(method: string, path: string): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
    if (!path.startsWith('/v2/')) return undefined;
    const reply = (status: number, body: Buffer, headers: Record<string, string> = {}) => ({
      status,
      headers: { 'Content-Length': String(body.length), ...headers },
      body: method === 'HEAD' ? Buffer.alloc(0) : body,
    });
    if (path === '/v2/') return reply(200, Buffer.from('{}'), { 'Content-Type': 'application/json' });
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const notFound = (code: string) =>
      reply(404, Buffer.from(JSON.stringify({ errors: [{ code, message: `${path} is not in this mirror` }] })), {
        'Content-Type': 'application/json',
      });
    if (!match) return notFound('NAME_UNKNOWN');
    const [, repository, kind, reference = ''] = match;
    if (kind === 'blobs') {
      const blob = this.blobs.get(reference);
      return blob
        ? reply(200, blob, { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': reference })
        : notFound('BLOB_UNKNOWN');
    }
    const key = reference.startsWith('sha256:') ? `${repository}@${reference}` : `${repository}:${reference}`;
    const stored = this.manifests.get(key);
    return stored
      ? reply(200, stored.body, { 'Content-Type': stored.mediaType, 'Docker-Content-Digest': sha256(stored.body) })
      : notFound('MANIFEST_UNKNOWN');
  }
}

/** Serves `files` (URL path prefix → directory) and the registry on 127.0.0.1; logs every request. */
export async function serveMirrors(
  files: Record<string, string>,
  registry: Registry,
): Promise<{ address: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://mirror').pathname);
    requests.push(`${req.method} ${path}`);
    const answer = registry.handle(req.method ?? 'GET', path);
    if (answer) {
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return;
    }
    for (const [prefix, dir] of Object.entries(files)) {
      if (!path.startsWith(prefix) || path.includes('..')) continue;
      try {
        const body = readFileSync(join(dir, path.slice(prefix.length)));
        res.writeHead(200, { 'Content-Length': String(body.length) }).end(req.method === 'HEAD' ? undefined : body);
      } catch {
        res.writeHead(404).end();
      }
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
