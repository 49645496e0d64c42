#!/bin/sh
# `mxr auth` on fixtures: verdicts (exit 0), malformed input (exit 1), usage (exit 2).
# Expected verdicts come from the rooms/v*.md rules named in them.
set -u
MXR="${MXR_BUILDDIR:-.}/mxr"
DIR="${MXR_SRCDIR:-.}/tests/proto/auth"
fails=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect NAME VERSION EXIT EXPECTED_STDOUT < input
expect() {
    "$MXR" auth --room-version "$2" >"$out" 2>"$err"
    rc=$?
    if [ "$rc" != "$3" ] || [ "$(cat "$out")" != "$4" ]; then
        echo "FAIL $1: exit $rc (want $3), stdout '$(cat "$out")' (want '$4'), stderr '$(cat "$err")'"
        fails=$((fails + 1))
    elif [ "$3" = 1 ] && [ "$(wc -l <"$err")" != 1 ]; then
        echo "FAIL $1: want exactly one line on stderr, got: $(cat "$err")"
        fails=$((fails + 1))
    else
        echo "ok $1"
    fi
}

expect allowed 10 0 '{"allowed":true}' <"$DIR/v10-allowed.json"
# v10 rule 7: events_default 10 > bob's 0.
expect denied 10 0 '{"allowed":false,"reason":"rule 7: sender'"'"'s power level is below the level required for m.room.message events"}' \
    <"$DIR/v10-denied.json"
# v9 rule 2.1: the event lists two power levels events.
expect listed-duplicate 9 0 '{"allowed":false,"reason":"rule 2.1: auth_events has two entries for (\"m.room.power_levels\", \"\")"}' \
    <"$DIR/v9-listed-duplicate.json"
# Same events given, but the event lists placeholders: the state is ambiguous.
expect ambiguous-state 9 1 '' <"$DIR/v9-ambiguous.json"
# v12: the create event is implicit (found among the given events by the room ID);
# restricted join authorised by the creator; no signature checks in this verb.
expect v12-restricted-join 12 0 '{"allowed":true}' <"$DIR/v12-restricted-join.json"
# v12 rule 3.2: listing the create event is an extraneous entry.
sed 's/"auth_events": \["\$jr", "\$alice"\]/"auth_events": ["$create", "$jr", "$alice"]/' "$DIR/v12-restricted-join.json" |
    expect v12-create-listed 12 0 '{"allowed":false,"reason":"rule 3.2: auth_events lists the m.room.create event, which this room version must not select"}'
# Room version 1: v1 rules number membership as 5 (the aliases rule is 4).
sed 's/"auth_events": \["\$c", "\$pl", "\$bob"\]/"auth_events": []/; s/"@bob:b.example", "room_id"/"@carol:c.example", "room_id"/' \
    "$DIR/v10-allowed.json" | expect v1-not-joined 1 0 '{"allowed":false,"reason":"rule 6: sender is not joined to the room"}'

echo 'not json' | expect malformed-json 10 1 ''
echo '{"auth_events": []}' | expect missing-event 10 1 ''
echo '{"event": {"type": "m.room.message"}, "auth_events": []}' | expect bad-event 10 1 ''
echo '{"event": {}, "auth_events": {}}' | expect auth-events-not-array 10 1 ''
expect unknown-version 13 1 '' <"$DIR/v10-allowed.json"

"$MXR" auth <"$DIR/v10-allowed.json" >/dev/null 2>&1
[ $? = 2 ] && echo "ok usage-no-version" || { echo "FAIL usage-no-version"; fails=$((fails + 1)); }
"$MXR" auth --room-version 10 extra <"$DIR/v10-allowed.json" >/dev/null 2>&1
[ $? = 2 ] && echo "ok usage-extra-arg" || { echo "FAIL usage-extra-arg"; fails=$((fails + 1)); }
"$MXR" auth --bogus <"$DIR/v10-allowed.json" >/dev/null 2>&1
[ $? = 2 ] && echo "ok usage-unknown-option" || { echo "FAIL usage-unknown-option"; fails=$((fails + 1)); }

[ "$fails" = 0 ]
