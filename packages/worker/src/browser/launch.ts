/**
 * Argument carried by every Chromium this worker launches, so its orphans can be found by the
 * next worker on the folder. The token (random per worker, kept in the folder's lock file) makes
 * it this worker's alone: a process of anyone else that names the folder is never matched.
 */
export function markerArg(sessionsDir: string, token: string): string {
  return `--wa-worker-sessions=${sessionsDir}#${token}`;
}

/**
 * The worker's own Chromium flags. Memory/CPU savers: one renderer, no extensions, audio,
 * background networking or optional features a headless WhatsApp page never needs.
 */
export function browserArgs(options: {
  /** {@link markerArg} of this worker. */
  marker: string;
  extraArgs: readonly string[];
  /** Chromium's own sandbox on (`browser/sandbox.ts` decides). */
  sandbox: boolean;
}): string[] {
  return [
    ...(options.sandbox || options.extraArgs.includes('--no-sandbox') ? [] : ['--no-sandbox']),
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-extensions',
    '--disable-component-update',
    '--disable-default-apps',
    '--disable-sync',
    '--mute-audio',
    '--no-first-run',
    '--no-default-browser-check',
    '--renderer-process-limit=1',
    // No GPU work at all (no SwiftShader fallback, no WebGL), no images: measured about 8% less
    // browser CPU per restore and 10 MiB less private memory per session (npm run bench:worker).
    '--disable-software-rasterizer',
    '--disable-3d-apis',
    '--disable-webgl',
    '--blink-settings=imagesEnabled=false',
    '--disable-field-trial-config',
    // GPU work (none, see above) on a thread of the browser process instead of a process of its own.
    '--in-process-gpu',
    // WebUIOmniboxPopup / WebUIOmniboxAimPopup: a headless Chrome (new headless) still preloads the
    // omnibox popups in a second renderer; that renderer alone cost about half of each launch's CPU
    // (0.95 -> 0.43 CPU-s for a small page, 8 -> 7 processes).
    '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,InterestFeedContentSuggestions,CalculateNativeWinOcclusion,BackForwardCache,WebUIOmniboxPopup,WebUIOmniboxAimPopup',
    options.marker,
    ...options.extraArgs,
  ];
}

/** Puppeteer launch options (whatsapp-web.js passes them through). */
export interface PuppeteerLaunchOptions {
  executablePath: string;
  headless: boolean | 'shell';
  pipe: boolean;
  args: string[];
  handleSIGINT: boolean;
  handleSIGTERM: boolean;
  handleSIGHUP: boolean;
  protocolTimeout: number;
  env: Record<string, string>;
}

/**
 * What of the worker's environment a browser may see: where it lives (`HOME`, `PATH`, temp
 * folders), its locale and time zone, display and font settings. Never the worker's secrets (API
 * key, webhook secret, a `DATABASE_URL` from a shared env file): a renderer is the part most
 * exposed to what a page does.
 */
const BROWSER_ENV = /^(HOME|PATH|USER|LOGNAME|SHELL|TMPDIR|TZ|LANG|LANGUAGE|LC_[A-Z_]+|DISPLAY|WAYLAND_DISPLAY|XDG_[A-Z_]+|FONTCONFIG_[A-Z_]+|DBUS_SESSION_BUS_ADDRESS)$/;

export function browserEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && BROWSER_ENV.test(name)) kept[name] = value;
  }
  return kept;
}

export function puppeteerOptions(options: {
  executablePath: string;
  /** `'shell'`: a headless shell (old headless mode); `true`: new headless mode. */
  headless: boolean | 'shell';
  /** What the browser needs beyond the scrubbed environment (the bundled one's libraries). */
  env?: Record<string, string>;
  /** {@link markerArg} of this worker. */
  marker: string;
  extraArgs: readonly string[];
  /** Chromium's own sandbox on (`browser/sandbox.ts` decides). */
  sandbox: boolean;
}): PuppeteerLaunchOptions {
  return {
    executablePath: options.executablePath,
    headless: options.headless,
    // With a pipe, Chromium exits by itself when the worker dies (even on SIGKILL).
    pipe: true,
    args: browserArgs(options),
    // The worker owns its signals: it destroys clients itself, within a bound.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    protocolTimeout: 60_000,
    env: { ...browserEnv(), ...options.env },
  };
}
