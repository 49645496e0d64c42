/* Internals of the EDU store shared by relay/federation/edus.c (validation,
 * memory) and edus_durable.c (the part kept in relay/store/edus.h tables). */
#ifndef MXR_RELAY_EDUS_INT_H
#define MXR_RELAY_EDUS_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

struct mxr_store;

#define RECEIPT_KEY_MAX 440       /* user + thread bytes a stored receipt key has room for */

struct mxr_edu_store {
    pthread_mutex_t mu;
    uint64_t position;
    uint64_t to_device_seq;
    struct mxr_store *store;   /* durable to-device and receipts when attached */
    pthread_mutex_t flush_mu;  /* one flush at a time: a flush returns after the pending work it saw committed */
    json_t *pending;     /* durable work applied but not yet written: [{k: "td"|"rc", ...}] */
    json_t *typing;      /* room -> user -> expiry ts */
    json_t *typing_pos;  /* room -> position of its last typing change */
    json_t *receipts;    /* room -> receipt type -> user -> {event_ids, data} */
    json_t *presence;    /* user -> {presence, last_active_ago, received_ts, status_msg?, currently_active?} */
    json_t *devices;     /* user -> {stream_id, stale, seen: [ids], devices: {id: {...}}} */
    json_t *signing;     /* user -> {master_key?, self_signing_key?} */
    json_t *to_device;   /* user -> [{seq, device, sender, type, content}] */
    json_t *dedup;       /* "origin\037message_id" -> true */
    json_t *dedup_order; /* the keys of dedup, oldest first */
};

/* obj[key], created as an empty object when missing (NULL when out of memory). */
json_t *edu_child(json_t *obj, const char *key);
/* o[key] when a string, else NULL. */
const char *edu_str(const json_t *o, const char *key);

/* The durable to-device read of mxr_edu_to_device (s->store set). */
json_t *edu_to_device_durable(struct mxr_edu_store *s, const char *user_id, const char *device_id, uint64_t since,
                              size_t limit, uint64_t *next);
/* mxr_edu_receipts over the store (s->store set). */
json_t *edu_receipts_durable(struct mxr_edu_store *s, const char *room_id);

#endif
