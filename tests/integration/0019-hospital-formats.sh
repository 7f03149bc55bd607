#!/usr/bin/env bash
# 0019-hospital-formats - `vigil produce --format hl7v2|fhir` against a real
# broker (VIGIL_BOOTSTRAP): the same HL7 v2 messages and FHIR resources are
# published twice, to two fresh sets of topics, once directly (produce
# --format) and once as `vigil convert --from X | vigil produce`; every
# topic must then hold the same records, byte for byte, in the same
# partitions and order (docs/HOSPITAL.md §9), as many as convert printed;
# no personnummer in any key or value.
#
# Needs kcat and $VIGIL_SRC/ops/kafka-local (topic deletion).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

[ -n "${VIGIL_BOOTSTRAP:-}" ] ||
  fail "VIGIL_BOOTSTRAP is not set: this integration test needs a Kafka broker;" \
       "start one with: export VIGIL_BOOTSTRAP=\$(\$VIGIL_SRC/ops/kafka-local start)"
if [ -z "${VIGIL:-}" ] || [ ! -x "$VIGIL" ]; then
  fail "VIGIL (the vigil binary) is not set or not executable; run through ctest"
fi
[ -n "${VIGIL_SRC:-}" ] || fail "VIGIL_SRC is not set; run through ctest"
command -v kcat >/dev/null 2>&1 || fail "'kcat' not found (see ops/setup.sh)"

B=$VIGIL_BOOTSTRAP
suffix=$$.$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-0019.XXXXXX")
created=0
cleanup() {
  if [ "$created" = 1 ]; then
    "$VIGIL_SRC/ops/kafka-local" topics-tool --bootstrap-server "$B" --delete \
      --topic "it\\.hosp\\..*\\.${suffix//./\\.}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

printf 'it-0019-key-0123456789abcdef' > key
chmod 600 key
printf 'kommun.default=0484\ncare_setting.location.PAL=PALLIATIVE_UNIT\n' > site.properties
printf 'pseudonym.key_file=%s/key\nhl7.mapping_file=%s/site.properties\n' "$work" "$work" > site.conf
export VIGIL_CONFIG=$work/site.conf

roles=(admissions discharges deaths sip register)
topic() { echo "it.hosp.$1.$2.$suffix"; }   # SET ROLE
opts() {   # SET -> options naming its topics
  local r
  for r in "${roles[@]}"; do printf -- '-X topic.%s=%s ' "$r" "$(topic "$1" "$r")"; done
  printf -- '-X topic.alerts=%s -X topic.indicator_parts=%s -X topic.indicators=%s -X topic.dlq=%s' \
    "$(topic "$1" alerts)" "$(topic "$1" parts)" "$(topic "$1" ind)" "$(topic "$1" dlq)"
}
created=1
for set in direct piped; do
  # shellcheck disable=SC2046
  "$VIGIL" topics create -p 3 -b "$B" $(opts $set) >/dev/null ||
    fail "cannot create the topics of set $set"
done

# The input: HL7 v2 (A01, A03, A11) and FHIR (a Bundle, a lone Encounter,
# entered-in-error, a death).
pid='PID|1||191212121212^^^SKV^PN||Svensson^Anna||19450310|F|||Gatan 1^^Eskilstuna^^63220^SE^H^^0484'
msh() { printf 'MSH|^~\\&|HIS-A|MSE|VIGIL|REG|20260301081500||ADT^%s|%s|P|2.5\n' "$1" "$2"; }
{
  msh A01 C1; printf 'EVN|A01|202603010815\n%s\nPV1|1|I|MED3|E|||||||||||||||V1001\n\n' "$pid"
  msh A03 C2; printf 'EVN|A03|202603061340\n%s\nPV1|1|I|MED3|E|||||||||||||||V1001|||||||||||||||||01\n\n' "$pid"
  msh A01 C3; printf 'EVN|A01|202603200900\n%s\nPV1|1|I|PAL1|E|||||||||||||||V1002\n\n' "$pid"
  msh A11 C4; printf 'EVN|A11|202603201000\n%s\nPV1|1|I|PAL1|E|||||||||||||||V1002\n' "$pid"
} > in.hl7v2
P='{"resourceType":"Patient","id":"p2","identifier":[{"system":"http://electronichealth.se/identifier/personnummer","value":"19121212-1212"}],"gender":"female","birthDate":"1945-03-10","address":[{"district":"0486"}]'
E='"identifier":[{"system":"urn:oid:1.2.752.999","value":"V2001"}],"subject":{"reference":"Patient/p2","identifier":{"system":"http://electronichealth.se/identifier/personnummer","value":"191212121212"}},"location":[{"location":{"identifier":{"value":"MED3"}}}],"period":{"start":"2026-04-01T08:00:00+02:00","end":"2026-04-05T12:00:00+02:00"}'
{
  echo '{"resourceType":"Bundle","type":"collection","entry":[{"resource":'"$P"'}},{"resource":{"resourceType":"Encounter","status":"in-progress",'"$E"'}}]}'
  echo '{"resourceType":"Encounter","status":"finished",'"$E"'}'
  echo '{"resourceType":"Encounter","status":"entered-in-error","meta":{"lastUpdated":"2026-04-06T08:00:00Z"},'"$E"'}'
  echo "$P"',"deceasedDateTime":"2026-05-01T03:00:00+02:00"}'
} > in.fhir

want=0
for fmt in hl7v2 fhir; do
  "$VIGIL" convert --from $fmt in.$fmt > conv.$fmt.jsonl 2> conv.$fmt.err ||
    fail "convert --from $fmt: $(cat conv.$fmt.err)"
  want=$((want + $(wc -l < conv.$fmt.jsonl)))
  # shellcheck disable=SC2046
  "$VIGIL" produce --format $fmt -b "$B" $(opts direct) in.$fmt 2> direct.$fmt.err ||
    fail "produce --format $fmt: $(cat direct.$fmt.err)"
  # shellcheck disable=SC2046
  "$VIGIL" convert --from $fmt in.$fmt 2>/dev/null |
    "$VIGIL" produce -b "$B" $(opts piped) 2> piped.$fmt.err ||
    fail "convert | produce ($fmt): $(cat piped.$fmt.err)"
  n=$(wc -l < conv.$fmt.jsonl)
  grep -q "INFO  produce: $n delivered, 0 failed, 0 rejected" direct.$fmt.err ||
    fail "produce --format $fmt: $(tail -1 direct.$fmt.err), want $n delivered"
  echo "ok - $fmt: $n events delivered both ways"
done
[ "$want" = 9 ] || fail "convert printed $want events, want 9 (4 HL7, 5 FHIR)"

# records SET: "ROLE PARTITION OFFSET KEY SHA256(value)" of every record.
records() {
  local r t p o k
  for r in "${roles[@]}"; do
    t=$(topic "$1" "$r")
    kcat -C -b "$B" -t "$t" -e -o beginning -q -f '%k\t%s\n' >> "$1.raw"
    while IFS=$'\t' read -r p o k; do
      printf '%s %s %s %s %s\n' "$r" "$p" "$o" "$k" \
        "$(kcat -C -b "$B" -t "$t" -p "$p" -o "$o" -c 1 -e -q -f '%s' | sha256sum | cut -c1-64)"
    done < <(kcat -C -b "$B" -t "$t" -e -o beginning -q -f '%p\t%o\t%k\n')
  done | sort
}
records direct > direct.rec
records piped > piped.rec
[ "$(wc -l < direct.rec)" = "$want" ] || fail "direct: $(wc -l < direct.rec) records, want $want"
diff direct.rec piped.rec > /dev/null ||
  fail "produce --format and convert | produce published different records:
$(diff direct.rec piped.rec)"
echo "ok - the $want records are the same, byte for byte, in the same partitions and order"
for f in direct.raw piped.raw direct.*.err piped.*.err; do
  ! grep -aE '121212-?1212|19450310' "$f" >/dev/null || fail "personnummer or birth date in $f"
done
echo "ok - no personnummer in keys, values or messages"
echo "PASS: 0019-hospital-formats"
