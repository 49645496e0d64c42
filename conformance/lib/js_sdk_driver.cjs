// matrix-js-sdk against two relays: the client side of the case
// clients.js_sdk.federated_room (conformance/cases/clients_js.py).
//
//   node js_sdk_driver.cjs SPEC.json
//
// SPEC: {"sdk": path of node_modules/matrix-js-sdk, "room_id": the room,
//        "users": [{"base_url", "user", "password", "server_name"} x 2]}
// users[0] (alice, relay A) is in the room already; users[1] (bob, relay B)
// joins it over federation. Both log in with m.login.password, start the
// sdk's sync loop, and each sends a message the other must receive through
// its own /sync. The CA of the relays comes from NODE_EXTRA_CA_CERTS.
// Prints one JSON line per step; exits 0 when every step passed, 1 with
// "FAIL: ..." otherwise.
"use strict";

const fs = require("fs");
const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const sdk = require(spec.sdk);

const WAIT_MS = 30000;
const T0 = Date.now();

if (sdk.logger && sdk.logger.setLevel)
    sdk.logger.setLevel("error");   // the sdk logs every request at info

function step(what, extra) {
    process.stdout.write(JSON.stringify(Object.assign({step: what, t: (Date.now() - T0) / 1000}, extra || {})) + "\n");
}

function withTimeout(promise, what, ms) {
    let timer;
    const t = new Promise((_, reject) => {
        const wait = ms || WAIT_MS;
        timer = setTimeout(() => reject(new Error("timed out after " + wait / 1000 + " s waiting for " + what)), wait);
    });
    return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

async function login(u) {
    const anon = sdk.createClient({baseUrl: u.base_url});
    const r = await anon.login("m.login.password",
                               {identifier: {type: "m.id.user", user: u.user}, password: u.password,
                                initial_device_display_name: "matrix-js-sdk"});
    if (!r.access_token || !r.user_id || !r.device_id)
        throw new Error("login of " + u.user + " on " + u.base_url + " answered " + JSON.stringify(r));
    const c = sdk.createClient({baseUrl: u.base_url, accessToken: r.access_token, userId: r.user_id,
                                deviceId: r.device_id, timelineSupport: true});
    step("login", {user_id: r.user_id, device_id: r.device_id});
    return c;
}

// Starts the sdk's sync loop and waits for its first complete sync.
async function start(c) {
    const ready = new Promise((resolve, reject) => {
        c.on(sdk.ClientEvent.Sync, (state, prev, data) => {
            if (state === "PREPARED" || state === "SYNCING")
                resolve();
            else if (state === "ERROR")
                reject(new Error("sync of " + c.getUserId() + " failed: " + (data && data.error ? data.error : state)));
        });
    });
    await c.startClient({initialSyncLimit: 20});
    await withTimeout(ready, "the first sync of " + c.getUserId());
    step("synced", {user_id: c.getUserId()});
}

function timelineHas(c, roomId, pred) {
    const room = c.getRoom(roomId);
    return !!room && room.getLiveTimeline().getEvents().some(pred);
}

// Resolves when an event matching pred is in the room's live timeline,
// however it got there (initial sync, a later sync, local echo excluded).
function waitEvent(c, roomId, what, pred) {
    const real = (e) => !e.status && e.getId() && e.getId().startsWith("$") && pred(e);
    return withTimeout(new Promise((resolve) => {
        if (timelineHas(c, roomId, real))
            return resolve();
        const on = (ev, room) => {
            if (room && room.roomId === roomId && real(ev)) {
                c.removeListener(sdk.RoomEvent.Timeline, on);
                resolve();
            }
        };
        c.on(sdk.RoomEvent.Timeline, on);
        const poll = setInterval(() => {
            if (timelineHas(c, roomId, real)) {
                clearInterval(poll);
                c.removeListener(sdk.RoomEvent.Timeline, on);
                resolve();
            }
        }, 250);
        poll.unref();
    }), what + " at " + c.getUserId());
}

const isText = (sender, body) => (e) =>
    e.getType() === "m.room.message" && e.getSender() === sender && (e.getContent() || {}).body === body;

async function main() {
    const [ua, ub] = spec.users;
    const roomId = spec.room_id;
    const alice = await login(ua);
    const bob = await login(ub);
    try {
        await start(alice);
        await start(bob);
        const joined = await bob.joinRoom(roomId, {viaServers: [ua.server_name]});
        if (!joined || joined.roomId !== roomId)
            throw new Error("joinRoom(" + roomId + ") via " + ua.server_name + " returned " +
                            (joined && joined.roomId));
        step("joined", {room_id: roomId});
        await waitEvent(alice, roomId, "bob's join over federation",
                        (e) => e.getType() === "m.room.member" && e.getStateKey() === bob.getUserId() &&
                               (e.getContent() || {}).membership === "join");
        step("join seen", {by: alice.getUserId()});

        const hi = "hello from js-sdk alice";
        const sa = await alice.sendTextMessage(roomId, hi);
        step("sent", {by: alice.getUserId(), event_id: sa.event_id});
        await waitEvent(bob, roomId, "alice's message", isText(alice.getUserId(), hi));
        step("received", {by: bob.getUserId(), body: hi});

        const back = "hello from js-sdk bob";
        const sb = await bob.sendTextMessage(roomId, back);
        step("sent", {by: bob.getUserId(), event_id: sb.event_id});
        await waitEvent(alice, roomId, "bob's message", isText(bob.getUserId(), back));
        step("received", {by: alice.getUserId(), body: back});

        // The history as the sdk pages it (/messages): bob sees what alice
        // said before he joined.
        const room = bob.getRoom(roomId);
        await withTimeout(bob.scrollback(room, 50), "scrollback at bob");
        const bodies = room.getLiveTimeline().getEvents().filter((e) => e.getType() === "m.room.message")
            .map((e) => e.getContent().body);
        if (!bodies.includes(spec.before_join))
            throw new Error("bob's timeline after scrollback lacks " + JSON.stringify(spec.before_join) + ": " +
                            JSON.stringify(bodies));
        step("scrollback", {bodies: bodies});
    } finally {
        alice.stopClient();
        bob.stopClient();
    }
}

main().then(() => {
    step("done");
    process.exit(0);
}, (e) => {
    let detail = e && e.httpStatus ? " (HTTP " + e.httpStatus + " " + JSON.stringify(e.data || {}) + ")" : "";
    // fetch() hides the network error (refused, reset, TLS, timeout) in .cause
    for (let c = e && e.cause; c; c = c.cause)
        detail += " (cause: " + (c.code ? c.code + " " : "") + (c.message || String(c)) + ")";
    process.stdout.write("FAIL: " + (e && e.message ? e.message : String(e)) + detail + "\n");
    process.exit(1);
});
