/* State resolution v2 (room versions 2-11), spec rooms/fragments/v2-state-res.md.
 *
 * Every expectation below was worked out by hand from the spec text; the
 * comment of each test carries the derivation. Notation: C_i is the union of
 * the auth chains of the events of state set S_i (an event's auth chain is
 * its auth events, recursively, without the event itself); X is the set of
 * step 1; "pl(E)" is the power level of E's sender read from E's own auth
 * events. The base room (kit.h) has ts 0-6:
 *   CREATE(0) IMA(1) IPOWER(2, Alice 100) IJR(3, public) IMB(4) IMC(5) IMZ(6).
 * Its auth chains: CREATE {}, IMA {CREATE}, IPOWER {CREATE IMA},
 * IJR {CREATE IMA IPOWER}, IMB/IMC/IMZ {CREATE IJR IPOWER IMA}.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stateres/kit.h"

#define ROOM_V "11"

/* Concurrent ban and power level change.
 *   PA (ts 7)  Alice: users {Alice 100, Bob 50}          auth CREATE IMA IPOWER
 *   MB (ts 8)  Alice bans Bob                             auth CREATE IMA PA IMB
 *   PB (ts 9)  Bob: PA + events {m.room.name: 50}         auth CREATE IMB PA
 * S1 = base - IPOWER - IMB + PA + MB; S2 = base - IPOWER + PB (Bob = IMB).
 * Unconflicted: CREATE IMA IJR IMC IMZ. Conflicted: PL {PA, PB}, Bob {MB, IMB}.
 * C1 = {CREATE IMA IPOWER IJR} + chain(PA) + chain(MB) = {CREATE IMA IPOWER IJR PA IMB}
 * C2 = {CREATE IMA IPOWER IJR} + chain(PB) + chain(IMB) = the same set, so the
 * auth difference is empty and the full conflicted set is {PA PB MB IMB}.
 * Power events: PA, PB (power levels), MB (ban by another user). MB's and PB's
 * auth chains hold IMB, which is in the full conflicted set: X = {PA PB MB IMB}.
 * Edges inside X: MB after PA and IMB; PB after PA and IMB.
 * pl: PA 100 (IPOWER), IMB 0 (IPOWER), MB 100 (PA), PB 50 (PA).
 * Kahn: {PA(100), IMB(0)} -> PA; {IMB} -> IMB; {MB(100), PB(50)} -> MB, PB.
 * Iterative auth checks from the unconflicted state:
 *   PA: PL taken from its auth events (IPOWER); Alice 100 adds Bob 50: allowed.
 *   IMB: public room, Bob not banned: allowed.
 *   MB: Alice 100 >= ban 50 (default) and Bob's 50 < Alice's 100: allowed.
 *   PB: Bob's membership in the state is MB (ban), not join: rejected.
 * Nothing remains for mainline ordering. Result: unconflicted + PA + MB. */
static void ban_vs_power_levels(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    kit_event(&k, "PA", "m.room.power_levels", "", ALICE, kit_pl(&k, "\"" BOB "\":50", ""), "CREATE IMA IPOWER",
              "IMZ");
    kit_event(&k, "MB", "m.room.member", BOB, ALICE, "{\"membership\":\"ban\"}", "CREATE IMA PA IMB", "PA");
    kit_event(&k, "PB", "m.room.power_levels", "", BOB,
              kit_pl(&k, "\"" BOB "\":50", "\"events\":{\"m.room.name\":50}"), "CREATE IMB PA", "PA");
    const char *sets[] = { "CREATE IMA IJR IMC IMZ PA MB", "CREATE IMA IJR IMC IMZ PB IMB" };
    struct mxr_stateres_stats st;
    json_t *got = kit_resolve(&k, sets, 2, &st);
    kit_assert_state(&k, got, "CREATE IMA IJR IMC IMZ PA MB");
    assert_int_equal(st.conflicted, 4);
    assert_int_equal(st.auth_difference, 0);
    assert_int_equal(st.full_conflicted, 4);
    assert_int_equal(st.power_sorted, 4);
    assert_int_equal(st.mainline_sorted, 0);
    assert_int_equal(st.rejected, 1);
    json_decref(got);
    kit_free(&k);
}

/* A join racing a change of the join rule to invite.
 *   JR (ts 7)  Alice: join_rule invite     auth CREATE IMA IPOWER
 *   ME (ts 8)  Evelyn joins                auth CREATE IJR IPOWER
 * S1 = base - IJR + JR; S2 = base + ME.
 * Conflicted: join rules {IJR, JR}; Evelyn's key is only in S2, so it is not
 * in every set: conflicted {ME}. C1 = C2 = {CREATE IMA IPOWER IJR}: no auth
 * difference. Power events: IJR, JR; their auth chains hold nothing else of
 * the full conflicted set: X = {IJR JR}, no edge between them, both pl 100
 * (IPOWER): by origin_server_ts IJR (3), JR (7).
 * From the unconflicted state (no join rules): IJR allowed, then JR allowed.
 * Remaining: ME. Mainline of the partial power levels IPOWER = [IPOWER];
 * ME cites IPOWER: position 0. Checking ME: join rule is JR (invite),
 * Evelyn has no membership (neither in the state nor in ME's auth events):
 * rejected. Result: base with JR, without Evelyn. */
static void join_rules_race_join(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    kit_event(&k, "JR", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"invite\"}", "CREATE IMA IPOWER", "IMZ");
    kit_event(&k, "ME", "m.room.member", EVELYN, EVELYN, KIT_JOIN, "CREATE IJR IPOWER", "IMZ");
    const char *sets[] = { "CREATE IMA IPOWER JR IMB IMC IMZ", KIT_BASE " ME" };
    struct mxr_stateres_stats st;
    json_t *got = kit_resolve(&k, sets, 2, &st);
    kit_assert_state(&k, got, "CREATE IMA IPOWER JR IMB IMC IMZ");
    assert_int_equal(st.conflicted, 3);
    assert_int_equal(st.power_sorted, 2);
    assert_int_equal(st.mainline_sorted, 1);
    assert_int_equal(st.rejected, 1);
    json_decref(got);
    kit_free(&k);
}

/* Topic conflict decided by mainline ordering, not by timestamp.
 *   T1  (7)  Alice topic                                     auth CREATE IMA IPOWER
 *   PA1 (8)  Alice: users {Alice 100, Bob 50}                auth CREATE IMA IPOWER
 *   T2  (9)  Alice topic                                     auth CREATE IMA PA1
 *   PA2 (10) Alice: PA1 + events {m.room.power_levels: 100}  auth CREATE IMA PA1
 *   PB  (11) Bob: same content as PA1                        auth CREATE IMB PA1
 *   T3  (12) Bob topic                                       auth CREATE IMB PA2
 *   T4  (13) Alice topic                                     auth CREATE IMA PB
 * S1 = base - IPOWER + PA2 + T3; S2 = base - IPOWER + PB + T4.
 * Conflicted: PL {PA2, PB}, topic {T3, T4}.
 * C1 = {CREATE IMA IPOWER IJR} + {PA1} (PA2) + {IMB PA2 PA1} (T3);
 * C2 = {CREATE IMA IPOWER IJR} + {IMB PA1} (PB) + {PB IMB PA1} (T4).
 * Auth difference {PA2, PB}; full conflicted set {PA2 PB T3 T4}.
 * X = {PA2, PB} (their chains hold nothing else of the set), no edge;
 * pl(PA2) = 100 (PA1), pl(PB) = 50 (PA1): PA2, PB.
 * From the unconflicted state (no PL): PA2 (PL from its auth events: PA1)
 * Alice adds events.m.room.power_levels 100 <= 100: allowed. PB: the state's
 * PA2 requires 100 for power levels, Bob has 50: rejected.
 * Mainline of PA2: PA2 (0), PA1 (1), IPOWER (2). T3's first PL auth event is
 * PA2: position 0; T4's is PB, not on the mainline, then PB's PA1: position 1.
 * Greater position first: T4, T3. Both allowed under PA2 (state_default 50;
 * Alice 100, Bob 50), T3 applied last. Result: unconflicted + PA2 + T3 (T4
 * would win by timestamp). */
static void topic_mainline(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    const char *bob50 = "\"" BOB "\":50";
    kit_event(&k, "T1", "m.room.topic", "", ALICE, "{\"topic\":\"1\"}", "CREATE IMA IPOWER", "IMZ");
    kit_event(&k, "PA1", "m.room.power_levels", "", ALICE, kit_pl(&k, bob50, ""), "CREATE IMA IPOWER", "T1");
    kit_event(&k, "T2", "m.room.topic", "", ALICE, "{\"topic\":\"2\"}", "CREATE IMA PA1", "PA1");
    kit_event(&k, "PA2", "m.room.power_levels", "", ALICE,
              kit_pl(&k, bob50, "\"events\":{\"m.room.power_levels\":100}"), "CREATE IMA PA1", "T2");
    kit_event(&k, "PB", "m.room.power_levels", "", BOB, kit_pl(&k, bob50, ""), "CREATE IMB PA1", "PA1");
    kit_event(&k, "T3", "m.room.topic", "", BOB, "{\"topic\":\"3\"}", "CREATE IMB PA2", "PA2");
    kit_event(&k, "T4", "m.room.topic", "", ALICE, "{\"topic\":\"4\"}", "CREATE IMA PB", "PB");
    const char *sets[] = { "CREATE IMA IJR IMB IMC IMZ PA2 T3", "CREATE IMA IJR IMB IMC IMZ PB T4" };
    struct mxr_stateres_stats st;
    json_t *got = kit_resolve(&k, sets, 2, &st);
    kit_assert_state(&k, got, "CREATE IMA IJR IMB IMC IMZ PA2 T3");
    assert_int_equal(st.conflicted, 4);
    assert_int_equal(st.auth_difference, 2);
    assert_int_equal(st.full_conflicted, 4);
    assert_int_equal(st.power_sorted, 2);
    assert_int_equal(st.mainline_sorted, 2);
    assert_int_equal(st.rejected, 1);
    json_decref(got);
    kit_free(&k);
}

/* Bob's power is revoked on one branch while he uses it on the other.
 *   PA (7)  Alice: users {Alice 100, Bob 50}   auth CREATE IMA IPOWER
 *   PR (8)  Alice: users {Alice 100}           auth CREATE IMA PA      (branch 1)
 *   MK (9)  Bob kicks Charlie                  auth CREATE IMB PA IMC  (branch 2)
 *   TB (10) Bob topic                          auth CREATE IMB PA      (branch 2)
 * S1 = base - IPOWER + PR; S2 = base - IPOWER - IMC + PA + MK + TB.
 * Unconflicted: CREATE IMA IJR IMB IMZ. Conflicted: PL {PR, PA},
 * Charlie {IMC, MK}, topic {TB} (only in S2): 5 events.
 * C1 = {CREATE IMA IPOWER IJR} + {PA} (PR) = {CREATE IMA IPOWER IJR PA};
 * C2 = {CREATE IMA IPOWER IJR} + {IMB PA IMC} (MK, TB).
 * Auth difference {IMB, IMC}: IMB is unconflicted, but no auth chain of S1
 * holds it (the spec's C_i are unions of auth chains, which exclude the
 * events themselves). Full conflicted set {PR PA IMC MK TB IMB}.
 * Power events PR, PA, MK (leave sent by another user); MK's chain adds IMB
 * and IMC: X = {PA PR MK IMB IMC}. Edges: PR after PA; MK after IMB PA IMC.
 * pl: PA 100, PR 100 (PA), IMB 0, IMC 0, MK 50 (PA).
 * Kahn: {PA, IMB, IMC} -> PA (100); {PR, IMB, IMC} -> PR (100); IMB (ts 4),
 * IMC (ts 5); MK.
 * From the unconflicted state: PA allowed (PL from its auth: IPOWER); PR
 * allowed (removes Bob's 50 < 100); IMB allowed (public); IMC allowed; MK:
 * under PR Bob has 0 < kick 50: rejected.
 * Remaining {TB}: mainline of PR = PR (0), PA (1), IPOWER (2); TB cites PA:
 * position 1. TB: Bob 0 < state_default 50: rejected.
 * Result: unconflicted + PR + IMC, no topic. */
static void power_revoked_on_one_branch(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    kit_event(&k, "PA", "m.room.power_levels", "", ALICE, kit_pl(&k, "\"" BOB "\":50", ""), "CREATE IMA IPOWER",
              "IMZ");
    kit_event(&k, "PR", "m.room.power_levels", "", ALICE, kit_pl(&k, "", ""), "CREATE IMA PA", "PA");
    kit_event(&k, "MK", "m.room.member", CHARLIE, BOB, "{\"membership\":\"leave\"}", "CREATE IMB PA IMC", "PA");
    kit_event(&k, "TB", "m.room.topic", "", BOB, "{\"topic\":\"mine\"}", "CREATE IMB PA", "MK");
    const char *sets[] = { "CREATE IMA IJR IMB IMC IMZ PR", "CREATE IMA IJR IMB IMZ PA MK TB" };
    struct mxr_stateres_stats st;
    json_t *got = kit_resolve(&k, sets, 2, &st);
    kit_assert_state(&k, got, "CREATE IMA IJR IMB IMC IMZ PR");
    assert_int_equal(st.conflicted, 5);
    assert_int_equal(st.auth_difference, 2);
    assert_int_equal(st.full_conflicted, 6);
    assert_int_equal(st.power_sorted, 5);
    assert_int_equal(st.mainline_sorted, 1);
    assert_int_equal(st.rejected, 2);
    json_decref(got);
    kit_free(&k);
}

/* Reverse topological power ordering tie-breaks.
 *   PA  (7)  Alice: users {Alice 100, Bob 50}  auth CREATE IMA IPOWER
 *   JRB (8)  Bob: join_rule invite             auth CREATE IMB PA
 *   JRA (9)  Alice: join_rule knock            auth CREATE IMA PA
 * S1 = base - IPOWER - IJR + PA + JRB; S2 = same with JRA.
 * Unconflicted: CREATE IMA IMB IMC IMZ PA. Conflicted {JRB, JRA}.
 * C1 = {CREATE IMA IPOWER IJR} + {CREATE IMA IPOWER} (PA) + {IMB PA ...} (JRB);
 * C2 = {CREATE IMA IPOWER IJR} + {PA} (JRA): nothing in S2 cites IMB, so the
 * auth difference is {IMB} and the full conflicted set {JRB JRA IMB}.
 * X = {JRB, JRA} + IMB (in JRB's chain). Edge: JRB after IMB.
 * pl: JRA 100 (PA), JRB 50 (PA), IMB 0 (IPOWER).
 * Kahn: {JRA(100, ts 9), IMB(0)} -> JRA, then IMB, then JRB: JRA comes
 * before JRB although its timestamp is later.
 * From the unconflicted state: JRA allowed (Alice 100 >= 50); IMB allowed
 * (knock room, Bob's membership in the state is join); JRB allowed (Bob 50
 * >= state_default 50) and applied last: it wins. By timestamp alone JRA
 * would win. */
static void power_before_timestamp(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    kit_event(&k, "PA", "m.room.power_levels", "", ALICE, kit_pl(&k, "\"" BOB "\":50", ""), "CREATE IMA IPOWER",
              "IMZ");
    kit_event(&k, "JRB", "m.room.join_rules", "", BOB, "{\"join_rule\":\"invite\"}", "CREATE IMB PA", "PA");
    kit_event(&k, "JRA", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"knock\"}", "CREATE IMA PA", "PA");
    const char *sets[] = { "CREATE IMA IMB IMC IMZ PA JRB", "CREATE IMA IMB IMC IMZ PA JRA" };
    json_t *got = kit_resolve(&k, sets, 2, NULL);
    kit_assert_state(&k, got, "CREATE IMA IMB IMC IMZ PA JRB");
    json_decref(got);
    kit_free(&k);
}

/* Same power and timestamp: the smaller event ID goes first. JRZ is created
 * before JRY, both by Alice at ts 7. Order: $JRY:example.com <
 * $JRZ:example.com, so JRY is applied first and JRZ (applied last) wins. */
static void event_id_tie_break(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    k.ts = 7;
    kit_event(&k, "JRZ", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"invite\"}", "CREATE IMA IPOWER", "IMZ");
    k.ts = 7;
    kit_event(&k, "JRY", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"knock\"}", "CREATE IMA IPOWER", "IMZ");
    const char *sets[] = { "CREATE IMA IPOWER IMB IMC IMZ JRZ", "CREATE IMA IPOWER IMB IMC IMZ JRY" };
    json_t *got = kit_resolve(&k, sets, 2, NULL);
    kit_assert_state(&k, got, "CREATE IMA IPOWER IMB IMC IMZ JRZ");
    json_decref(got);
    kit_free(&k);
}

/* Mainline ties: same position, then origin_server_ts, then event ID.
 *   TA (ts 7) and TC (ts 8) Alice topics; TB Alice topic at ts 7 too.
 * All cite IPOWER: position 0 of the mainline [IPOWER] (PL unconflicted).
 * Order: TA (7, "$TA") < TB (7, "$TB") < TC (8): TC is applied last. With
 * TC absent, TB wins over TA. Three state sets, one topic each. */
static void mainline_ties(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    k.ts = 7;
    kit_event(&k, "TB", "m.room.topic", "", ALICE, "{\"topic\":\"b\"}", "CREATE IMA IPOWER", "IMZ");
    k.ts = 7;
    kit_event(&k, "TA", "m.room.topic", "", ALICE, "{\"topic\":\"a\"}", "CREATE IMA IPOWER", "IMZ");
    kit_event(&k, "TC", "m.room.topic", "", ALICE, "{\"topic\":\"c\"}", "CREATE IMA IPOWER", "IMZ");
    const char *three[] = { KIT_BASE " TC", KIT_BASE " TA", KIT_BASE " TB" };
    json_t *got = kit_resolve(&k, three, 3, NULL);
    kit_assert_state(&k, got, KIT_BASE " TC");
    json_decref(got);
    const char *two[] = { KIT_BASE " TB", KIT_BASE " TA" };
    got = kit_resolve(&k, two, 2, NULL);
    kit_assert_state(&k, got, KIT_BASE " TB");
    json_decref(got);
    kit_free(&k);
}

/* No conflict: the unconflicted state map is the answer (one set, or equal sets). */
static void unconflicted_only(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    const char *one[] = { KIT_BASE };
    json_t *got = kit_resolve(&k, one, 1, NULL);
    kit_assert_state(&k, got, KIT_BASE);
    json_decref(got);
    const char *same[] = { KIT_BASE, KIT_BASE };
    struct mxr_stateres_stats st;
    got = kit_resolve(&k, same, 2, &st);
    kit_assert_state(&k, got, KIT_BASE);
    assert_int_equal(st.conflicted, 0);
    json_decref(got);
    struct mxr_err err = {0};
    got = mxr_state_resolve(k.rv, NULL, 0, kit_fetch, &k, &err);
    assert_non_null(got);
    assert_int_equal(json_object_size(got), 0);
    json_decref(got);
    kit_free(&k);
}

/* Bad input: unknown events (named or in an auth chain), events filed under
 * another key, malformed sets, auth_events cycles. */
static void errors(void **state)
{
    (void)state;
    struct kit k;
    kit_init(&k, ROOM_V);
    kit_base_room(&k);
    kit_event(&k, "ORPHAN", "m.room.topic", "", ALICE, "{}", "CREATE IMA NOSUCH", "IMZ");
    /* A cycle: CYA and CYB list each other (IDs are trusted, not hashes). */
    kit_event(&k, "CYA", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"public\"}", "CREATE IMA IPOWER CYB",
              "IMZ");
    kit_event(&k, "CYB", "m.room.power_levels", "", ALICE, kit_pl(&k, "", ""), "CREATE IMA CYA", "IMZ");

    struct mxr_err err = {0};
    json_t *sets[2] = { kit_state(&k, KIT_BASE), json_pack("{s:{s:s}}", "m.room.topic", "", "$gone:example.com") };
    assert_null(mxr_state_resolve(k.rv, sets, 2, kit_fetch, &k, &err));
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    assert_non_null(strstr(err.msg, "$gone:example.com"));
    json_decref(sets[1]);

    sets[1] = kit_state(&k, "ORPHAN");
    assert_null(mxr_state_resolve(k.rv, sets, 2, kit_fetch, &k, &err));
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    assert_non_null(strstr(err.msg, "$NOSUCH:example.com"));
    assert_non_null(strstr(err.msg, "auth event of $ORPHAN:example.com"));
    json_decref(sets[1]);

    sets[1] = json_pack("{s:{s:s}}", "m.room.name", "", kit_id("IJR"));
    assert_null(mxr_state_resolve(k.rv, sets, 2, kit_fetch, &k, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_decref(sets[1]);

    sets[1] = json_pack("{s:[]}", "m.room.name");
    assert_null(mxr_state_resolve(k.rv, sets, 2, kit_fetch, &k, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_decref(sets[1]);

    sets[1] = kit_state(&k, "CREATE IMA CYA CYB IMB IMC IMZ");
    assert_null(mxr_state_resolve(k.rv, sets, 2, kit_fetch, &k, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "cycle"));
    json_decref(sets[1]);
    json_decref(sets[0]);
    kit_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ban_vs_power_levels),
        cmocka_unit_test(join_rules_race_join),
        cmocka_unit_test(topic_mainline),
        cmocka_unit_test(power_revoked_on_one_branch),
        cmocka_unit_test(power_before_timestamp),
        cmocka_unit_test(event_id_tie_break),
        cmocka_unit_test(mainline_ties),
        cmocka_unit_test(unconflicted_only),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
