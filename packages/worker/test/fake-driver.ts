import type { ClientEvents, ClientSpec, ProfileHost, SessionClient, SessionDriver } from '../src/sessions/driver';

/** A client the test drives by hand: it emits what the test says, and records what was asked of it. */
export class FakeClient implements SessionClient {
  alive = true;
  state: string | null = 'CONNECTED';
  /** getState never settles (a wedged page). */
  wedged = false;
  destroyed = false;
  loggedOut = false;
  killed = false;
  initializeCalls = 0;
  /** Phone numbers requestPairingCode() was called with. */
  readonly pairingRequests: string[] = [];
  /** What requestPairingCode() answers (after emitting it as `code`, as whatsapp-web.js does); default: a fixed code. */
  onPairingCode: (phoneNumber: string) => Promise<string> = async () => 'ABCDEFGH';
  /** What initialize() does; default: resolve at once. */
  onInitialize: () => Promise<void> = async () => undefined;

  constructor(
    readonly spec: ClientSpec,
    readonly emit: ClientEvents,
  ) {}

  private closed!: () => void;
  /** Like a real client, a pending initialize() fails once the browser is closed. */
  private readonly closedSignal = new Promise<never>((_, reject) => {
    this.closed = () => reject(new Error('Target closed'));
  });

  initialize(): Promise<void> {
    this.initializeCalls++;
    this.closedSignal.catch(() => undefined);
    return Promise.race([this.onInitialize(), this.closedSignal]);
  }
  async requestPairingCode(phoneNumber: string): Promise<string> {
    this.pairingRequests.push(phoneNumber);
    const code = await this.onPairingCode(phoneNumber);
    this.emit.code(code);
    return code;
  }
  getState(): Promise<string | null> {
    if (this.wedged) return new Promise(() => undefined);
    return Promise.resolve(this.state);
  }
  isAlive(): boolean {
    return this.alive && !this.destroyed && !this.killed;
  }
  async destroy(): Promise<void> {
    this.destroyed = true;
    this.closed();
  }
  async logout(): Promise<void> {
    this.loggedOut = true;
  }
  async kill(): Promise<void> {
    this.killed = true;
    this.closed();
  }
}

/** No browser ever holds a fake profile; tests that need the real operating system set `LocalProfileHost`. */
export class FakeProfileHost implements ProfileHost {
  readonly killed: string[] = [];
  async liveHolder(): Promise<number | null> {
    return null;
  }
  async waitForExit(): Promise<boolean> {
    return true;
  }
  async killProfileProcesses(folder: string): Promise<number[]> {
    this.killed.push(folder);
    return [];
  }
  async removeStaleLocks(): Promise<string[]> {
    return [];
  }
}

export class FakeDriver implements SessionDriver {
  readonly clients: FakeClient[] = [];
  profiles: ProfileHost = new FakeProfileHost();
  /** Applied to every new client before the manager sees it. */
  configure: (client: FakeClient) => void = () => undefined;

  create(spec: ClientSpec, events: ClientEvents): SessionClient {
    const client = new FakeClient(spec, events);
    this.configure(client);
    this.clients.push(client);
    return client;
  }
  clientsOf(sessionId: string): FakeClient[] {
    return this.clients.filter((c) => c.spec.sessionId === sessionId);
  }
  last(sessionId: string): FakeClient {
    const list = this.clientsOf(sessionId);
    if (list.length === 0) throw new Error(`no client for ${sessionId}`);
    return list[list.length - 1]!;
  }
}
