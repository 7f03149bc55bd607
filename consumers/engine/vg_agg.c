/*
 * vg_agg.c - aggregator state: latest parts, sums, target alerts, outbox.
 */
#include "vg_agg.h"
#include "vg_rules.h"
#include "vg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

static const char *agg_schema =
        "CREATE TABLE IF NOT EXISTS offsets(topic TEXT, partition INTEGER,"
        "  next_offset INTEGER NOT NULL, PRIMARY KEY(topic, partition));"
        "CREATE TABLE IF NOT EXISTS parts(cell TEXT, partition INTEGER,"
        "  num INTEGER NOT NULL, den INTEGER, PRIMARY KEY(cell, partition));"
        "CREATE TABLE IF NOT EXISTS alerting(cell TEXT PRIMARY KEY);"
        /* The latest progress of each input partition as read from each
         * partition of the parts topic (source): a processor sends a copy
         * to every one, after the parts it vouches for. (Version 1 had
         * one row per input partition: dropped, rebuilt from the next
         * copies.) */
        "DROP TABLE IF EXISTS progress;"
        "CREATE TABLE IF NOT EXISTS progress2(partition INTEGER,"
        "  source INTEGER, watermark INTEGER, data_since INTEGER,"
        "  PRIMARY KEY(partition, source));"
        "CREATE TABLE IF NOT EXISTS vstate(cell TEXT PRIMARY KEY,"
        "  complete INTEGER NOT NULL, history INTEGER NOT NULL,"
        "  since INTEGER);"
        /* What the alerts were last evaluated with (vg_agg_recheck) */
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
        "CREATE TEMP TABLE IF NOT EXISTS dirty(cell TEXT PRIMARY KEY);";

enum { A_PUT_PART, A_DIRTY, A_DIRTY_LIST, A_DIRTY_CLEAR, A_GET_OFF, A_SET_OFF,
       A_IS_ALERTING, A_ALERT_ON, A_ALERT_OFF, A_VALUES, A_PUT_PROGRESS,
       A_PROGRESS, A_VSTATE_ALL, A_VSTATE_PUT, A_VSTATE_DEL, A_SUM_PART,
       A_GET_META, A_SET_META, A_DIRTY_ALL, A__CNT };

static const char *asql[A__CNT] = {
        [A_PUT_PART] = "INSERT OR REPLACE INTO parts VALUES(?,?,?,?)",
        [A_DIRTY] = "INSERT OR IGNORE INTO temp.dirty VALUES(?)",
        [A_DIRTY_LIST] = "SELECT d.cell, sum(p.num), sum(p.den), "
                         "count(p.den) FROM temp.dirty d JOIN parts p "
                         "ON p.cell=d.cell GROUP BY d.cell ORDER BY d.cell",
        [A_DIRTY_CLEAR] = "DELETE FROM temp.dirty",
        [A_GET_OFF] = "SELECT next_offset FROM offsets WHERE topic=? AND "
                      "partition=?",
        [A_SET_OFF] = "INSERT OR REPLACE INTO offsets VALUES(?,?,?)",
        [A_IS_ALERTING] = "SELECT 1 FROM alerting WHERE cell=?",
        [A_ALERT_ON] = "INSERT OR IGNORE INTO alerting VALUES(?)",
        [A_ALERT_OFF] = "DELETE FROM alerting WHERE cell=?",
        [A_VALUES] = "SELECT cell, sum(num), sum(den), count(den) FROM parts "
                     "GROUP BY cell ORDER BY cell",
        [A_PUT_PROGRESS] = "INSERT OR REPLACE INTO progress2 "
                           "VALUES(?,?,?,?)",
        /* per input partition: copies, copies with a watermark, their
         * smallest watermark and largest data_since */
        [A_PROGRESS] = "SELECT count(*), count(watermark), min(watermark), "
                       "max(data_since) FROM progress2 WHERE source<? "
                       "GROUP BY partition",
        [A_VSTATE_ALL] = "SELECT cell, complete, history, since FROM vstate",
        [A_VSTATE_PUT] = "INSERT OR REPLACE INTO vstate VALUES(?,?,?,?)",
        [A_VSTATE_DEL] = "DELETE FROM vstate WHERE cell=?",
        /* A quarter's or year's part of one partition: the sum of its
         * months' parts (SPEC §6.2); ?1 the cell, ?2 the partition,
         * ?3..?14 the month cells (unused ones NULL). */
        [A_SUM_PART] = "INSERT OR REPLACE INTO parts "
                       "SELECT ?1, ?2, coalesce(sum(num), 0), sum(den) "
                       "FROM parts WHERE partition = ?2 AND cell IN "
                       "(?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        [A_GET_META] = "SELECT value FROM meta WHERE key=?",
        [A_SET_META] = "INSERT OR REPLACE INTO meta VALUES(?,?)",
        [A_DIRTY_ALL] = "INSERT OR IGNORE INTO temp.dirty SELECT cell FROM "
                        "vstate",
};

struct vg_agg_s {
        sqlite3         *ag_db;
        sqlite3_stmt    *ag_stmt[A__CNT];
        const vg_conf_t *ag_conf;
        vg_codec_t      *ag_codec;
        vg_outbox_t     *ag_outbox;
        const char      *ag_values_topic;
        const char      *ag_alerts_topic;
        int64_t          ag_min_den;
        bool             ag_alert_prelim; /* aggregate.alert_preliminary */
        vg_rules_conf_t  ag_rc;           /* for completeness (SPEC §6.1) */
        int              ag_ninputs;      /* input partitions; 0: those
                                           * that published progress */
        int              ag_nsources;     /* partitions of the parts
                                           * topic (1: a file) */
        int64_t          ag_min_wm;       /* over all partitions, or NONE */
        int64_t          ag_since;        /* data_since, or NONE */
        bool             ag_progress_dirty;
        int64_t          ag_now;
        bool             ag_in_batch;
        vg_buf_t         ag_buf;
};

/* SPEC §6.3 defaults: the region's own choice for the first two;
 * Socialstyrelsen's target levels (2017) for the register; 70 % coverage
 * for open comparisons. */
static const struct {
        const char *ind;
        double      t;
        bool        hib;
} default_targets[] = {
        {"readmission_30d", 0.10, false},
        {"sip_within_deadline", 0.90, true},
        {"spr.eol_conversation", 0.98, true},
        {"spr.pain_assessed", 1.00, true},
        {"spr.oral_health_assessed", 0.90, true},
        {"spr.prn_opioid", 0.98, true},
        {"spr.prn_anxiolytic", 0.98, true},
        {"spr.pressure_ulcer_free", 0.90, true},
        {"register_coverage", 0.70, true},
};

vg_target_t vg_agg_target(const vg_conf_t *conf, const char *indicator) {
        vg_target_t tg = {false, 0, false};
        double t;
        int hib;
        int r = vg_conf_target(conf, indicator, &t, &hib);
        if (r > 0) {
                tg.tg_set = true;
                tg.tg_target = t;
                tg.tg_higher_is_better = hib != 0;
        } else if (r == 0) {
                for (size_t i = 0; i < VG_ARRAY_SIZE(default_targets); i++)
                        if (!strcmp(indicator, default_targets[i].ind))
                                tg = (vg_target_t){true,
                                                   default_targets[i].t,
                                                   default_targets[i].hib};
        }
        return tg;
}

bool vg_agg_breach(const vg_target_t *tg, int64_t num, int64_t den,
                   int64_t min_denominator) {
        double v;
        if (!tg->tg_set || den <= 0 || den < min_denominator)
                return false;
        v = (double)num / (double)den;
        return tg->tg_higher_is_better ? v < tg->tg_target
                                       : v > tg->tg_target;
}

static sqlite3_stmt *ast(vg_agg_t *agg, int i) {
        sqlite3_reset(agg->ag_stmt[i]);
        sqlite3_clear_bindings(agg->ag_stmt[i]);
        return agg->ag_stmt[i];
}

static vg_err_t agg_err(vg_agg_t *agg, char *errstr, size_t errstr_size,
                        const char *what) {
        return vg_seterr(errstr, errstr_size, VG_ERR_STORE,
                         "aggregator state: %s: %s", what,
                         sqlite3_errmsg(agg->ag_db));
}

void vg_agg_rules_conf(const vg_conf_t *conf, vg_rules_conf_t *rc) {
        vg_rules_conf_default(rc);
        vg_tz_parse(vg_conf_str(conf, "timezone"), &rc->rc_tz);
        rc->rc_window_days = (int)vg_conf_int(conf, "rules.window_days");
        rc->rc_sip_deadline_ms =
                vg_conf_int(conf, "rules.sip_deadline_hours") * VG_MS_PER_HOUR;
        rc->rc_eol_days = (int)vg_conf_int(conf, "rules.eol_days");
        rc->rc_sip_before_death_days =
                (int)vg_conf_int(conf, "rules.sip_before_death_days");
        rc->rc_register = vg_conf_bool(conf, "rules.register");
        rc->rc_register_deadline_days =
                (int)vg_conf_int(conf, "rules.register_deadline_days");
}

/* The smallest watermark over all input partitions and data_since (SPEC
 * §6.1): a partition that has published no progress yet holds every value
 * incomplete; one with a null watermark (caught up and empty) is left
 * out.
 *
 * A partition's progress counts only once a copy of it has been read from
 * every partition of the parts topic, and then as the oldest of the
 * copies: each copy follows, in its parts partition, the parts it vouches
 * for, so every part behind that watermark has been read too - even when
 * the parts topic is read unevenly (a rebuild, a replay). Copies that
 * disagree on whether the partition is empty hold it back too. */
static void progress_load(vg_agg_t *agg) {
        sqlite3_stmt *s = ast(agg, A_PROGRESS);
        int64_t min_wm = INT64_MAX, since = INT64_MIN;
        int complete = 0, with_wm = 0;
        bool held = false;

        sqlite3_bind_int(s, 1, agg->ag_nsources);
        while (sqlite3_step(s) == SQLITE_ROW) {
                int64_t copies = sqlite3_column_int64(s, 0);
                int64_t copies_wm = sqlite3_column_int64(s, 1);
                if (sqlite3_column_type(s, 3) != SQLITE_NULL &&
                    (since == INT64_MIN ||
                     sqlite3_column_int64(s, 3) < since))
                        since = sqlite3_column_int64(s, 3);
                if (copies < agg->ag_nsources ||
                    (copies_wm && copies_wm < copies)) {
                        held = true;
                        continue;
                }
                complete++;
                if (copies_wm) {
                        with_wm++;
                        if (sqlite3_column_int64(s, 2) < min_wm)
                                min_wm = sqlite3_column_int64(s, 2);
                }
        }
        sqlite3_reset(s);
        agg->ag_min_wm = VG_WM_NONE;
        agg->ag_since = since == INT64_MIN ? VG_WM_NONE : since;
        if (!held && complete > 0 && complete >= agg->ag_ninputs &&
            with_wm > 0)
                agg->ag_min_wm = min_wm;
}

void vg_agg_set_input_partitions(vg_agg_t *agg, int n) {
        agg->ag_ninputs = n;
        progress_load(agg);
}

int64_t vg_agg_min_watermark(const vg_agg_t *agg) {
        return agg->ag_min_wm;
}

int64_t vg_agg_data_since(const vg_agg_t *agg) {
        return agg->ag_since;
}

vg_agg_t *vg_agg_open(const char *path, const vg_conf_t *conf,
                      vg_codec_t *codec, char *errstr, size_t errstr_size) {
        vg_agg_t *agg = vg_calloc(1, sizeof(*agg));
        agg->ag_conf = conf;
        agg->ag_codec = codec;
        agg->ag_values_topic = vg_conf_str(conf, "topic.indicators");
        agg->ag_alerts_topic = vg_conf_str(conf, "topic.alerts");
        agg->ag_min_den = vg_conf_int(conf, "aggregate.min_denominator");
        agg->ag_alert_prelim = vg_conf_bool(conf, "aggregate.alert_preliminary");
        vg_agg_rules_conf(conf, &agg->ag_rc);
        agg->ag_min_wm = agg->ag_since = VG_WM_NONE;
        agg->ag_nsources = 1;
        vg_buf_init(&agg->ag_buf);
        if (sqlite3_open_v2(path, &agg->ag_db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                    SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK ||
            sqlite3_exec(agg->ag_db,
                         VG_STORE_PRAGMAS "PRAGMA cache_size=-65536;",
                         NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(agg->ag_db, agg_schema, NULL, NULL, NULL) !=
                    SQLITE_OK) {
                agg_err(agg, errstr, errstr_size, path);
                vg_agg_close(agg);
                return NULL;
        }
        sqlite3_busy_timeout(agg->ag_db, 5000);
        for (int i = 0; i < A__CNT; i++)
                if (sqlite3_prepare_v3(agg->ag_db, asql[i], -1,
                                       SQLITE_PREPARE_PERSISTENT,
                                       &agg->ag_stmt[i], NULL) != SQLITE_OK) {
                        agg_err(agg, errstr, errstr_size, asql[i]);
                        vg_agg_close(agg);
                        return NULL;
                }
        if (!(agg->ag_outbox = vg_outbox_open(agg->ag_db, errstr,
                                              errstr_size))) {
                vg_agg_close(agg);
                return NULL;
        }
        progress_load(agg);
        return agg;
}

void vg_agg_close(vg_agg_t *agg) {
        if (!agg)
                return;
        if (agg->ag_in_batch)
                sqlite3_exec(agg->ag_db, "ROLLBACK", NULL, NULL, NULL);
        vg_outbox_close(agg->ag_outbox);
        for (int i = 0; i < A__CNT; i++)
                sqlite3_finalize(agg->ag_stmt[i]);
        sqlite3_close(agg->ag_db);
        vg_buf_free(&agg->ag_buf);
        vg_free(agg);
}

bool vg_agg_in_batch(const vg_agg_t *agg) {
        return agg->ag_in_batch;
}

vg_outbox_t *vg_agg_outbox(vg_agg_t *agg) {
        return agg->ag_outbox;
}

vg_err_t vg_agg_begin(vg_agg_t *agg, int64_t now_ms, char *errstr,
                      size_t errstr_size) {
        if (agg->ag_in_batch)
                return VG_OK;
        if (sqlite3_exec(agg->ag_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
            SQLITE_OK)
                return agg_err(agg, errstr, errstr_size, "BEGIN");
        agg->ag_in_batch = true;
        agg->ag_now = now_ms;
        return VG_OK;
}

static vg_err_t step_done(vg_agg_t *agg, sqlite3_stmt *s, char *errstr,
                          size_t errstr_size, const char *what) {
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
                return agg_err(agg, errstr, errstr_size, what);
        return VG_OK;
}

void vg_agg_set_sources(vg_agg_t *agg, int n) {
        agg->ag_nsources = n > 0 ? n : 1;
        progress_load(agg);
}

vg_err_t vg_agg_progress(vg_agg_t *agg, const vg_progress_t *pp, int source,
                         char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = ast(agg, A_PUT_PROGRESS);
        sqlite3_bind_int(s, 1, pp->pp_partition);
        sqlite3_bind_int(s, 2, source);
        if (pp->pp_watermark.set)
                sqlite3_bind_int64(s, 3, pp->pp_watermark.v);
        if (pp->pp_data_since.set)
                sqlite3_bind_int64(s, 4, pp->pp_data_since.v);
        agg->ag_progress_dirty = true;
        return step_done(agg, s, errstr, errstr_size, "store progress");
}

/* A month's part changed: its quarter's and year's parts of the same
 * partition are the sums of their months' (SPEC §6.2). */
static vg_err_t sum_parents(vg_agg_t *agg, const vg_ipart_t *ip, char *errstr,
                            size_t errstr_size) {
        char q[8], y[5], cell[1024], month[16];
        const char *bd = ip->ip_breakdown ? ip->ip_breakdown : "all";
        vg_err_t err;
        if (vg_rules_period_parents(ip->ip_period, q, y))
                return VG_OK; /* not a month: nothing above it */
        for (int k = 0; k < 2; k++) {
                sqlite3_stmt *s = ast(agg, A_SUM_PART);
                int first = k ? 1 : 3 * (q[6] - '1') + 1;
                int n = k ? 12 : 3;
                snprintf(cell, sizeof(cell), "%s|%s|%s|%s", ip->ip_indicator,
                         ip->ip_area, k ? y : q, bd);
                sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(s, 2, ip->ip_partition);
                for (int i = 0; i < n; i++) {
                        snprintf(month, sizeof(month), "%s-%02d", y,
                                 (first + i) % 100);
                        snprintf(cell, sizeof(cell), "%s|%s|%s|%s",
                                 ip->ip_indicator, ip->ip_area, month, bd);
                        sqlite3_bind_text(s, 3 + i, cell, -1,
                                          SQLITE_TRANSIENT);
                }
                if ((err = step_done(agg, s, errstr, errstr_size,
                                     "sum a quarter or year")))
                        return err;
                snprintf(cell, sizeof(cell), "%s|%s|%s|%s", ip->ip_indicator,
                         ip->ip_area, k ? y : q, bd);
                s = ast(agg, A_DIRTY);
                sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
                if ((err = step_done(agg, s, errstr, errstr_size,
                                     "mark cell")))
                        return err;
        }
        return VG_OK;
}

vg_err_t vg_agg_part(vg_agg_t *agg, const vg_ipart_t *ip, char *errstr,
                     size_t errstr_size) {
        char cell[512];
        sqlite3_stmt *s;
        vg_err_t err;
        snprintf(cell, sizeof(cell), "%s|%s|%s|%s", ip->ip_indicator,
                 ip->ip_area, ip->ip_period,
                 ip->ip_breakdown ? ip->ip_breakdown : "all");
        s = ast(agg, A_PUT_PART);
        sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 2, ip->ip_partition);
        sqlite3_bind_int64(s, 3, ip->ip_numerator);
        if (ip->ip_denominator.set)
                sqlite3_bind_int64(s, 4, ip->ip_denominator.v);
        if ((err = step_done(agg, s, errstr, errstr_size, "store part")))
                return err;
        s = ast(agg, A_DIRTY);
        sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
        if ((err = step_done(agg, s, errstr, errstr_size, "mark cell")))
                return err;
        return sum_parents(agg, ip, errstr, errstr_size);
}

vg_err_t vg_agg_set_offset(vg_agg_t *agg, const char *topic, int partition,
                           int64_t next_offset, char *errstr,
                           size_t errstr_size) {
        sqlite3_stmt *s = ast(agg, A_SET_OFF);
        sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, partition);
        sqlite3_bind_int64(s, 3, next_offset);
        return step_done(agg, s, errstr, errstr_size, "store offset");
}

int64_t vg_agg_offset(vg_agg_t *agg, const char *topic, int partition) {
        sqlite3_stmt *s = ast(agg, A_GET_OFF);
        int64_t off = -1;
        sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, partition);
        if (sqlite3_step(s) == SQLITE_ROW)
                off = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return off;
}

/* Splits "indicator|area|period|breakdown" into iv (pointers into buf). */
static int split_cell(char *buf, vg_ivalue_t *iv) {
        char *save = NULL;
        memset(iv, 0, sizeof(*iv));
        iv->iv_indicator = strtok_r(buf, "|", &save);
        iv->iv_area = strtok_r(NULL, "|", &save);
        iv->iv_period = strtok_r(NULL, "|", &save);
        iv->iv_breakdown = strtok_r(NULL, "|", &save);
        return iv->iv_indicator && iv->iv_area && iv->iv_period &&
                               iv->iv_breakdown
                       ? 0
                       : -1;
}

void vg_agg_alert(const vg_ivalue_t *iv, const vg_target_t *tg, int status,
                  int64_t now, vg_agg_alert_t *out) {
        vg_alert_t *al = &out->aa_al;
        size_t alen = strlen(iv->iv_area);

        memset(al, 0, sizeof(*al));
        /* The same anchor as version 1: breakdown is always "all" here
         * (SPEC §5.4), so alert ids do not change. */
        snprintf(out->aa_anchor, sizeof(out->aa_anchor), "%s|%s|%s",
                 iv->iv_indicator, iv->iv_area, iv->iv_period);
        al->al_alert_id = vg_rules_alert_id(VG_RULE_INDICATOR_BELOW_TARGET,
                                            iv->iv_area, out->aa_anchor,
                                            out->aa_id);
        al->al_rule = VG_RULE_INDICATOR_BELOW_TARGET;
        al->al_status = status;
        if (alen == 4) {
                al->al_kommun = iv->iv_area;
                al->al_region = vg_region_of(iv->iv_area, out->aa_region);
        } else if (alen == 2 && strcmp(iv->iv_area, "SE"))
                al->al_region = iv->iv_area;
        al->al_anchor = out->aa_anchor;
        al->al_emitted_at = now;
        al->al_indicator = iv->iv_indicator;
        al->al_area = iv->iv_area;
        al->al_period = iv->iv_period;
        al->al_numerator = (vg_optl_t){true, iv->iv_numerator};
        al->al_denominator = iv->iv_denominator;
        al->al_value = iv->iv_value;
        al->al_target = (vg_optd_t){true, tg->tg_target};
        al->al_complete = (vg_optl_t){true, iv->iv_complete};
}

bool vg_agg_value_breach(const vg_target_t *tg, const vg_ivalue_t *iv,
                         bool alert_preliminary, int64_t min_denominator) {
        /* SPEC §5.4: breakdown all, complete values (preliminary ones only
         * with aggregate.alert_preliminary). */
        return iv->iv_denominator.set && iv->iv_breakdown &&
               !strcmp(iv->iv_breakdown, "all") &&
               (iv->iv_complete || alert_preliminary) &&
               vg_agg_breach(tg, iv->iv_numerator, iv->iv_denominator.v,
                             min_denominator);
}

static vg_err_t queue_alert(vg_agg_t *agg, const vg_ivalue_t *iv,
                            const vg_target_t *tg, int status, char *errstr,
                            size_t errstr_size) {
        vg_agg_alert_t aa;
        vg_err_t err;

        vg_agg_alert(iv, tg, status, agg->ag_now, &aa);
        vg_buf_reset(&agg->ag_buf);
        if ((err = vg_codec_encode(agg->ag_codec, VG_REC_ALERT, &aa.aa_al,
                                   &agg->ag_buf, errstr, errstr_size)))
                return err;
        return vg_outbox_add(agg->ag_outbox, agg->ag_alerts_topic, aa.aa_id,
                             strlen(aa.aa_id), agg->ag_buf.vb_data,
                             agg->ag_buf.vb_len, NULL, errstr, errstr_size);
}

static void row_value(const vg_agg_t *agg, sqlite3_stmt *s, vg_ivalue_t *iv,
                      int64_t now) {
        int64_t dens = sqlite3_column_int64(s, 3);
        iv->iv_numerator = sqlite3_column_int64(s, 1);
        iv->iv_denominator = (vg_optl_t){dens > 0, sqlite3_column_int64(s, 2)};
        iv->iv_value = (vg_optd_t){false, 0};
        if (iv->iv_denominator.set && iv->iv_denominator.v > 0)
                iv->iv_value = (vg_optd_t){
                        true, (double)iv->iv_numerator /
                                      (double)iv->iv_denominator.v};
        iv->iv_updated_at = now;
        iv->iv_complete = vg_rules_complete(&agg->ag_rc, iv->iv_indicator,
                                            iv->iv_period, agg->ag_min_wm);
        iv->iv_history_complete = vg_rules_history_complete(
                &agg->ag_rc, iv->iv_indicator, iv->iv_period, agg->ag_since);
        iv->iv_data_since = (vg_optl_t){agg->ag_since != VG_WM_NONE,
                                        agg->ag_since};
}

static vg_err_t evaluate(vg_agg_t *agg, const vg_ivalue_t *iv, char *errstr,
                         size_t errstr_size) {
        char cell[512];
        vg_target_t tg = vg_agg_target(agg->ag_conf, iv->iv_indicator);
        bool breach = vg_agg_value_breach(&tg, iv, agg->ag_alert_prelim,
                                          agg->ag_min_den);
        bool was;
        sqlite3_stmt *s;
        vg_err_t err;

        snprintf(cell, sizeof(cell), "%s|%s|%s|%s", iv->iv_indicator,
                 iv->iv_area, iv->iv_period, iv->iv_breakdown);
        s = ast(agg, A_IS_ALERTING);
        sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
        was = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_reset(s);
        if (breach) { /* raise, or refresh the figures of a raised alert */
                if ((err = queue_alert(agg, iv, &tg, VG_STATUS_ACTIVE, errstr,
                                       errstr_size)))
                        return err;
                if (!was) {
                        s = ast(agg, A_ALERT_ON);
                        sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
                        return step_done(agg, s, errstr, errstr_size,
                                         "alert on");
                }
        } else if (was) {
                if ((err = queue_alert(agg, iv, &tg, VG_STATUS_RETRACTED,
                                       errstr, errstr_size)))
                        return err;
                s = ast(agg, A_ALERT_OFF);
                sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
                return step_done(agg, s, errstr, errstr_size, "alert off");
        }
        return VG_OK;
}

/* What a published value's completeness rests on, to republish it when
 * that changes (SPEC §6.1); iv NULL: the row is gone. */
static vg_err_t vstate_put(vg_agg_t *agg, const char *cell,
                           const vg_ivalue_t *iv, char *errstr,
                           size_t errstr_size) {
        sqlite3_stmt *s = ast(agg, iv ? A_VSTATE_PUT : A_VSTATE_DEL);
        sqlite3_bind_text(s, 1, cell, -1, SQLITE_TRANSIENT);
        if (iv) {
                sqlite3_bind_int(s, 2, iv->iv_complete);
                sqlite3_bind_int(s, 3, iv->iv_history_complete);
                if (iv->iv_data_since.set)
                        sqlite3_bind_int64(s, 4, iv->iv_data_since.v);
        }
        return step_done(agg, s, errstr, errstr_size, "value state");
}

/* Progress arrived: recompute the smallest watermark and data_since, and
 * mark dirty every published value whose complete, history_complete or
 * data_since changes with them. */
static vg_err_t progress_changed(vg_agg_t *agg, char *errstr,
                                 size_t errstr_size) {
        int64_t old_wm = agg->ag_min_wm, old_since = agg->ag_since;
        sqlite3_stmt *s;
        vg_err_t err = VG_OK;
        char **cells = NULL;
        int n = 0, cap = 0;

        agg->ag_progress_dirty = false;
        progress_load(agg);
        if (old_wm == agg->ag_min_wm && old_since == agg->ag_since)
                return VG_OK;
        s = ast(agg, A_VSTATE_ALL);
        while (sqlite3_step(s) == SQLITE_ROW) {
                char buf[512];
                vg_ivalue_t iv;
                bool complete, hist, changed;
                int64_t since = sqlite3_column_type(s, 3) == SQLITE_NULL
                                        ? VG_WM_NONE
                                        : sqlite3_column_int64(s, 3);
                snprintf(buf, sizeof(buf), "%s",
                         (const char *)sqlite3_column_text(s, 0));
                if (split_cell(buf, &iv))
                        continue;
                complete = vg_rules_complete(&agg->ag_rc, iv.iv_indicator,
                                             iv.iv_period, agg->ag_min_wm);
                hist = vg_rules_history_complete(&agg->ag_rc, iv.iv_indicator,
                                                 iv.iv_period, agg->ag_since);
                changed = complete != (sqlite3_column_int(s, 1) != 0) ||
                          hist != (sqlite3_column_int(s, 2) != 0) ||
                          since != agg->ag_since;
                if (!changed)
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 256;
                        cells = vg_realloc(cells, sizeof(*cells) * (size_t)cap);
                }
                cells[n++] = vg_strdup((const char *)sqlite3_column_text(s, 0));
        }
        sqlite3_reset(s);
        for (int i = 0; i < n; i++) {
                if (!err) {
                        s = ast(agg, A_DIRTY);
                        sqlite3_bind_text(s, 1, cells[i], -1,
                                          SQLITE_TRANSIENT);
                        err = step_done(agg, s, errstr, errstr_size,
                                        "mark cell");
                }
                vg_free(cells[i]);
        }
        vg_free(cells);
        return err;
}

vg_err_t vg_agg_commit(vg_agg_t *agg, char *errstr, size_t errstr_size) {
        sqlite3_stmt *s;
        vg_err_t err = VG_OK;
        int rc;

        if (!agg->ag_in_batch)
                return VG_OK;
        if (agg->ag_progress_dirty)
                err = progress_changed(agg, errstr, errstr_size);
        s = ast(agg, A_DIRTY_LIST);
        while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                char *cell = vg_strdup((const char *)sqlite3_column_text(s, 0));
                char *key = vg_strdup(cell);
                vg_ivalue_t iv;
                if (split_cell(cell, &iv)) {
                        vg_free(cell);
                        vg_free(key);
                        continue;
                }
                row_value(agg, s, &iv, agg->ag_now);
                if (iv.iv_denominator.set ? iv.iv_denominator.v <= 0
                                          : iv.iv_numerator <= 0) {
                        /* SPEC §6: no row without cases. A tombstone
                         * removes the key from the compacted topic. */
                        err = vg_outbox_add(agg->ag_outbox,
                                            agg->ag_values_topic, key,
                                            strlen(key), NULL, 0, NULL,
                                            errstr, errstr_size);
                        if (!err)
                                err = vstate_put(agg, key, NULL, errstr,
                                                 errstr_size);
                } else {
                        if (!err)
                                err = vstate_put(agg, key, &iv, errstr,
                                                 errstr_size);
                        vg_buf_reset(&agg->ag_buf);
                        err = vg_codec_encode(agg->ag_codec, VG_REC_IVALUE,
                                              &iv, &agg->ag_buf, errstr,
                                              errstr_size);
                        if (!err)
                                err = vg_outbox_add(
                                        agg->ag_outbox, agg->ag_values_topic,
                                        key, strlen(key), agg->ag_buf.vb_data,
                                        agg->ag_buf.vb_len, NULL, errstr,
                                        errstr_size);
                }
                if (!err)
                        err = evaluate(agg, &iv, errstr, errstr_size);
                vg_free(cell);
                vg_free(key);
        }
        /* (a failed sum is an error, not the end of the cells) */
        if (!err && rc != SQLITE_DONE)
                err = agg_err(agg, errstr, errstr_size, "sum the parts");
        sqlite3_reset(s);
        if (!err)
                err = step_done(agg, ast(agg, A_DIRTY_CLEAR), errstr,
                                errstr_size, "clear marks");
        if (!err && sqlite3_exec(agg->ag_db, "COMMIT", NULL, NULL, NULL) !=
                            SQLITE_OK)
                err = agg_err(agg, errstr, errstr_size, "COMMIT");
        if (err) {
                sqlite3_exec(agg->ag_db, "ROLLBACK", NULL, NULL, NULL);
                progress_load(agg);
        }
        agg->ag_in_batch = false;
        return err;
}

/* What an alert's raising depends on besides the values (SPEC §5.4,
 * §6.1, §6.3): the targets set, the effective ones of the indicators with
 * a default (so that a release with other defaults evaluates again),
 * aggregate.min_denominator and alert_preliminary, and the settings of
 * completeness. */
#define DEFAULTS_TEXT 1024
static char *alerting_text(const vg_agg_t *agg) {
        char rules[VG_RULES_CONF_TEXT], *t;
        size_t n = vg_conf_targets_text(agg->ag_conf, NULL, 0),
               size = n + VG_RULES_CONF_TEXT + DEFAULTS_TEXT + 128;
        size_t w;
        t = vg_malloc(size);
        vg_rules_conf_text(&agg->ag_rc, rules, sizeof(rules));
        w = (size_t)snprintf(t, size,
                             "min_denominator=%lld alert_preliminary=%d %s ",
                             (long long)agg->ag_min_den, agg->ag_alert_prelim,
                             rules);
        for (size_t i = 0; i < VG_ARRAY_SIZE(default_targets) && w < size;
             i++) {
                vg_target_t tg = vg_agg_target(agg->ag_conf,
                                               default_targets[i].ind);
                w += (size_t)snprintf(t + w, size - w, "%s:%d%c%.17g ",
                                      default_targets[i].ind, tg.tg_set,
                                      tg.tg_higher_is_better ? '>' : '<',
                                      tg.tg_target);
        }
        if (w < size)
                vg_conf_targets_text(agg->ag_conf, t + w, size - w);
        return t;
}

int vg_agg_recheck(vg_agg_t *agg, int64_t now_ms, char *errstr,
                   size_t errstr_size) {
        char *text = alerting_text(agg);
        sqlite3_stmt *s = ast(agg, A_GET_META);
        bool same;
        int n;

        sqlite3_bind_text(s, 1, "alerting", -1, SQLITE_STATIC);
        same = sqlite3_step(s) == SQLITE_ROW &&
               !strcmp((const char *)sqlite3_column_text(s, 0), text);
        sqlite3_reset(s);
        if (same) {
                vg_free(text);
                return 0;
        }
        if (vg_agg_begin(agg, now_ms, errstr, errstr_size)) {
                vg_free(text);
                return -1;
        }
        s = ast(agg, A_DIRTY_ALL);
        if (step_done(agg, s, errstr, errstr_size, "mark values")) {
                vg_free(text);
                goto err;
        }
        n = sqlite3_changes(agg->ag_db);
        s = ast(agg, A_SET_META);
        sqlite3_bind_text(s, 1, "alerting", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, text, -1, SQLITE_TRANSIENT);
        vg_free(text);
        if (step_done(agg, s, errstr, errstr_size, "store settings"))
                goto err;
        if (vg_agg_commit(agg, errstr, errstr_size))
                return -1; /* (rolled back) */
        return n;
err:
        sqlite3_exec(agg->ag_db, "ROLLBACK", NULL, NULL, NULL);
        agg->ag_in_batch = false;
        return -1;
}

vg_err_t vg_agg_values(vg_agg_t *agg,
                       void (*cb)(const vg_ivalue_t *iv, void *opaque),
                       void *opaque, char *errstr, size_t errstr_size) {
        sqlite3_stmt *s = ast(agg, A_VALUES);
        vg_err_t err = VG_OK;
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                char *cell = vg_strdup((const char *)sqlite3_column_text(s, 0));
                vg_ivalue_t iv;
                if (!split_cell(cell, &iv)) {
                        row_value(agg, s, &iv, agg->ag_now);
                        if (iv.iv_denominator.set ? iv.iv_denominator.v > 0
                                                  : iv.iv_numerator > 0)
                                cb(&iv, opaque);
                }
                vg_free(cell);
        }
        if (rc != SQLITE_DONE)
                err = agg_err(agg, errstr, errstr_size, "sum the parts");
        sqlite3_reset(s);
        return err;
}
