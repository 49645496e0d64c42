/* PDUs: parsing per room version, content and reference hashes, event IDs,
 * redaction (spec: server-server API "Signing Events", rooms/v*.md). */
#ifndef MXR_EVENT_H
#define MXR_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/roomver.h"

#define MXR_ID_MAX 255             /* user/room/event ID, alias: bytes incl. sigil and domain */
#define MXR_PDU_MAX_BYTES 65536    /* canonical JSON in federation format incl. signatures */

/* A parsed event. String fields point into `json` (which the event holds a
 * reference to); arrays are owned. Read-only after mxr_event_load. */
struct mxr_event {
    json_t *json;                       /* the full PDU (one reference owned) */
    const struct mxr_room_version *rv;
    char event_id[MXR_ID_MAX + 1];      /* given (v1/v2, or an explicit override) or computed */
    const char *type;
    const char *sender;
    const char *room_id;                /* v12 create: NULL on the wire; derived room ID is in `room_id_buf` */
    const char *state_key;              /* NULL for non-state events */
    json_t *content;                    /* borrowed from json; always an object */
    int64_t depth;
    int64_t origin_server_ts;
    const char **prev_events;           /* IDs, whatever the wire format */
    size_t n_prev_events;
    const char **auth_events;
    size_t n_auth_events;
    const char *redacts;                /* m.room.redaction target (top level v1-v10, content v11+), else NULL */
    char room_id_buf[MXR_ID_MAX + 1];   /* v12 create event: the derived room ID */
};

enum mxr_event_load_flags {
    /* Full PDU format checks for the room version (types, sizes, ID grammar,
     * required hashes/signatures, 65,536-byte limit, prev/auth counts,
     * strict canonical JSON for v6+). Without it only what auth rules and
     * state resolution read is required (hand-written scenarios). */
    MXR_EVENT_STRICT_FORMAT = 1u << 0,
    /* Accept an `event_id` field as the ID in any room version (hand-written
     * scenarios of `mxr auth` / `mxr resolve`). */
    MXR_EVENT_TRUST_GIVEN_ID = 1u << 1,
};

/* Parses pdu for room version rv; takes its own reference to pdu. */
int mxr_event_load(struct mxr_event *ev, json_t *pdu, const struct mxr_room_version *rv,
                   unsigned flags, struct mxr_err *err);
void mxr_event_release(struct mxr_event *ev);

/* Convenience accessors over ev->content (NULL / fallback when absent or of
 * another JSON type). */
const char *mxr_event_content_str(const struct mxr_event *ev, const char *key);

/* The redacted copy of an event per rv's redaction rules (new reference). */
json_t *mxr_event_redact(const json_t *pdu, const struct mxr_room_version *rv, struct mxr_err *err);

/* Content hash: unpadded std base64 SHA-256 of the canonical event without
 * unsigned/signatures/hashes. out >= 44 bytes. */
int mxr_event_content_hash(const json_t *pdu, char out[44], struct mxr_err *err);

/* Reference hash (raw 32 bytes): redact, drop signatures/unsigned (and, for
 * computing IDs, event_id in v3+), canonical JSON, SHA-256. */
int mxr_event_reference_hash(const json_t *pdu, const struct mxr_room_version *rv,
                             uint8_t out[32], struct mxr_err *err);

/* Event ID per rv: v1/v2 the `event_id` field; v3 $+std b64; v4+ $+URL-safe b64. */
int mxr_event_compute_id(const json_t *pdu, const struct mxr_room_version *rv,
                         char out[MXR_ID_MAX + 1], struct mxr_err *err);

#endif
