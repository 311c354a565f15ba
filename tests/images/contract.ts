import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The contract of the golden node image (images/README.md), whichever source built it, checked on
// the built disk itself:
// files are read straight from the ext4 partition with debugfs, from the EFI system partition with
// mtools, and binaries run on this host, so the test needs no boot and no mount. What only a
// running node shows (containerd's image store, cloud-init's run) is checked by the real-boot
// tests in tests/real-labs/ and packages/qemu/test/boot.test.ts (UEFI boot to SSH).

const run = promisify(execFile);
export const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ImageManifest {
  kubernetesVersion: string;
  source: string;
  crictl: string;
  containerd: string;
  pauseImage: string;
  images: string[];
  disk: string;
  kernelFile: string;
  initrdFile: string;
  cmdline: string;
  uki: string;
  qcow2: string;
  containerDisk: { archive: string; format: string; ref: string; digest: string; archiveSha256: string; disk: string };
}

interface Partition {
  start: number;
  size: number;
  type: string;
  name?: string;
}

const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const LINUX_FS_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

/** A built image opened for reading: files straight from its disk, no mount, no boot. */
export interface OpenImage {
  dir: string;
  manifest: ImageManifest;
  partitions: Partition[];
  /** The root file system as e2fsprogs opens a file system inside a disk file: `disk.raw?offset=N`. */
  rootFs: string;
  /** The EFI system partition as mtools opens it: `disk.raw@@N`. */
  esp: string;
  debugfs(request: string): Promise<string>;
  readFromDisk(path: string): Promise<string>;
  existsOnDisk(path: string): Promise<boolean>;
  /** A file's bytes, straight from the root file system. */
  dumpFromDisk(path: string): Promise<Buffer>;
  /** Copies a binary out of the image and runs it on this host (same architecture, older glibc). */
  runFromDisk(path: string, args: string[]): Promise<string>;
}

/** Opens the image in `dir`, using `work` for the files it copies out. */
export async function openImage(dir: string, work: string): Promise<OpenImage> {
  const file = join(dir, 'manifest.json');
  assert.ok(existsSync(file), `no node image at ${dir}: build it with \`bash images/build.sh\` (npm test does)`);
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as ImageManifest;
  const table = await run('sfdisk', ['--json', join(dir, manifest.disk)]);
  const partitions = (JSON.parse(table.stdout) as { partitiontable: { partitions: Partition[] } }).partitiontable
    .partitions;
  const offset = (type: string) => 512 * (partitions.find((p) => p.type === type)?.start ?? 0);
  const rootFs = `${join(dir, manifest.disk)}?offset=${offset(LINUX_FS_TYPE)}`;
  const esp = `${join(dir, manifest.disk)}@@${offset(ESP_TYPE)}`;
  let dumps = 0;
  const dumpToFile = async (path: string) => {
    const out = join(work, `${++dumps}${path.replaceAll('/', '_')}`);
    await run('debugfs', ['-R', `dump -p ${path} ${out}`, rootFs]);
    return out;
  };
  const debugfs = async (request: string) =>
    (await run('debugfs', ['-R', request, rootFs], { maxBuffer: 64 << 20 })).stdout;
  return {
    dir,
    manifest,
    partitions,
    rootFs,
    esp,
    debugfs,
    readFromDisk: (path) => debugfs(`cat ${path}`),
    existsOnDisk: async (path) => !/File not found/.test((await run('debugfs', ['-R', `stat ${path}`, rootFs])).stderr),
    dumpFromDisk: async (path) => readFileSync(await dumpToFile(path)),
    runFromDisk: async (path, args) => (await run(await dumpToFile(path), args)).stdout.trim(),
  };
}

/**
 * Checks the image in the directory `imageDir` resolves to against the contract, as its own
 * describe block. Returns the opened image (after the block's `before`) for tests that check more.
 */
export function describeImageContract(label: string, imageDir: () => Promise<string>): () => OpenImage {
  const work = mkdtempSync(join(tmpdir(), 'breakfix-image-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  let image: OpenImage | undefined;
  let dir = '';
  let manifest: ImageManifest;
  let partitions: Partition[] = [];
  let esp = '';
  const debugfs = (request: string) => opened().debugfs(request);
  const readFromDisk = (path: string) => opened().readFromDisk(path);
  const existsOnDisk = (path: string) => opened().existsOnDisk(path);
  const runFromDisk = (path: string, args: string[]) => opened().runFromDisk(path, args);
  function opened(): OpenImage {
    assert.ok(image, 'the image was not opened (its before hook failed)');
    return image;
  }
  /** What blkid finds at a byte offset of the disk (TYPE, LABEL, ...). */
  async function probe(offset: number): Promise<Record<string, string>> {
    const { stdout } = await run('blkid', ['-p', '-O', String(offset), '-o', 'export', join(dir, manifest.disk)]);
    return Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.split('=', 2) as [string, string]),
    );
  }

  describe(`the golden node image (${label}) fulfils its contract`, { timeout: 15 * 60_000 }, () => {
    // Inside the block: hooks at the top level of a file run before every block of it.
    before(async () => {
      image = await openImage(await imageDir(), work);
      ({ dir, manifest, partitions, esp } = image);
    });
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

    test('etcdctl and etcdutl are the etcd release kubeadm runs', async () => {
      const etcdImage = manifest.images.find((ref) => ref.startsWith('registry.k8s.io/etcd:'));
      const etcdVersion = etcdImage?.split(':')[1]?.replace(/^v/, '').replace(/-\d+$/, '');
      assert.ok(etcdVersion, `no etcd image in ${JSON.stringify(manifest.images)}`);
      assert.match(
        await runFromDisk('/usr/bin/etcdctl', ['version']),
        new RegExp(`^etcdctl version: ${etcdVersion}$`, 'm'),
      );
      assert.match(
        await runFromDisk('/usr/bin/etcdutl', ['version']),
        new RegExp(`^etcdutl version: ${etcdVersion}$`, 'm'),
      );
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

    test('the CNI: plugins in /opt/cni/bin, flannel and NetworkPolicy manifests whose images are baked in', async () => {
      for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap', 'flannel']) {
        assert.ok(await existsOnDisk(`/usr/lib/cni/${plugin}`), `CNI plugin ${plugin}`);
        assert.ok(await existsOnDisk(`/opt/cni/bin/${plugin}`), `/opt/cni/bin/${plugin}`);
      }
      for (const file of ['flannel.yaml', 'network-policy.yaml']) {
        const text = await readFromDisk(`/opt/breakfix/cni/${file}`);
        const images = [...text.matchAll(/image: (\S+)/g)].map((m) => m[1] ?? '');
        assert.ok(images.length > 0, `${file} names no image`);
        for (const image of images)
          assert.ok(manifest.images.includes(image), `${file} uses ${image}, not in the image`);
      }
      assert.match(await readFromDisk('/opt/breakfix/cni/flannel.yaml'), /"Type": "vxlan"/);
      assert.match(await readFromDisk('/opt/breakfix/cni/network-policy.yaml'), /kube-network-policies/);
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

    test('a GPT disk: an EFI system partition (FAT) and the ext4 root labelled root', async () => {
      const table = JSON.parse((await run('sfdisk', ['--json', join(dir, manifest.disk)])).stdout) as {
        partitiontable: { label: string };
      };
      assert.equal(table.partitiontable.label, 'gpt');
      assert.deepEqual(
        partitions.map((p) => [p.name, p.type]),
        [
          ['esp', ESP_TYPE],
          ['root', LINUX_FS_TYPE],
        ],
      );
      const [espPartition, rootPartition] = partitions;
      assert.ok(espPartition && rootPartition);
      assert.equal((await probe(espPartition.start * 512)).TYPE, 'vfat');
      const rootProbe = await probe(rootPartition.start * 512);
      assert.equal(rootProbe.TYPE, 'ext4');
      assert.equal(rootProbe.LABEL, 'root');
      assert.match(manifest.cmdline, /(^| )root=LABEL=root( |$)/);
    });

    test('firmware boots it: the unified kernel image at \\EFI\\BOOT\\BOOTX64.EFI is the kernel, initrd and command line', async () => {
      // Given the UKI copied off the FAT with mtools (no mount)
      assert.equal(manifest.uki, '/EFI/BOOT/BOOTX64.EFI');
      const uki = join(work, 'BOOTX64.EFI');
      await run('mcopy', ['-n', '-i', esp, `::${manifest.uki}`, uki], {
        env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
      });
      // Then it is a PE image with systemd-stub's sections, each the image's own file
      const { stdout: headers } = await run('objdump', ['-h', uki]);
      assert.match(headers, /file format pei-x86-64/);
      const section = async (name: string) => {
        const out = join(work, `section${name}`);
        await run('objcopy', ['--dump-section', `${name}=${out}`, uki, join(work, 'scratch.efi')]);
        return readFileSync(out);
      };
      assert.ok((await section('.linux')).equals(readFileSync(join(dir, manifest.kernelFile))), '.linux is vmlinuz');
      assert.ok(
        (await section('.initrd')).equals(readFileSync(join(dir, manifest.initrdFile))),
        '.initrd is initrd.img',
      );
      assert.equal((await section('.cmdline')).toString('utf8').replace(/\0+$/, '').trim(), manifest.cmdline);
      assert.match((await section('.osrel')).toString('utf8'), /^VERSION_ID="13"$/m);
      // And direct kernel boot stays possible with the same files
      assert.equal(readFileSync(join(dir, 'cmdline'), 'utf8').trim(), manifest.cmdline);
    });

    test('the containerDisk: an OCI archive whose one layer holds /disk/disk.qcow2 owned by 107:107', {
      timeout: 10 * 60_000,
    }, async () => {
      const archive = join(dir, manifest.containerDisk.archive);
      // Given the qcow2 beside the raw disk, the same 12 GiB disk
      const qcow2 = JSON.parse(
        (await run('qemu-img', ['info', '--output=json', join(dir, manifest.qcow2)])).stdout,
      ) as {
        format: string;
        'virtual-size': number;
      };
      assert.equal(qcow2.format, 'qcow2');
      assert.equal(qcow2['virtual-size'], statSync(join(dir, manifest.disk)).size);
      // Then the archive is an OCI layout whose index names the recorded digest
      assert.equal(manifest.containerDisk.format, 'oci-archive');
      const untar = async (member: string) =>
        (await run('tar', ['-xOf', archive, member], { maxBuffer: 16 << 20, encoding: 'utf8' })).stdout;
      const index = JSON.parse(await untar('index.json')) as {
        manifests: { digest: string; annotations: Record<string, string> }[];
      };
      assert.equal(index.manifests.length, 1);
      assert.equal(index.manifests[0]?.digest, manifest.containerDisk.digest);
      assert.equal(index.manifests[0]?.annotations['io.containerd.image.name'], manifest.containerDisk.ref);
      const blob = (digest: string) => `blobs/sha256/${digest.replace('sha256:', '')}`;
      const image = JSON.parse(await untar(blob(manifest.containerDisk.digest))) as { layers: { digest: string }[] };
      assert.equal(image.layers.length, 1, 'one layer');
      // And that layer holds the disk where KubeVirt looks, readable by its qemu user 107
      const { stdout: listing } = await run('sh', [
        '-c',
        `tar -xOf "$0" "$1" | tar --numeric-owner -tvzf -`,
        archive,
        blob(image.layers[0]?.digest ?? ''),
      ]);
      const entries = listing
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/))
        .map(([mode, owner, size, , , path]) => ({ mode, owner, size: Number(size), path }));
      assert.deepEqual(
        entries.map(({ mode, owner, path }) => [path, mode, owner]),
        [
          ['disk/', 'drwxr-xr-x', '107/107'],
          ['disk/disk.qcow2', '-r--r-----', '107/107'],
        ],
      );
      assert.equal(entries[1]?.size, statSync(join(dir, manifest.qcow2)).size, 'the qcow2 beside it');
      // And skopeo, which pushes it to a registry, reads it and sees the same digest
      const inspected = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${archive}`])).stdout) as {
        Digest: string;
      };
      assert.equal(inspected.Digest, manifest.containerDisk.digest);
      const { stdout: sum } = await run('sha256sum', [archive]);
      assert.equal(sum.split(' ')[0], manifest.containerDisk.archiveSha256);
    });
  });

  return opened;
}
