import { browserArgs, browserEnv, markerArg } from './launch';

describe('browser arguments', () => {
  it('launches Chromium with the orphan marker and the extra arguments last', () => {
    const args = browserArgs({ marker: markerArg('/srv/s', 'ab12'), extraArgs: ['--x'], sandbox: false });
    expect(args[0]).toBe('--no-sandbox');
    expect(args).toContain('--wa-worker-sessions=/srv/s#ab12');
    expect(args[args.length - 1]).toBe('--x');
    expect(browserArgs({ marker: markerArg('/srv/s', 'ab12'), extraArgs: [], sandbox: true })).not.toContain('--no-sandbox');
    expect(browserArgs({ marker: markerArg('/srv/s', 'ab12'), extraArgs: ['--no-sandbox'], sandbox: false }).filter((a) => a === '--no-sandbox')).toHaveLength(1);
  });
});

describe('browser environment', () => {
  it('passes on where to live, locale and display, never a secret', () => {
    const env = browserEnv({
      HOME: '/home/w',
      PATH: '/usr/bin',
      LANG: 'id_ID.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'Asia/Jakarta',
      FONTCONFIG_PATH: '/etc/fonts',
      WHATSAPP_NODE_API_KEY: 'secret-key-0123456789',
      WHATSAPP_WEBHOOK_SECRET: 'secret-hook-0123456789',
      DATABASE_URL: 'postgres://u:pw@db/x',
      AWS_SECRET_ACCESS_KEY: 'x',
      NODE_OPTIONS: '--inspect',
    });
    expect(env).toEqual({ HOME: '/home/w', PATH: '/usr/bin', LANG: 'id_ID.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'Asia/Jakarta', FONTCONFIG_PATH: '/etc/fonts' });
  });
});
