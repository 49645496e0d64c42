"""The matrix-nio scenario of cases/clients_nio.py: two relays from
Context.cluster, alice on A and bob on B, each a real nio AsyncClient with
encryption on (olm account, device keys, one-time keys, megolm sessions in
an SQLite store under the cluster's directory).

run(ctx, steps) builds the common start and then runs each step; a step
is `async def step(sc)` on the Scenario. Failures name the device, the relay
and what nio got back, so the relay's developer can replay the request.
"""
import asyncio
import json
import os
import secrets
import ssl
import time
import urllib.parse

from .cluster import Failure
from .core import NOT_IMPLEMENTED, UNAVAILABLE, Skip

try:
    import aiohttp
    import nio
    import olm
    from nio.crypto import InboundGroupSession
    HAVE_NIO = True
except ImportError as _e:   # python3-matrix-nio / python3-olm not installed
    HAVE_NIO = False
    NIO_MISSING = str(_e)

CLIENT = "/_matrix/client/v3"
MEGOLM = "m.megolm.v1.aes-sha2"
BACKUP_ALG = "m.megolm_backup.v1.curve25519-aes-sha2"
WAIT = 30          # seconds for anything that crosses federation
WHOLE = 150        # seconds for a whole case (ASan builds take ~20 s)


def expect(resp, kind, what):
    if not isinstance(resp, kind):
        if isinstance(resp, nio.ErrorResponse):
            tr = resp.transport_response
            got = "%s %s: %s" % (type(resp).__name__, getattr(tr, "status", "?"),
                                 "%s %s" % (resp.status_code or "", resp.message))
        else:
            got = repr(resp)[:400]
        raise Failure("%s: expected %s, nio got %s" % (what, kind.__name__, got))
    return resp


# ---- what the scenario needs the relay to route ------------------------------------------

def _routes(room_keys):
    r = [("POST", "/keys/upload", {}), ("POST", "/keys/query", {"device_keys": {}}),
         ("POST", "/keys/claim", {"one_time_keys": {}}),
         ("PUT", "/sendToDevice/m.dummy/probe" + secrets.token_hex(4), {"messages": {}}),
         ("GET", "/keys/changes?from=s0&to=s0", None)]
    if room_keys:
        r += [("GET", "/room_keys/version", None)]
    return r


def probe_routes(relay, token, room_keys):
    """Skips (not implemented by target) when the relay answers an endpoint
    the scenario needs with 404/405 M_UNRECOGNIZED: how the spec says a
    server tells a client it does not know an endpoint."""
    missing = []
    for method, path, body in _routes(room_keys):
        st, j = relay.request(method, CLIENT + path, body, token=token)
        if st in (404, 405) and isinstance(j, dict) and j.get("errcode") == "M_UNRECOGNIZED":
            missing.append("%s %s" % (method, "/sendToDevice/{eventType}/{txnId}" if "sendToDevice" in path
                                      else path.split("?")[0]))
    if missing:
        raise Skip("%s does not route %s" % (relay.name, ", ".join(missing)), NOT_IMPLEMENTED)


# ---- one device -------------------------------------------------------------------------

class Device:
    """One nio client: a device of a user on a relay. Keeps every text
    message it decrypted ({body: event}) and the megolm events it could not
    decrypt yet (their key may come in a later sync)."""

    def __init__(self, relay, ca_file, store_dir, label):
        self.relay = relay
        self.label = label
        os.makedirs(store_dir, exist_ok=True)
        # nio retries a refused connection for ever by default: a relay that
        # died must end the case, not hang it.
        cfg = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False, max_timeouts=5,
                                    max_timeout_retry_wait_time=2, request_timeout=20)
        # The environment's SSL_CERT_FILE is not the cluster's CA: nio gets it as a context.
        self.client = nio.AsyncClient(relay.base, "", config=cfg, store_path=store_dir,
                                      ssl=ssl.create_default_context(cafile=ca_file))
        self.texts = {}
        self.undecrypted = []
        self.device_list_changed = set()
        self.client.add_event_callback(self._on_text, nio.RoomMessageText)
        self.client.add_event_callback(self._on_megolm, nio.MegolmEvent)

    def __str__(self):
        return "%s (%s on %s)" % (self.label, self.client.device_id, self.relay.name)

    def _on_text(self, room, ev):
        self.texts[ev.body] = ev

    def _on_megolm(self, room, ev):
        self.undecrypted.append(ev)

    @property
    def user_id(self):
        return self.client.user_id

    async def register(self, localpart, password):
        expect(await self.client.register(localpart, password, self.label), nio.RegisterResponse,
               "%s: register %s on %s" % (self.label, localpart, self.relay.name))

    async def login(self, user_id, password):
        self.client.user = user_id
        expect(await self.client.login(password, device_name=self.label), nio.LoginResponse,
               "%s: login %s on %s" % (self.label, user_id, self.relay.name))
        await self.upload_keys()

    async def upload_keys(self):
        if self.client.should_upload_keys:
            r = expect(await self.client.keys_upload(), nio.KeysUploadResponse, "%s: keys/upload" % self)
            if not r.signed_curve25519_count:
                raise Failure("%s: keys/upload answered one_time_key_counts.signed_curve25519 = %s after uploading "
                              "signed_curve25519 keys (client-server-api §POST /keys/upload)"
                              % (self, r.signed_curve25519_count))

    async def tick(self, timeout_ms=0):
        """One /sync, then what nio's sync loop does after it: key upload,
        device-list queries, Olm session claims, queued to-device messages;
        and a retry of the megolm events nobody had the key for."""
        r = await self.client.sync(timeout=timeout_ms, full_state=False)
        expect(r, nio.SyncResponse, "%s: sync" % self)
        self.device_list_changed |= set(r.device_list.changed or [])
        await self.upload_keys()
        if self.client.should_query_keys:
            expect(await self.client.keys_query(), nio.KeysQueryResponse, "%s: keys/query" % self)
        if self.client.should_claim_keys:
            expect(await self.client.keys_claim(self.client.get_users_for_key_claiming()), nio.KeysClaimResponse,
                   "%s: keys/claim" % self)
        await self.client.send_to_device_messages()
        still = []
        for ev in self.undecrypted:
            try:
                dec = self.client.decrypt_event(ev)
            except Exception:   # nio raises EncryptionError (no session yet) and olm errors alike
                still.append(ev)
                continue
            if isinstance(dec, nio.RoomMessageText):
                self.texts[dec.body] = dec
        self.undecrypted = still
        return r

    async def until(self, what, cond, timeout=WAIT):
        """Syncs until cond() holds."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                await self.tick(1000)
            except Failure as e:
                last = e
            except Exception as e:   # a connection to a relay that just restarted
                last = e
                await asyncio.sleep(0.3)
            if cond():
                return
        raise Failure("%s: timed out after %d s waiting for %s%s" % (self, timeout, what,
                                                                  " (last error: %s)" % last if last else ""))

    async def send(self, room_id, body):
        r = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                                        ignore_unverified_devices=True)
        return expect(r, nio.RoomSendResponse, "%s: send %r" % (self, body)).event_id

    async def receive(self, room_id, body, sender):
        """Waits until this device decrypted `body` from `sender`; checks it
        was sent encrypted (nio marks decrypted events)."""
        def got():
            return body in self.texts

        undecrypted = lambda: [(e.session_id, e.sender) for e in self.undecrypted]  # noqa: E731
        try:
            await self.until("%r from %s" % (body, sender), got)
        except Failure as e:
            raise Failure("%s; megolm events it could not decrypt (session, sender): %s" % (e, undecrypted())) \
                from None
        ev = self.texts[body]
        if not getattr(ev, "decrypted", False):
            raise Failure("%s: %r arrived in clear: the room is encrypted, it should be m.room.encrypted"
                          % (self, body))
        if ev.sender != sender:
            raise Failure("%s: %r came from %s, not %s" % (self, body, ev.sender, sender))
        return ev

    async def close(self):
        await self.client.close()


# ---- the scenario ---------------------------------------------------------------------------

class Scenario:
    def __init__(self, ctx, cl):
        self.ctx = ctx
        self.cl = cl
        self.A, self.B = cl.relays[0], cl.relays[1]
        self.devices = []
        self.passwords = {}
        self.room = None
        self.backup = False

    def device(self, relay, label):
        i = self.cl.relays.index(relay)
        d = Device(relay, self.cl.entries[i]["ca_file"], os.path.join(self.cl.dir, "nio", label), label)
        self.devices.append(d)
        return d

    async def new_user(self, relay, localpart):
        d = self.device(relay, localpart + "-1")
        pw = secrets.token_urlsafe(12)
        await d.register(localpart, pw)
        self.passwords[d.user_id] = pw
        probe_routes(relay, d.client.access_token, self.backup and relay is self.A)
        await d.upload_keys()
        return d

    async def new_device(self, relay, user_id, label):
        d = self.device(relay, label)
        await d.login(user_id, self.passwords[user_id])
        return d

    async def start(self):
        A, B = self.A, self.B
        self.alice = await self.new_user(A, "alice")
        self.bob = await self.new_user(B, "bob")
        alice, bob = self.alice, self.bob
        r = await alice.client.room_create(
            name="encrypted", invite=[bob.user_id],
            initial_state=[{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}])
        r = expect(r, nio.RoomCreateResponse, "alice: createRoom with an invite of %s" % bob.user_id)
        self.room = room = r.room_id
        await alice.tick()
        await bob.until("the invite to %s over federation" % room, lambda: room in bob.client.invited_rooms)
        expect(await bob.client.join(room), nio.JoinResponse, "bob: join %s (invited from %s)" % (room, A.name))
        await bob.tick()
        if not bob.client.rooms.get(room) or not bob.client.rooms[room].encrypted:
            raise Failure("bob: %s on %s after the join is not encrypted (m.room.encryption missing from its "
                          "state in /sync)" % (room, B.name))
        await alice.until("bob's join of %s on %s" % (room, A.name),
                          lambda: bob.user_id in alice.client.rooms[room].users)
        await alice.send(room, "hello bob")
        await bob.receive(room, "hello bob", alice.user_id)
        await bob.send(room, "hello alice")
        await alice.receive(room, "hello alice", bob.user_id)

    async def close(self):
        for d in self.devices:
            try:
                await d.close()
            except Exception:
                pass


def run(ctx, steps, backup=False):
    if not HAVE_NIO:
        raise Skip("matrix-nio with olm is needed for /usr/bin/python3 (Debian python3-matrix-nio, "
                   "python3-olm): %s" % NIO_MISSING, UNAVAILABLE)
    cl = ctx.cluster(2)

    async def main():
        sc = Scenario(ctx, cl)
        sc.backup = backup
        try:
            await sc.start()
            for step in steps:
                await step(sc)
        finally:
            await sc.close()

    async def bounded():
        try:
            await asyncio.wait_for(main(), WHOLE)
        except asyncio.TimeoutError:
            raise Failure("the scenario did not finish in %d s" % WHOLE) from None

    try:
        asyncio.run(bounded())
    except Failure as e:
        raise Failure("%s (relay logs under %s)" % (e, cl.dir)) from None
    except (aiohttp.ClientError, OSError) as e:   # nio gave up on a relay (after max_timeouts)
        raise Failure("a relay stopped answering: %r (relay logs under %s)" % (e, cl.dir)) from None


# ---- the steps --------------------------------------------------------------------------------

async def second_device(sc):
    """bob logs in on a second device; alice's client must learn of it (the
    device list of a remote user, through A's /sync device_lists.changed and
    a keys/query that A answers over federation) before its next session."""
    alice, bob, room = sc.alice, sc.bob, sc.room
    bob2 = await sc.new_device(sc.B, bob.user_id, "bob-2")

    def knows_bob2():
        return bob2.client.device_id in alice.client.device_store[bob.user_id]

    try:
        await alice.until("bob's new device %s in alice's device store" % bob2.client.device_id, knows_bob2)
    except Failure as e:
        raise Failure("%s; users in alice's device_lists.changed so far: %s (bob must appear there after his new "
                      "device uploaded keys on %s)" % (e, sorted(alice.device_list_changed), sc.B.name)) from None
    # nio keeps an outbound session shared with the devices it knew: a new
    # session goes to every device of the room, bob's second one included.
    alice.client.invalidate_outbound_session(room)
    await alice.send(room, "hello both of bob's devices")
    await bob2.receive(room, "hello both of bob's devices", alice.user_id)
    await bob.receive(room, "hello both of bob's devices", alice.user_id)
    await bob2.send(room, "from bob's second device")
    await alice.receive(room, "from bob's second device", bob.user_id)


async def relay_down(sc):
    alice, bob, room = sc.alice, sc.bob, sc.room
    sc.B.stop()
    await alice.send(room, "sent while B was down")
    await alice.tick()
    sc.B.start()
    # bob speaks first, as a client back online would: B's transaction
    # to A also tells A that B is up again (A need not wait out its back-off).
    await bob.send(room, "B is back")
    await alice.receive(room, "B is back", bob.user_id)
    await bob.receive(room, "sent while B was down", alice.user_id)


def _call(relay, token, method, path, body=None, ok=(200,)):
    st, j = relay.request(method, CLIENT + path, body, token=token)
    if st not in ok:
        raise Failure("%s %s %s: %s %s" % (relay.name, method, path, st, json.dumps(j)[:600]))
    return j


async def key_backup(sc):
    """client-server-api §Server-side key backups: the backup's key pair is
    a Curve25519 PkDecryption; each session's export is encrypted to its
    public key (PkEncryption = curve25519-aes-sha2: ephemeral, ciphertext,
    mac). alice keeps the private key as her recovery key (a pickle: olm's
    Python binding has no raw private-key import)."""
    alice, room, A = sc.alice, sc.room, sc.A
    tok = alice.client.access_token
    recovery = olm.PkDecryption()
    passphrase = secrets.token_hex(8)
    recovery_key = recovery.pickle(passphrase)
    auth_data = {"public_key": recovery.public_key}
    sig = alice.client.olm.account.sign(nio.Api.to_canonical_json(auth_data))
    auth_data["signatures"] = {alice.user_id: {"ed25519:" + alice.client.device_id: sig}}
    st, j = A.request("GET", CLIENT + "/room_keys/version", token=tok)
    if st != 404 or j.get("errcode") != "M_NOT_FOUND":
        raise Failure("GET /room_keys/version with no backup: expected 404 M_NOT_FOUND, got %s %s" % (st, j))
    version = _call(A, tok, "POST", "/room_keys/version", {"algorithm": BACKUP_ALG, "auth_data": auth_data})
    version = version.get("version")
    if not isinstance(version, str):
        raise Failure("POST /room_keys/version: no string 'version' in the answer")

    sessions = {}
    for s in alice.client.olm.inbound_group_store:
        if s.room_id != room:
            continue
        plain = {"algorithm": MEGOLM, "sender_key": s.sender_key, "sender_claimed_keys": {"ed25519": s.ed25519},
                 "forwarding_curve25519_key_chain": s.forwarding_chain,
                 "session_key": s.export_session(s.first_known_index)}
        m = olm.PkEncryption(recovery.public_key).encrypt(json.dumps(plain))
        sessions[s.id] = {"first_message_index": s.first_known_index, "forwarded_count": 0, "is_verified": False,
                          "session_data": {"ephemeral": m.ephemeral_key, "ciphertext": m.ciphertext, "mac": m.mac}}
    if len(sessions) < 2:
        raise Failure("alice's store holds %d megolm sessions of the room, expected hers and bob's" % len(sessions))
    q = "?version=" + urllib.parse.quote(version)
    up = _call(A, tok, "PUT", "/room_keys/keys" + q, {"rooms": {room: {"sessions": sessions}}})
    if up.get("count") != len(sessions) or not isinstance(up.get("etag"), str):
        raise Failure("PUT /room_keys/keys of %d sessions answered %s (want count %d and an etag)"
                      % (len(sessions), up, len(sessions)))

    # A fresh device: it knows nothing but the password and the recovery key.
    fresh = await sc.new_device(A, alice.user_id, "alice-2")
    sync = await fresh.tick()
    info = _call(A, fresh.client.access_token, "GET", "/room_keys/version")
    if (info.get("version") != version or info.get("algorithm") != BACKUP_ALG or info.get("count") != len(sessions)
            or (info.get("auth_data") or {}).get("public_key") != recovery.public_key):
        raise Failure("GET /room_keys/version from the fresh device: %s (want version %s, the algorithm, the public "
                      "key and count %d)" % (info, version, len(sessions)))
    # The history, fetched before the keys are restored: it must not decrypt yet.
    prev = sync.rooms.join[room].timeline.prev_batch if room in sync.rooms.join else ""
    msgs = expect(await fresh.client.room_messages(room, start=prev or "", limit=100), nio.RoomMessagesResponse,
                  "alice-2: /messages")
    encrypted = [e for e in msgs.chunk if isinstance(e, nio.MegolmEvent)]
    if sync.rooms.join.get(room):
        encrypted += [e for e in sync.rooms.join[room].timeline.events if isinstance(e, nio.MegolmEvent)]
    if len({e.event_id for e in encrypted}) < 2:
        raise Failure("alice-2: the room's history on %s holds %d encrypted events it cannot decrypt, expected the "
                      "two greetings" % (A.name, len(encrypted)))

    got = _call(A, fresh.client.access_token, "GET", "/room_keys/keys" + q)
    backed = ((got.get("rooms") or {}).get(room) or {}).get("sessions") or {}
    if set(backed) != set(sessions):
        raise Failure("GET /room_keys/keys: sessions %s, uploaded %s" % (sorted(backed), sorted(sessions)))
    one = _call(A, fresh.client.access_token, "GET", "/room_keys/keys/%s/%s%s" % (
        urllib.parse.quote(room, safe=""), urllib.parse.quote(next(iter(sessions)), safe=""), q))
    if one.get("session_data") != sessions[next(iter(sessions))]["session_data"]:
        raise Failure("GET /room_keys/keys/{roomId}/{sessionId}: %s differs from what was uploaded" % one)
    dec = olm.PkDecryption.from_pickle(recovery_key, passphrase)
    for sid, kd in backed.items():
        sd = kd.get("session_data") or {}
        try:
            plain = json.loads(dec.decrypt(olm.PkMessage(sd.get("ephemeral"), sd.get("mac"), sd.get("ciphertext"))))
        except Exception as e:
            raise Failure("session %s from the backup does not decrypt with the recovery key: %s" % (sid, e))
        s = InboundGroupSession.import_session(plain["session_key"], plain["sender_claimed_keys"]["ed25519"],
                                               plain["sender_key"], room, plain["forwarding_curve25519_key_chain"])
        if fresh.client.olm.inbound_group_store.add(s):
            fresh.client.olm.save_inbound_group_session(s)
    bodies = set()
    for e in encrypted:
        d = fresh.client.decrypt_event(e)
        if isinstance(d, nio.RoomMessageText):
            bodies.add(d.body)
    if not {"hello bob", "hello alice"} <= bodies:
        raise Failure("alice-2 decrypted %s from the history after the restore, expected both greetings"
                      % sorted(bodies))
