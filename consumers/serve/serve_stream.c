/*
 * serve_stream.c - GET /alerts/stream of `vigil serve`: Server-Sent Events
 * of every alert change the caller may see. A fresh connection gets the
 * current set (snapshot); one with Last-Event-ID the changes after it
 * (serve_sse.c decides), or a reset and the current set. The connection's
 * thread waits on the state's condition for changes, with a comment line
 * every serve.heartbeat_ms.
 */
#include "serve_http.h"
#include "vg_record.h"
#include "vg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct stream_s {
        sv_server_t *sm_sv;
        sv_caller_t  sm_cl;
        sv_filter_t  sm_fl;         /* status: any (changes) */
        char         sm_last[32];   /* Last-Event-ID as sent ("" none) */
        bool         sm_started;
        int64_t      sm_next;       /* id of the last change looked at
                                     * (server-wide) */
        int64_t      sm_n;          /* the caller's changes up to it */
        bool         sm_rescope;    /* a SIGHUP changed the areas */
        vg_buf_t     sm_out;
        size_t       sm_off;
} stream_t;

/* One event under the caller's id of its n-th change. */
static void event(stream_t *sm, const sv_state_t *st, const char *name,
                  int64_t n, const char *data) {
        char id[SV_ID_MAX];
        sv_ring_id(&st->st_ring, &sm->sm_cl.cl_ent, n, id);
        vg_buf_printf(&sm->sm_out, "id: %s\n", id);
        sv_sse_event(&sm->sm_out, name, -1, data);
}

static void snapshot(stream_t *sm, const sv_state_t *st) {
        vg_buf_t data;
        sv_filter_t fl = sm->sm_fl;
        fl.fl_status = VG_STATUS_ACTIVE;
        vg_buf_init(&data);
        sv_state_snapshot(st, &sm->sm_cl.cl_ent, &fl, &data, NULL);
        sm->sm_next = st->st_ring.rg_last;
        sm->sm_n = sv_ring_count(&st->st_ring, &sm->sm_cl.cl_ent);
        event(sm, st, "snapshot", sm->sm_n, data.vb_data);
        vg_buf_free(&data);
}

static void reset(stream_t *sm, const sv_state_t *st, const char *reason) {
        char msg[256];
        json_t *o;
        char *s;
        if (!strcmp(reason, "too-old"))
                snprintf(msg, sizeof(msg), "the changes after that id are no "
                         "longer kept (only the last %zu are): the whole "
                         "current set follows", st->st_ring.rg_cap);
        else if (!strcmp(reason, "scope-changed"))
                snprintf(msg, sizeof(msg), "the token's areas changed: the "
                         "whole current set of its areas follows");
        else
                snprintf(msg, sizeof(msg), "not an id of this run of the "
                         "server (it restarted, or the id is not one it "
                         "gave): the whole current set follows");
        o = json_pack("{ssss}", "reason", reason, "message", msg);
        s = json_dumps(o, JSON_COMPACT);
        sv_sse_event(&sm->sm_out, "reset", -1, s);
        free(s);
        json_decref(o);
        snapshot(sm, st);
}

/* The first events: the current set, or the changes after Last-Event-ID. */
static void stream_start(stream_t *sm, const sv_state_t *st) {
        int64_t from, n;
        vg_buf_puts(&sm->sm_out, "retry: 3000\n\n");
        switch (sv_resume_decide(&st->st_ring, &sm->sm_cl.cl_ent, sm->sm_last,
                                 &from, &n)) {
        case SV_RESUME_REPLAY:
                sm->sm_next = from;
                sm->sm_n = n;
                break;
        case SV_RESUME_TOO_OLD:
                reset(sm, st, "too-old");
                break;
        case SV_RESUME_UNKNOWN:
                reset(sm, st, "unknown-id");
                break;
        case SV_RESUME_SCOPE:
                reset(sm, st, "scope-changed");
                break;
        default:
                snapshot(sm, st);
        }
}

static bool mine(const stream_t *sm, const sv_event_t *ev) {
        return sv_ent_alert(&sm->sm_cl.cl_ent, ev->ev_scope.sc_kommun,
                            ev->ev_scope.sc_area);
}

/* The changes after sm_next that the caller may see, each under the id of
 * its count of them. */
static void stream_changes(stream_t *sm, const sv_state_t *st) {
        const sv_ring_t *rg = &st->st_ring;
        if (sm->sm_next + 1 < sv_ring_oldest(rg)) {
                /* it fell so far behind that changes were dropped: a reset
                 * only if one of its own was */
                int64_t kept = 0;
                for (int64_t q = sv_ring_oldest(rg); q <= rg->rg_last; q++)
                        kept += mine(sm, sv_ring_get(rg, q));
                if (sv_ring_count(rg, &sm->sm_cl.cl_ent) - kept > sm->sm_n) {
                        reset(sm, st, "too-old");
                        return;
                }
                sm->sm_next = sv_ring_oldest(rg) - 1;
        }
        for (int64_t q = sm->sm_next + 1; q <= rg->rg_last; q++) {
                const sv_event_t *ev = sv_ring_get(rg, q);
                if (!ev || !mine(sm, ev))
                        continue;
                sm->sm_n++;
                if (sv_filter_match(&sm->sm_fl, &ev->ev_scope))
                        event(sm, st,
                              ev->ev_kind == SV_EV_ALERT ? "alert" : "removed",
                              sm->sm_n, ev->ev_json);
        }
        sm->sm_next = rg->rg_last;
}

/* A token taken out of the file or rotated (a new hash under its name)
 * ends its streams; changed areas of the same token apply. 0: taken out;
 * 1: the same areas; 2: other areas (now the stream's). */
static int still_entitled(stream_t *sm) {
        sv_server_t *sv = sm->sm_sv;
        const sv_token_t *tk;
        int ok = 0;
        pthread_rwlock_rdlock(&sv->sv_tok_lock);
        tk = sv_tokens_by_hash(&sv->sv_tokens, sm->sm_cl.cl_hash);
        if (tk) {
                const sv_ent_t *a = &sm->sm_cl.cl_ent, *b = &tk->tk_ent;
                ok = a->se_all == b->se_all && a->se_n == b->se_n &&
                                     !memcmp(a->se_areas, b->se_areas,
                                             sizeof(a->se_areas[0]) *
                                                     (size_t)a->se_n)
                             ? 1
                             : 2;
                sm->sm_cl.cl_ent = tk->tk_ent;
        }
        pthread_rwlock_unlock(&sv->sv_tok_lock);
        return ok;
}

ssize_t sv_stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        stream_t *sm = cls;
        sv_state_t *st = sm->sm_sv->sv_state;
        struct timespec dl;
        size_t n;
        (void)pos;
        /* What is left of the last events was chosen by the areas the
         * token had then: taken out or narrowed since, it is not sent
         * (the stream ends; the client comes back with Last-Event-ID and
         * gets what it may see now). */
        if (sm->sm_off < sm->sm_out.vb_len && still_entitled(sm) != 1)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (sm->sm_off >= sm->sm_out.vb_len) {
                vg_buf_reset(&sm->sm_out);
                sm->sm_off = 0;
                switch (still_entitled(sm)) {
                case 0:
                        return MHD_CONTENT_READER_END_OF_STREAM;
                case 2:
                        sm->sm_rescope = true;
                }
                vg_deadline_after(CLOCK_MONOTONIC,
                                  sm->sm_sv->sv_heartbeat_ms, &dl);
                pthread_mutex_lock(&st->st_lock);
                while (!sm->sm_out.vb_len) {
                        if (st->st_stop || sm->sm_sv->sv_closing) {
                                pthread_mutex_unlock(&st->st_lock);
                                return MHD_CONTENT_READER_END_OF_STREAM;
                        }
                        /* Again after every wait, right before anything is
                         * written: a SIGHUP during the wait may have taken
                         * the token out (the stream ends) or narrowed it
                         * (what follows is filtered by the areas it has
                         * now). (The tokens' lock is taken inside the
                         * state's, never the other way round.) */
                        if (st->st_ready) {
                                int e = still_entitled(sm);
                                if (!e) {
                                        pthread_mutex_unlock(&st->st_lock);
                                        return MHD_CONTENT_READER_END_OF_STREAM;
                                }
                                sm->sm_rescope |= e == 2;
                        }
                        if (st->st_ready && !sm->sm_started) {
                                stream_start(sm, st);
                                sm->sm_started = true;
                                sm->sm_rescope = false;
                        } else if (st->st_ready && sm->sm_rescope) {
                                /* its ids count other areas now, and what
                                 * it holds is not the new areas' set */
                                reset(sm, st, "scope-changed");
                                sm->sm_rescope = false;
                        } else if (st->st_ready &&
                                   st->st_ring.rg_last > sm->sm_next) {
                                stream_changes(sm, st);
                        } else if (pthread_cond_timedwait(&st->st_cond,
                                                          &st->st_lock,
                                                          &dl)) {
                                /* a comment keeps proxies and the client
                                 * from timing out, and finds a client
                                 * that left (none to a token taken out
                                 * meanwhile) */
                                if (!still_entitled(sm)) {
                                        pthread_mutex_unlock(&st->st_lock);
                                        return MHD_CONTENT_READER_END_OF_STREAM;
                                }
                                vg_buf_puts(&sm->sm_out, ": keep-alive\n\n");
                        }
                }
                pthread_mutex_unlock(&st->st_lock);
        }
        n = sm->sm_out.vb_len - sm->sm_off;
        if (n > max)
                n = max;
        memcpy(buf, sm->sm_out.vb_data + sm->sm_off, n);
        sm->sm_off += n;
        return (ssize_t)n;
}

void sv_stream_free(void *cls) {
        stream_t *sm = cls;
        vg_buf_free(&sm->sm_out);
        vg_free(sm);
}

void *sv_stream_new(sv_server_t *sv, const sv_caller_t *cl,
                    const sv_filter_t *fl, const char *last) {
        stream_t *sm = vg_calloc(1, sizeof(*sm));
        sm->sm_fl = *fl;
        sm->sm_fl.fl_status = -1;
        sm->sm_sv = sv;
        sm->sm_cl = *cl;
        vg_buf_init(&sm->sm_out);
        snprintf(sm->sm_last, sizeof(sm->sm_last), "%s",
                 last && strlen(last) < sizeof(sm->sm_last) ? last
                 : last ? "x" : "");
        return sm;
}

mhd_ret_t sv_serve_stream(sv_server_t *sv, struct MHD_Connection *conn,
                              req_t *rq, const char *method,
                              const sv_caller_t *cl) {
        qctx_t qc = {conn, NULL, NULL, 0};
        sv_query_t q = {sv_q_get, sv_q_each, &qc, NULL};
        sv_filter_t fl;
        void *sm;
        struct MHD_Response *r;
        vg_buf_t err;
        const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       "Last-Event-ID");
        unsigned status;
        mhd_ret_t ret;
        vg_buf_init(&err);
        if ((status = sv_view_stream_query(&q, &fl, &err)) != 200)
                return sv_respond(conn, rq, method, status, &err, JSON_T,
                                  SV_END);
        vg_buf_free(&err);
        sm = sv_stream_new(sv, cl, &fl, last);
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
                                              sv_stream_read, sm,
                                              sv_stream_free);
        if (!r) {
                sv_stream_free(sm);
                return MHD_NO;
        }
        sv_common_headers(r, "text/event-stream; charset=utf-8");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
        ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        sv_access_log(rq, method, MHD_HTTP_OK);
        return ret;
}

