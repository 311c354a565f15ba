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

/** A hint from a details block: the summary as a lead-in, then the body. */
export function hintText(block: DetailsBlock): string {
  return block.summary === '' ? block.body : `${block.summary}: ${block.body}`;
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
