/** Markdown helpers shared by the importers. */

export interface DetailsBlock {
  summary: string;
  body: string;
}

const DETAILS = /<details>\s*(?:<summary>([\s\S]*?)<\/summary>)?([\s\S]*?)<\/details>/gi;

/** `<details>` blocks (Killercoda's and Instruqt's way to hide hints and solutions), in order. */
export function detailsBlocks(markdown: string): DetailsBlock[] {
  return [...markdown.matchAll(DETAILS)].map((match) => ({
    summary: stripTags(match[1] ?? '').trim(),
    body: match[2]?.trim() ?? '',
  }));
}

/** The markdown without its `<details>` blocks, which become hints instead. */
export function withoutDetails(markdown: string): string {
  return markdown
    .replace(DETAILS, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * A hint from a details block: the summary as a lead-in, then the body as a learner reads it in
 * Slack, which does not reflow text: paragraphs joined into one line each, the source platform's
 * click-to-run markers (`{{exec}}`, `{{copy}}`) dropped, and a code fence on a line of its own.
 */
export function hintText(block: DetailsBlock): string {
  const body = unwrapParagraphs(block.body.replace(/\{\{(?:exec|copy)[^}]*\}\}/g, ''));
  if (block.summary === '') return body;
  return body.startsWith('```') ? `${block.summary}:\n${body}` : `${block.summary}: ${body}`;
}

/** Joins the soft-wrapped lines of each paragraph; code fences, lists and headings keep their lines. */
function unwrapParagraphs(markdown: string): string {
  const out: string[] = [];
  let inFence = false;
  let joinable = false;
  for (const line of markdown.split('\n')) {
    const fence = line.trimStart().startsWith('```');
    if (fence) inFence = !inFence;
    const prose = !fence && !inFence && line.trim() !== '' && !/^\s*([-*+]|\d+\.|#+)\s/.test(line);
    if (prose && joinable) out[out.length - 1] = `${out[out.length - 1]} ${line.trim()}`;
    else out.push(fence || inFence ? line : line.trimEnd());
    joinable = prose || (!fence && !inFence && /^\s*([-*+]|\d+\.)\s/.test(line));
  }
  return out.join('\n').trim();
}

/** Is this block the solution rather than a hint? */
export function isSolution(block: DetailsBlock): boolean {
  return /solution|answer|solve/i.test(block.summary);
}

/** The shell code of fenced blocks (```bash, ```sh, ```plain with `{{exec}}` ...), in order. */
export function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```[a-z]*\n([\s\S]*?)```(\{\{[^}]*\}\})?/gi)].map((m) => m[1]?.trimEnd() ?? '');
}

function stripTags(text: string): string {
  return text.replace(/<[^>]+>/g, '');
}

/** Drops a script's shebang so it can be embedded in another. */
export function scriptBody(script: string): string {
  return script.replace(/^#![^\n]*\n/, '').trim();
}
