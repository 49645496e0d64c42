/* Checks on receipt of a PDU, steps 1-3 (spec: server-server API "Checks
 * performed on receipt of a PDU", "Validating hashes and signatures on
 * received events"), and signing outgoing PDUs ("Adding hashes and signatures
 * to outgoing events").
 *
 * Order on receipt: mxr_pdu_check_format (fail: drop), mxr_pdu_check_signatures
 * (fail: drop), mxr_pdu_check_hash (mismatch: continue with the redacted copy).
 */
#ifndef MXR_PDU_H
#define MXR_PDU_H

#include <jansson.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/keys.h"
#include "mxr/roomver.h"
#include "mxr/sign.h"

#define MXR_PDU_MAX_PREV_EVENTS 20   /* pdu_v1/v3, auth_events_prev_events_v4.yaml */
#define MXR_PDU_MAX_AUTH_EVENTS 10
#define MXR_PDU_MAX_TYPE_BYTES 255   /* client-server API "Size limits": type, state_key */

enum mxr_pdu_format_flags {
    /* Do not enforce the prev_events / auth_events counts: events returned by
     * /backfill and /get_missing_events may predate the limits. */
    MXR_PDU_NO_COUNT_LIMITS = 1u << 0,
};

/* Step 1, "is a valid event" for the room version: the PDU schema
 * (data/api/server-server/definitions/pdu_v*.yaml: required fields and their
 * JSON types, v1/v2 [id, {sha256}] pairs, v3+ ID lists), at most 20
 * prev_events and 10 auth_events, depth in [0, 2^63-1] (v1-v5) or
 * [0, 2^53-1] (v6+), type and state_key at most 255 bytes, sender and IDs per
 * the identifier grammar (user IDs in their historical form), 65,536 bytes of
 * canonical JSON, strict canonical JSON for v6+, and for v12 the room ID
 * rules (create: no room_id; others: "!" + 43 URL-safe base64 characters).
 * 0, or -1 with M_BAD_JSON / M_TOO_LARGE naming the field and rule. */
int mxr_pdu_check_format(const json_t *pdu, const struct mxr_room_version *rv, unsigned flags,
                         struct mxr_err *err);

/* Step 2: the redacted PDU must carry valid signatures (mxr_verify_json_keys)
 * from the sender's server (except for a third-party invite: an
 * m.room.member invite with content.third_party_invite, whose sender is
 * checked against the invite by the auth rules and may be relayed by
 * another server), for v1/v2 also from the event ID's server, and for v8+
 * restricted joins (m.room.member, membership join, with
 * content.join_authorised_via_users_server) also from that user's server.
 * Keys are wanted valid at origin_server_ts for v5+ (enforce_key_validity),
 * at any time before. 0 or -1 (M_FORBIDDEN naming the server). */
int mxr_pdu_check_signatures(const json_t *pdu, const struct mxr_room_version *rv,
                             const struct mxr_verify_keys *keys, struct mxr_err *err);

/* One server's signature on the redacted PDU (the building block of the
 * above; auth rule 4.2 of v8+ asks it for join_authorised_via_users_server
 * on any membership). */
int mxr_pdu_check_server_signature(const json_t *pdu, const struct mxr_room_version *rv, const char *server,
                                   const struct mxr_verify_keys *keys, struct mxr_err *err);

/* Step 3: recomputes the content hash and compares it with hashes.sha256.
 * Returns 0 when equal; 1 when it differs or is missing/undecodable (err
 * says so): the caller must continue with mxr_event_redact's copy; -1 when
 * the hash cannot be computed (e.g. floats in a v1-v5 event). */
int mxr_pdu_check_hash(const json_t *pdu, struct mxr_err *err);

/* Signs an outgoing PDU in place as `server`: sets hashes = {sha256: content
 * hash}, redacts a copy, signs the copy and copies its `signatures` back
 * (keeping others' signatures). */
int mxr_pdu_sign(json_t *pdu, const struct mxr_room_version *rv, const char *server,
                 const struct mxr_signing_key *key, struct mxr_err *err);

#endif
