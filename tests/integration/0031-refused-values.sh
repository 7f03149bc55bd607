#!/usr/bin/env bash
# 0031-refused-values: the indicators topic is compacted, the last record of
# a key its value. A record the readers refuse (here a rate without its
# denominator, or bytes that do not decode) replaces its key's value too:
# vigil indicators and vigil report no longer show the value before it
# (they did, as if it were still the topic's), while other keys stay.
source "$(dirname "$0")/lib/common.sh"
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
echo "PASS: refused values replace their keys' values in indicators and report"
