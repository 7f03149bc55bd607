/*
 * serve_sse.c - alert changes as Server-Sent Events: the ring of the last
 * changes (ids base+1, base+2, ...), what a Last-Event-ID resumes from, the
 * event framing, and the filters of /alerts and /alerts/stream. Pure.
 *
 * Ids: a run of the server numbers its changes from base = its start time
 * in milliseconds times 1000, so ids grow across restarts too, and an id of
 * an earlier run (below base) is told apart from one of this run. Those
 * are never shown: a caller is shown base + the number of changes of its
 * own areas, and a tag of the areas ("B.TAG"), so that nothing it sees
 * (ids, when events come, a reset) tells of changes elsewhere.
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
        vg_free(rg->rg_pl);
        rg->rg_pl = NULL;
        rg->rg_npl = rg->rg_cappl = 0;
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
        {
                size_t i;
                for (i = 0; i < rg->rg_npl; i++)
                        if (!strcmp(rg->rg_pl[i].pl_kommun, sc->sc_kommun) &&
                            !strcmp(rg->rg_pl[i].pl_area, sc->sc_area))
                                break;
                if (i == rg->rg_npl) {
                        if (rg->rg_npl == rg->rg_cappl) {
                                rg->rg_cappl = rg->rg_cappl ? 2 * rg->rg_cappl
                                                            : 64;
                                rg->rg_pl = vg_realloc(
                                        rg->rg_pl,
                                        rg->rg_cappl * sizeof(*rg->rg_pl));
                        }
                        memset(&rg->rg_pl[i], 0, sizeof(rg->rg_pl[i]));
                        memcpy(rg->rg_pl[i].pl_kommun, sc->sc_kommun, 5);
                        memcpy(rg->rg_pl[i].pl_area, sc->sc_area, 5);
                        rg->rg_npl++;
                }
                rg->rg_pl[i].pl_n++;
        }
        return seq;
}

int64_t sv_ring_count(const sv_ring_t *rg, const sv_ent_t *ent) {
        int64_t n = 0;
        for (size_t i = 0; i < rg->rg_npl; i++)
                if (sv_ent_alert(ent, rg->rg_pl[i].pl_kommun,
                                 rg->rg_pl[i].pl_area))
                        n += rg->rg_pl[i].pl_n;
        return n;
}

static int area_cmp(const void *a, const void *b) {
        return strcmp(a, b);
}

static void scope_tag(const sv_ent_t *ent, char tag[9]) {
        sv_ent_t e = *ent;
        char text[SV_MAX_AREAS * 6 + 8], hex[65];
        qsort(e.se_areas, (size_t)e.se_n, sizeof(e.se_areas[0]), area_cmp);
        sv_ent_text(&e, text, sizeof(text));
        sv_sha256_hex(text, strlen(text), hex);
        memcpy(tag, hex, 8);
        tag[8] = '\0';
}

void sv_ring_id(const sv_ring_t *rg, const sv_ent_t *ent, int64_t n,
                char *buf) {
        char tag[9];
        scope_tag(ent, tag);
        snprintf(buf, SV_ID_MAX, "%lld.%s", (long long)(rg->rg_base + n),
                 tag);
}

int64_t sv_ring_oldest(const sv_ring_t *rg) {
        return rg->rg_last - (int64_t)rg->rg_n + 1;
}

const sv_event_t *sv_ring_get(const sv_ring_t *rg, int64_t seq) {
        if (seq < sv_ring_oldest(rg) || seq > rg->rg_last)
                return NULL;
        return &rg->rg_ev[(size_t)(seq - rg->rg_base - 1) % rg->rg_cap];
}

sv_resume_t sv_resume_decide(const sv_ring_t *rg, const sv_ent_t *ent,
                             const char *last_id, int64_t *from, int64_t *n) {
        char *end, tag[9];
        const char *dot;
        long long id;
        int64_t want, k;
        *from = rg->rg_last;
        *n = sv_ring_count(rg, ent);
        if (!last_id || !*last_id)
                return SV_RESUME_FRESH;
        dot = strchr(last_id, '.');
        if (!dot || dot == last_id || dot - last_id > 18 ||
            strspn(last_id, "0123456789") != (size_t)(dot - last_id) ||
            strlen(dot + 1) != 8)
                return SV_RESUME_UNKNOWN;
        errno = 0;
        id = strtoll(last_id, &end, 10);
        if (errno || end != dot)
                return SV_RESUME_UNKNOWN;
        /* Before this run, or ahead of it: not an id it gave. */
        if (id < rg->rg_base || id - rg->rg_base > *n)
                return SV_RESUME_UNKNOWN;
        scope_tag(ent, tag);
        if (strcmp(dot + 1, tag))
                return SV_RESUME_SCOPE;
        /* Back from the newest change over the caller's own, to the one
         * after its id: every one of those must still be kept (changes of
         * other areas dropped meanwhile do not matter). */
        want = *n - (id - rg->rg_base);
        k = 0;
        for (int64_t q = rg->rg_last; k < want && q >= sv_ring_oldest(rg);
             q--) {
                const sv_event_t *ev = sv_ring_get(rg, q);
                if (sv_ent_alert(ent, ev->ev_scope.sc_kommun,
                                 ev->ev_scope.sc_area)) {
                        k++;
                        *from = q - 1;
                }
        }
        if (k < want)
                return SV_RESUME_TOO_OLD;
        *n = id - rg->rg_base;
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
