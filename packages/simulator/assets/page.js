'use strict';
/*
 * The simulated web.whatsapp.com page. whatsapp-web.js 1.34.7 drives it unchanged: it polls
 * `window.Debug.VERSION`, then reads the app's state through `window.require(<module>)`.
 *
 * Page -> simulator: POST /sim/report and POST /sim/outbound (same origin).
 * Page -> simulator, answered: POST /sim/pairing-code (a new pairing code for a phone number).
 * Simulator -> page: the EventSource /sim/events (events: hello, paired, message, state, logout, hang).
 *
 * The pairing is kept in IndexedDB (it survives a Chromium SIGKILL; localStorage written just
 * before a kill was seen to be lost), under the page's real origin, so a LocalAuth profile
 * restores it like the real app restores its credentials.
 */
(function () {
    const WEB_VERSION = '2.3000.1017054665';
    const pageId = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));

    // ---------- a small Backbone-like event/model/collection kit ----------
    function withEvents(target) {
        const listeners = new Map();
        const hooks = [];
        Object.defineProperties(target, {
            on: { enumerable: false, value(names, callback, context) {
                for (const name of String(names).split(/\s+/).filter(Boolean)) {
                    if (!listeners.has(name)) listeners.set(name, []);
                    listeners.get(name).push({ callback, context });
                    for (const hook of hooks) hook(name);
                }
                return this;
            } },
            once: { enumerable: false, value(name, callback, context) {
                const wrapper = function (...args) { target.off(name, wrapper); return callback.apply(this, args); };
                return target.on(name, wrapper, context);
            } },
            off: { enumerable: false, value(names, callback) {
                if (!names) { listeners.clear(); return this; }
                for (const name of String(names).split(/\s+/).filter(Boolean)) {
                    const kept = (listeners.get(name) || []).filter((l) => callback && l.callback !== callback);
                    listeners.set(name, kept);
                }
                return this;
            } },
            trigger: { enumerable: false, value(name, ...args) {
                for (const l of [...(listeners.get(name) || [])]) {
                    try { l.callback.apply(l.context || target, args); } catch (error) { console.error('[simulator] listener failed', name, error); }
                }
                return this;
            } },
            listenerCount: { enumerable: false, value: (name) => (listeners.get(name) || []).length },
            // calls `hook(name)` whenever somebody subscribes to an event
            onSubscribe: { enumerable: false, value: (hook) => hooks.push(hook) },
        });
        return target;
    }

    function makeModel(attributes) {
        const model = withEvents(Object.assign({}, attributes));
        Object.defineProperties(model, {
            set: { enumerable: false, value(key, value) {
                const previous = model[key];
                model[key] = value;
                if (previous !== value) {
                    model.trigger('change:' + key, model, value, previous);
                    model.trigger('change', model);
                }
            } },
            serialize: { enumerable: false, value() {
                const plain = {};
                for (const key of Object.keys(model)) if (typeof model[key] !== 'function') plain[key] = model[key];
                return JSON.parse(JSON.stringify(plain));
            } },
        });
        return model;
    }

    function makeCollection() {
        const models = new Map();
        const keyOf = (id) => (typeof id === 'string' ? id : id && id._serialized);
        return withEvents({
            add(model) { models.set(keyOf(model.id), model); this.trigger('add', model, this); return model; },
            get(id) { return models.get(keyOf(id)); },
            remove(model) { models.delete(keyOf(model.id)); this.trigger('remove', model, this); },
            getModelsArray() { return [...models.values()]; },
            get models() { return [...models.values()]; },
        });
    }

    function makeWid(serialized) {
        if (serialized && typeof serialized === 'object') serialized = serialized._serialized;
        const [user, server] = String(serialized).split('@');
        const wid = { user, server, _serialized: serialized };
        const methods = {
            isLid: () => server === 'lid', isGroup: () => server === 'g.us', isUser: () => server === 'c.us',
            isStatus: () => serialized === 'status@broadcast', isNewsletter: () => server === 'newsletter',
            isBroadcast: () => server === 'broadcast', toJid: () => serialized, toString: () => serialized,
        };
        for (const [name, fn] of Object.entries(methods)) Object.defineProperty(wid, name, { value: fn, enumerable: false });
        return wid;
    }

    const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));
    const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
    const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

    // ---------- the app's state, as the library sees it ----------
    const Socket = makeModel({ state: 'OPENING', hasSynced: false });
    const Cmd = withEvents({});
    const Conn = makeModel({ ref: null, pushname: undefined, platform: undefined });
    const Msg = makeCollection();
    const Chat = makeCollection();
    let me = null;
    const staticPublicKey = randomBytes(32);
    const identityPublicKey = randomBytes(32);
    const advSecret = toBase64(randomBytes(32));
    const platform = 'CHROME';

    function currentQr() {
        return Conn.ref ? [Conn.ref, toBase64(staticPublicKey), toBase64(identityPublicKey), advSecret, platform].join(',') : null;
    }

    function MsgKey({ to, id, participant, selfDir }) {
        this.fromMe = selfDir === 'out';
        this.remote = makeWid(to);
        this.id = id;
        this.participant = participant;
        this._serialized = `${this.fromMe}_${this.remote._serialized}_${id}`;
    }
    MsgKey.newId = async () => toBase64(randomBytes(15)).replace(/[^A-Za-z0-9]/g, '').toUpperCase().slice(0, 20);

    function withMessageMethods(message) {
        Object.defineProperty(message, 'unsafe', { value: () => message, enumerable: false });
        Object.defineProperty(message, 'msgContextInfo', {
            enumerable: false,
            value: () => ({ quotedStanzaID: message.id.id, quotedParticipant: message.from, quotedMsg: { type: message.type, body: message.body } }),
        });
        return message;
    }

    function chatFor(wid) {
        wid = makeWid(wid);
        return Chat.get(wid._serialized) || Chat.add(makeModel({ id: wid }));
    }

    function sendOutgoing(chat, message) {
        const model = withMessageMethods(makeModel({ ...message, from: makeWid(message.from), to: makeWid(message.to) }));
        Msg.add(model);
        const delivered = post('/sim/outbound', { to: chat.id._serialized, body: message.body, id: message.id.id })
            .then(() => { model.set('ack', 1); return { messageSendResult: 'OK' }; });
        return [Promise.resolve(model), delivered];
    }

    // Pairing by code (client.requestPairingCode): the library selects the flow, initializes it and
    // starts it, and calls startAltLinkingFlow again to refresh the code. The simulator issues the
    // code, so it knows it before the library emits `code`; the phone enters it (enterCode).
    let pairingType = 'QR';
    const AltDeviceLinking = {
        setPairingType(type) { pairingType = type; },
        initializeAltDeviceLinking: async () => {},
        async startAltLinkingFlow(phoneNumber /* , showNotification: no phone to notify */) {
            if (pairingType !== 'ALT_DEVICE_LINKING') throw new Error('startAltLinkingFlow before setPairingType(ALT_DEVICE_LINKING)');
            if (me) throw new Error('the page is already paired');
            const response = await post('/sim/pairing-code', { phone: phoneNumber });
            const answer = await response.json();
            if (!response.ok) throw new Error(answer.error.message);
            return answer.code;
        },
        initializeQRLinking: async () => {
            pairingType = 'QR';
            await report({ pairingCode: null });
        },
    };

    Socket.logout = () => logOut();
    Socket.takeover = () => setState('CONNECTED');
    Cmd.refreshQR = () => showNewRef();

    const modules = {
        WAWebSocketModel: { Socket },
        WAWebCmd: { Cmd },
        WAWebConnModel: { Conn },
        WAWebOfflineHandler: { OfflineMessageHandler: { getOfflineDeliveryProgress: () => 100 } },
        WABase64: { encodeB64: toBase64, decodeB64: fromBase64 },
        WAWebCompanionRegClientUtils: { DEVICE_PLATFORM: platform },
        WAWebUserPrefsInfoStore: { waNoiseInfo: { get: async () => ({ staticKeyPair: { pubKey: staticPublicKey } }) } },
        WAWebSignalStoreApi: { waSignalStore: { getRegistrationInfo: async () => ({ identityKeyPair: { pubKey: identityPublicKey } }) } },
        WAWebAdvSignatureApi: {},
        WAWebAltDeviceLinkingApi: AltDeviceLinking,
        WAWebLaunchSocketUtils: { refreshQR: () => showNewRef() },
        WAWebUserPrefsMultiDevice: { getADVSecretKey: () => advSecret },
        WAWebUserPrefsMeUser: { getMaybeMePnUser: () => me, getMaybeMeLidUser: () => null, getMeUser: () => me },
        WAWebCollections: { Msg, Chat },
        WAWebSyncGatingUtils: {},
        WALinkify: { findLinks: () => [], findLink: () => null },
        WAWebMiscBrowserUtils: { info: () => ({ name: 'Chrome', os: 'Linux' }) },
        // what client.sendMessage(chatId, text) uses
        WAWebWidFactory: { createWid: makeWid, asUserWidOrThrow: makeWid },
        WAWebFindChatAction: { findOrCreateLatestChat: async (wid) => ({ chat: chatFor(wid) }) },
        WAWebStreamModel: { Stream: { markAvailable() {}, markUnavailable() {} } },
        WAWebUpdateUnreadChatAction: { sendSeen: async () => {} },
        WAWebChatGetters: { getIsNewsletter: (chat) => chat.id.isNewsletter(), getIsBroadcast: (chat) => chat.id.isBroadcast() },
        WAWebMsgKey: MsgKey,
        WAWebMsgReply: { canReplyMsg: () => true },
        WAWebGetEphemeralFieldsMsgActionsUtils: { getEphemeralFields: () => ({}) },
        WAWebSendMsgChatAction: { addAndSendMsgToChat: sendOutgoing },
    };
    // Unknown modules answer {}: a permissive Proxy would crash a library hook that checks `.on`.
    window.require = (name) => (Object.prototype.hasOwnProperty.call(modules, name) ? modules[name] : {});

    // ---------- persistence ----------
    const DB_NAME = 'wa-simulator';
    function openDb() {
        return new Promise((resolve, reject) => {
            const request = indexedDB.open(DB_NAME, 1);
            request.onupgradeneeded = () => request.result.createObjectStore('kv');
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
        });
    }
    async function loadPairing() {
        try {
            const db = await openDb();
            return await new Promise((resolve) => {
                const request = db.transaction('kv').objectStore('kv').get('pairing');
                request.onsuccess = () => resolve(request.result || null);
                request.onerror = () => resolve(null);
            });
        } catch { return null; }
    }
    async function writePairing(pairing) {
        const db = await openDb();
        await new Promise((resolve, reject) => {
            const tx = db.transaction('kv', 'readwrite');
            if (pairing) tx.objectStore('kv').put(pairing, 'pairing'); else tx.objectStore('kv').delete('pairing');
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
        });
    }

    // ---------- talking to the simulator ----------
    function post(path, body) {
        return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ page: pageId, ...body }) });
    }
    function report(fields) { return post('/sim/report', fields).catch(() => {}); }

    function setState(state) {
        Socket.set('state', state);
        report({ state });
    }
    function showNewRef() {
        Conn.set('ref', '2@' + toBase64(randomBytes(24)).replace(/[+/=]/g, 'x'));
        report({ ref: Conn.ref, qr: currentQr() });
    }

    // Resolves once somebody subscribes to `event` on `emitter`: the library subscribes to
    // `change:hasSynced` and Cmd `logout` only after its QR step, and a change fired before it
    // listens is lost (a fast scan would never become `ready`).
    function whenSubscribed(emitter, event) {
        return new Promise((resolve) => {
            if (emitter.listenerCount(event) > 0) return resolve();
            emitter.onSubscribe((name) => { if (name === event) resolve(); });
        });
    }

    async function becomeConnected(pairing) {
        me = makeWid(pairing.phone + '@c.us');
        Conn.set('pushname', pairing.pushname);
        Conn.set('platform', pairing.platform);
        Conn.set('wid', me);
        Conn.set('ref', null);
        report({ phone: pairing.phone, ref: null, qr: null });
        setState('CONNECTED');
        await whenSubscribed(Socket, 'change:hasSynced');
        setTimeout(() => Socket.set('hasSynced', true), 20);
    }

    async function logOut() {
        await writePairing(null).catch(() => {});
        localStorage.clear();
        Cmd.trigger('logout');
        // the library waits for this navigation and then recreates its profile folder
        setTimeout(() => location.replace('/?post_logout=1'), 100);
    }

    // A device the phone unlinked while this page was closed: the stored credentials are refused,
    // so the page logs out as soon as the library listens for it (never reporting CONNECTED).
    async function refuseRevokedDevice() {
        setState('TIMEOUT');
        await whenSubscribed(Cmd, 'logout');
        setTimeout(logOut, 20);
    }

    function addIncomingMessage({ id, from, body, t }) {
        const remote = makeWid(from);
        Msg.add(withMessageMethods(makeModel({
            id: { fromMe: false, remote, id, _serialized: `false_${remote._serialized}_${id}` },
            type: 'chat', body, t, from: remote, to: me, ack: 1,
            isNewMsg: true, star: false, broadcast: false, isForwarded: false,
        })));
    }

    async function boot() {
        const pairing = await loadPairing();
        const query = new URLSearchParams({ page: pageId, device: pairing ? pairing.device : '', phone: pairing ? pairing.phone : '' });
        const events = new EventSource('/sim/events?' + query);
        const on = (name, handler) => events.addEventListener(name, (event) => handler(JSON.parse(event.data)));
        let booted = false;
        on('hello', ({ restore }) => {
            if (booted) return;
            booted = true;
            if (restore === 'connect') becomeConnected(pairing);
            else if (restore === 'revoked') refuseRevokedDevice();
            else { showNewRef(); setState('UNPAIRED'); }
        });
        on('paired', async (pairingFromPhone) => {
            setState('PAIRING');
            await writePairing(pairingFromPhone);
            await becomeConnected(pairingFromPhone);
        });
        on('message', addIncomingMessage);
        on('state', ({ state }) => setState(state));
        on('logout', () => logOut());
        // The main thread blocks for good: page.evaluate never answers, like a frozen tab. The
        // beacon leaves in this same task, so the simulator learns the page is hung only once it is.
        on('hang', () => {
            navigator.sendBeacon('/sim/report', new Blob([JSON.stringify({ page: pageId, hung: true })], { type: 'application/json' }));
            for (;;) { /* hung */ }
        });
        events.onerror = () => {
            if (events.readyState === EventSource.CLOSED || booted) {
                events.close();
                if (booted && Socket.state === 'CONNECTED') Socket.set('state', 'TIMEOUT');
            }
        };
    }

    window.Debug = { VERSION: WEB_VERSION };
    boot();
})();
