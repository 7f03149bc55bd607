/*
 * state_inspect.c - `vigil state list`, `show` and `patient`: partition
 * files and one patient's derived state, read as JSON (state.c opens
 * and reads the files) and printed as JSON or text. Nothing that looks
 * like a personnummer is printed (docs/EVENTS.md §7): every string of a
 * patient's state is checked before it is shown.
 */
#include "vg_cli.h"
#include "vg_common.h"
#include "vg_patient_store.h"
#include "vg_record_json.h"
#include "vg_time.h"
#include "state_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <sqlite3.h>

#define WITHHELD "(withheld: looks like a personnummer)"

/*
 * Personal data
 */

/* Replaces every string in j that holds a personnummer. */
static void redact(json_t *j) {
        const char *k;
        json_t *v;
        size_t i;
        if (json_is_object(j)) {
                json_object_foreach(j, k, v) {
                        if (json_is_string(v) && vg_pnr_in(json_string_value(v)))
                                json_object_set_new(j, k, json_string(WITHHELD));
                        else
                                redact(v);
                }
        } else if (json_is_array(j)) {
                json_array_foreach(j, i, v) {
                        if (json_is_string(v) && vg_pnr_in(json_string_value(v)))
                                json_array_set_new(j, i, json_string(WITHHELD));
                        else
                                redact(v);
                }
        }
}

/*
 * list, show
 */

/* Is meta key a time (epoch ms)? The keys vg_partition.c writes as times,
 * and any later one named *_at. */
static bool meta_is_time(const char *key) {
        size_t n = strlen(key);
        return !strcmp(key, "watermark") || !strcmp(key, "data_since") ||
               !strncmp(key, "topic_time.", 11) ||
               (n > 3 && !strcmp(key + n - 3, "_at"));
}

/* Bytes of path on disk, 0 if none. */
static int64_t file_bytes(const char *path) {
        struct stat st;
        return stat(path, &st) ? 0 : (int64_t)st.st_size;
}

static void print_show(const json_t *o, const char *path, int num) {
        char a[64], b[64], c[64];
        const json_t *cnt = json_object_get(o, "counts"),
                     *ct = json_object_get(o, "content"), *v;
        const char *k;
        int64_t db = file_bytes(path), wal;
        char wpath[PATH_MAX + 8];

        snprintf(wpath, sizeof(wpath), "%s-wal", path);
        wal = file_bytes(wpath);
        printf("partition       %s",
               state_jtext(json_object_get(o, "partition"), a, sizeof(a)));
        if (num >= 0 && state_jint(o, "partition", num) != num)
                printf("  (but the file is named partition-%d.db!)", num);
        printf("\n");
        state_fmt_size(db + wal, a, sizeof(a));
        printf("file            %s, %s on disk (database %lld B, wal %lld "
               "B)\n", path, a, (long long)db, (long long)wal);
        state_fmt_size(state_jint(ct, "bytes", 0), a, sizeof(a));
        printf("content         %s (%lld pages of %lld B, %lld free)\n", a,
               (long long)state_jint(ct, "pages", 0),
               (long long)state_jint(ct, "page_size", 0),
               (long long)state_jint(ct, "free_pages", 0));
        if ((v = json_object_get(o, "quick_check")))
                printf("quick_check     %s\n",
                       state_check_ok(o) ? "ok" : "FAILED (see below)");
        printf("schema version  %s\n",
               state_jtext(json_object_get(o, "schema_version"), a, sizeof(a)));
        printf("watermark       %s\n",
               state_jtext(json_object_get(o, "watermark"), a, sizeof(a)));
        printf("data since      %s\n",
               state_jtext(json_object_get(o, "data_since"), a, sizeof(a)));
        printf("topic times    ");
        json_object_foreach(json_object_get(o, "topic_times"), k, v)
                printf(" %s %s", k, state_jtext(v, a, sizeof(a)));
        printf("\n");
        printf("patients        %lld\n",
               (long long)state_jint(cnt, "patients", 0));
        printf("timers          %lld, next due %s\n",
               (long long)state_jint(cnt, "timers", 0),
               state_jtext(json_object_get(o, "next_timer_due"), a, sizeof(a)));
        printf("counter cells   %lld (%lld with a part still to queue)\n",
               (long long)state_jint(cnt, "cells", 0),
               (long long)state_jint(cnt, "cells_pending", 0));
        printf("outbox          %lld records to publish\n",
               (long long)state_jint(cnt, "outbox", 0));
        json_object_foreach(json_object_get(o, "outbox"), k, v)
                printf("                  %-32s %s\n", k,
                       state_jtext(v, a, sizeof(a)));
        printf("offsets         next offset to consume, by input topic\n");
        json_object_foreach(json_object_get(o, "offsets"), k, v)
                printf("                  %-32s %s\n", k,
                       state_jtext(v, a, sizeof(a)));
        printf("meta            every row\n");
        json_object_foreach(json_object_get(o, "meta"), k, v) {
                const char *type = state_topic_time_type(k);
                b[0] = c[0] = '\0';
                if (meta_is_time(k) && json_is_integer(v)) {
                        json_t *t = state_jtime(json_integer_value(v));
                        snprintf(b, sizeof(b), "  %s",
                                 json_is_null(t) ? "(none)"
                                                 : json_string_value(t));
                        json_decref(t);
                }
                if (type)
                        snprintf(c, sizeof(c), "  (%s)", type);
                printf("                  %-20s %s%s%s\n", k,
                       state_jtext(v, a, sizeof(a)), b, c);
        }
        if ((v = json_object_get(o, "quick_check")) && !state_check_ok(o)) {
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e)
                        printf("quick_check: %s\n", json_string_value(e));
        }
}

int state_cmd_show(const sopts_t *so, const char *arg) {
        char path[PATH_MAX], errstr[1024] = "";
        int num, rc;
        sqlite3 *db;
        json_t *o;

        if ((rc = state_part_arg(so, arg, path, sizeof(path), &num)))
                return rc;
        if (!(db = state_part_open(path, errstr, sizeof(errstr))))
                return state_fail("%s", errstr);
        o = state_part_json(db, path, so->so_check, errstr, sizeof(errstr));
        sqlite3_close(db);
        if (!o)
                return state_fail("%s", errstr);
        if (so->so_json) {
                json_dumpf(o, stdout, JSON_FLAGS);
                putchar('\n');
        } else
                print_show(o, path, num);
        rc = so->so_check && !state_check_ok(o) ? VG_EXIT_FAIL : VG_EXIT_OK;
        if (rc)
                state_fail("%s: damaged: quick_check failed", path);
        json_decref(o);
        return rc;
}

int state_cmd_list(const sopts_t *so) {
        char errstr[1024], path[PATH_MAX];
        int *nums, cnt, rc = VG_EXIT_OK;
        long pid;

        if ((cnt = state_part_numbers(so->so_dir, &nums, errstr,
                                      sizeof(errstr))) < 0)
                return state_fail("%s", errstr);
        pid = state_lock_holder(so->so_dir, "process.lock");
        if (!so->so_json) {
                printf("state.dir %s: %d partition file%s", so->so_dir, cnt,
                       cnt == 1 ? "" : "s");
                if (pid)
                        printf(", in use by vigil process (pid %ld)", pid);
                printf("\n%4s %10s %9s %9s %8s %8s  %-24s %6s\n", "PART",
                       "SIZE", "PATIENTS", "CELLS", "TIMERS", "OUTBOX",
                       "WATERMARK", "SCHEMA");
        }
        for (int i = 0; i < cnt; i++) {
                char wpath[PATH_MAX + 8], sz[32], a[64], b[64];
                int64_t bytes;
                sqlite3 *db;
                json_t *o = NULL, *c;

                snprintf(path, sizeof(path), "%s/partition-%d.db", so->so_dir,
                         nums[i]);
                snprintf(wpath, sizeof(wpath), "%s-wal", path);
                errstr[0] = '\0';
                if ((db = state_part_open(path, errstr, sizeof(errstr))))
                        o = state_part_json(db, path, false, errstr,
                                            sizeof(errstr));
                sqlite3_close(db);
                bytes = file_bytes(path) + file_bytes(wpath);
                if (!o) {
                        rc = VG_EXIT_FAIL;
                        if (so->so_json) {
                                json_t *e = json_pack(
                                        "{s:i,s:I,s:s}", "partition", nums[i],
                                        "bytes_on_disk", (json_int_t)bytes,
                                        "error", errstr);
                                json_dumpf(e, stdout, JSON_FLAGS);
                                putchar('\n');
                                json_decref(e);
                        } else
                                printf("%4d  error: %s\n", nums[i], errstr);
                        continue;
                }
                if (state_jint(o, "partition", nums[i]) != nums[i]) {
                        state_fail("%s holds partition %lld", path,
                                   (long long)state_jint(o, "partition", -1));
                        rc = VG_EXIT_FAIL;
                }
                c = json_object_get(o, "counts");
                if (so->so_json) {
                        json_t *e = json_pack(
                                "{s:i,s:I,s:I,s:I,s:I,s:I,s:O,s:O}",
                                "partition", nums[i], "bytes_on_disk",
                                (json_int_t)bytes, "patients",
                                (json_int_t)state_jint(c, "patients", 0),
                                "cells", (json_int_t)state_jint(c, "cells", 0),
                                "timers",
                                (json_int_t)state_jint(c, "timers", 0),
                                "outbox",
                                (json_int_t)state_jint(c, "outbox", 0),
                                "watermark", json_object_get(o, "watermark"),
                                "schema_version",
                                json_object_get(o, "schema_version"));
                        json_dumpf(e, stdout, JSON_FLAGS);
                        putchar('\n');
                        json_decref(e);
                } else {
                        state_fmt_size(bytes, sz, sizeof(sz));
                        printf("%4d %10s %9lld %9lld %8lld %8lld  %-24s %6s\n",
                               nums[i], sz,
                               (long long)state_jint(c, "patients", 0),
                               (long long)state_jint(c, "cells", 0),
                               (long long)state_jint(c, "timers", 0),
                               (long long)state_jint(c, "outbox", 0),
                               state_jtext(json_object_get(o, "watermark"), a,
                                           sizeof(a)),
                               state_jtext(json_object_get(o, "schema_version"),
                                           b, sizeof(b)));
                }
                json_decref(o);
        }
        vg_free(nums);
        return rc;
}

/*
 * patient
 */

static json_t *cases_json(const vg_cell_t *c, int n) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++)
                json_array_append_new(
                        a, json_pack("{s:s,s:I,s:o}", "key", c[i].ce_key,
                                     "numerator", (json_int_t)c[i].ce_num,
                                     "denominator",
                                     c[i].ce_count
                                             ? json_null()
                                             : json_integer(c[i].ce_den)));
        return a;
}

static json_t *strs_json(char *const *v, int n) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

/* By occurred_at, then event_id (the rules do not depend on the order
 * events arrived in). */
static int ev_cmp(const void *a, const void *b) {
        const vg_event_t *x = *(const vg_event_t *const *)a,
                         *y = *(const vg_event_t *const *)b;
        if (x->ev_occurred_at != y->ev_occurred_at)
                return x->ev_occurred_at < y->ev_occurred_at ? -1 : 1;
        return strcmp(x->ev_event_id ? x->ev_event_id : "",
                      y->ev_event_id ? y->ev_event_id : "");
}

/* The patient id's state in db as JSON (redacted): 1 found, 0 not there,
 * -1 + errstr. */
static int patient_json(sqlite3 *db, const char *path, int num,
                        const char *id, json_t **out, char *errstr,
                        size_t n) {
        sqlite3_stmt *s = NULL;
        vg_patient_t *pt = NULL;
        const vg_event_t **evs;
        int64_t wm, due, part;
        json_t *o, *a;
        int rc;

        *out = NULL;
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
                state_db_err(errstr, n, path, NULL, db, sqlite3_errcode(db));
                return -1;
        }
        rc = sqlite3_prepare_v2(db,
                                "SELECT state FROM patients WHERE "
                                "patient_id=?",
                                -1, &s, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
                rc = sqlite3_step(s);
        }
        if (rc == SQLITE_ROW) {
                char e[256];
                if (!(pt = vg_patient_decode(
                              id, sqlite3_column_blob(s, 0),
                              (size_t)sqlite3_column_bytes(s, 0), e,
                              sizeof(e)))) {
                        vg_seterr(errstr, n, VG_ERR_STORE,
                                  "%s: the patient's state cannot be read "
                                  "(%s)", path, e);
                        rc = -1;
                }
        } else if (rc != SQLITE_DONE) {
                state_db_err(errstr, n, path, "read patient", db, rc);
                rc = -1;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW ||
            state_q_int(db, path,
                        "SELECT value FROM meta WHERE key='watermark'", NULL,
                        INT64_MIN, &wm, errstr, n) ||
            state_q_int(db, path,
                        "SELECT value FROM meta WHERE key='partition'", NULL,
                        num, &part, errstr, n) ||
            state_q_int(db, path, "SELECT due FROM timers WHERE patient_id=?",
                        id, INT64_MAX, &due, errstr, n)) {
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                vg_patient_destroy(pt);
                return rc == SQLITE_DONE ? 0 : -1;
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

        o = json_object();
        json_object_set_new(o, "patient_id", json_string(pt->pt_id));
        json_object_set_new(o, "partition", part >= 0 ? json_integer(part)
                                                      : json_null());
        json_object_set_new(o, "watermark", state_jtime(wm));
        json_object_set_new(o, "timer_due", state_jtime(due));
        json_object_set_new(o, "next_due", state_jtime(pt->pt_next_due));
        a = json_array();
        evs = vg_malloc(sizeof(*evs) * (size_t)(pt->pt_nevents + 1));
        for (int i = 0; i < pt->pt_nevents; i++)
                evs[i] = &pt->pt_events[i];
        qsort(evs, (size_t)pt->pt_nevents, sizeof(*evs), ev_cmp);
        for (int i = 0; i < pt->pt_nevents; i++)
                json_array_append_new(a,
                                      vg_record_to_json(evs[i]->ev_type,
                                                        evs[i]));
        vg_free(evs);
        json_object_set_new(o, "events", a);
        json_object_set_new(o, "pruned_event_ids",
                            strs_json(pt->pt_old_ids, pt->pt_nold));
        json_object_set_new(o, "pruned_cancelled_ids",
                            strs_json(pt->pt_old_cancelled,
                                      pt->pt_nold_cancelled));
        json_object_set_new(o, "pruned_stay_ids",
                            strs_json(pt->pt_old_stays, pt->pt_nold_stays));
        json_object_set_new(o, "cases", cases_json(pt->pt_cells,
                                                   pt->pt_ncells));
        json_object_set_new(o, "frozen_cases", cases_json(pt->pt_frozen,
                                                          pt->pt_nfrozen));
        a = json_array();
        for (int i = 0; i < pt->pt_nalerts; i++) {
                json_t *al = vg_record_to_json(VG_REC_ALERT,
                                               &pt->pt_alerts[i]);
                /* stamped when published, not kept in the state */
                json_object_del(al, "emitted_at");
                json_array_append_new(a, al);
        }
        json_object_set_new(o, "alerts", a);
        vg_patient_destroy(pt);
        redact(o);
        *out = o;
        return 1;
}

/* key=value of every non-null member of o but those in skip. */
static void print_fields(const json_t *o, const char *const *skip) {
        const char *k;
        json_t *v;
        char buf[256];
        json_object_foreach((json_t *)o, k, v) {
                bool skipped = json_is_null(v);
                for (int i = 0; skip[i] && !skipped; i++)
                        skipped = !strcmp(skip[i], k);
                if (!skipped)
                        printf(" %s=%s", k, state_jtext(v, buf, sizeof(buf)));
        }
}

/* "label (n): id id ...", when ids has any. */
static void print_ids(const char *label, json_t *ids) {
        size_t i;
        json_t *e;
        if (!json_array_size(ids))
                return;
        printf("%s (%zu)", label, json_array_size(ids));
        json_array_foreach(ids, i, e)
                printf(" %s", json_string_value(e));
        printf("\n");
}

static void print_cases(const char *title, const json_t *a) {
        size_t i;
        json_t *c;
        char n1[32], n2[32];
        printf("%s (%zu)\n", title, json_array_size(a));
        if (json_array_size(a))
                printf("  %8s %8s  %s\n", "NUM", "DEN", "KEY");
        json_array_foreach(a, i, c)
                printf("  %8s %8s  %s\n",
                       state_jtext(json_object_get(c, "numerator"), n1,
                                   sizeof(n1)),
                       state_jtext(json_object_get(c, "denominator"), n2,
                                   sizeof(n2)),
                       json_string_value(json_object_get(c, "key")));
}

static void print_patient(const json_t *o, const char *path) {
        static const char *const ev_skip[] = {"type", "event_id", "patient_id",
                                              "occurred_at", "kommun", NULL};
        static const char *const al_skip[] = {"rule", "status", "alert_id",
                                              "patient_id", NULL};
        char a[64], b[64];
        const json_t *evs = json_object_get(o, "events"),
                     *als = json_object_get(o, "alerts"), *e, *ids;
        size_t i;
        int64_t wm_ms = INT64_MIN, due_ms = INT64_MIN;

        printf("patient         %s\n",
               json_string_value(json_object_get(o, "patient_id")));
        printf("partition       %s (%s)\n",
               state_jtext(json_object_get(o, "partition"), a, sizeof(a)),
               path);
        printf("watermark       %s (the partition's)\n",
               state_jtext(json_object_get(o, "watermark"), a, sizeof(a)));
        printf("timer due       %s",
               state_jtext(json_object_get(o, "timer_due"), a, sizeof(a)));
        if (json_is_string(json_object_get(o, "watermark")) &&
            json_is_string(json_object_get(o, "timer_due")) &&
            !vg_time_parse(json_string_value(json_object_get(o, "watermark")),
                           &wm_ms) &&
            !vg_time_parse(json_string_value(json_object_get(o, "timer_due")),
                           &due_ms)) {
                int64_t d = due_ms - wm_ms;
                if (d <= 0)
                        printf(" (at or before the watermark: fires at the "
                               "next commit)");
                else
                        printf(" (in %lld d %lld h of event time)",
                               (long long)(d / VG_MS_PER_DAY),
                               (long long)(d % VG_MS_PER_DAY / VG_MS_PER_HOUR));
        }
        printf("\n");
        if (strcmp(state_jtext(json_object_get(o, "timer_due"), a, sizeof(a)),
                   state_jtext(json_object_get(o, "next_due"), b, sizeof(b))))
                printf("next due        %s (in the patient's state)\n", b);
        printf("events (%zu, by occurred_at)\n", json_array_size(evs));
        json_array_foreach(evs, i, e) {
                printf("  %-24s %-15s %-20s kommun=%s",
                       state_jtext(json_object_get(e, "occurred_at"), a,
                                   sizeof(a)),
                       json_string_value(json_object_get(e, "type")),
                       json_string_value(json_object_get(e, "event_id")),
                       state_jtext(json_object_get(e, "kommun"), b, sizeof(b)));
                print_fields(e, ev_skip);
                printf("\n");
        }
        ids = json_object_get(o, "pruned_event_ids");
        printf("pruned by retention (%zu event ids)", json_array_size(ids));
        json_array_foreach(ids, i, e)
                printf(" %s", json_string_value(e));
        printf("\n");
        print_ids("cancelled by pruned events",
                  json_object_get(o, "pruned_cancelled_ids"));
        print_ids("stays pruned (their ids again are conflicts)",
                  json_object_get(o, "pruned_stay_ids"));
        print_cases("contributions (cases)", json_object_get(o, "cases"));
        print_cases("frozen contributions (of pruned events)",
                    json_object_get(o, "frozen_cases"));
        printf("ACTIVE alerts, as last published (%zu)\n",
               json_array_size(als));
        json_array_foreach(als, i, e) {
                printf("  %-16s alert_id=%s",
                       json_string_value(json_object_get(e, "rule")),
                       json_string_value(json_object_get(e, "alert_id")));
                print_fields(e, al_skip);
                printf("\n");
        }
}

int state_cmd_patient(const sopts_t *so, const char *id) {
        char path[PATH_MAX], errstr[1024];
        int *nums = NULL, cnt, found = 0, bad = 0, num = -1, rc;

        if (vg_pnr_like(id, strlen(id)) || vg_pnr_in(id))
                /* never echoed */
                return vg_cli_usage_error(
                        CMD, "patient: the argument looks like a "
                             "personnummer; give the patient's pseudonym "
                             "(its patient_id), never a personnummer");
        if (!*id)
                return vg_cli_usage_error(CMD, "patient: empty PSEUDONYM");
        if (so->so_part) {
                if ((rc = state_part_arg(so, so->so_part, path, sizeof(path),
                                         &num)))
                        return rc;
                cnt = 1;
        } else if ((cnt = state_part_numbers(so->so_dir, &nums, errstr,
                                             sizeof(errstr))) < 0)
                return state_fail("%s", errstr);
        for (int i = 0; i < cnt; i++) {
                sqlite3 *db;
                json_t *o = NULL;
                int r = -1;
                if (!so->so_part) {
                        num = nums[i];
                        snprintf(path, sizeof(path), "%s/partition-%d.db",
                                 so->so_dir, num);
                }
                errstr[0] = '\0';
                if ((db = state_part_open(path, errstr, sizeof(errstr))))
                        r = patient_json(db, path, num, id, &o, errstr,
                                         sizeof(errstr));
                sqlite3_close(db);
                if (r < 0) {
                        state_fail("%s", errstr);
                        bad++;
                        continue;
                }
                if (!r)
                        continue;
                if (so->so_json) {
                        json_dumpf(o, stdout, JSON_FLAGS);
                        putchar('\n');
                } else {
                        if (found)
                                printf("\n");
                        print_patient(o, path);
                }
                found++;
                json_decref(o);
        }
        vg_free(nums);
        if (!found) {
                if (so->so_part)
                        return state_fail("no patient %.128s in %s%s", id,
                                          path,
                                          bad ? " (which could not be read)"
                                              : "");
                return state_fail(
                        "no patient %.128s in state.dir %s (%d partition "
                        "file%s searched, %d could not be read)",
                        id, so->so_dir, cnt, cnt == 1 ? "" : "s", bad);
        }
        if (found > 1)
                vg_warn(CMD, "the patient is in %d partition files: stale "
                        "files of an earlier partition count? (docs/"
                        "RUNBOOK.md)", found);
        return bad ? VG_EXIT_FAIL : VG_EXIT_OK;
}
