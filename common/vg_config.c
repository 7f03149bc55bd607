/*
 * vg_config.c - the configuration table, properties files, -X overrides.
 */
#include "vg_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const vg_confdef_t vg_confdefs[] = {
        {"topic.admissions", VG_C_STRING, "care.admissions.v1", 0, 0, 0,
         "Topic of Admission events."},
        {"topic.discharges", VG_C_STRING, "care.discharges.v1", 0, 0, 0,
         "Topic of Discharge events."},
        {"topic.deaths", VG_C_STRING, "care.deaths.v1", 0, 0, 0,
         "Topic of Death events."},
        {"topic.sip", VG_C_STRING, "care.sip.v1", 0, 0, 0,
         "Topic of SipCreated events."},
        {"topic.register", VG_C_STRING, "care.register.v1", 0, 0, 0,
         "Topic of RegisterEntry events (Svenska palliativregistret); it "
         "must exist, and may stay empty (see rules.register)."},
        {"topic.alerts", VG_C_STRING, "care.alerts.v1", 0, 0, 0,
         "Topic the processor publishes alerts to."},
        {"topic.indicator_parts", VG_C_STRING, "care.indicator-parts.v2", 0, 0,
         0, "Compacted topic of per-partition indicator counts and partition "
         "progress (version 2 keys, with breakdown)."},
        {"topic.indicators", VG_C_STRING, "care.indicators.v2", 0, 0, 0,
         "Compacted topic of indicator values (aggregator output, version "
         "2 keys, with breakdown)."},
        {"topic.dlq", VG_C_STRING, "care.dlq.v1", 0, 0, 0,
         "Dead-letter topic for undecodable or invalid records."},
        {"topic.changelog", VG_C_STRING, NULL, 0, 0, 0,
         "Compacted changelog topic of vigil process (every committed "
         "change of a partition's state; a partition whose local state is "
         "missing or behind is restored from it); unset: "
         "<group.id>.changelog. Created when missing, with the input "
         "topics' partition count."},
        {"changelog.enabled", VG_C_BOOL, "true", 0, 0, 0,
         "vigil process logs its state to the changelog through a "
         "transactional producer, and restores from it. false: local "
         "state only (a partition that moves to an instance without its "
         "file is rebuilt from the input topics' beginning, and what it "
         "published before is not corrected: docs/RUNBOOK.md, section "
         "7)."},
        {"changelog.linger_ms", VG_C_INT, "100", 0, 10000, 0,
         "With the changelog: a partition's changelog records, parts and "
         "dead letters wait about this long (from when the publisher "
         "first finds them) for its next Kafka transaction, with what "
         "comes meanwhile; an alert does not wait, and takes them with it. "
         "Fewer transactions, each of which costs the broker several "
         "requests and writes. 0: a transaction as soon as rows are "
         "queued."},
        {"group.id", VG_C_STRING, "vigil-processor", 0, 0, 0,
         "Consumer group of vigil process."},
        {"state.dir", VG_C_STRING, "./vigil-state", 0, 0, 0,
         "Directory of the SQLite state files (created with mode 0700, files "
         "0600)."},
        {"num.standby.replicas", VG_C_INT, "0", 0, 10, 0,
         "vigil process keeps warm copies of this many other members' "
         "partitions, read from the changelog as it is written, so that a "
         "takeover only applies the last records (needs "
         "changelog.enabled)."},
        {"state.cleanup_delay_ms", VG_C_INT, "600000", 0, 1e12, 0,
         "vigil process removes the local file of a partition it has not "
         "owned for this long (its state is in the changelog); only with "
         "changelog.enabled."},
        {"timezone", VG_C_STRING, "Europe/Stockholm", 0, 0, 0,
         "Time zone of calendar-date rules: Europe/Stockholm or UTC."},
        {"rules.window_days", VG_C_INT, "30", 1, 3650, 0,
         "READMISSION_30D window in local calendar days."},
        {"rules.sip_deadline_hours", VG_C_INT, "72", 1, 87600, 0,
         "SIP_OVERDUE deadline after discharge, hours."},
        {"rules.retention_days", VG_C_INT, "400", 31, 36500, 0,
         "Per-patient history kept, days of event time."},
        {"rules.eol_days", VG_C_INT, "30", 1, 3650, 0,
         "Days before death counted by eol_admission_30d."},
        {"rules.sip_before_death_days", VG_C_INT, "365", 1, 36500, 0,
         "Days before death a SIP counts for sip_before_death."},
        {"rules.register", VG_C_BOOL, "true", 0, 0, 0,
         "Register rules on: DEATH_NOT_REGISTERED and the register_coverage "
         "and spr.* indicators. false (or off) for deployments without a "
         "register feed."},
        {"rules.register_deadline_days", VG_C_INT, "30", 1, 3650, 0,
         "Local calendar days after a death within which it should be in "
         "Svenska palliativregistret (DEATH_NOT_REGISTERED)."},
        {"rules.max_patient_events", VG_C_INT, "5000", 100, 1000000, 0,
         "Events kept per patient; more are refused (DLQ reason "
         "patient-limit), but for the first cancellation of each event "
         "kept, which bounds the work one patient can cause."},
        {"stream.idle_ms", VG_C_INT, "5000", 0, 86400000, 0,
         "An input topic partition that is at its end and has received "
         "nothing for this long is caught up: it no longer holds the "
         "watermark back (see docs/RULES.md)."},
        {"stream.lead_ms", VG_C_INT, "86400000", 0, 31536000000, 0,
         "Catching up, an input topic partition more than this far ahead "
         "in event time of the slowest one of its partition that is still "
         "being read is paused until that one catches up with it (vigil "
         "process, Kafka mode: a bounded state.cache_patients then reads "
         "fewer patients back); 0: never paused. The results do not "
         "depend on it."},
        {"aggregate.alert_preliminary", VG_C_BOOL, "false", 0, 0, 0,
         "Raise INDICATOR_BELOW_TARGET for preliminary (incomplete) values "
         "too (vigil aggregate; file mode of vigil process, on its final "
         "values)."},
        {"aggregate.group.id", VG_C_STRING, "vigil-aggregator", 0, 0, 0,
         "Consumer group id under which vigil aggregate commits its offsets "
         "(for lag tools)."},
        {"aggregate.min_denominator", VG_C_INT, "20", 1, 1000000000, 0,
         "Smallest denominator for which INDICATOR_BELOW_TARGET is "
         "evaluated (vigil aggregate; file mode of vigil process)."},
        {"publish.min_count", VG_C_INT, "5", 1, 1000000, 0,
         "Public outputs (vigil indicators --public) hide, as '..', every "
         "row with a numerator, denominator or count from 1 to this minus "
         "1, and further rows so that none can be worked out by "
         "subtraction (docs/INDICATORS.md §7). 1: nothing is hidden."},
        {"input.max_bytes", VG_C_INT, "1048576", 1024, 1073741824, 0,
         "Longest line (JSON Lines input, its LF or CR LF not counted), "
         "record (Avro container file, as encoded) or message (Kafka, "
         "HL7) accepted, bytes; longer ones are errors naming where they are (a Kafka "
         "message goes to the DLQ with reason too-large; vigil hl7 listen "
         "answers AR)."},
        {"batch.max_events", VG_C_INT, "1000000", 1, 10000000, 0,
         "Events per SQLite transaction at most. A batch also ends as soon "
         "as the consumer's local queue is empty, unless a topic of the "
         "partition has 1,000 or more records still to fetch (vigil "
         "process), so this bounds batches only while catching up (live, "
         "see batch.linger_ms); there, at the default, batch.max_ms "
         "usually ends them first. File mode (--input) batches by this "
         "alone. Memory does not grow with it: the patients a batch "
         "changes beyond state.cache_patients are written early."},
        {"process.queue_max", VG_C_INT, "20000", 1, 1000000, 0,
         "vigil process in Kafka mode: records polled and not yet handled "
         "by the partitions' threads at most (the rest wait in librdkafka's "
         "queue). The event times stream.lead_ms compares are those of "
         "records handled, so a smaller queue pauses sooner."},
        {"process.threads", VG_C_INT, "0", 0, 256, 0,
         "vigil process: threads that run the partitions side by side "
         "(each partition on one thread, in input order, so the results "
         "do not depend on it; with --input messages about rejected lines "
         "may come out of line order). 0: one per processor core, at most "
         "one per partition (--partitions with --input, the partitions "
         "assigned in Kafka mode)."},
        {"batch.max_ms", VG_C_INT, "15000", 1, 60000, 0,
         "Milliseconds a batch may wait to fill before it commits. Like "
         "batch.max_events it bounds batches only while catching up (live, "
         "a batch commits when the local queue is empty, or after "
         "batch.linger_ms): larger batches "
         "write a patient changed by several events once, and fire its "
         "timers once; alerts of a catching-up batch wait for its commit."},
        {"batch.linger_ms", VG_C_INT, "20", 0, 60000, 0,
         "vigil process, live: a batch that would raise no alert (none "
         "queued by its events, no timer its commit would fire) stays open "
         "up to this long after its first record, for the records that "
         "come meanwhile, instead of committing as soon as the consumer's "
         "local queue is empty; one that would commits at once. Fewer, "
         "larger commits at a steady rate: less CPU and fewer bytes written "
         "per event. What waits, up to this long plus 100 ms: the batch's "
         "changelog records, IndicatorParts, progress records and dead "
         "letters, and the offsets committed to Kafka (lag). 0: every "
         "batch commits when the queue is empty."},
        {"parts.interval_ms", VG_C_INT, "1000", 0, 600000, 0,
         "vigil process queues IndicatorParts (and the progress that covers "
         "them) at most this often per partition: a cell changed in many "
         "batches is published once. Alerts are not delayed. 0: every "
         "batch."},
        {"state.cache_patients", VG_C_INT, "200000", 1, 100000000, 0,
         "Patients per partition kept in memory (their state is written "
         "behind, in the commit of each batch that changed them; about "
         "500 bytes each, packed). Beyond this, patients not used lately "
         "leave memory, those changed in the open batch written first, in "
         "its transaction, and are read from state.dir when next needed. "
         "This bounds memory while catching up too, at a cost in rate: "
         "docs/ARCHITECTURE.md, 'Patients beyond the cache'."},
        {"pseudonym.key_file", VG_C_STRING, NULL, 0, 0, 0,
         "Secret key file for patient_id = hex(HMAC-SHA256(key, "
         "personnummer)); needed to accept personnummer input."},
        {"hl7.mapping_file", VG_C_STRING, NULL, 0, 0, 0,
         "Site mapping file of vigil convert --from hl7v2 or fhir, vigil "
         "produce --format hl7v2 or fhir and vigil hl7 listen (care setting, "
         "kommun, diagnosis group, disposition, planned, "
         "needs_coordination; docs/HOSPITAL.md); unset: the built-in "
         "defaults."},
        {"hl7.listen", VG_C_STRING, "127.0.0.1:2575", 0, 0, 0,
         "Address vigil hl7 listen accepts MLLP connections on: host:port, "
         "[ipv6]:port, or :port for every interface (logged as a warning); "
         "port 0 picks a free port (logged). There is no TLS: put a TLS "
         "terminator in front (docs/HOSPITAL.md)."},
        {"hl7.ack_timeout_ms", VG_C_INT, "10000", 1000, 300000, 0,
         "vigil hl7 listen answers AE (the sender retries) when Kafka has "
         "not confirmed a message's event within this; it is the "
         "producer's message.timeout.ms."},
        {"hl7.max_connections", VG_C_INT, "32", 1, 10000, 0,
         "MLLP connections vigil hl7 listen keeps open at most; one more "
         "is accepted and closed at once (logged, counted)."},
        {"hl7.idle_timeout_ms", VG_C_INT, "600000", 0, 86400000, 0,
         "vigil hl7 listen closes a connection that has sent and received "
         "nothing for this long and waits for no ACK; 0: never."},
        {"http.listen", VG_C_STRING, NULL, 0, 0, 0,
         "Address of /metrics, /healthz and /readyz: host:port, "
         "[ipv6]:port, or :port for every interface (logged as a warning), "
         "e.g. 127.0.0.1:9464; unset: off. A bad address is a usage error "
         "(exit 2)."},
        {"health.max_lag", VG_C_INT, "1000", 0, 1e12, 0,
         "/readyz answers 503 while the consumer lag (all assigned "
         "partitions) is above this."},
        {"health.max_outbox", VG_C_INT, "10000", 0, 1e12, 0,
         "/readyz answers 503 while more records than this wait in the "
         "outboxes."},
        {"serve.listen", VG_C_STRING, "127.0.0.1", 0, 0, 0,
         "Address vigil serve listens on: an IP address or host name, "
         "[ipv6], or * for every interface (without TLS it warns)."},
        {"serve.port", VG_C_INT, "8480", 0, 65535, 0,
         "Port of vigil serve; 0: any free port (logged)."},
        {"serve.tokens", VG_C_STRING, NULL, 0, 0, 0,
         "File of vigil serve's bearer tokens, stored hashed: lines "
         "'SHA256-HEX NAME AREAS' (AREAS: kommun codes, a region code or "
         "SE; vigil serve --hash-token makes them). Required by vigil "
         "serve; SIGHUP reads it again."},
        {"serve.tls_cert", VG_C_STRING, NULL, 0, 0, 0,
         "PEM certificate (chain) of vigil serve; with serve.tls_key it "
         "serves HTTPS. Unset: plain HTTP (put a TLS reverse proxy in "
         "front; docs/SERVE.md)."},
        {"serve.tls_key", VG_C_STRING, NULL, 0, 0, 0,
         "PEM private key of serve.tls_cert."},
        {"serve.history", VG_C_INT, "10000", 1, 10000000, 0,
         "Alert changes vigil serve keeps for /alerts/stream clients that "
         "resume with Last-Event-ID; a client further behind gets a reset "
         "event and the whole current set."},
        {"serve.auth_burst", VG_C_INT, "10", 1, 100000, 0,
         "Failed authentications (wrong token) one client address may make "
         "in a burst before vigil serve answers 429."},
        {"serve.auth_refill_ms", VG_C_INT, "6000", 1, 86400000, 0,
         "Milliseconds after which an address may make one more failed "
         "authentication (the token bucket's refill)."},
        {"serve.heartbeat_ms", VG_C_INT, "15000", 100, 600000, 0,
         "An /alerts/stream with no change for this long gets a comment "
         "line, so that proxies keep it open and a closed client is "
         "noticed."},
        {"serve.idle_timeout_ms", VG_C_INT, "30000", 1000, 3600000, 0,
         "A connection of vigil serve that sends or takes nothing for this "
         "long is closed (one that never finishes its request too); at "
         "least twice serve.heartbeat_ms, which keeps a quiet stream busy."},
        {"serve.max_connections", VG_C_INT, "256", 4, 100000, 0,
         "Concurrent connections of vigil serve (each has a thread; "
         "streams hold theirs)."},
        {"serve.max_connections_per_address", VG_C_INT, "32", 1, 100000, 0,
         "Concurrent connections of vigil serve from one address, so that "
         "one client cannot take every connection (behind a reverse proxy, "
         "all come from its address: raise it)."},
        {"serve.session_hours", VG_C_INT, "12", 1, 8760, 0,
         "Lifetime of a browser's login session to vigil serve's page."},
        {"log.level", VG_C_STRING, "info", 0, 0, 0,
         "Log level: error, warn, info or debug."},
        {NULL, 0, NULL, 0, 0, 0, NULL},
};

typedef struct kv_s {
        char *k;
        char *v;
} kv_t;

struct vg_conf_s {
        kv_t  *vc_kv;    /* explicitly set keys, in order of first setting */
        size_t vc_cnt;
        size_t vc_size;
};

vg_conf_t *vg_conf_new(void) {
        return vg_calloc(1, sizeof(vg_conf_t));
}

void vg_conf_destroy(vg_conf_t *conf) {
        if (!conf)
                return;
        for (size_t i = 0; i < conf->vc_cnt; i++) {
                vg_free(conf->vc_kv[i].k);
                vg_free(conf->vc_kv[i].v);
        }
        vg_free(conf->vc_kv);
        vg_free(conf);
}

static const vg_confdef_t *find_def(const char *key) {
        for (const vg_confdef_t *d = vg_confdefs; d->cd_name; d++)
                if (!strcmp(d->cd_name, key))
                        return d;
        return NULL;
}

static const char *lookup(const vg_conf_t *conf, const char *key) {
        for (size_t i = 0; i < conf->vc_cnt; i++)
                if (!strcmp(conf->vc_kv[i].k, key))
                        return conf->vc_kv[i].v;
        return NULL;
}

static void store(vg_conf_t *conf, const char *key, const char *value) {
        for (size_t i = 0; i < conf->vc_cnt; i++)
                if (!strcmp(conf->vc_kv[i].k, key)) {
                        vg_free(conf->vc_kv[i].v);
                        conf->vc_kv[i].v = vg_strdup(value);
                        return;
                }
        if (conf->vc_cnt == conf->vc_size) {
                conf->vc_size = conf->vc_size ? conf->vc_size * 2 : 16;
                conf->vc_kv = vg_realloc(conf->vc_kv,
                                         conf->vc_size * sizeof(kv_t));
        }
        conf->vc_kv[conf->vc_cnt].k = vg_strdup(key);
        conf->vc_kv[conf->vc_cnt].v = vg_strdup(value);
        conf->vc_cnt++;
}

/* The indicators a target.<indicator> key may name (docs/INDICATORS.md). */
static const char *const target_names[] = {
        "readmission_30d", "sip_within_deadline", "eol_admission_30d",
        "eol_readmission_30d", "sip_before_death", "register_coverage",
        "death_place.HOSPITAL", "death_place.PALLIATIVE_UNIT",
        "death_place.NURSING_HOME", "death_place.SHORT_TERM_CARE",
        "death_place.HOME", "death_place.HOME_WITH_SSIH", "death_place.OTHER",
        "death_place.UNKNOWN", "spr.eol_conversation", "spr.pain_assessed",
        "spr.symptoms_assessed", "spr.oral_health_assessed",
        "spr.prn_opioid", "spr.prn_anxiolytic", "spr.prn_antiemetic",
        "spr.prn_antisecretory", "spr.present_at_death",
        "spr.bereavement_offered", "spr.pressure_ulcer_free", NULL,
};
static const char *const ssih_ages[] = {"0-64", "65-74", "75-84", "85+",
                                        NULL};
static const char *const ssih_diags[] = {"CANCER", "COPD", "HEART_FAILURE",
                                         "KIDNEY_FAILURE", "DEMENTIA",
                                         "OTHER", NULL};

static int in_list(const char *const *list, const char *s, size_t len) {
        for (; *list; list++)
                if (strlen(*list) == len && !strncmp(*list, s, len))
                        return 1;
        return 0;
}

int vg_conf_known_indicator(const char *name) {
        const char *dot;
        if (in_list(target_names, name, strlen(name)))
                return 1;
        if (strncmp(name, "ssih_enrolment.", 15))
                return 0;
        name += 15;
        if (!(dot = strchr(name, '.')))
                return 0;
        return in_list(ssih_ages, name, (size_t)(dot - name)) &&
               in_list(ssih_diags, dot + 1, strlen(dot + 1));
}

/* http.listen: "host:port", "[v6]:port", ":port" or "*:port" (the same
 * forms the HTTP server takes); the host must resolve. */
static vg_err_t check_listen(const char *v, char *errstr,
                             size_t errstr_size) {
        const char *h = v, *he, *ps;
        char host[256];
        struct addrinfo hints, *res = NULL;
        int rc;

        if (!*v)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "http.listen: empty (leave the key out to "
                                 "turn the HTTP server off, or give "
                                 "host:port, e.g. 127.0.0.1:9464)");
        if (v[0] == '[') {
                const char *rb = strchr(v, ']');
                if (!rb || rb[1] != ':' || rb == v + 1)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "http.listen: \"%s\" is not an "
                                         "address (expected [ipv6]:port, "
                                         "e.g. [::1]:9464)", v);
                h = v + 1;
                he = rb;
                ps = rb + 2;
        } else {
                const char *colon = strrchr(v, ':');
                if (!colon)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "http.listen: \"%s\" is not an "
                                         "address (expected host:port, e.g. "
                                         "127.0.0.1:9464)", v);
                he = colon;
                ps = colon + 1;
                if (memchr(h, ':', (size_t)(he - h)))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "http.listen: \"%s\": write an "
                                         "IPv6 address in brackets, e.g. "
                                         "[::1]:9464", v);
        }
        if (!*ps || strlen(ps) > 5 || strspn(ps, "0123456789") != strlen(ps)
            || strtoul(ps, NULL, 10) > 65535)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "http.listen: \"%s\": the port must be a "
                                 "number from 0 to 65535", v);
        if ((size_t)(he - h) >= sizeof(host))
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "http.listen: host name too long");
        memcpy(host, h, (size_t)(he - h));
        host[he - h] = '\0';
        if (!*host || !strcmp(host, "*"))
                return VG_OK;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = v[0] == '[' ? AF_INET6 : AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = v[0] == '[' ? AI_NUMERICHOST : 0;
        rc = getaddrinfo(host, NULL, &hints, &res);
        if (res)
                freeaddrinfo(res);
        if (rc)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "http.listen: \"%s\": host \"%s\": %s",
                                 v, host, gai_strerror(rc));
        return VG_OK;
}

static int parse_number(const char *s, double *out, int integer) {
        char *end;
        errno = 0;
        /* (strtod and strtoll skip spaces and take a '+': "= 5" is
         * refused as "=5 " is) */
        if (isspace((unsigned char)*s) || *s == '+')
                return -1;
        if (integer) {
                long long v = strtoll(s, &end, 10);
                *out = (double)v;
        } else
                *out = strtod(s, &end);
        return errno || end == s || *end != '\0' ? -1 : 0;
}

/* s as a message may quote it: not if it holds a control character (a
 * terminal's escape sequence from a file). */
static const char *shown(const char *s) {
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return "(not shown: it holds control characters)";
        return s;
}

vg_err_t vg_conf_set(vg_conf_t *conf, const char *key, const char *value,
                     char *errstr, size_t errstr_size) {
        const vg_confdef_t *d;
        double num;

        /* No key or value holds a control character: none is meant so,
         * and every message below may quote them (a terminal's escape
         * sequence from a file) */
        if (shown(key) != key)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG, "a key "
                                 "with control characters (not shown)");
        if (shown(value) != value)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "%s: a value with control characters (not "
                                 "shown)", key);
        if (!strncmp(key, "kafka.", 6)) {
                rd_kafka_conf_t *probe;
                char e[512];
                if (!key[6])
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "\"kafka.\" needs a librdkafka "
                                         "property name after it");
                /* Tried on a configuration of its own now, so that a
                 * mistake is named where it is written (file:line), not
                 * later when a client is made (vg_conf_kafka sets the
                 * same way) */
                probe = rd_kafka_conf_new();
                if (rd_kafka_conf_set(probe, key + 6, value, e, sizeof(e)) !=
                    RD_KAFKA_CONF_OK) {
                        rd_kafka_conf_destroy(probe);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: %s", key, e);
                }
                rd_kafka_conf_destroy(probe);
                store(conf, key, value);
                return VG_OK;
        }
        if (!strncmp(key, "target.", 7)) {
                if (!vg_conf_known_indicator(key + 7))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: Vigil has no indicator \"%s\" "
                                         "(known: readmission_30d, "
                                         "sip_within_deadline, "
                                         "death_place.<PLACE>, "
                                         "eol_admission_30d, "
                                         "eol_readmission_30d, "
                                         "sip_before_death, "
                                         "ssih_enrolment.<AGE>.<DIAG>, "
                                         "register_coverage, spr.<ANSWER>; "
                                         "see docs/INDICATORS.md)",
                                         key, key + 7);
                if (!strcmp(value, "off")) {
                        store(conf, key, value);
                        return VG_OK;
                }
                if ((strncmp(value, ">=", 2) && strncmp(value, "<=", 2)) ||
                    !key[7] || parse_number(value + 2, &num, 0) ||
                    !isfinite(num) || num < 0 || num > 1)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: expected \">=F\" (higher is "
                                         "better) or \"<=F\" with F from 0 "
                                         "to 1, e.g. >=0.90; or off; got "
                                         "\"%s\"", key, value);
                store(conf, key, value);
                return VG_OK;
        }
        if (!(d = find_def(key)))
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "unknown configuration key \"%s\" (see "
                                 "'vigil config --dump')", shown(key));
        switch (d->cd_type) {
        case VG_C_STRING:
                break;
        case VG_C_BOOL:
                /* (on and off as the SPEC writes them, e.g.
                 * rules.register=off; stored as true and false) */
                if (!strcmp(value, "on"))
                        value = "true";
                else if (!strcmp(value, "off"))
                        value = "false";
                if (strcmp(value, "true") && strcmp(value, "false"))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: expected true or false (or on "
                                         "or off), got \"%s\"", key,
                                         shown(value));
                break;
        case VG_C_INT:
        case VG_C_DOUBLE:
                if (parse_number(value, &num, d->cd_type == VG_C_INT))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: expected %s, got \"%s\"", key,
                                         d->cd_type == VG_C_INT ? "an integer"
                                                                : "a number",
                                         shown(value));
                if (num < d->cd_min || num > d->cd_max)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: %s is out of range [%.15g, %.15g]",
                                         key, value, d->cd_min, d->cd_max);
                break;
        }
        if (!strncmp(key, "topic.", 6)) {
                size_t len = strlen(value);
                int ok = len > 0 && len <= 249 && strcmp(value, ".") &&
                         strcmp(value, "..");
                for (const char *q = value; ok && *q; q++)
                        ok = isalnum((unsigned char)*q) || *q == '.' ||
                             *q == '_' || *q == '-';
                if (!ok)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: not a valid Kafka topic name "
                                         "(1 to 249 of A-Z a-z 0-9 . _ -)",
                                         key);
        }
        if ((!strcmp(key, "group.id") || !strcmp(key, "aggregate.group.id"))
            && !*value)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "%s: must not be empty (it names the Kafka "
                                 "consumer group; default %s)", key,
                                 d->cd_default);
        if (!strcmp(key, "state.dir") && !*value)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "state.dir: must not be empty (default "
                                 "%s)", d->cd_default);
        if (!strcmp(key, "http.listen") &&
            check_listen(value, errstr, errstr_size))
                return VG_ERR_ARG;
        if (!strcmp(key, "timezone") && strcmp(value, "Europe/Stockholm") &&
            strcmp(value, "UTC"))
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "timezone: \"%s\" is not supported (use "
                                 "Europe/Stockholm or UTC)", value);
        if (!strcmp(key, "log.level") && strcmp(value, "error") &&
            strcmp(value, "warn") && strcmp(value, "info") &&
            strcmp(value, "debug"))
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "log.level: expected error, warn, info or "
                                 "debug, got \"%s\"", value);
        store(conf, key, value);
        return VG_OK;
}

static char *trim(char *s) {
        char *e;
        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

static int is_secret_key(const char *k) {
        return strstr(k, "password") || strstr(k, "secret") ||
               strstr(k, "sasl.oauthbearer") ||
               strstr(k, "ssl.key.pem");
}

/* Reads one line into buf (without the newline). Returns 1 for a line,
 * 0 at the end of the file, -1 for a line longer than size - 1 bytes, -2
 * for a line holding a NUL byte (the rest of the line is consumed). */
static int read_line(FILE *fp, char *buf, size_t size) {
        size_t n = 0;
        int c, err = 0;
        bool cr = false; /* a '\r' held back: not counted if a '\n' ends it */
        while ((c = getc(fp)) != EOF && c != '\n') {
                if (cr && !err && n + 1 >= size)
                        err = -1;
                else if (cr && !err)
                        buf[n++] = '\r';
                cr = false;
                if (c == '\0' && !err)
                        err = -2;
                else if (c == '\r')
                        cr = true;
                else if (n + 1 >= size && !err)
                        err = -1;
                else if (!err)
                        buf[n++] = (char)c;
        }
        if (cr && c == EOF && !err) { /* (a '\r' last in the file) */
                if (n + 1 >= size)
                        err = -1;
                else
                        buf[n++] = '\r';
        }
        buf[n] = '\0';
        if (c == EOF && n == 0 && !err)
                return 0;
        return err ? err : 1;
}

vg_err_t vg_conf_load_file(vg_conf_t *conf, const char *path, char *errstr,
                           size_t errstr_size) {
        /* (opened without waiting: a FIFO would block the open until
         * something writes to it; it is refused below) */
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        char line[4096], e[512];
        int lineno = 0, secrets = 0, r;
        struct stat st;
        FILE *fp;

        if (fd < 0)
                return vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s",
                                 *path ? path : "'' (an empty file name)",
                                 strerror(errno));
        if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
                close(fd);
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "%s: not a regular file", path);
        }
        if (!(fp = fdopen(fd, "r"))) {
                int en = errno;
                close(fd);
                return vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s",
                                 path, strerror(en));
        }
        while ((r = read_line(fp, line, sizeof(line))) != 0) {
                char *s, *eq;
                lineno++;
                if (r == -2) {
                        fclose(fp);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s:%d: NUL byte in the line (a "
                                         "properties file is text; is this "
                                         "the right file?)", path, lineno);
                }
                if (r == -1) {
                        fclose(fp);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s:%d: line too long (at most "
                                         "%zu bytes)", path, lineno,
                                         sizeof(line) - 1);
                }
                s = line;
                if (lineno == 1)
                        s += vg_bom_len(s, strlen(s));
                s = trim(s);
                if (!*s || *s == '#' || *s == '!')
                        continue;
                if (!(eq = strchr(s, '='))) {
                        fclose(fp);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s:%d: expected key=value", path,
                                         lineno);
                }
                *eq = '\0';
                if (vg_conf_set(conf, trim(s), trim(eq + 1), e, sizeof(e))) {
                        fclose(fp);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s:%d: %s", path, lineno, e);
                }
                secrets |= is_secret_key(trim(s));
        }
        if (ferror(fp)) {
                fclose(fp);
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "%s: read error", path);
        }
        if (secrets && (st.st_mode & 077))
                vg_warn("config",
                        "%s holds secrets but is readable by group or others (mode "
                        "%03o); chmod 600 it", path, (unsigned)(st.st_mode & 0777));
        fclose(fp);
        return VG_OK;
}

vg_err_t vg_conf_set_kv(vg_conf_t *conf, const char *kv, char *errstr,
                        size_t errstr_size) {
        const char *eq = strchr(kv, '=');
        char key[256];
        if (!eq || eq == kv)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "%s: expected key=value", shown(kv));
        if ((size_t)(eq - kv) >= sizeof(key))
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "a key of %zu characters: no key is longer "
                                 "than %zu", (size_t)(eq - kv),
                                 sizeof(key) - 1);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        return vg_conf_set(conf, key, eq + 1, errstr, errstr_size);
}

vg_err_t vg_conf_load_default(vg_conf_t *conf, char *errstr,
                              size_t errstr_size) {
        const char *env = getenv("VIGIL_CONFIG");
        if (env && *env)
                return vg_conf_load_file(conf, env, errstr, errstr_size);
        /* (one that is there but cannot be read - a dangling link, no
         * permission - is an error, not the defaults in silence; a working
         * directory that cannot be searched has none) */
        {
                struct stat st;
                if (lstat("vigil.conf", &st) == 0)
                        return vg_conf_load_file(conf, "vigil.conf", errstr,
                                                 errstr_size);
        }
        return VG_OK;
}

static const char *get(const vg_conf_t *conf, const char *key) {
        const vg_confdef_t *d = find_def(key);
        const char *v = lookup(conf, key);
        if (!d) {
                vg_error("config", "bug: unknown key %s", key);
                abort();
        }
        return v ? v : d->cd_default;
}

const char *vg_conf_kafka_get(const vg_conf_t *conf, const char *key) {
        char k[256];
        snprintf(k, sizeof(k), "kafka.%s", key);
        return lookup(conf, k);
}

const char *vg_conf_str(const vg_conf_t *conf, const char *key) {
        return get(conf, key);
}

int64_t vg_conf_int(const vg_conf_t *conf, const char *key) {
        const char *v = get(conf, key);
        return v ? strtoll(v, NULL, 10) : 0;
}

bool vg_conf_bool(const vg_conf_t *conf, const char *key) {
        const char *v = get(conf, key);
        return v && !strcmp(v, "true");
}

double vg_conf_double(const vg_conf_t *conf, const char *key) {
        const char *v = get(conf, key);
        return v ? strtod(v, NULL) : 0.0;
}

int vg_conf_target(const vg_conf_t *conf, const char *indicator,
                   double *targetp, int *higher_is_betterp) {
        char key[256];
        const char *v;
        snprintf(key, sizeof(key), "target.%s", indicator);
        if (!(v = lookup(conf, key)))
                return 0;
        if (!strcmp(v, "off"))
                return -1;
        *higher_is_betterp = v[0] == '>';
        v++;
        if (*v == '=')
                v++;
        *targetp = strtod(v, NULL);
        return 1;
}

static int kv_cmp(const void *a, const void *b) {
        return strcmp((*(const kv_t *const *)a)->k,
                      (*(const kv_t *const *)b)->k);
}

size_t vg_conf_targets_text(const vg_conf_t *conf, char *buf, size_t size) {
        const kv_t **t = vg_calloc(conf->vc_cnt + 1, sizeof(*t));
        size_t n = 0, len = 0;
        for (size_t i = 0; i < conf->vc_cnt; i++)
                if (!strncmp(conf->vc_kv[i].k, "target.", 7))
                        t[n++] = &conf->vc_kv[i];
        qsort(t, n, sizeof(*t), kv_cmp);
        if (size)
                buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                int w = snprintf(len < size ? buf + len : NULL,
                                 len < size ? size - len : 0, "%s=%s;",
                                 t[i]->k, t[i]->v);
                len += w > 0 ? (size_t)w : 0;
        }
        vg_free(t);
        return len;
}

vg_err_t vg_conf_kafka(const vg_conf_t *conf, rd_kafka_conf_t *kconf,
                       char *errstr, size_t errstr_size) {
        char e[512];
        for (size_t i = 0; i < conf->vc_cnt; i++) {
                if (strncmp(conf->vc_kv[i].k, "kafka.", 6))
                        continue;
                if (rd_kafka_conf_set(kconf, conf->vc_kv[i].k + 6,
                                      conf->vc_kv[i].v, e,
                                      sizeof(e)) != RD_KAFKA_CONF_OK)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: %s", conf->vc_kv[i].k, e);
        }
        return VG_OK;
}

void vg_conf_dump(const vg_conf_t *conf, FILE *fp) {
        for (const vg_confdef_t *d = vg_confdefs; d->cd_name; d++) {
                const char *v = get(conf, d->cd_name);
                fprintf(fp, "# %s\n%s%s=%s\n", d->cd_desc, v ? "" : "#",
                        d->cd_name,
                        !v ? "" : d->cd_secret || is_secret_key(d->cd_name)
                                          ? "***"
                                          : v);
        }
        for (size_t i = 0; i < conf->vc_cnt; i++)
                if (!strncmp(conf->vc_kv[i].k, "kafka.", 6) ||
                    !strncmp(conf->vc_kv[i].k, "target.", 7))
                        fprintf(fp, "%s=%s\n", conf->vc_kv[i].k,
                                is_secret_key(conf->vc_kv[i].k)
                                        ? "***"
                                        : conf->vc_kv[i].v);
}
