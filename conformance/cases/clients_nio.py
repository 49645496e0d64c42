"""End-to-end encryption across two relays, driven by a real client:
Debian's python3-matrix-nio (0.20) with python3-olm. alice is on relay A, bob
on relay B, both spawned by the suite with HTTPS on loopback; every request
nio makes is the one a deployed client makes, and nio validates every
response against its schemas (a shape it rejects is an *Error response,
which fails the case).

Each case builds the same start (lib/nioscenario.py: an encrypted room on A,
bob invited and joined over federation, one message each way, each decrypted
by the other) and then tests one more thing: a second device of bob's, a
relay stopped while a message is sent to it, a server-side key backup.

nio 0.20 has no key-backup API: the backup case encrypts the exported megolm
sessions to the backup's public key with olm's PkEncryption (which is the
spec's m.megolm_backup.v1.curve25519-aes-sha2) and talks raw HTTP to
/room_keys.

Default (spawn) mode only. A case skips when nio or olm is not installed, or
(as not implemented by the target) when relay A does not route an endpoint
the scenario needs."""
from lib import case
from lib import nioscenario as ns

S = "End-to-end encryption (matrix-nio, two relays)"
SP_E2E = ("client-server-api §End-to-End Encryption (§Key management API: keys/upload, keys/query, keys/claim), "
          "§Send-to-Device messaging; server-server-api §End-to-End Encryption (§Querying keys, §Claiming one-time "
          "keys), §Send-to-device messaging, §Inviting to a room, §Joining Rooms")
SP_DEV = ("client-server-api §Tracking the device list for a user (device_lists in /sync, keys/changes); "
          "server-server-api §Device Management (m.device_list_update)")
SP_TXN = "server-server-api §Transactions (a sending server retries a destination that was down)"
SP_BACKUP = ("client-server-api §Server-side key backups (m.megolm_backup.v1.curve25519-aes-sha2: "
             "/room_keys/version, /room_keys/keys)")


@case("clients.nio.encrypted_room_over_federation", section=S, spec=SP_E2E, requires=("cluster",))
def encrypted_room_over_federation(ctx):
    """alice (A) creates an encrypted room and invites bob (B); bob joins over federation; each decrypts the other's messages"""
    ns.run(ctx, [])


@case("clients.nio.second_device_gets_keys", section=S, spec=SP_E2E + "; " + SP_DEV, requires=("cluster",))
def second_device_gets_keys(ctx):
    """bob's second device logs in later on B: alice's client learns of it over federation and it decrypts what alice sends next"""
    ns.run(ctx, [ns.second_device])


@case("clients.nio.message_while_relay_down", section=S, spec=SP_E2E + "; " + SP_TXN, requires=("cluster",))
def message_while_relay_down(ctx):
    """An encrypted message sent while relay B is stopped reaches bob, and decrypts, after B restarts"""
    ns.run(ctx, [ns.relay_down])


@case("clients.nio.key_backup_restore", section=S, spec=SP_E2E + "; " + SP_BACKUP, requires=("cluster",))
def key_backup_restore(ctx):
    """alice uploads her megolm keys to a server-side backup and a fresh device of hers restores them and decrypts the history"""
    ns.run(ctx, [ns.key_backup], backup=True)
