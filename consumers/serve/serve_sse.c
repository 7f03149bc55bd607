/*
 * serve_sse.c - alert changes as Server-Sent Events: the ring of the last
 * changes (ids base+1, base+2, ...), what a Last-Event-ID resumes from, the
 * event framing, and the filters of /alerts and /alerts/stream. Pure.
 *
 * Ids: a run of the server numbers its changes from base = its start time
 * in milliseconds times 1000, so ids grow across restarts too, and an id of
 * an earlier run (below base) is told apart from one of this run.
 */
#include "vg_serve.h"
#include "vg_areas.h"
#include "vg_record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sv_ring_init(sv_ring_t *rg, size_t cap, int64_t base) {
        memset(rg, 0, sizeof(*rg));
        rg->rg_cap = cap ? cap : 1;
        rg->rg_ev = vg_calloc(rg->rg_cap, sizeof(*rg->rg_ev));
        rg->rg_base = rg->rg_last = base;
}

void sv_ring_free(sv_ring_t *rg) {
        if (!rg->rg_ev)
                return;
        for (size_t i = 0; i < rg->rg_cap; i++)
                vg_free(rg->rg_ev[i].ev_json);
        vg_free(rg->rg_ev);
        rg->rg_ev = NULL;
}

int64_t sv_ring_push(sv_ring_t *rg, sv_evkind_t kind, const sv_scope_t *sc,
                     const char *json) {
        int64_t seq = ++rg->rg_last;
        sv_event_t *ev = &rg->rg_ev[(size_t)(seq - rg->rg_base - 1) %
                                    rg->rg_cap];
        vg_free(ev->ev_json);
        ev->ev_seq = seq;
        ev->ev_kind = kind;
        ev->ev_scope = *sc;
        ev->ev_json = vg_strdup(json);
        if (rg->rg_n < rg->rg_cap)
                rg->rg_n++;
        return seq;
}

int64_t sv_ring_oldest(const sv_ring_t *rg) {
        return rg->rg_last - (int64_t)rg->rg_n + 1;
}

const sv_event_t *sv_ring_get(const sv_ring_t *rg, int64_t seq) {
        if (seq < sv_ring_oldest(rg) || seq > rg->rg_last)
                return NULL;
        return &rg->rg_ev[(size_t)(seq - rg->rg_base - 1) % rg->rg_cap];
}

sv_resume_t sv_resume_decide(const sv_ring_t *rg, const char *last_id,
                             int64_t *from) {
        char *end;
        long long id;
        *from = rg->rg_last;
        if (!last_id || !*last_id)
                return SV_RESUME_FRESH;
        if (strspn(last_id, "0123456789") != strlen(last_id) ||
            strlen(last_id) > 18)
                return SV_RESUME_UNKNOWN;
        errno = 0;
        id = strtoll(last_id, &end, 10);
        if (errno || *end)
                return SV_RESUME_UNKNOWN;
        /* Before this run, or ahead of it: not an id it gave. */
        if (id < rg->rg_base || id > rg->rg_last)
                return SV_RESUME_UNKNOWN;
        /* Every change after id must still be kept. */
        if (id + 1 < sv_ring_oldest(rg))
                return SV_RESUME_TOO_OLD;
        *from = id;
        return SV_RESUME_REPLAY;
}

void sv_sse_event(vg_buf_t *out, const char *name, int64_t id,
                  const char *data) {
        const char *p = data ? data : "";
        if (id >= 0)
                vg_buf_printf(out, "id: %lld\n", (long long)id);
        if (name)
                vg_buf_printf(out, "event: %s\n", name);
        /* One data line per line: CR, LF and CRLF all end one. */
        for (;;) {
                size_t n = strcspn(p, "\r\n");
                vg_buf_puts(out, "data: ");
                vg_buf_append(out, p, n);
                vg_buf_puts(out, "\n");
                p += n;
                if (!*p)
                        break;
                p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
        }
        vg_buf_puts(out, "\n");
}

/* ------------------------------------------------------------------------
 * Filters
 */

void sv_filter_init(sv_filter_t *fl) {
        memset(fl, 0, sizeof(*fl));
        fl->fl_rule = -1;
        fl->fl_status = VG_STATUS_ACTIVE;
}

vg_err_t sv_filter_set(sv_filter_t *fl, const char *key, const char *value,
                       char *errstr, size_t errstr_size) {
        if (!value)
                value = "";
        if (!strcmp(key, "kommun")) {
                /* a kommun of the list, as /indicators?area= has it (a
                 * code not in it filtered nothing and answered 200: it
                 * looked like an empty kommun) */
                if (strlen(value) != 4 || !vg_areas_is_kommun(value))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "kommun: expected the code of a "
                                         "kommun (4 digits, e.g. 0484)");
                snprintf(fl->fl_kommun, sizeof(fl->fl_kommun), "%s", value);
        } else if (!strcmp(key, "region")) {
                if (strlen(value) != 2 || !strcmp(value, "SE") ||
                    !vg_areas_name(value))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "region: expected a region code "
                                         "(2 digits, e.g. 04)");
                snprintf(fl->fl_region, sizeof(fl->fl_region), "%s", value);
        } else if (!strcmp(key, "rule")) {
                if ((fl->fl_rule = vg_enum_find(&vg_enum_rule, value)) < 0)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "rule: expected READMISSION_30D, "
                                         "SIP_OVERDUE, INDICATOR_BELOW_TARGET "
                                         "or DEATH_NOT_REGISTERED");
        } else if (!strcmp(key, "status")) {
                if (!strcmp(value, "all"))
                        fl->fl_status = -1;
                else if ((fl->fl_status = vg_enum_find(&vg_enum_status,
                                                       value)) < 0)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "status: expected ACTIVE, RETRACTED "
                                         "or all");
        } else {
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "unknown parameter (expected kommun, "
                                 "region, rule or status)");
        }
        return VG_OK;
}

bool sv_filter_match(const sv_filter_t *fl, const sv_scope_t *sc) {
        const char *place = sc->sc_area[0] ? sc->sc_area : sc->sc_kommun;
        char rbuf[3];
        if (fl->fl_rule >= 0 && sc->sc_rule != fl->fl_rule)
                return false;
        if (fl->fl_status >= 0 && sc->sc_status != fl->fl_status)
                return false;
        if (fl->fl_kommun[0] && strcmp(place, fl->fl_kommun))
                return false;
        /* a region: its own alerts and its kommuner's, filed as vigil
         * alerts --region files them */
        if (fl->fl_region[0] &&
            strcmp(vg_place_region(place, sc->sc_area[0] != '\0', rbuf),
                   fl->fl_region))
                return false;
        return true;
}

/* ------------------------------------------------------------------------
 * Globs (/indicators?indicator=)
 */

/* Does the one-character item at p ('?', a [...] class, an escaped or a
 * plain character) match c? *next: the item after it. */
static bool glob_one(const char *p, unsigned char c, const char **next) {
        const char *q;
        bool neg, hit = false, first = true;
        if (*p == '?') {
                *next = p + 1;
                return true;
        }
        if (*p == '\\' && p[1]) {
                *next = p + 2;
                return (unsigned char)p[1] == c;
        }
        if (*p != '[') {
                *next = p + 1;
                return (unsigned char)*p == c;
        }
        q = p + 1;
        if ((neg = *q == '!' || *q == '^'))
                q++;
        while (*q && (*q != ']' || first)) {
                unsigned char lo, hi;
                first = false;
                if (*q == '\\' && q[1])
                        q++;
                lo = hi = (unsigned char)*q++;
                if (*q == '-' && q[1] && q[1] != ']') {
                        q++;
                        if (*q == '\\' && q[1])
                                q++;
                        hi = (unsigned char)*q++;
                }
                if (c >= lo && c <= hi)
                        hit = true;
        }
        if (!*q) {
                /* no closing ']': a plain '[' (as fnmatch takes it) */
                *next = p + 1;
                return c == '[';
        }
        *next = q + 1;
        return hit != neg;
}

bool sv_glob_match(const char *pat, const char *s) {
        const char *p = pat, *star_p = NULL, *star_s = NULL, *next;
        /* Greedy with one restart point: a later '*' replaces the earlier
         * one's, which never has to be tried again (whatever it could
         * match, the later one can). At most length(pat) * length(s)
         * steps, where backtracking (fnmatch) is exponential in the
         * number of '*'s. */
        while (*s) {
                if (*p == '*') {
                        while (*p == '*')
                                p++;
                        star_p = p;
                        star_s = s;
                        continue;
                }
                if (*p && glob_one(p, (unsigned char)*s, &next)) {
                        p = next;
                        s++;
                        continue;
                }
                if (!star_p)
                        return false;
                p = star_p;
                s = ++star_s;
        }
        while (*p == '*')
                p++;
        return !*p;
}

bool sv_glob_valid(const char *pat) {
        int wild = 0;
        /* (POSIX classes, equivalence classes and collating symbols in a
         * bracket are not matched here: refused rather than matching
         * nothing where fnmatch matched) */
        if (strlen(pat) > SV_GLOB_MAX || strstr(pat, "[:") ||
            strstr(pat, "[=") || strstr(pat, "[."))
                return false;
        for (; *pat; pat++)
                if (*pat == '*' || *pat == '?' || *pat == '[')
                        wild++;
        return wild <= SV_GLOB_WILD;
}
