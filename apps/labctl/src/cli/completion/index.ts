/**
 * Shell completion scripts written from labctl's own command tree, so they list exactly the
 * commands, flags and choices that parse. See docs/adr/0017.
 */
export { bashCompletion } from './bash.js';
export { type Completion, completes } from './tree.js';
export { zshCompletion } from './zsh.js';
