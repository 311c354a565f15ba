import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { describeImageContract, type OpenImage, openImage, root } from './contract.js';
import { buildAptRepo, makeSigningKey, Registry, serveMirrors, stopGpgAgent } from './mirrors.js';

// `images/build.sh --source official` through mirrors on loopback: kubeadm, kubelet, kubectl and
// cri-tools as signed .debs of a flat apt repository (the layout of pkgs.k8s.io), every image from
// a registry whose tags are multi-platform indexes (as registry.k8s.io's are). The mirrors carry
// the very binaries of the `build` image npm test made, so the official image must hold the same
// bytes where upstream puts them — and meet the same contract. What this cannot prove here: the
// real pkgs.k8s.io key and URLs, and that the real images are where these are (no internet).

const run = promisify(execFile);
const VERSION = 'v1.36.3';
const work = mkdtempSync(join(tmpdir(), 'breakfix-official-'));
after(() => rmSync(work, { recursive: true, force: true }));

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Every environment a build ran with: each has its own output and work directory to remove. */
const builds: Record<string, string>[] = [];

/** build.sh with the official source through the given mirrors; resolves to its result. */
async function buildOfficial(env: Record<string, string>, args: string[] = []) {
  builds.push(env);
  return run('bash', [join(root, 'images/build.sh'), '--source', 'official', ...args, VERSION], {
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
    timeout: 20 * 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
}

// What the mirrors serve, read from the build-source image.
const upstream: Record<string, Buffer> = {};
let mirrorEnv: Record<string, string> = {};
let mirrors: Awaited<ReturnType<typeof serveMirrors>>;
let digests = new Map<string, { amd64: string; arm64: string }>();
let impostorKey = '';

describe('images/build.sh --source official, through mirrors on loopback', { timeout: 40 * 60_000 }, () => {
  before(async () => {
    const buildDir = (await run('bash', [join(root, 'images/build.sh'), '--print-dir', VERSION])).stdout.trim();
    const built: OpenImage = await openImage(buildDir, work);
    for (const tool of ['kubeadm', 'kubelet', 'kubectl', 'crictl', 'etcdctl', 'etcdutl']) {
      upstream[tool] = await built.dumpFromDisk(`/usr/bin/${tool}`);
      writeFileSync(join(work, tool), upstream[tool], { mode: 0o755 });
    }
    upstream.flannel = await built.dumpFromDisk('/usr/lib/cni/flannel');
    writeFileSync(join(work, 'flannel'), upstream.flannel, { mode: 0o755 });

    // Given pkgs.k8s.io's layout: kubeadm, kubelet, kubectl of the release and cri-tools of two minors
    const deb = (name: string, version: string, tool = name) => ({
      name,
      version,
      files: { [`usr/bin/${tool}`]: join(work, tool) },
    });
    const apt = await buildAptRepo(join(work, 'apt'), join(work, 'gpg'), [
      deb('kubeadm', '1.36.3-1.1'),
      deb('kubelet', '1.36.3-1.1'),
      deb('kubectl', '1.36.3-1.1'),
      deb('cri-tools', '1.35.0-1.1', 'crictl'),
      deb('cri-tools', '1.36.0-1.1', 'crictl'),
    ]);
    writeFileSync(join(work, 'Release.key'), apt.key);
    impostorKey = join(work, 'impostor.asc');
    writeFileSync(impostorKey, await makeSigningKey(join(work, 'gpg-impostor'), 'someone else'));

    // And the images kubeadm names, flannel's, kube-network-policies' and the flannel CNI plugin's,
    // each a small image of its own (etcd's carries etcdctl and etcdutl, the plugin's /flannel)
    const kubeadmImages = (
      await run(join(work, 'kubeadm'), ['config', 'images', 'list', '--kubernetes-version', VERSION])
    ).stdout
      .trim()
      .split('\n');
    const buildSh = readFileSync(join(root, 'images/build.sh'), 'utf8');
    const pinned = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(buildSh)?.[1] ?? '';
    const refs = [
      ...kubeadmImages,
      `ghcr.io/flannel-io/flannel:${pinned('FLANNEL_VERSION')}`,
      `registry.k8s.io/networking/kube-network-policies:${pinned('NETPOL_VERSION')}`,
      pinned('FLANNEL_CNI_PLUGIN_IMAGE'),
    ];
    const specs = refs.map((ref, i) => {
      const marker = join(work, `marker-${i}`);
      writeFileSync(marker, `${ref}\n`);
      const files = [{ src: marker, dst: '/etc/mirror-image', mode: 0o644 }];
      if (ref.includes('/etcd:'))
        for (const tool of ['etcdctl', 'etcdutl'])
          files.push({ src: join(work, tool), dst: `/usr/local/bin/${tool}`, mode: 0o755 });
      if (ref.includes('flannel-cni-plugin')) files.push({ src: join(work, 'flannel'), dst: '/flannel', mode: 0o755 });
      return { ref, files };
    });
    writeFileSync(join(work, 'images.json'), JSON.stringify(specs));
    await run('go', ['build', '-o', join(work, 'imgbuild'), './cmd/imgbuild'], { cwd: join(root, 'images/tools') });
    await run(join(work, 'imgbuild'), [
      '-format',
      'oci-archive',
      '-o',
      join(work, 'images.tar'),
      join(work, 'images.json'),
    ]);
    mkdirSync(join(work, 'layout'));
    await run('tar', ['-xf', join(work, 'images.tar'), '-C', join(work, 'layout')]);
    const registry = new Registry();
    digests = registry.addLayout(join(work, 'layout'), (ref) => {
      const [host = '', ...path] = ref.slice(0, ref.lastIndexOf(':')).split('/');
      return `${{ 'registry.k8s.io': 'k8s', 'ghcr.io': 'ghcr' }[host] ?? 'unknown'}/${path.join('/')}`;
    });
    mirrors = await serveMirrors({ '/pkgs/core:/stable:/v1.36/deb/': apt.dir }, registry);
    mirrorEnv = {
      BREAKFIX_K8S_APT_URL: `http://${mirrors.address}/pkgs/core:/stable:/v1.36/deb/`,
      BREAKFIX_K8S_APT_KEY: join(work, 'Release.key'),
      BREAKFIX_IMAGE_MIRRORS: `registry.k8s.io=${mirrors.address}/k8s ghcr.io=${mirrors.address}/ghcr`,
    };
  });

  after(async () => {
    await mirrors?.close();
    await stopGpgAgent(join(work, 'gpg'));
    await stopGpgAgent(join(work, 'gpg-impostor'));
    // What was built through test mirrors is of no use to anyone: each build's output and work dir go.
    for (const env of builds) {
      const { stdout } = await run(
        'bash',
        [join(root, 'images/build.sh'), '--print-dir', '--source', 'official', VERSION],
        {
          env: { ...process.env, ...env },
        },
      );
      const out = stdout.trim();
      assert.match(
        out,
        /\/node-v[^/]+-official-mirror-[0-9a-f]+-[0-9a-f]+$/,
        'a mirror build has a directory of its own',
      );
      rmSync(out, { recursive: true, force: true });
      rmSync(out.replace(/\/node-(v[^/]+)-(official-mirror-[0-9a-f]+)-[0-9a-f]+$/, '/.work-$1-$2'), {
        recursive: true,
        force: true,
      });
    }
  });

  describe('images/build.sh --source official refuses what it cannot trust', { timeout: 10 * 60_000 }, () => {
    test('a repository signed by another key than the one given: the build stops at apt, naming both', async () => {
      const result = await buildOfficial({ ...mirrorEnv, BREAKFIX_K8S_APT_KEY: impostorKey });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /is not signed by the key .*impostor\.asc/);
      assert.match(result.stderr, new RegExp(mirrors.address.replaceAll('.', '\\.')));
    });

    test('an image its mirror does not have: the build stops, naming the image and the mirror', async () => {
      const result = await buildOfficial({
        ...mirrorEnv,
        BREAKFIX_IMAGE_MIRRORS: `registry.k8s.io=${mirrors.address}/k8s ghcr.io=${mirrors.address}/nowhere`,
      });
      assert.notEqual(result.code, 0);
      assert.match(
        result.stderr,
        /pulling ghcr\.io\/flannel-io\/flannel:\S+ from 127\.0\.0\.1:\d+: .*MANIFEST_UNKNOWN/,
      );
    });
  });

  const image = describeImageContract('official source, through mirrors', async () => {
    const result = await buildOfficial(mirrorEnv);
    assert.equal(result.code, 0, `build.sh --source official failed:\n${result.stdout.slice(-3000)}\n${result.stderr}`);
    return result.stdout.trim().split('\n').at(-1) ?? '';
  });

  describe('the official image holds what upstream ships, where upstream puts it', { timeout: 5 * 60_000 }, () => {
    test('kubeadm, kubelet, kubectl and crictl are the packages’ own files; etcdctl, etcdutl the etcd image’s', async () => {
      for (const tool of ['kubeadm', 'kubelet', 'kubectl', 'crictl', 'etcdctl', 'etcdutl']) {
        const onDisk = await image().dumpFromDisk(`/usr/bin/${tool}`);
        assert.equal(sha(onDisk), sha(upstream[tool] ?? Buffer.alloc(0)), tool);
      }
      assert.equal(image().manifest.source, 'official');
      assert.equal(image().manifest.crictl, 'v1.36.0', 'cri-tools of the release’s minor');
    });

    test('the flannel CNI plugin is the one flannel’s own image carries', async () => {
      assert.equal(sha(await image().dumpFromDisk('/usr/lib/cni/flannel')), sha(upstream.flannel ?? Buffer.alloc(0)));
    });

    test('containerd holds every image by its registry digest, for linux/amd64 only', async () => {
      const content = '/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256';
      for (const ref of image().manifest.images) {
        const digest = digests.get(ref);
        assert.ok(digest, `${ref} was not served by the mirror`);
        assert.ok(await image().existsOnDisk(`${content}/${digest.amd64.slice(7)}`), `${ref}: amd64 manifest`);
        assert.ok(!(await image().existsOnDisk(`${content}/${digest.arm64.slice(7)}`)), `${ref}: the arm64 decoy`);
      }
      // and it fetched them from the mirror, through the tags' indexes
      assert.ok(
        mirrors.requests.some((r) => /^GET \/v2\/k8s\/pause\/manifests\/[^s]/.test(r)),
        'pause by tag',
      );
    });
  });
});
