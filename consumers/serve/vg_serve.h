/*
 * vg_serve.h - what the parts of `vigil serve` share (SPEC §11): the served
 * view of alerts and indicator values over HTTP.
 *
 *   serve.c        the command: options, configuration, --hash-token, run
 *   serve_auth.c   tokens file, entitlements, who may see what, the rate
 *                  limiter of failed attempts (pure: no clock, no I/O but
 *                  reading the tokens file)
 *   serve_sse.c    the ring of alert changes, resuming from Last-Event-ID,
 *                  Server-Sent Events framing, alert filters (pure)
 *   serve_state.c  the current alerts and indicator values, fed from the
 *                  topics by a Kafka thread
 *   serve_http.c   the libmicrohttpd server: routes, authentication,
 *                  the access log (serve_http.h: what it shares with
 *                  serve_stream.c, serve_conn.c and serve_sess.c)
 *   serve_sess.c   the page's browser sessions
 *   serve_stream.c /alerts/stream: Server-Sent Events, resuming
 *   serve_conn.c   closes a connection whose request's headers are not in
 *                  within serve.idle_timeout_ms
 *   serve_views.c  the bodies of /alerts, /alerts/stream, /indicators,
 *                  /report
 *   serve_page.c   the page at / (and its login form)
 *
 * The pure parts are tested in tests/unit/test_serve.c.
 */
#ifndef VG_SERVE_H
#define VG_SERVE_H

#include "vg_common.h"
#include "vg_config.h"

#include <pthread.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define SV_CMD "serve"

/* ------------------------------------------------------------------------
 * Entitlements and tokens (serve_auth.c)
 */

#define SV_MAX_AREAS 64     /* areas one token may name */
#define SV_NAME_MAX  64     /* bytes of a token name */
#define SV_MIN_TOKEN 16     /* shortest token --hash-token accepts */

/* What a caller may see: every area ("SE"), or kommuner and regions. */
typedef struct sv_ent_s {
        bool se_all;                       /* "SE": everything */
        int  se_n;                         /* areas in se_areas */
        char se_areas[SV_MAX_AREAS][5];    /* "0484" or "04" */
} sv_ent_t;

/* One line of the tokens file. */
typedef struct sv_token_s {
        unsigned char tk_hash[32];         /* SHA-256 of the token */
        char          tk_name[SV_NAME_MAX + 1];
        sv_ent_t      tk_ent;
} sv_token_t;

typedef struct sv_tokens_s {
        sv_token_t *ts_tok;
        size_t      ts_n;
} sv_tokens_t;

/* Parses an entitlement: areas separated by commas (or spaces), each a
 * kommun or region code of common/data, or SE alone. */
vg_err_t sv_ent_parse(const char *text, sv_ent_t *ent, char *errstr,
                      size_t errstr_size);
/* The entitlement as text ("0484,0480", "04", "SE"); buf of size. */
void sv_ent_text(const sv_ent_t *ent, char *buf, size_t size);

/* Parses a tokens file's text (name: for messages): lines "HASH NAME
 * AREAS" (SHA-256 hex, a name of letters, digits, '.', '_', '-', and an
 * entitlement); '#' comments and blank lines skipped. Errors name the file
 * and line ("tokens:3: ..."), never the hash. ts is the caller's to free. */
vg_err_t sv_tokens_parse(const char *text, size_t len, const char *name,
                         sv_tokens_t *ts, char *errstr, size_t errstr_size);
/* A name of a token: 1 to SV_NAME_MAX letters, digits, '.', '_', '-',
 * holding no personnummer (vg_pnr_in_bytes: the access log writes it). */
bool sv_token_name_valid(const char *name);
vg_err_t sv_tokens_load(const char *path, sv_tokens_t *ts, char *errstr,
                        size_t errstr_size);
void sv_tokens_free(sv_tokens_t *ts);

/* The token whose hash is SHA-256(token), or NULL: every entry is compared
 * in full (CRYPTO_memcmp), so the time does not tell which one matched. */
const sv_token_t *sv_tokens_find(const sv_tokens_t *ts, const char *token,
                                 size_t len);
const sv_token_t *sv_tokens_by_name(const sv_tokens_t *ts, const char *name);
/* The token with this SHA-256, or NULL: what a session or a stream was
 * opened with, so that a token rotated under the same name (a new hash)
 * ends them, and one taken out of the file too. */
const sv_token_t *sv_tokens_by_hash(const sv_tokens_t *ts,
                                    const unsigned char hash[32]);

/* Lowercase hex SHA-256 of data; hex holds 65 bytes. */
void sv_sha256_hex(const void *data, size_t len, char hex[65]);

/* May a caller with ent see the values of area (SE, region or kommun)? A
 * kommun is seen by its own token, its region's and SE; a region by its
 * region's token and SE; SE by SE only. */
bool sv_ent_area(const sv_ent_t *ent, const char *area);
/* May it see an alert? An alert that names an area (INDICATOR_BELOW_TARGET)
 * is seen as that area is; otherwise by its kommun (its region is the
 * kommun's first two digits, not the alert's region field). An alert with
 * neither is seen by SE only. */
bool sv_ent_alert(const sv_ent_t *ent, const char *kommun, const char *area);

/* Failed attempts per client address: a token bucket of `burst` attempts,
 * one back every refill_ms (GCRA). Not thread-safe. */
typedef struct sv_rl_s sv_rl_t;
sv_rl_t *sv_rl_new(int burst, int64_t refill_ms, size_t max_addrs);
void sv_rl_free(sv_rl_t *rl);
/* 0 if addr may try now, else the milliseconds until it may. */
int64_t sv_rl_check(sv_rl_t *rl, const char *addr, int64_t now_ms);
/* One failed attempt of addr. */
void sv_rl_fail(sv_rl_t *rl, const char *addr, int64_t now_ms);

/* ------------------------------------------------------------------------
 * Alert changes and Server-Sent Events (serve_sse.c)
 */

typedef enum { SV_EV_ALERT, SV_EV_REMOVED } sv_evkind_t;

/* Where an alert belongs, for entitlements and filters. */
typedef struct sv_scope_s {
        char sc_kommun[5];   /* "" if none */
        char sc_area[5];     /* INDICATOR_BELOW_TARGET's area, or "" */
        int  sc_rule;
        int  sc_status;
} sv_scope_t;

typedef struct sv_event_s {
        int64_t     ev_seq;
        sv_evkind_t ev_kind;
        sv_scope_t  ev_scope;
        char       *ev_json;     /* the alert (SPEC §9), or {"alert_id"} */
} sv_event_t;

/* Changes of one place (a kommun, or an area for INDICATOR_BELOW_TARGET)
 * since the start: what a caller's ids count (sv_ring_count). */
typedef struct sv_place_s {
        char    pl_kommun[5];
        char    pl_area[5];
        int64_t pl_n;
} sv_place_t;

/* The last cap changes, numbered base+1, base+2, ... (server-wide, never
 * shown: a caller sees ids that count its own areas' changes). */
typedef struct sv_ring_s {
        sv_event_t *rg_ev;
        size_t      rg_cap;
        size_t      rg_n;        /* kept (<= cap) */
        int64_t     rg_base;     /* ids start after this */
        int64_t     rg_last;     /* id of the newest (rg_base if none) */
        sv_place_t *rg_pl;       /* changes per place */
        size_t      rg_npl, rg_cappl;
} sv_ring_t;

void sv_ring_init(sv_ring_t *rg, size_t cap, int64_t base);
void sv_ring_free(sv_ring_t *rg);
/* Appends a change (json copied); returns its id. */
int64_t sv_ring_push(sv_ring_t *rg, sv_evkind_t kind, const sv_scope_t *sc,
                     const char *json);
/* The change with id seq, or NULL if it is not kept. */
const sv_event_t *sv_ring_get(const sv_ring_t *rg, int64_t seq);
/* Id of the oldest change kept (rg_last + 1 when none is). */
int64_t sv_ring_oldest(const sv_ring_t *rg);

/* The changes a caller with ent may see, since the start. */
int64_t sv_ring_count(const sv_ring_t *rg, const sv_ent_t *ent);
/* The id a caller with ent is shown after its n-th change: "B.TAG", B =
 * rg_base + n, TAG 8 hex digits of its areas (sorted): an id of other areas
 * (a SIGHUP changed them) is told apart. buf of SV_ID_MAX. */
#define SV_ID_MAX 40
void sv_ring_id(const sv_ring_t *rg, const sv_ent_t *ent, int64_t n,
                char *buf);

typedef enum {
        SV_RESUME_FRESH,   /* no Last-Event-ID: the current set */
        SV_RESUME_REPLAY,  /* every change after *from */
        SV_RESUME_TOO_OLD, /* changes after it are no longer kept */
        SV_RESUME_UNKNOWN, /* not an id of this run of the server */
        SV_RESUME_SCOPE    /* an id of other areas than the caller's now */
} sv_resume_t;

/* What to do with a Last-Event-ID (NULL or "" if none was sent) of a
 * caller with ent: REPLAY from the change after *from (server-wide),
 * the caller's count being *n there. TOO_OLD only when a change the
 * caller may see is no longer kept. */
sv_resume_t sv_resume_decide(const sv_ring_t *rg, const sv_ent_t *ent,
                             const char *last_id, int64_t *from, int64_t *n);

/* Appends one event: "id: N\n" (when id >= 0), "event: NAME\n", one
 * "data: " line per line of data, and the blank line. */
void sv_sse_event(vg_buf_t *out, const char *name, int64_t id,
                  const char *data);

/* Query filters of /alerts and /alerts/stream. */
typedef struct sv_filter_s {
        int  fl_rule;        /* -1: any */
        int  fl_status;      /* -1: any; default ACTIVE */
        char fl_kommun[5];   /* "" : any */
        char fl_region[3];
} sv_filter_t;

void sv_filter_init(sv_filter_t *fl);
/* Applies one query parameter (kommun, region, rule, status: ACTIVE,
 * RETRACTED or all); VG_ERR_ARG with a message naming it otherwise. */
vg_err_t sv_filter_set(sv_filter_t *fl, const char *key, const char *value,
                       char *errstr, size_t errstr_size);
bool sv_filter_match(const sv_filter_t *fl, const sv_scope_t *sc);

/* The glob of /indicators?indicator=: '*', '?', '[...]' ('!' or '^'
 * negates, ranges), a backslash escapes; as fnmatch(3) without flags, but
 * without backtracking (a long run of '*' cost fnmatch seconds per value
 * under the state's lock). */
bool sv_glob_match(const char *pat, const char *s);
/* At most SV_GLOB_MAX bytes and SV_GLOB_WILD wildcards ('*', '?', '['),
 * and no "[:", "[=" or "[." (POSIX classes, which sv_glob_match does not
 * know). */
#define SV_GLOB_MAX  128
#define SV_GLOB_WILD 16
bool sv_glob_valid(const char *pat);

/* ------------------------------------------------------------------------
 * The current data (serve_state.c)
 */

typedef struct sv_alert_s {
        char      *sa_id;
        char      *sa_json;      /* SPEC §9 form, null fields left out */
        char      *sa_cmp;       /* the same without emitted_at */
        sv_scope_t sa_scope;
} sv_alert_t;

typedef struct sv_state_s {
        pthread_mutex_t st_lock;
        pthread_cond_t  st_cond;     /* a change, readiness or stop */
        json_t         *st_index;    /* alert_id -> index in st_alerts */
        sv_alert_t     *st_alerts;   /* sa_id NULL: removed */
        size_t          st_nalerts, st_cap;
        json_t         *st_values;   /* topic key -> SPEC §9 value object */
        sv_ring_t       st_ring;
        bool            st_live;     /* alerts topic read to its end: changes
                                      * go to the ring */
        bool            st_ready;    /* both topics read to their end */
        bool            st_stop;
        int64_t         st_started;  /* ms, for /healthz */
        /* Kafka thread */
        pthread_t       st_thread;
        bool            st_thread_on;
        const vg_conf_t *st_conf;
        char            st_err[512]; /* why the thread stopped */
} sv_state_t;

void sv_state_init(sv_state_t *st, size_t history, int64_t base);
void sv_state_free(sv_state_t *st);
/* With st_lock held: applies an alert record (decoded), or removes an
 * alert (tombstone: al == NULL, id given). A change (new alert, another
 * status or other fields; emitted_at is not compared) goes to the ring
 * when st_live. Returns 1 if something changed. */
struct vg_alert_s;
int sv_state_alert(sv_state_t *st, const struct vg_alert_s *al,
                   const char *id);
/* With st_lock held: the current alerts' set as the snapshot event's data
 * ({"alerts":[...]}), entitled and filtered, sorted by alert_id. */
void sv_state_snapshot(const sv_state_t *st, const sv_ent_t *ent,
                       const sv_filter_t *fl, vg_buf_t *out, size_t *count);
/* Starts the Kafka thread (reads topic.alerts and topic.indicators from the
 * beginning, then follows). */
vg_err_t sv_state_start(sv_state_t *st, const vg_conf_t *conf, char *errstr,
                        size_t errstr_size);
/* Stops the thread (if any) and wakes every waiter. */
void sv_state_stop(sv_state_t *st);

/* ------------------------------------------------------------------------
 * The server (serve_http.c, serve_views.c, serve_page.c)
 */

typedef struct sv_server_s {
        const vg_conf_t *sv_conf;
        sv_state_t      *sv_state;
        /* tokens: replaced whole on SIGHUP */
        pthread_rwlock_t sv_tok_lock;
        sv_tokens_t      sv_tokens;
        const char      *sv_tokens_path;
        /* failed attempts, sessions */
        pthread_mutex_t  sv_auth_lock;
        sv_rl_t         *sv_rl;
        struct sv_sess_s *sv_sess;
        size_t           sv_nsess, sv_capsess;
        int64_t          sv_session_ms;
        int64_t          sv_heartbeat_ms;
        bool             sv_tls;
        int              sv_port;        /* bound */
        bool             sv_closing;     /* under st_lock: streams end */
        struct sv_conns_s *sv_conns;     /* the headers' deadline
                                          * (serve_conn.c) */
        struct MHD_Daemon *sv_daemon;
} sv_server_t;

vg_err_t sv_http_start(sv_server_t *sv, char *errstr, size_t errstr_size);
void sv_http_stop(sv_server_t *sv);

/* A caller, once authenticated. */
typedef struct sv_caller_s {
        char          cl_name[SV_NAME_MAX + 1];
        unsigned char cl_hash[32]; /* its token's SHA-256 */
        sv_ent_t      cl_ent;
} sv_caller_t;

/* Bodies (serve_views.c). Each returns an HTTP status and fills out, ctype
 * (a static string) and, for 4xx, a message in out. get(key) reads a query
 * parameter; each() lists them (for unknown ones). */
typedef struct sv_query_s {
        const char *(*q_get)(void *opaque, const char *key);
        /* calls fn(arg, key, value) for every parameter; stops at non-0 */
        int (*q_each)(void *opaque,
                      int (*fn)(void *arg, const char *key, const char *val),
                      void *arg);
        void *q_opaque;
        const char *q_accept;   /* Accept header, or NULL */
} sv_query_t;

unsigned sv_view_alerts(sv_server_t *sv, const sv_caller_t *cl,
                        const sv_query_t *q, vg_buf_t *out,
                        const char **ctype);
unsigned sv_view_indicators(sv_server_t *sv, const sv_caller_t *cl,
                            const sv_query_t *q, vg_buf_t *out,
                            const char **ctype);
/* /report stops when gone(arg) says its client went away (asked between
 * the page's stages; gone may be NULL) and returns SV_CLIENT_GONE, out
 * empty: nothing to send. */
#define SV_CLIENT_GONE 499 /* (nginx's "client closed request") */
unsigned sv_view_report(sv_server_t *sv, const sv_caller_t *cl,
                        const sv_query_t *q, vg_buf_t *out,
                        const char **ctype, bool (*gone)(void *arg),
                        void *arg);
/* Checks the stream's query; fills fl. */
unsigned sv_view_stream_query(const sv_query_t *q, sv_filter_t *fl,
                              vg_buf_t *out);

/* The page (serve_page.c): the caller's alerts, live; the login form. Each
 * sets *csp to the Content-Security-Policy the page needs. */
void sv_page_alerts(sv_server_t *sv, const sv_caller_t *cl, vg_buf_t *out,
                    const char **csp);
void sv_page_login(const char *message, vg_buf_t *out, const char **csp);
/* Computes the pages' script and style hashes (once, before serving). */
void sv_page_init(void);

#endif /* VG_SERVE_H */
