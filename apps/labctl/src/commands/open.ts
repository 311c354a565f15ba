import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { connect, learnerName } from '../api/connect.js';
import { examples, jsonOption, learnerOption } from '../cli/help.js';

interface OpenOptions {
  learner?: string;
  json?: boolean;
  browser?: boolean;
}

/** The desktop's "open this URL" command; undefined where there is none we know. */
function opener(url: string): [string, string[]] | undefined {
  if (process.platform === 'darwin') return ['open', [url]];
  if (process.platform === 'win32') return ['cmd', ['/c', 'start', '', url]];
  if (process.platform === 'linux') return ['xdg-open', [url]];
  return undefined;
}

export function openCommand(): Command {
  const command = new Command('open')
    .summary("a one-time link to the lab's terminal in a browser")
    .description(
      "Print a one-time link that opens the lab's shell in a browser (no SSH client needed). The link " +
        'works once, within 5 minutes; run this again for another tab or later. --browser also opens it.',
    )
    .argument('[lab]', "the lab's id (default: the lab the learner holds)")
    .addOption(learnerOption())
    .option('--browser', 'open the link in the default browser too')
    .addOption(jsonOption())
    .action(async (lab: string | undefined, options: OpenOptions) => {
      const client = connect();
      const id = lab ?? (await client.learners.currentLab(learnerName(options.learner))).id;
      const link = await client.labs.terminalLink(id);
      if (options.json) process.stdout.write(`${JSON.stringify({ lab: id, ...link }, null, 2)}\n`);
      else process.stdout.write(`${link.url}\n`);
      process.stderr.write(`the link works once, until ${link.expiresAt}\n`);
      const launch = options.browser ? opener(link.url) : undefined;
      if (options.browser && launch === undefined)
        process.stderr.write('no browser launcher here: open the link yourself\n');
      if (launch !== undefined) {
        const child = spawn(launch[0], launch[1], { detached: true, stdio: 'ignore' });
        child.on('error', () => process.stderr.write(`could not run ${launch[0]}: open the link yourself\n`));
        child.unref();
      }
    });
  return examples(command, ['labctl open', 'labctl open --browser', 'labctl open lab-3f2a9c --learner ada --json']);
}
