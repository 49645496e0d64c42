/* Test helper for tests/relay/fed_blackbox.sh: gives a stopped relay a room
 * to federate in before the client API can create one.
 *
 *   fed_seed DATA_DIR SERVER_NAME ROOM_VERSION CREATOR [no-ip-literals]
 *
 * Opens the store the daemon uses (DATA_DIR/store), loads or generates
 * DATA_DIR/signing.key, creates a public_chat room of CREATOR (a user of
 * SERVER_NAME) in which members may send the test's state type
 * org.mxrelay.test at power 0, and prints the room ID. With no-ip-literals
 * the room gets an m.room.server_acl allowing every server but IP literals.
 * The daemon must not be running. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mxr/keys.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

int main(int argc, char **argv)
{
    if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "no-ip-literals"))) {
        fprintf(stderr, "usage: fed_seed DATA_DIR SERVER_NAME ROOM_VERSION CREATOR [no-ip-literals]\n");
        return 2;
    }
    const char *dir = argv[1], *server = argv[2], *version = argv[3], *creator = argv[4];
    char key_path[4096], store_path[4096];
    snprintf(key_path, sizeof key_path, "%s/signing.key", dir);
    snprintf(store_path, sizeof store_path, "%s/store", dir);
    struct mxr_err err = { 0 };
    struct mxr_signing_key key = { 0 };
    int rc = access(key_path, F_OK) == 0 ? mxr_key_load(&key, key_path, &err)
                                         : (mxr_key_generate(&key, NULL, &err) < 0 ? -1 : mxr_key_save(&key, key_path, &err));
    if (rc < 0) {
        fprintf(stderr, "fed_seed: %s: %s\n", key_path, err.msg);
        return 1;
    }
    struct mxr_store_options so = { .path = store_path };
    struct mxr_store *store = mxr_store_open(&so, &err);
    if (!store) {
        fprintf(stderr, "fed_seed: store %s: %s\n", store_path, err.msg);
        return 1;
    }
    struct mxr_rooms_deps d = { .server_name = server, .key = &key, .store = store };
    struct mxr_rooms *rooms = mxr_rooms_new(&d, &err);
    char room[MXR_ID_MAX + 1];
    json_t *pl = json_pack("{s:{s:i}}", "events", "org.mxrelay.test", 0);
    json_t *acl = argc == 6 ? json_pack("[{s:s, s:s, s:{s:[s], s:b}}]", "type", "m.room.server_acl", "state_key", "",
                                        "content", "allow", "*", "allow_ip_literals", 0)
                            : NULL;
    struct mxr_rooms_create_opts o = { .room_version = version, .preset = "public_chat", .name = "black-box",
                                       .power_level_content_override = pl, .initial_state = acl };
    rc = rooms ? mxr_rooms_create_room(rooms, creator, &o, room, &err) : -1;
    json_decref(pl);
    json_decref(acl);
    mxr_rooms_free(rooms);
    mxr_store_close(store);
    mxr_key_wipe(&key);
    if (rc < 0) {
        fprintf(stderr, "fed_seed: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", room);
    return 0;
}
