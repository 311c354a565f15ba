import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The contract of the golden node image (images/README.md), checked on the built disk itself:
// files are read straight from the ext4 image with debugfs and binaries run on this host, so the
// test needs no boot and no mount. What only a running node shows (containerd's image store,
// cloud-init's run) is checked by the real-boot tests in tests/real-labs/.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'breakfix-image-'));

interface ImageManifest {
  kubernetesVersion: string;
  containerd: string;
  pauseImage: string;
  images: string[];
  disk: string;
  kernelFile: string;
  initrdFile: string;
  cmdline: string;
}

let dir = '';
let manifest: ImageManifest;

async function debugfs(request: string): Promise<string> {
  const { stdout } = await run('debugfs', ['-R', request, join(dir, manifest.disk)], { maxBuffer: 64 << 20 });
  return stdout;
}
async function readFromDisk(path: string): Promise<string> {
  return debugfs(`cat ${path}`);
}
async function existsOnDisk(path: string): Promise<boolean> {
  const { stderr } = await run('debugfs', ['-R', `stat ${path}`, join(dir, manifest.disk)]);
  return !/File not found/.test(stderr);
}
/** Copies a binary out of the image and runs it on this host (same architecture, older glibc). */
async function runFromDisk(path: string, args: string[]): Promise<string> {
  const out = join(work, path.replaceAll('/', '_'));
  await run('debugfs', ['-R', `dump -p ${path} ${out}`, join(dir, manifest.disk)]);
  const { stdout } = await run(out, args);
  return stdout.trim();
}

before(async () => {
  const { stdout } = await run('bash', [join(root, 'images/build.sh'), '--print-dir']);
  dir = stdout.trim().split('\n').at(-1) ?? '';
  const file = join(dir, 'manifest.json');
  assert.ok(existsSync(file), `no node image at ${dir}: build it with \`bash images/build.sh\` (npm test does)`);
  manifest = JSON.parse(readFileSync(file, 'utf8')) as ImageManifest;
});

describe('the golden node image fulfils its contract', { timeout: 120_000 }, () => {
  test('kubeadm, kubelet, kubectl and crictl are exactly the catalog release', async () => {
    const version = manifest.kubernetesVersion;
    assert.equal(await runFromDisk('/usr/bin/kubeadm', ['version', '-o', 'short']), version);
    assert.equal(await runFromDisk('/usr/bin/kubelet', ['--version']), `Kubernetes ${version}`);
    assert.match(
      await runFromDisk('/usr/bin/kubectl', ['version', '--client']),
      new RegExp(`Client Version: ${version}`),
    );
    assert.match(await runFromDisk('/usr/bin/crictl', ['--version']), /crictl version v1\./);
    assert.equal((await readFromDisk('/var/lib/breakfix/image-version')).trim(), version);
  });

  test('every image kubeadm names is baked in, and containerd sandboxes pods with kubeadm’s pause', async () => {
    const kubeadmImages = (
      await runFromDisk('/usr/bin/kubeadm', [
        'config',
        'images',
        'list',
        '--kubernetes-version',
        manifest.kubernetesVersion,
      ])
    ).split('\n');
    for (const image of kubeadmImages) assert.ok(manifest.images.includes(image), `${image} is not in the image`);
    const pause = kubeadmImages.find((image) => image.includes('/pause:'));
    assert.equal(manifest.pauseImage, pause);
    const containerd = await readFromDisk('/etc/containerd/config.toml');
    assert.match(containerd, new RegExp(`sandbox_image = "${pause?.replaceAll('.', '\\.')}"`));
    assert.match(containerd, /SystemdCgroup = true/);
    assert.match(containerd, /bin_dir = "\/opt\/cni\/bin"/);
    // containerd's content store holds the layers (the import wrote them at build time)
    assert.ok(await existsOnDisk('/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256'));
  });

  test('the CNI: plugins in /opt/cni/bin and a flannel manifest whose image is baked in', async () => {
    for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap', 'flannel']) {
      assert.ok(await existsOnDisk(`/usr/lib/cni/${plugin}`), `CNI plugin ${plugin}`);
      assert.ok(await existsOnDisk(`/opt/cni/bin/${plugin}`), `/opt/cni/bin/${plugin}`);
    }
    const flannel = await readFromDisk('/opt/breakfix/cni/flannel.yaml');
    const images = [...flannel.matchAll(/image: (\S+)/g)].map((m) => m[1] ?? '');
    assert.ok(images.length > 0);
    for (const image of images) assert.ok(manifest.images.includes(image), `flannel uses ${image}, not in the image`);
    assert.match(flannel, /"Type": "vxlan"/);
  });

  test('a first boot: empty machine-id, no host keys, no cloud-init state, root locked, NoCloud only', async () => {
    assert.equal(await readFromDisk('/etc/machine-id'), '');
    const ssh = await debugfs('ls -l /etc/ssh');
    assert.doesNotMatch(ssh, /ssh_host_/);
    assert.ok(!(await existsOnDisk('/var/lib/cloud/instance')), 'cloud-init ran during the build');
    assert.match(await readFromDisk('/etc/shadow'), /^root:[!*]/m);
    assert.match(await readFromDisk('/etc/cloud/cloud.cfg.d/90-breakfix.cfg'), /datasource_list: \[NoCloud, None\]/);
    // cloud-init grows the root file system to the disk KubeVirt gives; it needs resize2fs for that
    assert.ok(await existsOnDisk('/usr/sbin/resize2fs'), 'resize2fs (e2fsprogs) for cloud-init resizefs');
  });

  test('boots directly: kernel, initrd and a root file system labelled root', async () => {
    assert.ok(existsSync(join(dir, manifest.kernelFile)) && existsSync(join(dir, manifest.initrdFile)));
    assert.match(manifest.cmdline, /root=LABEL=root/);
    const { stdout } = await run('blkid', ['-o', 'export', join(dir, manifest.disk)]);
    assert.match(stdout, /LABEL=root/);
    assert.match(stdout, /TYPE=ext4/);
  });
});
