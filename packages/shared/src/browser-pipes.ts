import type { ChildProcess } from 'node:child_process';

const guarded = new WeakSet<ChildProcess>();

/**
 * Keeps a dead Chromium's pipes from crashing Node.
 *
 * With `pipe: true`, puppeteer 24 removes its own `error` listeners from the CDP pipes when the
 * connection closes, yet a page binding that was already queued still writes to them. When the
 * browser has exited (whatsapp-web.js closes it by itself on CONFLICT), that write fails with
 * EPIPE / ECONNRESET as an `error` event nobody listens to, which Node turns into an uncaught
 * exception. A permanent listener on every stdio stream of the browser process makes those late
 * errors harmless; the connection's own close handling still reports the browser's death.
 */
export function silenceLateBrowserPipeErrors(browserProcess: ChildProcess | null | undefined): void {
  if (!browserProcess || guarded.has(browserProcess)) return;
  guarded.add(browserProcess);
  for (const stream of browserProcess.stdio) {
    stream?.on('error', ignoreLatePipeError);
  }
}

function ignoreLatePipeError(): void {
  // intentionally empty: see silenceLateBrowserPipeErrors
}
