import type { CheckResult, ClaimResult, Hint, Lab, ScenarioSummary, TerminalLink } from '@breakfix/client';
import { ApiError } from '@breakfix/client';
import type { KnownBlock } from '@slack/types';

/** A Slack message: `text` is the notification and screen-reader fallback, `blocks` what is shown. */
export interface Message {
  text: string;
  blocks?: KnownBlock[];
}

const section = (text: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });
const context = (text: string): KnownBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] });

export const ACTIONS = {
  start: 'breakfix_start',
  check: 'breakfix_check',
  hint: 'breakfix_hint',
  extend: 'breakfix_extend',
  stop: 'breakfix_stop',
  open: 'breakfix_open',
  /** The link button of a terminal link message (Slack opens the URL; the click is only acknowledged). */
  openLink: 'breakfix_open_link',
} as const;

export const HELP: Message = {
  text: 'breakfix: real Kubernetes clusters to fix',
  blocks: [
    section(
      [
        '*breakfix* hands you a real, broken kubeadm cluster to fix over SSH.',
        '`/lab list` — the scenarios',
        '`/lab start <scenario>` — get a lab (I DM you the SSH command)',
        '`/lab status` — your lab and its time left',
        '`/lab check` — is it fixed? I tell you what is still wrong',
        '`/lab open` — your lab in the browser (no SSH client needed)',
        '`/lab hint` — the next hint',
        '`/lab extend` — more time',
        '`/lab stop` — give the lab back',
        '`/lab key <public key>` — use your own SSH key for every lab',
      ].join('\n'),
    ),
  ],
};

/** Minutes left, rounded down, in words. */
export function timeLeft(secondsLeft: number | null): string {
  if (secondsLeft === null) return 'no time limit';
  const minutes = Math.max(0, Math.floor(secondsLeft / 60));
  return minutes === 1 ? '1 minute left' : `${minutes} minutes left`;
}

export function catalog(scenarios: readonly ScenarioSummary[]): Message {
  if (scenarios.length === 0) return { text: 'The catalog is empty.' };
  const lines = scenarios.map((s) => `• *${s.title}* — \`${s.id}\` · ${s.difficulty} · ${s.timeLimitMinutes} min`);
  return {
    text: `${scenarios.length} scenarios`,
    blocks: [section(lines.join('\n')), context('Start one with `/lab start <id>`')],
  };
}

/** The buttons under a lab card. */
function labButtons(labId: string): KnownBlock {
  const button = (text: string, action: string, style?: 'primary' | 'danger') => ({
    type: 'button' as const,
    text: { type: 'plain_text' as const, text },
    action_id: action,
    value: labId,
    ...(style === undefined ? {} : { style }),
  });
  return {
    type: 'actions',
    elements: [
      button('Check', ACTIONS.check, 'primary'),
      button('Open in browser', ACTIONS.open),
      button('Hint', ACTIONS.hint),
      button('Extend', ACTIONS.extend),
      button('Stop', ACTIONS.stop, 'danger'),
    ],
  };
}

export function claiming(scenario: string): Message {
  return {
    text: `Getting a lab for ${scenario}…`,
    blocks: [section(`:hourglass_flowing_sand: Claiming a warm lab for *${scenario}* and applying the scenario…`)],
  };
}

export function queued(scenario: string, position: number | undefined, provisioning: number | undefined): Message {
  const where = position === undefined ? 'in the queue' : `number *${position}* in the queue`;
  const booting = provisioning ? ` (${provisioning} booting now)` : '';
  return {
    text: `All labs for ${scenario} are taken; you are ${where}`,
    blocks: [
      section(
        `:busstop: All labs for *${scenario}* are in use; you are ${where}${booting}. I will DM you as soon as yours is ready.`,
      ),
    ],
  };
}

/** The ready message, sent in a DM only: it may carry a private key. */
export function ready(result: ClaimResult, title: string): Message {
  const { lab, connection } = result;
  const keyFile = `breakfix-${lab.id}.key`;
  const steps: string[] = [];
  if (connection.privateKey !== undefined) {
    steps.push(
      `Save this private key as \`${keyFile}\` and \`chmod 600 ${keyFile}\` (it works only for this lab and is not shown again; register your own with \`/lab key\`):\n\`\`\`${connection.privateKey.trim()}\`\`\``,
    );
  }
  steps.push(`Save this line as \`breakfix-${lab.id}.known_hosts\`:\n\`\`\`${connection.knownHosts}\`\`\``);
  steps.push(`Then connect:\n\`\`\`${connection.command}\`\`\``);
  return {
    text: `Your lab for ${title} is ready`,
    blocks: [
      section(`:white_check_mark: Your lab for *${title}* is ready (${timeLeft(lab.secondsLeft)}).`),
      ...steps.map(section),
      labButtons(lab.id),
    ],
  };
}

export function labCard(lab: Lab): Message {
  const lines = [
    `*${lab.scenario ?? 'lab'}* — \`${lab.id}\` · ${lab.state} · ${timeLeft(lab.secondsLeft)}`,
    `Hints used: ${lab.hintsRevealed}/${lab.hintsTotal}`,
  ];
  if (lab.connection !== null)
    lines.push(`\`ssh -p ${lab.connection.port} ${lab.connection.user}@${lab.connection.host}\``);
  if (lab.attention !== null) {
    lines.push(
      ':warning: breakfix lost touch with this lab and has told its operators; `/lab stop` and start a new one if it does not answer.',
    );
  }
  return {
    text: `Your lab ${lab.id}: ${timeLeft(lab.secondsLeft)}`,
    blocks: [section(lines.join('\n')), labButtons(lab.id)],
  };
}

/** A fresh one-time link to the lab's browser terminal, for a DM or an ephemeral answer only. */
export function terminalLink(labId: string, link: TerminalLink, now = Date.now()): Message {
  const minutes = Math.max(1, Math.round((Date.parse(link.expiresAt) - now) / 60_000));
  return {
    text: `Open lab ${labId} in your browser: ${link.url}`,
    blocks: [
      section(
        `:computer: Lab \`${labId}\` in your browser. The link works once, within ${minutes} minutes; for another tab or later, \`/lab open\` again.`,
      ),
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open terminal' },
            url: link.url,
            action_id: ACTIONS.openLink,
            style: 'primary',
          },
        ],
      },
    ],
  };
}

export function checked(result: CheckResult): Message {
  if (result.solved)
    return {
      text: 'Solved! :tada:',
      blocks: [section(':tada: *Solved!* The cluster is healthy again. `/lab stop` when you are done.')],
    };
  const feedback = result.feedback.length === 0 ? ['the check failed without saying why'] : result.feedback;
  return {
    text: `Not yet: ${feedback[0]}`,
    blocks: [section(`:x: *Not fixed yet:*\n${feedback.map((line) => `• ${line}`).join('\n')}`)],
  };
}

export function hint(h: Hint): Message {
  return {
    text: `Hint ${h.index}/${h.total}: ${h.hint}`,
    blocks: [section(`:bulb: *Hint ${h.index}/${h.total}:* ${h.hint}`)],
  };
}

export function expiringSoon(lab: Lab): Message {
  return {
    text: `Your lab ${lab.id} expires soon (${timeLeft(lab.secondsLeft)})`,
    blocks: [
      section(`:alarm_clock: Your lab \`${lab.id}\` expires soon: ${timeLeft(lab.secondsLeft)}.`),
      labButtons(lab.id),
    ],
  };
}

/** `how`: the API's words for how it ended (e.g. "released after 30 minutes without activity"). */
export function ended(labId: string, how?: string): Message {
  const why = how === undefined || how === '' ? 'it expired or was released' : how;
  return {
    text: `Your lab ${labId} has ended: ${why}`,
    blocks: [section(`:checkered_flag: Your lab \`${labId}\` has ended: ${why}. \`/lab start\` gives you a new one.`)],
  };
}

/** The lab has been idle: it goes in `minutes` unless the learner uses or extends it. */
export function idleWarning(lab: Lab, minutes: number): Message {
  const when = `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return {
    text: `Your lab ${lab.id} looks idle: it will be released in ${when}`,
    blocks: [
      section(
        `:zzz: Your lab \`${lab.id}\` has seen no activity for a while: it will be released in ${when} unless you use it (an SSH session or the browser terminal) or extend it.`,
      ),
      labButtons(lab.id),
    ],
  };
}

/** The learner came back after an idle warning: it is withdrawn. */
export function idleReset(lab: Lab): Message {
  return { text: `Still there: carrying on. Your lab ${lab.id} stays (${timeLeft(lab.secondsLeft)}).` };
}

export const plain = (text: string): Message => ({ text });

/**
 * The one place an error becomes words for a learner: short, what happened and what to do,
 * never a stack trace.
 */
export function describeError(error: unknown): Message {
  if (error instanceof ApiError) {
    switch (error.code) {
      case 'not_found':
        return plain(`:mag: ${error.detail}${error.hint ? ` — ${error.hint}` : ''}`);
      case 'conflict':
        return plain(
          error.labId === undefined
            ? `:no_entry: ${error.detail}`
            : `:no_entry: You already have lab \`${error.labId}\`. Use \`/lab status\`, or \`/lab stop\` it first.`,
        );
      case 'rate_limited':
        return plain(':turtle: Slow down a little, please — try again in a few seconds.');
      case 'invalid_input':
        return plain(`:warning: ${error.detail}${error.hint ? ` — ${error.hint}` : ''}`);
      case 'pool_exhausted':
        return plain(`:busstop: No lab free right now; you are number ${error.queuePosition ?? '?'} in the queue.`);
      default:
        return plain(`:boom: breakfix could not do that (${error.code}): ${error.title}. Try again in a minute.`);
    }
  }
  return plain(':boom: Something went wrong talking to breakfix. Try again in a minute.');
}
