"""Compares Kafka mode (alerts and indicator-parts topics, decoded with
fastavro) with file mode output (JSON Lines). Exit 1 on any difference."""
import json
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import topics  # noqa: E402

bootstrap, alerts_topic, parts_topic, file_alerts, file_ind = sys.argv[1:6]

MS_FIELDS = ("index_discharged_at", "readmitted_at", "discharged_at",
             "deadline", "died_at")


def topics_ms(text):
    import datetime
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(round(dt.timestamp() * 1000))


def norm_kafka_alert(a):
    out = {}
    for k, v in a.items():
        if k == "emitted_at" or v is None:
            continue
        if hasattr(v, "timestamp"):  # fastavro gives datetimes for millis
            v = int(round(v.timestamp() * 1000))
        out[k] = v
    return out


def norm_file_alert(a):
    import datetime
    out = {}
    for k, v in a.items():
        if k == "emitted_at" or v is None:
            continue
        if k in MS_FIELDS:
            dt = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
            v = int(round(dt.timestamp() * 1000))
        out[k] = v
    return out


kafka_alerts = {k: norm_kafka_alert(v)
                for k, v in topics.latest_alerts(bootstrap, alerts_topic).items()}
file_alerts_d = {}
with open(file_alerts) as fp:
    for line in fp:
        a = json.loads(line)
        file_alerts_d[a["alert_id"]] = norm_file_alert(a)

# SPEC §5: the final set of ACTIVE alerts depends only on the set of events.
# RETRACTED ones depend on arrival order (an alert fired too early and
# retracted), so only ACTIVE ones are compared, with all their fields.
# INDICATOR_BELOW_TARGET comes from the aggregator, not the processor: file
# mode writes the aggregator's final ones (SPEC §5.5), compared only with
# --targets (the aggregator ran to the end on these topics).
targets = "--targets" in sys.argv[6:]
kafka_alerts = {k: v for k, v in kafka_alerts.items()
                if v["status"] == "ACTIVE"
                and (targets or v["rule"] != "INDICATOR_BELOW_TARGET")}
file_alerts_d = {k: v for k, v in file_alerts_d.items()
                 if v["status"] == "ACTIVE"
                 and (targets or v["rule"] != "INDICATOR_BELOW_TARGET")}
if targets:
    nt = sum(1 for v in file_alerts_d.values()
             if v["rule"] == "INDICATOR_BELOW_TARGET")
    print("INDICATOR_BELOW_TARGET: %d ACTIVE in file mode" % nt)
    if not nt:
        print("no INDICATOR_BELOW_TARGET to compare (the events raise none)")
        sys.exit(1)
bad = 0
for k in sorted(set(kafka_alerts) | set(file_alerts_d)):
    if kafka_alerts.get(k) != file_alerts_d.get(k):
        bad += 1
        if bad <= 10:
            print("ALERT MISMATCH %s\n kafka: %s\n  file: %s" %
                  (k, kafka_alerts.get(k), file_alerts_d.get(k)))

kafka_ind = topics.indicator_totals(bootstrap, parts_topic)
file_ind_d = {}
file_full = {}
with open(file_ind) as fp:
    for line in fp:
        r = json.loads(line)
        # The rows of breakdown all (breakdown rows are compared through
        # vigil indicators in 0003); parts are months, values also have
        # quarters and years (SPEC §6.2).
        if r.get("breakdown", "all") != "all":
            continue
        c = (r["indicator"], r["area"], r["period"])
        ds = r["data_since"]
        file_full[c] = (r["numerator"], r["denominator"],
                        r["complete"], r["history_complete"],
                        topics_ms(ds) if ds is not None else None)
        if len(r["period"]) == 7 and "Q" not in r["period"]:
            file_ind_d[c] = (r["numerator"], r["denominator"])
for c in sorted(set(kafka_ind) | set(file_ind_d)):
    if kafka_ind.get(c) != file_ind_d.get(c):
        bad += 1
        if bad <= 20:
            print("INDICATOR MISMATCH %s: kafka %s file %s" %
                  (c, kafka_ind.get(c), file_ind_d.get(c)))

if len(sys.argv) > 6:  # the aggregator's output topic too
    # SPEC v2 §6.1: complete, history_complete and data_since too.
    agg = topics.indicator_values(bootstrap, sys.argv[6], full=True)
    for c in sorted(set(agg) | set(file_full)):
        if agg.get(c) != file_full.get(c):
            bad += 1
            if bad <= 30:
                print("AGGREGATE MISMATCH %s: topic %s file %s" %
                      (c, agg.get(c), file_full.get(c)))
    print("compared %d aggregated indicator values" % len(set(agg) | set(file_ind_d)))

active = sum(1 for a in kafka_alerts.values() if a["status"] == "ACTIVE")
print("compared %d alerts (%d ACTIVE) and %d indicator cells: %d mismatches"
      % (len(set(kafka_alerts) | set(file_alerts_d)), active,
         len(set(kafka_ind) | set(file_ind_d)), bad))
if not kafka_alerts or not file_ind_d:
    print("FAIL: nothing to compare (no alerts or no indicators)")
    sys.exit(1)
sys.exit(1 if bad else 0)
