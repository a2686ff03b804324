import { chooseSandbox, type SandboxFacts } from './sandbox';

const open: SandboxFacts = { uid: 1000, extraArgs: [], sysctl: () => undefined, userNamespaceWorks: () => true };

describe('Chromium sandbox', () => {
  it('stays on for a user of its own where user namespaces work', () => {
    expect(chooseSandbox(open)).toEqual({ enabled: true, why: 'unprivileged user namespaces are available' });
    expect(chooseSandbox({ ...open, userNamespaceWorks: () => undefined }).enabled).toBe(true);
    expect(chooseSandbox({ ...open, sysctl: (name) => (name === 'kernel/unprivileged_userns_clone' ? '1' : undefined) }).enabled).toBe(true);
  });

  it.each<[string, Partial<SandboxFacts>, RegExp]>([
    ['for root', { uid: 0 }, /runs as root/],
    ['when the operator says --no-sandbox', { extraArgs: ['--no-sandbox'] }, /WHATSAPP_WEBJS_BROWSER_ARGS has --no-sandbox/],
    ['when the kernel forbids user namespaces', { sysctl: (n) => (n === 'kernel/unprivileged_userns_clone' ? '0' : undefined) }, /kernel\.unprivileged_userns_clone=0/],
    ['when no user namespace may exist', { sysctl: (n) => (n === 'user/max_user_namespaces' ? '0' : undefined) }, /user\.max_user_namespaces=0/],
    ['when AppArmor restricts them', { sysctl: (n) => (n === 'kernel/apparmor_restrict_unprivileged_userns' ? '1' : undefined) }, /apparmor_restrict_unprivileged_userns=1/],
    ['when creating one fails (seccomp)', { userNamespaceWorks: () => false }, /seccomp/],
  ])('is off %s, saying why', (_, facts, why) => {
    const choice = chooseSandbox({ ...open, ...facts });
    expect(choice.enabled).toBe(false);
    expect(choice.why).toMatch(why);
  });
});
