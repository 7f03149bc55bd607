#!/usr/bin/env bash
# 0031-refused-values: the indicators topic is compacted, the last record of
# a key its value. A record the readers refuse (here a rate without its
# denominator, or bytes that do not decode) replaces its key's value too:
# vigil indicators, vigil report and vigil serve (live: the records come
# while it serves) no longer show the value before it (they did, as if it
# were still the topic's), while other keys stay.
source "$(dirname "$0")/lib/common.sh"
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$TMP"' EXIT
S=it31.$$.$(date +%s)
topic_args "$S"
"$VIGIL" topics create -p 1 "${T[@]}" >/dev/null
val() { # INDICATOR AREA DENOMINATOR
  echo '{"indicator":"'"$1"'","area":"'"$2"'","period":"2026-01","breakdown":"all","numerator":3,"denominator":'"$3"',"updated_at":"2026-03-05T00:00:00Z","complete":true,"history_complete":true,"data_since":null}' \
    | "$VIGIL" codec encode -t indicator_value | xxd -r -p
}
pub() { # KEY FILE
  kcat -P -b "$VIGIL_BOOTSTRAP" -t "$S.ind" -p 0 -k "$1" "$2" || fail "cannot publish $1"
}
K1="readmission_30d|0484|2026-01|all"; K2="readmission_30d|0180|2026-01|all"
K3="death_place.HOME|0484|2026-01|all"
val readmission_30d 0484 10 > "$TMP/v1.bin"; pub "$K1" "$TMP/v1.bin"
val readmission_30d 0180 10 > "$TMP/v2.bin"; pub "$K2" "$TMP/v2.bin"
val death_place.HOME 0484 10 > "$TMP/v3.bin"; pub "$K3" "$TMP/v3.bin"
show() {
  "$VIGIL" indicators "${T[@]}" --format json --period month > "$TMP/ind.json" 2> "$TMP/ind.err" \
    || fail "indicators: $(cat "$TMP/ind.err")"
}
show
[ "$(grep -c '"numerator":3' "$TMP/ind.json")" = 3 ] || fail "before: $(cat "$TMP/ind.json" "$TMP/ind.err")"
# vigil serve, started now, sees the records below arrive.
TOKEN=$(openssl rand -hex 24)
echo "$TOKEN" | "$VIGIL" serve --hash-token national SE > "$TMP/tokens" || fail "--hash-token"
"$VIGIL" serve "${T[@]}" -X serve.tokens="$TMP/tokens" -X serve.port=0 \
  > /dev/null 2> "$TMP/serve.log" & SPID=$!
served() { # the served values, JSON, in $TMP/served.json
  curl -s -H "Authorization: Bearer $TOKEN" "http://$BASE/indicators?period=month" > "$TMP/served.json" || true
}
BASE=
for _ in $(seq 1 100); do
  BASE=$(grep -o 'listening on http://[^ ]*' "$TMP/serve.log" | sed 's|.*//||' | head -1 || true)
  [ -n "$BASE" ] && break; sleep 0.1
done
[ -n "$BASE" ] || fail "vigil serve did not start: $(cat "$TMP/serve.log")"
for _ in $(seq 1 100); do
  served; [ "$(grep -o '"numerator":3' "$TMP/served.json" | wc -l)" = 3 ] && break; sleep 0.2
done
[ "$(grep -o '"numerator":3' "$TMP/served.json" | wc -l)" = 3 ] || fail "serve, before: $(cat "$TMP/served.json" "$TMP/serve.log")"
# K1's newest record is a rate without a denominator; K3's does not decode.
val readmission_30d 0484 null > "$TMP/bad.bin"; pub "$K1" "$TMP/bad.bin"
printf 'not avro' > "$TMP/junk.bin"; pub "$K3" "$TMP/junk.bin"
show
grep -q "a value that has no denominator where its indicator (a rate) has one" "$TMP/ind.err" \
  || fail "no warning for the refused value: $(cat "$TMP/ind.err")"
grep -q '"area":"0484"' "$TMP/ind.json" && fail "a replaced value is still shown: $(cat "$TMP/ind.json")"
grep -q '"indicator":"readmission_30d","area":"0180"' "$TMP/ind.json" \
  || fail "the other key's value is gone: $(cat "$TMP/ind.json")"
"$VIGIL" report "${T[@]}" --html "$TMP/r.html" 2> "$TMP/rep.err" || fail "report: $(cat "$TMP/rep.err")"
grep -q "1 values" "$TMP/rep.err" || fail "report drew the replaced values: $(cat "$TMP/rep.err")"
for _ in $(seq 1 100); do
  served; grep -q '"area":"0484"' "$TMP/served.json" || break; sleep 0.2
done
grep -q '"area":"0484"' "$TMP/served.json" && fail "serve still shows a replaced value: $(cat "$TMP/served.json")"
grep -q '"indicator":"readmission_30d","area":"0180"' "$TMP/served.json" \
  || fail "serve: the other key's value is gone: $(cat "$TMP/served.json")"
kill -TERM "$SPID"; wait "$SPID" || fail "vigil serve exited $? on SIGTERM"; SPID=
echo "PASS: refused values replace their keys' values in indicators, report and serve"
