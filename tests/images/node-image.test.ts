import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeImageContract, root } from './contract.js';

// The image `npm test` builds before the tests (images/build.sh, the `build` source).
describeImageContract('build source', async () => {
  const { stdout } = await promisify(execFile)('bash', [join(root, 'images/build.sh'), '--print-dir']);
  return stdout.trim().split('\n').at(-1) ?? '';
});
