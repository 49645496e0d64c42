/* State resolution v2.1 (room version 12, spec rooms/v12.md "State
 * resolution") against v2 (room version 11) on the same event graphs.
 *
 * v2.1 changes exactly: (1) the conflicted state subgraph (every event on an
 * auth_events path between two conflicted events, endpoints included) joins
 * the full conflicted set; (2) step 2 starts from an empty state map instead
 * of the unconflicted state map. Each scenario below is resolved in both
 * versions and the two expectations, worked out by hand, differ.
 *
 * The room is the kit's base room (ts 0-6): in v12 the create event is not
 * listed in auth_events and Alice, the creator, has infinite power and is
 * not listed in `users`. Auth chains (v11; drop CREATE for v12):
 * IMA {CREATE}, IPOWER {CREATE IMA}, IJR {CREATE IMA IPOWER},
 * IMB/IMC/IMZ {CREATE IJR IPOWER IMA}.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stateres/kit.h"

/*   P1 (7)  Alice: users + {Bob 50}                           auth CREATE IMA IPOWER
 *   T  (8)  Alice topic                                       auth CREATE IMA P1
 *   P2 (9)  Bob: users + {Bob 50}, events {m.room.topic: 50}   auth CREATE IMB P1
 * S1 = base + T (PL IPOWER: the branch lost P1 but kept T); S2 = base - IPOWER + P2 + T.
 * Unconflicted: CREATE IMA IJR IMB IMC IMZ T. Conflicted: PL {IPOWER, P2}.
 * C1 = {CREATE IMA IPOWER IJR} + {P1} (T); C2 = the same + {IMB} (P2 cites
 * IMB; nothing in S1 does). Auth difference {IMB}.
 *
 * v2 (room 11): full conflicted set {IPOWER P2 IMB}. X = all three (IMB is in
 * P2's chain); IMB after IPOWER, P2 after IMB and (through P1, outside X)
 * IPOWER: order IPOWER, IMB, P2. From the unconflicted state: IPOWER allowed
 * (no earlier PL; Alice is the creator, 100 >= 50); IMB allowed (public);
 * P2: under IPOWER Bob has 0 < state_default 50: rejected.
 * Result: base + T with IPOWER.
 *
 * v2.1 (room 12): the subgraph holds the events on paths from P2 down to
 * IPOWER: P2 -> P1 -> IPOWER, P2 -> IMB -> IPOWER, P2 -> IMB -> IJR -> IPOWER
 * (IMA reaches no conflicted event): {P2 P1 IMB IJR IPOWER}. Full conflicted
 * set: the same five. X: power events IPOWER P1 P2 IJR, plus IMB from P2's
 * chain. Edges: P1, IJR after IPOWER; IMB after IJR, IPOWER; P2 after IMB, P1.
 * pl: Alice's events infinite (creator), IMB 0, P2 50. Kahn: IPOWER;
 * {IJR(ts 3), P1(ts 7)} both infinite -> IJR, P1; IMB; P2.
 * From the empty state: IPOWER allowed (no earlier PL; create from the room
 * ID, Alice's membership from its auth events), IJR allowed, P1 allowed
 * (Alice adds Bob 50), IMB allowed (public), P2: under P1 Bob has 50 >= 50
 * and adds an events entry of 50: allowed. Nothing remains.
 * Result: base + T with P2 (the subgraph brings P1 back). */
static void run_subgraph(const char *version, const char *want, size_t full, size_t subgraph)
{
    struct kit k;
    kit_init(&k, version);
    kit_base_room(&k);
    const char *bob50 = "\"" BOB "\":50";
    kit_event(&k, "P1", "m.room.power_levels", "", ALICE, kit_pl(&k, bob50, ""), "CREATE IMA IPOWER", "IMZ");
    kit_event(&k, "T", "m.room.topic", "", ALICE, "{\"topic\":\"t\"}", "CREATE IMA P1", "P1");
    kit_event(&k, "P2", "m.room.power_levels", "", BOB, kit_pl(&k, bob50, "\"events\":{\"m.room.topic\":50}"),
              "CREATE IMB P1", "T");
    const char *sets[] = { KIT_BASE " T", "CREATE IMA P2 IJR IMB IMC IMZ T" };
    struct mxr_stateres_stats st;
    json_t *got = kit_resolve(&k, sets, 2, &st);
    kit_assert_state(&k, got, want);
    assert_int_equal(st.conflicted, 2);
    assert_int_equal(st.auth_difference, 1);
    assert_int_equal(st.subgraph, subgraph);
    assert_int_equal(st.full_conflicted, full);
    json_decref(got);
    kit_free(&k);
}

static void subgraph_v2(void **state)
{
    (void)state;
    run_subgraph("11", KIT_BASE " T", 3, 0);
}

static void subgraph_v2_1(void **state)
{
    (void)state;
    run_subgraph("12", "CREATE IMA P2 IJR IMB IMC IMZ T", 5, 5);
}

/*   PA (7)  Alice: users + {Bob 50}                          auth CREATE IMA IPOWER
 *   P1 (8)  Bob: users + {Bob 50}, events {m.room.topic: 50}  auth CREATE IMB PA
 *   LB (9)  Bob leaves                                       auth CREATE IMB PA
 * S1 = base - IPOWER - IMB + P1 + LB; S2 = base - IPOWER - IMB + PA + LB
 * (both branches have seen Bob leave; only one has his earlier PL change).
 * Unconflicted: CREATE IMA IJR LB IMC IMZ. Conflicted: PL {P1, PA}.
 * C1 = {CREATE IMA IPOWER IJR IMB PA} (P1, LB) = C2 (PA, LB): no auth
 * difference. The subgraph (v2.1) is P1 -> PA only: {P1 PA}. Either way the
 * full conflicted set is {P1 PA}; X = {PA, P1}, P1 after PA.
 *
 * v2 (room 11): from the unconflicted state, where Bob's membership is LB:
 * PA allowed; P1: Bob is not joined (LB): rejected. Result: PL PA.
 * v2.1 (room 12): from the empty state: PA allowed (PL from its auth events:
 * IPOWER); P1: Bob's membership is not in the state, so it comes from P1's
 * auth events: IMB (join); under PA Bob has 50 >= 50: allowed. Step 5
 * restores LB. Result: PL P1. */
static void run_empty_start(const char *version, const char *want)
{
    struct kit k;
    kit_init(&k, version);
    kit_base_room(&k);
    const char *bob50 = "\"" BOB "\":50";
    kit_event(&k, "PA", "m.room.power_levels", "", ALICE, kit_pl(&k, bob50, ""), "CREATE IMA IPOWER", "IMZ");
    kit_event(&k, "P1", "m.room.power_levels", "", BOB, kit_pl(&k, bob50, "\"events\":{\"m.room.topic\":50}"),
              "CREATE IMB PA", "PA");
    kit_event(&k, "LB", "m.room.member", BOB, BOB, "{\"membership\":\"leave\"}", "CREATE IMB PA", "PA");
    const char *sets[] = { "CREATE IMA P1 IJR LB IMC IMZ", "CREATE IMA PA IJR LB IMC IMZ" };
    struct mxr_stateres_stats st;
    json_t *got = kit_resolve(&k, sets, 2, &st);
    kit_assert_state(&k, got, want);
    assert_int_equal(st.conflicted, 2);
    assert_int_equal(st.auth_difference, 0);
    assert_int_equal(st.full_conflicted, 2);
    json_decref(got);
    kit_free(&k);
}

static void empty_start_v2(void **state)
{
    (void)state;
    run_empty_start("11", "CREATE IMA PA IJR LB IMC IMZ");
}

static void empty_start_v2_1(void **state)
{
    (void)state;
    run_empty_start("12", "CREATE IMA P1 IJR LB IMC IMZ");
}

/* v12 without conflicts, and a v12 room whose create event is missing:
 * the room ID names it, so it must be fetchable. */
static void v12_create_needed(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, "12");
    kit_base_room(&k);
    const char *sets[] = { "IMA IPOWER IJR IMB", "IMA IPOWER IJR IMB" };
    json_t *got = kit_resolve(&k, sets, 2, NULL);
    kit_assert_state(&k, got, "IMA IPOWER IJR IMB");
    json_decref(got);
    /* Drop the create event from what fetch can see. */
    struct mxr_event create = k.events[0];
    k.events[0] = k.events[--k.n];
    json_t *s[1] = { kit_state(&k, "IMA") };
    struct mxr_err err = {0};
    assert_null(mxr_state_resolve(k.rv, s, 1, kit_fetch, &k, &err));
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    json_decref(s[0]);
    k.events[k.n++] = create;
    kit_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subgraph_v2),
        cmocka_unit_test(subgraph_v2_1),
        cmocka_unit_test(empty_start_v2),
        cmocka_unit_test(empty_start_v2_1),
        cmocka_unit_test(v12_create_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
