"""Appends register entries (type register_entry, docs/EVENTS.md §3.5) to a
simulated events file that has none, for the report test (0007) while
`vigil simulate` does not produce them.

    add_register.py EVENTS_JSONL [SEED]

Deterministic: about three deaths in four get an entry, from 2 to 60 days
after the death (some after the 30-day deadline: late, they still count),
none later than the file's last event (the watermark stays where it was, so
deaths past their deadline and not registered stay so). Answer rates vary
by kommun so that some miss the targets. A few entries report an
unexpected death (not in spr.*). Prints how many entries it added.
"""
import json
import random
import sys
from datetime import datetime, timedelta, timezone

ANSWERS = {  # base share of YES, like the national figures
    "eol_conversation": 0.86, "pain_assessed": 0.82,
    "symptoms_assessed": 0.70, "oral_health_assessed": 0.78,
    "prn_opioid": 0.95, "prn_anxiolytic": 0.91, "prn_antiemetic": 0.85,
    "prn_antisecretory": 0.88, "present_at_death": 0.80,
    "bereavement_offered": 0.72,
}


def ts(s):
    return datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc)


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    path = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    events = [json.loads(l) for l in open(path, encoding="utf-8")
              if l.strip()]
    if any(e["type"] == "register_entry" for e in events):
        print("0 (the file has register entries)")
        return 0
    last = max(ts(e["occurred_at"]) for e in events)
    cancelled = {e["cancels_event_id"] for e in events
                 if e.get("cancels_event_id")}
    deaths = {}
    for e in events:  # one death per patient, the first
        if e["type"] == "death" and not e.get("cancels_event_id") and \
                e["event_id"] not in cancelled:
            deaths.setdefault(e["patient_id"], e)
    kommun_bias = {}
    out = []
    for pid, d in sorted(deaths.items(), key=lambda kv: kv[1]["event_id"]):
        if rng.random() >= 0.75:
            continue  # never registered
        died = ts(d["occurred_at"])
        at = died + timedelta(days=rng.choice([2, 5, 9, 14, 21, 27, 45, 60]),
                              hours=rng.randint(0, 8))
        if at > last:
            continue
        k = d["kommun"]
        bias = kommun_bias.setdefault(k, rng.uniform(-0.15, 0.08))
        ans = {q: ("YES" if rng.random() < min(1.0, p + bias) else
                   rng.choice(["NO", "NO", "UNKNOWN"]))
               for q, p in ANSWERS.items()}
        ulcer = rng.random()
        out.append(dict(
            type="register_entry", event_id="spr-" + d["event_id"],
            patient_id=pid, occurred_at=fmt(at), kommun=k,
            source_system="spr-export", death_at=fmt(died),
            unit_id="U-%s-%d" % (k, rng.randint(1, 3)),
            expected=bool(d["expected"]) or rng.random() < 0.5, **ans,
            pressure_ulcer=("GRADE_2_4" if ulcer < 0.12 - bias / 2 else
                            "GRADE_1" if ulcer < 0.2 else
                            "UNKNOWN" if ulcer < 0.25 else "NONE")))
    with open(path, "a", encoding="utf-8") as fp:
        for e in out:
            fp.write(json.dumps(e, separators=(",", ":")) + "\n")
    print(len(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
