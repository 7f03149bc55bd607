/*
 * serve_http.h - what serve_http.c (routes, authentication, responses)
 * shares with serve_stream.c (/alerts/stream): the request, responses and
 * the access log, query parameters. libmicrohttpd's types.
 */
#ifndef VG_SERVE_HTTP_H
#define VG_SERVE_HTTP_H

#include "vg_serve.h"

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_ret_t;
#else
typedef int mhd_ret_t;
#endif

#define JSON_T "application/json; charset=utf-8"

typedef enum {
        R_NONE, R_PAGE, R_HEALTH, R_ALERTS, R_STREAM, R_IND, R_REPORT,
        R_LOGIN, R_LOGOUT
} route_t;

typedef struct req_s {
        route_t     rq_route;
        const char *rq_path;           /* the route's path, for the log */
        bool        rq_post;
        bool        rq_body_big;
        vg_buf_t    rq_body;
        char        rq_addr[64];
        char        rq_who[SV_NAME_MAX + 2]; /* token name, "-" or "?" */
        int64_t     rq_retry_ms;       /* 429: when to try again */
        uintptr_t   rq_uri;            /* the URI as libmicrohttpd parsed
                                        * it (where, not what) */
        size_t      rq_urilen;         /* its length up to a NUL */
        bool        rq_seen;           /* the handler has seen it */
        bool        rq_nul;            /* a NUL in the URI, raw or %00 */
        unsigned    rq_status;         /* the answer queued (0: none) */
        const char *rq_method;         /* its method as logged (static) */
} req_t;

/* The access-log line of a request (serve_http.c). sv_respond writes it
 * when the request is completed, with the status if the answer was all
 * sent, else "STATUS-aborted" (the connection ended before: perhaps
 * nothing was sent). */
void sv_access_log(const req_t *rq, const char *method, unsigned status);
/* Content-Type and the headers every answer has. */
void sv_common_headers(struct MHD_Response *r, const char *ctype);
/* Queues body (taken over) with status; extra headers in name, value
 * pairs, ended by SV_END; logs the access. */
#define SV_END ((const char *)NULL) /* (a typed NULL: a variadic
                                     * argument read as const char *) */
mhd_ret_t sv_respond(struct MHD_Connection *conn, req_t *rq,
                     const char *method, unsigned status, vg_buf_t *body,
                     const char *ctype, ...);
/* The query parameters of conn as an sv_query_t (q_opaque: a qctx_t). */
typedef struct qctx_s {
        struct MHD_Connection *qc_conn;
        int (*qc_fn)(void *arg, const char *key, const char *val);
        void *qc_arg;
        int   qc_stop;
} qctx_t;
const char *sv_q_get(void *opaque, const char *key);
int sv_q_each(void *opaque,
              int (*fn)(void *arg, const char *key, const char *val),
              void *arg);

/* GET /alerts/stream for an authenticated caller (serve_stream.c). */
mhd_ret_t sv_serve_stream(sv_server_t *sv, struct MHD_Connection *conn,
                          req_t *rq, const char *method,
                          const sv_caller_t *cl);

/* The request's deadline (serve_conn.c): a connection whose request
 * (headers and body) is not in within limit_ms of its start, or of its
 * previous request's end, is shut down. */
typedef struct sv_conns_s sv_conns_t;
sv_conns_t *sv_conns_start(int64_t limit_ms);
void sv_conns_stop(sv_conns_t *cs);
/* MHD_OPTION_NOTIFY_CONNECTION's callback (cls: the sv_conns_t). */
void sv_conn_notify(void *cls, struct MHD_Connection *conn,
                    void **socket_context,
                    enum MHD_ConnectionNotificationCode toe);
/* Answers in memory (serve_conn.c): sv_resp_hold as a buffer is handed
 * to libmicrohttpd, sv_resp_release as it frees it; sv_resp_over when
 * they hold budget bytes or more. Beyond SV_RESP_BUDGET a view answers 503
 * (docs/SERVE.md). */
#define SV_RESP_BUDGET (256LL << 20)
void sv_resp_hold(const void *p);
void sv_resp_release(const void *p);
bool sv_resp_over(int64_t budget);
/* Request headers so large that an answer might not fit beside them in
 * libmicrohttpd's memory for the connection (serve_conn.c): answered 431
 * by the handler. */
#define SV_HEADERS_MAX (24 * 1024)
bool sv_headers_too_big(struct MHD_Connection *conn);
/* A /report page to render (serve_conn.c): waits its turn; SV_REP_BUSY
 * when too many wait already (a 503), SV_REP_GONE when gone(arg) says its
 * client went away while it waited (gone: NULL, never asked), else
 * SV_REP_IN and sv_report_leave when it is done. sv_report_waiting: how
 * many wait now (the tests). */
typedef enum { SV_REP_IN, SV_REP_BUSY, SV_REP_GONE } sv_rep_t;
sv_rep_t sv_report_enter(bool (*gone)(void *arg), void *arg);
void sv_report_leave(void);
int sv_report_waiting(void);
/* The client is gone: the socket fd's other end is closed or shut for
 * writing (a look at the socket, nothing read); sv_conn_gone: the same
 * for a struct MHD_Connection *. */
bool sv_peer_gone(int fd);
bool sv_conn_gone(void *conn);
/* A request is all in, headers and body (begins), or it ended. */
void sv_conn_request(sv_conns_t *cs, struct MHD_Connection *conn,
                     bool begins);

/* Browser sessions (serve_sess.c): at most SV_SESS_PER_TOKEN per token
 * (one more replaces the token's own oldest), SV_SESS_MAX in all (beyond,
 * the login is answered 503). */
#define SV_SESS_PER_TOKEN 32
#define SV_SESS_MAX       10000
typedef enum { SV_SESS_OK, SV_SESS_FULL, SV_SESS_ERROR } sv_sess_ret_t;
/* A new session of the token of SHA-256 token: its cookie in value[65]. */
sv_sess_ret_t sv_session_new(sv_server_t *sv, const unsigned char token[32],
                             char *value);
/* The token hash of a live session with this cookie, in token. */
bool sv_session_find(sv_server_t *sv, const char *cookie,
                     unsigned char token[32]);
/* Ends the session of this cookie (POST /logout). */
void sv_session_end(sv_server_t *sv, const char *cookie);

/* The stream itself (tested in test_serve.c): a new one for cl with the
 * filters fl and Last-Event-ID last (NULL if none); its libmicrohttpd
 * content reader, which waits for what to send; and its free. */
void *sv_stream_new(sv_server_t *sv, const sv_caller_t *cl,
                    const sv_filter_t *fl, const char *last);
ssize_t sv_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void sv_stream_free(void *cls);

#endif /* VG_SERVE_HTTP_H */
