"""matrix-nio (Debian's python3-matrix-nio, 0.20) against one mxrelay.

conformance/spawn starts the relay with a throwaway CA; nio gets that CA
explicitly (an ssl context), registers two users (m.login.dummy), creates a
room with an invite, syncs the invite, joins, sends, syncs the message,
reads joined members, state and profiles, and logs out. nio validates every
response against its JSON schemas: any shape it rejects comes back as an
*Error response, which fails the test.
"""
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import shutil

import nio

SRC = os.environ.get("MXR_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("MXR_BUILDDIR", os.getcwd())
SPAWN = os.path.join(SRC, "conformance", "spawn")


def check(resp, kind):
    if not isinstance(resp, kind):
        raise AssertionError("expected %s, got %r" % (kind.__name__, resp))
    return resp


async def scenario(base, ca):
    ctx = ssl.create_default_context(cafile=ca)   # the env's SSL_CERT_FILE is not this CA
    cfg = nio.AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
    alice = nio.AsyncClient(base, "alice", config=cfg, ssl=ctx)
    bob = nio.AsyncClient(base, "bob", config=cfg, ssl=ctx)
    try:
        check(await alice.register("alice", "pw-alice-1", "alice's laptop"), nio.RegisterResponse)
        check(await bob.register("bob", "pw-bob-1"), nio.RegisterResponse)
        assert alice.user_id.endswith(":hs1.mxr.test"), alice.user_id
        who = check(await alice.whoami(), nio.responses.WhoamiResponse)
        assert who.user_id == alice.user_id

        # a fresh login of bob on a second client, with the password
        bob2 = nio.AsyncClient(base, "bob", config=cfg, ssl=ctx)
        check(await bob2.login("pw-bob-1", device_name="phone"), nio.LoginResponse)
        await bob2.close()

        created = check(await alice.room_create(name="nio room", topic="testing", invite=[bob.user_id]),
                        nio.RoomCreateResponse)
        room_id = created.room_id
        check(await alice.sync(timeout=0, full_state=True), nio.SyncResponse)
        assert room_id in alice.rooms, alice.rooms.keys()
        assert alice.rooms[room_id].name == "nio room", alice.rooms[room_id].name

        sb = check(await bob.sync(timeout=0), nio.SyncResponse)
        assert room_id in sb.rooms.invite, sb.rooms.invite.keys()
        check(await bob.join(room_id), nio.JoinResponse)
        check(await bob.sync(timeout=0), nio.SyncResponse)
        assert room_id in bob.rooms, bob.rooms.keys()

        sent = check(await alice.room_send(room_id, "m.room.message",
                                           {"msgtype": "m.text", "body": "hello from nio"}), nio.RoomSendResponse)
        got = check(await bob.sync(timeout=10000), nio.SyncResponse)
        events = got.rooms.join[room_id].timeline.events
        texts = [e for e in events if isinstance(e, nio.RoomMessageText)]
        assert texts and texts[-1].body == "hello from nio" and texts[-1].event_id == sent.event_id, events

        members = check(await alice.joined_members(room_id), nio.JoinedMembersResponse)
        assert sorted(m.user_id for m in members.members) == sorted([alice.user_id, bob.user_id]), members
        rooms = check(await bob.joined_rooms(), nio.JoinedRoomsResponse)
        assert room_id in rooms.rooms
        state = check(await alice.room_get_state(room_id), nio.RoomGetStateResponse)
        assert any(e.get("type") == "m.room.topic" for e in state.events)
        check(await alice.set_displayname("Alice N."), nio.ProfileSetDisplayNameResponse)
        dn = check(await bob.get_displayname(alice.user_id), nio.ProfileGetDisplayNameResponse)
        assert dn.displayname == "Alice N.", dn
        got = check(await bob.sync(timeout=10000), nio.SyncResponse)
        assert bob.rooms[room_id].user_name(alice.user_id) == "Alice N.", bob.rooms[room_id].users
        msgs = check(await bob.room_messages(room_id, start=got.rooms.join[room_id].timeline.prev_batch or "",
                                             limit=20), nio.RoomMessagesResponse)
        assert any(isinstance(e, nio.RoomMessageText) for e in msgs.chunk), msgs.chunk
        check(await bob.room_leave(room_id), nio.RoomLeaveResponse)
        check(await alice.logout(), nio.LogoutResponse)
        check(await bob.logout(), nio.LogoutResponse)
    finally:
        await alice.close()
        await bob.close()


def main():
    tmp = tempfile.mkdtemp(prefix="mxr-nio.")
    try:
        out = subprocess.run([sys.executable, SPAWN, "1", tmp, "--mxrelay", os.path.join(BUILD, "mxrelay")],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print("FAIL: spawn: %s" % out.stderr)
            return 1
        srv = json.load(open(os.path.join(tmp, "servers.json")))[0]
        try:
            asyncio.run(scenario(srv["base_url"], srv["ca_file"]))
        except AssertionError as e:
            print("FAIL: %s" % e)
            print(open(srv["log"]).read()[-4000:])
            return 1
        print("PASS: matrix-nio %s against mxrelay" % getattr(nio, "__version__", "0.20"))
        return 0
    finally:
        subprocess.run([sys.executable, SPAWN, "--stop", tmp], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


sys.exit(main())
