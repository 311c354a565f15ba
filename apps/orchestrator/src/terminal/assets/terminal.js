// The browser side of a breakfix terminal: xterm.js wired to the orchestrator's WebSocket.
// Output arrives as binary frames; input and resizes leave as small JSON frames (protocol.ts).
import { FitAddon } from './addon-fit.mjs';
import { WebLinksAddon } from './addon-web-links.mjs';
import { Terminal } from './xterm.mjs';

const CLOSE = { shellExited: 4000, ended: 4001, refused: 4003 };
const body = document.body;
const observer = body.dataset.mode === 'observer';
const statusLine = document.getElementById('status');
const banners = {
  watched: document.getElementById('watched'),
  notice: document.getElementById('notice'),
  ended: document.getElementById('ended'),
};
if (body.dataset.canonical) history.replaceState(null, '', body.dataset.canonical);

const term = new Terminal({
  cursorBlink: !observer,
  disableStdin: observer,
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
  fontSize: 15,
  scrollback: 5000,
  theme: { background: '#1d1f21' },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.loadAddon(new WebLinksAddon());
term.open(document.getElementById('terminal'));
// The size the shell was told, on the page for anyone checking it (`stty size` says the same).
const showSize = () => {
  body.dataset.cols = String(term.cols);
  body.dataset.rows = String(term.rows);
};
term.onResize(showSize);
fit.fit();
showSize();
if (!observer) term.focus();

// Ctrl+Shift+C copies the selection like a desktop terminal (Ctrl+C stays an interrupt). Pasting
// needs nothing here: Ctrl+Shift+V and the context menu's Paste are the browser's own paste, which
// xterm.js takes.
term.attachCustomKeyEventHandler((event) => {
  if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey || event.code !== 'KeyC') return true;
  if (!term.hasSelection()) return true;
  event.preventDefault();
  navigator.clipboard?.writeText(term.getSelection());
  return false;
});

let socket;
let final = false;
let waitingForKey = false;
let attempts = 0;

const status = (text) => {
  statusLine.textContent = text;
};
const show = (name, text) => {
  banners[name].hidden = text === null;
  if (text !== null) banners[name].textContent = text;
};
const send = (frame) => {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
};

function control(message) {
  switch (message.t) {
    case 'status':
      status(message.text);
      break;
    case 'notice':
      show('notice', message.text);
      break;
    case 'watchers':
      show('watched', message.count > 0 ? `An instructor is watching this terminal (read-only).` : null);
      break;
    case 'ended':
      final = true;
      show('ended', message.text);
      term.write(`\r\n\x1b[1;31m${message.text}\x1b[0m\r\n`);
      break;
    case 'reset':
      term.reset();
      break;
    case 'size':
      term.resize(message.cols, message.rows);
      break;
  }
}

function connect() {
  const url = new URL(body.dataset.socket, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('cols', String(term.cols));
  url.searchParams.set('rows', String(term.rows));
  status(attempts === 0 ? 'connecting…' : `reconnecting (attempt ${attempts + 1})…`);
  socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  socket.onmessage = (event) => {
    if (typeof event.data === 'string') control(JSON.parse(event.data));
    else term.write(new Uint8Array(event.data));
  };
  socket.onopen = () => {
    attempts = 0;
  };
  socket.onclose = (event) => {
    if (final || event.code === CLOSE.ended) {
      final = true;
      status('lab ended');
      term.options.disableStdin = true;
      return;
    }
    if (event.code === CLOSE.refused) {
      final = true;
      status('refused');
      show('ended', event.reason || 'This terminal was refused.');
      return;
    }
    if (event.code === CLOSE.shellExited && !observer) {
      waitingForKey = true;
      status('shell exited');
      term.write('\r\n[the shell exited: press any key for a new one]\r\n');
      return;
    }
    attempts += 1;
    const delay = Math.min(10_000, 500 * 2 ** Math.min(attempts - 1, 5));
    status(`connection lost, reconnecting in ${Math.round(delay / 1000)} s…`);
    term.write('\r\n[connection lost: reconnecting to a fresh shell]\r\n');
    setTimeout(connect, delay);
  };
}

if (!observer) {
  term.onData((data) => {
    if (waitingForKey) {
      waitingForKey = false;
      connect();
      return;
    }
    // Frames are capped at 64 KiB: a big paste goes in pieces (8192 characters stay under the cap
    // even when JSON escapes every one of them).
    for (let at = 0; at < data.length; ) {
      let end = Math.min(data.length, at + 8192);
      const code = data.charCodeAt(end - 1);
      if (end < data.length && code >= 0xd800 && code <= 0xdbff) end -= 1; // keep surrogate pairs whole
      send({ t: 'i', d: data.slice(at, end) });
      at = end;
    }
  });
  term.onResize(({ cols, rows }) => send({ t: 'r', cols, rows }));
}
// An observer's terminal keeps the learner's size (the 'size' message), not its window's.
if (!observer) window.addEventListener('resize', () => fit.fit());
connect();
