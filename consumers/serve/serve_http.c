/*
 * serve_http.c - the HTTP side of `vigil serve` (libmicrohttpd, one thread
 * per connection so that a stream may wait for changes): routes, who the
 * caller is (a bearer token, or the session cookie of the page's login
 * form), the 429 of an address with too many failed attempts, and one
 * access-log line per request. The stream is serve_stream.c.
 *
 * The access log names the route, never the request's path or query as
 * sent (they could carry anything), nor a token.
 */
#include "serve_http.h"
#include "vg_record.h"
#include "vg_time.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#define COOKIE "vigil_session"
#define HTML_T "text/html; charset=utf-8"
#define MAX_BODY 8192

static const struct {
        const char *path;
        route_t     route;
        bool        post;
} routes[] = {
        {"/", R_PAGE, false},          {"/healthz", R_HEALTH, false},
        {"/alerts", R_ALERTS, false},  {"/alerts/stream", R_STREAM, false},
        {"/indicators", R_IND, false}, {"/report", R_REPORT, false},
        {"/login", R_LOGIN, true},     {"/logout", R_LOGOUT, true},
};

/* ------------------------------------------------------------------------
 * Responses and the access log
 */

/* The method as sent could carry anything (a personnummer, escape
 * codes): only the known ones are written (a static string). */
static const char *known_method(const char *method) {
        static const char *const known[] = {"GET", "HEAD", "POST", "PUT",
                                            "DELETE", "OPTIONS", "PATCH",
                                            "TRACE", "CONNECT"};
        for (size_t i = 0; method && i < sizeof(known) / sizeof(known[0]);
             i++)
                if (!strcmp(method, known[i]))
                        return known[i];
        return "(other)";
}

static void access_line(const req_t *rq, const char *method,
                        unsigned status, const char *tail) {
        char ts[VG_TIME_BUFSZ];
        method = known_method(method);
        vg_time_format(vg_now_ms(), ts);
        fprintf(stderr, "%s ACCESS %s: %s %s %s %s %u%s\n", ts, SV_CMD,
                rq->rq_addr, rq->rq_who[0] ? rq->rq_who : "-", method,
                rq->rq_path, status, tail);
}

void sv_access_log(const req_t *rq, const char *method, unsigned status) {
        access_line(rq, method, status, "");
}

void sv_common_headers(struct MHD_Response *r, const char *ctype) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        /* not no-referrer: with it a browser sends "Origin: null" with the
         * login form (same_origin) */
        MHD_add_response_header(r, "Referrer-Policy", "same-origin");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

static void buf_free_cb(void *p) {
        sv_resp_release(p);
        vg_free(p);
}

/* Queues body (taken over) with status; extra headers in pairs, NULL
 * ended. */
mhd_ret_t sv_respond(struct MHD_Connection *conn, req_t *rq,
                         const char *method, unsigned status, vg_buf_t *body,
                         const char *ctype, ...) {
        struct MHD_Response *r;
        mhd_ret_t ret;
        va_list ap;
        const char *h;
        if (body->vb_len) {
                r = MHD_create_response_from_buffer_with_free_callback(
                        body->vb_len, body->vb_data, buf_free_cb);
                if (r)
                        sv_resp_hold(body->vb_data);
                body->vb_data = NULL;
                body->vb_len = body->vb_size = 0;
        } else {
                vg_buf_free(body);
                r = MHD_create_response_from_buffer(0, (void *)"",
                                                    MHD_RESPMEM_PERSISTENT);
        }
        if (!r)
                return MHD_NO;
        sv_common_headers(r, ctype);
        va_start(ap, ctype);
        while ((h = va_arg(ap, const char *))) {
                const char *v = va_arg(ap, const char *);
                if (v)
                        MHD_add_response_header(r, h, v);
        }
        va_end(ap);
        ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        /* logged when the request is completed (completed()): only then
         * is it known that the answer went out. (libmicrohttpd builds its
         * headers after the handler returns, and closes the connection,
         * sending nothing, when they do not fit beside the request's.) */
        if (ret == MHD_YES) {
                rq->rq_status = status;
                rq->rq_method = known_method(method);
        } else {
                access_line(rq, method, status, "-aborted");
        }
        return ret;
}

static void json_error(vg_buf_t *b, const char *error, const char *message) {
        json_t *o = json_pack("{ssss}", "error", error, "message", message);
        char *s = json_dumps(o, JSON_COMPACT);
        vg_buf_reset(b);
        vg_buf_puts(b, s);
        vg_buf_puts(b, "\n");
        free(s);
        json_decref(o);
}

/* ------------------------------------------------------------------------
 * Who is calling
 */

static void client_addr(struct MHD_Connection *conn, char *buf, size_t size) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        snprintf(buf, size, "?");
        if (!sa)
                return;
        if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
                          buf, (socklen_t)size);
        else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6,
                          &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                          (socklen_t)size);
}

/* Looks the token up; fills cl. 0 ok, 401, or 429 (rq_retry_ms). */
static unsigned check_token(sv_server_t *sv, req_t *rq, const char *token,
                            size_t len, sv_caller_t *cl) {
        int64_t now = vg_now_ms(), wait;
        const sv_token_t *tk;
        pthread_mutex_lock(&sv->sv_auth_lock);
        wait = sv_rl_check(sv->sv_rl, rq->rq_addr, now);
        pthread_mutex_unlock(&sv->sv_auth_lock);
        if (wait > 0) {
                rq->rq_retry_ms = wait;
                snprintf(rq->rq_who, sizeof(rq->rq_who), "?");
                return MHD_HTTP_TOO_MANY_REQUESTS;
        }
        pthread_rwlock_rdlock(&sv->sv_tok_lock);
        if ((tk = sv_tokens_find(&sv->sv_tokens, token, len))) {
                snprintf(cl->cl_name, sizeof(cl->cl_name), "%s", tk->tk_name);
                memcpy(cl->cl_hash, tk->tk_hash, 32);
                cl->cl_ent = tk->tk_ent;
        }
        pthread_rwlock_unlock(&sv->sv_tok_lock);
        if (tk) {
                snprintf(rq->rq_who, sizeof(rq->rq_who), "%s", cl->cl_name);
                return 0;
        }
        pthread_mutex_lock(&sv->sv_auth_lock);
        sv_rl_fail(sv->sv_rl, rq->rq_addr, now);
        pthread_mutex_unlock(&sv->sv_auth_lock);
        snprintf(rq->rq_who, sizeof(rq->rq_who), "?");
        return MHD_HTTP_UNAUTHORIZED;
}

static mhd_ret_t count_auth(void *cls, enum MHD_ValueKind kind,
                            const char *key, const char *value) {
        (void)kind;
        (void)value;
        if (!strcasecmp(key, "Authorization"))
                (*(int *)cls)++;
        return MHD_YES;
}

/* The caller of a request: a bearer token, else a session cookie. 0 ok,
 * 401 (none, wrong, or two Authorization headers: which one counts
 * would be a guess) or 429. */
static unsigned authenticate(sv_server_t *sv, req_t *rq,
                             struct MHD_Connection *conn, sv_caller_t *cl) {
        int nauth = 0;
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       "Authorization");
        const char *cookie = MHD_lookup_connection_value(conn,
                                                         MHD_COOKIE_KIND,
                                                         COOKIE);
        memset(cl, 0, sizeof(*cl));
        if (auth) {
                const char *t = auth;
                size_t n;
                MHD_get_connection_values(conn, MHD_HEADER_KIND, count_auth,
                                          &nauth);
                if (nauth > 1 || strncasecmp(t, "Bearer ", 7))
                        return check_token(sv, rq, "", 0, cl);
                t += 7;
                while (*t == ' ')
                        t++;
                n = strlen(t);
                while (n && t[n - 1] == ' ')
                        n--;
                return check_token(sv, rq, t, n, cl);
        }
        if (cookie && *cookie) {
                unsigned char token[32];
                const sv_token_t *tk = NULL;
                if (sv_session_find(sv, cookie, token)) {
                        pthread_rwlock_rdlock(&sv->sv_tok_lock);
                        /* a token removed from the file, or rotated (a new
                         * hash under its name), ends its sessions */
                        if ((tk = sv_tokens_by_hash(&sv->sv_tokens, token))) {
                                snprintf(cl->cl_name, sizeof(cl->cl_name),
                                         "%s", tk->tk_name);
                                memcpy(cl->cl_hash, token, 32);
                                cl->cl_ent = tk->tk_ent;
                        }
                        pthread_rwlock_unlock(&sv->sv_tok_lock);
                }
                if (tk) {
                        snprintf(rq->rq_who, sizeof(rq->rq_who), "%s",
                                 cl->cl_name);
                        return 0;
                }
                snprintf(rq->rq_who, sizeof(rq->rq_who), "?");
        }
        return MHD_HTTP_UNAUTHORIZED;
}

/* ------------------------------------------------------------------------
 * Queries
 */


const char *sv_q_get(void *opaque, const char *key) {
        qctx_t *qc = opaque;
        return MHD_lookup_connection_value(qc->qc_conn, MHD_GET_ARGUMENT_KIND,
                                           key);
}

static mhd_ret_t q_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                        const char *value) {
        qctx_t *qc = cls;
        (void)kind;
        qc->qc_stop = qc->qc_fn(qc->qc_arg, key, value);
        return qc->qc_stop ? MHD_NO : MHD_YES;
}

int sv_q_each(void *opaque,
                  int (*fn)(void *arg, const char *key, const char *val),
                  void *arg) {
        qctx_t *qc = opaque;
        qc->qc_fn = fn;
        qc->qc_arg = arg;
        qc->qc_stop = 0;
        MHD_get_connection_values(qc->qc_conn, MHD_GET_ARGUMENT_KIND, q_iter,
                                  qc);
        return qc->qc_stop;
}

/* ------------------------------------------------------------------------
 * The handler
 */

/* "token" of an application/x-www-form-urlencoded body, decoded in place
 * into out (of size); false if absent. */
static bool form_token(const vg_buf_t *body, char *out, size_t size) {
        const char *p = body->vb_data ? body->vb_data : "";
        while (*p) {
                size_t n = strcspn(p, "&");
                if (n > 6 && !strncmp(p, "token=", 6)) {
                        size_t o = 0;
                        for (size_t i = 6; i < n && o + 1 < size; i++) {
                                int c = (unsigned char)p[i];
                                if (c == '+') {
                                        c = ' ';
                                } else if (c == '%' && i + 2 < n &&
                                           isxdigit((unsigned char)p[i + 1]) &&
                                           isxdigit((unsigned char)p[i + 2])) {
                                        char hx[3] = {p[i + 1], p[i + 2], 0};
                                        c = (int)strtol(hx, NULL, 16);
                                        i += 2;
                                }
                                out[o++] = (char)c;
                        }
                        out[o] = '\0';
                        return true;
                }
                p += n;
                if (*p)
                        p++;
        }
        return false;
}

/* A POST from another site's page is refused (the cookie is SameSite=
 * Strict too): its Origin, or without one its Referer, must name this
 * host. With neither (curl, a script) it is let through: the token is
 * what it must know. */
static bool same_origin(struct MHD_Connection *conn) {
        const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         "Origin");
        const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       "Host");
        const char *from = origin, *p;
        size_t n;
        if (!from)
                from = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   "Referer");
        if (!from)
                return true;
        if (!host || !(p = strstr(from, "://")))
                return false;
        p += 3;
        n = strcspn(p, "/?#"); /* a Referer goes on with its path */
        if (origin && p[n])
                return false;
        return n == strlen(host) && !memcmp(p, host, n);
}

static mhd_ret_t login(sv_server_t *sv, struct MHD_Connection *conn,
                       req_t *rq, const char *method) {
        char token[1024], cookie[65], setc[256], retry[32];
        sv_caller_t cl;
        vg_buf_t b;
        const char *csp;
        unsigned status;
        sv_sess_ret_t sr = SV_SESS_ERROR;
        vg_buf_init(&b);
        if (!same_origin(conn)) {
                sv_page_login("Inloggningen kom från en annan webbplats.", &b,
                              &csp);
                return sv_respond(conn, rq, method, MHD_HTTP_FORBIDDEN, &b,
                               HTML_T, "Content-Security-Policy", csp, SV_END);
        }
        if (rq->rq_route == R_LOGOUT) {
                const char *c = MHD_lookup_connection_value(
                        conn, MHD_COOKIE_KIND, COOKIE);
                if (c)
                        sv_session_end(sv, c);
                snprintf(setc, sizeof(setc), COOKIE "=; Path=/; HttpOnly; "
                         "SameSite=Strict; Max-Age=0%s",
                         sv->sv_tls ? "; Secure" : "");
                return sv_respond(conn, rq, method, MHD_HTTP_SEE_OTHER, &b,
                               HTML_T, "Location", "./", "Set-Cookie", setc,
                               SV_END);
        }
        if (rq->rq_body_big || !form_token(&rq->rq_body, token,
                                           sizeof(token)))
                token[0] = '\0';
        status = check_token(sv, rq, token, strlen(token), &cl);
        OPENSSL_cleanse(token, sizeof(token));
        if (status == MHD_HTTP_TOO_MANY_REQUESTS) {
                snprintf(retry, sizeof(retry), "%lld",
                         (long long)(rq->rq_retry_ms + 999) / 1000);
                sv_page_login("För många felaktiga försök från din adress. "
                              "Vänta en stund och försök igen.", &b, &csp);
                return sv_respond(conn, rq, method, status, &b, HTML_T,
                               "Content-Security-Policy", csp,
                               "Retry-After", retry, SV_END);
        }
        if (!status && (sr = sv_session_new(sv, cl.cl_hash, cookie)) ==
                               SV_SESS_FULL) {
                sv_page_login("Servern har för många inloggningar just nu. "
                              "Försök igen senare.", &b, &csp);
                return sv_respond(conn, rq, method,
                                  MHD_HTTP_SERVICE_UNAVAILABLE, &b, HTML_T,
                                  "Content-Security-Policy", csp,
                                  "Retry-After", "60", SV_END);
        }
        if (status || sr != SV_SESS_OK) {
                sv_page_login("Fel token. Kontrollera den och försök igen.",
                              &b, &csp);
                return sv_respond(conn, rq, method, MHD_HTTP_UNAUTHORIZED, &b,
                               HTML_T, "Content-Security-Policy", csp,
                               "WWW-Authenticate",
                               "Bearer realm=\"vigil\"", SV_END);
        }
        snprintf(setc, sizeof(setc), COOKIE "=%s; Path=/; HttpOnly; "
                 "SameSite=Strict; Max-Age=%lld%s", cookie,
                 (long long)(sv->sv_session_ms / 1000),
                 sv->sv_tls ? "; Secure" : "");
        OPENSSL_cleanse(cookie, sizeof(cookie));
        return sv_respond(conn, rq, method, MHD_HTTP_SEE_OTHER, &b, HTML_T,
                       "Location", "./", "Set-Cookie", setc, SV_END);
}

/* A /report whose client went away (waiting its turn, or while its page
 * was drawn): one line, and an empty SV_CLIENT_GONE answer that goes
 * nowhere (the access log says 499-aborted). (Not MHD_NO: libmicrohttpd
 * would warn of an internal error.) */
static mhd_ret_t report_gone(struct MHD_Connection *conn, req_t *rq,
                             const char *method, vg_buf_t *b,
                             const char *when, int64_t since_us) {
        vg_info(SV_CMD, "/report of %s abandoned %s, after %lld ms: its "
                "client closed the connection", rq->rq_who, when,
                (long long)((vg_now_us() - since_us) / 1000));
        vg_buf_reset(b);
        return sv_respond(conn, rq, method, SV_CLIENT_GONE, b, JSON_T,
                          "Connection", "close", SV_END);
}

static mhd_ret_t dispatch(sv_server_t *sv, struct MHD_Connection *conn,
                          req_t *rq, const char *method) {
        bool get = !strcmp(method, MHD_HTTP_METHOD_GET) ||
                   !strcmp(method, MHD_HTTP_METHOD_HEAD);
        bool post = !strcmp(method, MHD_HTTP_METHOD_POST);
        sv_caller_t cl;
        vg_buf_t b;
        const char *ctype = JSON_T, *csp = NULL;
        unsigned status;
        char retry[32];

        vg_buf_init(&b);
        if (rq->rq_nul) {
                json_error(&b, "bad-request", "the URL holds a NUL byte "
                           "(raw or %00)");
                return sv_respond(conn, rq, method, MHD_HTTP_BAD_REQUEST, &b,
                                  JSON_T, SV_END);
        }
        if (sv_headers_too_big(conn)) {
                json_error(&b, "headers-too-large", "the request's headers "
                           "are too large");
                return sv_respond(conn, rq, method,
                                  MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                  &b, JSON_T, "Connection", "close", SV_END);
        }
        if (rq->rq_route == R_NONE) {
                json_error(&b, "not-found", "no such resource (/, /alerts, "
                           "/alerts/stream, /indicators, /report, "
                           "/healthz)");
                return sv_respond(conn, rq, method, MHD_HTTP_NOT_FOUND, &b,
                               JSON_T, SV_END);
        }
        if (rq->rq_post ? !post : !get) {
                json_error(&b, "method-not-allowed", "method not allowed");
                return sv_respond(conn, rq, method, MHD_HTTP_METHOD_NOT_ALLOWED,
                               &b, JSON_T, "Allow",
                               rq->rq_post ? "POST" : "GET, HEAD", SV_END);
        }
        if (rq->rq_route == R_HEALTH) {
                bool ready;
                pthread_mutex_lock(&sv->sv_state->st_lock);
                ready = sv->sv_state->st_ready;
                pthread_mutex_unlock(&sv->sv_state->st_lock);
                vg_buf_puts(&b, ready ? "{\"status\":\"ok\"}\n"
                                      : "{\"status\":\"loading\"}\n");
                return sv_respond(conn, rq, method,
                               ready ? MHD_HTTP_OK
                                     : MHD_HTTP_SERVICE_UNAVAILABLE,
                               &b, JSON_T, SV_END);
        }
        if (rq->rq_route == R_LOGIN || rq->rq_route == R_LOGOUT)
                return login(sv, conn, rq, method);

        status = authenticate(sv, rq, conn, &cl);
        if (status == MHD_HTTP_TOO_MANY_REQUESTS) {
                snprintf(retry, sizeof(retry), "%lld",
                         (long long)(rq->rq_retry_ms + 999) / 1000);
                json_error(&b, "too-many-requests", "too many failed "
                           "attempts from this address: try again later");
                return sv_respond(conn, rq, method, status, &b, JSON_T,
                               "Retry-After", retry, SV_END);
        }
        if (status) {
                const char *www = rq->rq_who[0] == '?'
                                          ? "Bearer realm=\"vigil\", "
                                            "error=\"invalid_token\""
                                          : "Bearer realm=\"vigil\"";
                if (rq->rq_route == R_PAGE) {
                        sv_page_login(rq->rq_who[0] == '?'
                                              ? "Din inloggning gäller inte "
                                                "längre. Logga in igen."
                                              : NULL,
                                      &b, &csp);
                        return sv_respond(conn, rq, method, status, &b, HTML_T,
                                       "WWW-Authenticate", www,
                                       "Content-Security-Policy", csp, SV_END);
                }
                json_error(&b, "unauthorized", "a valid bearer token is "
                           "needed (Authorization: Bearer TOKEN)");
                return sv_respond(conn, rq, method, status, &b, JSON_T,
                               "WWW-Authenticate", www, SV_END);
        }
        {
                bool ready;
                pthread_mutex_lock(&sv->sv_state->st_lock);
                ready = sv->sv_state->st_ready;
                pthread_mutex_unlock(&sv->sv_state->st_lock);
                if (rq->rq_route == R_STREAM)
                        return sv_serve_stream(sv, conn, rq, method, &cl);
                if (!ready && rq->rq_route != R_PAGE) {
                        json_error(&b, "loading", "still reading the topics: "
                                   "try again in a moment");
                        return sv_respond(conn, rq, method,
                                       MHD_HTTP_SERVICE_UNAVAILABLE, &b,
                                       JSON_T, "Retry-After", "2", SV_END);
                }
        }
        {
                qctx_t qc = {conn, NULL, NULL, 0};
                sv_query_t q = {sv_q_get, sv_q_each, &qc,
                                MHD_lookup_connection_value(
                                        conn, MHD_HEADER_KIND, "Accept")};
                bool rep = rq->rq_route != R_PAGE &&
                           rq->rq_route != R_ALERTS && rq->rq_route != R_IND;
                int64_t t0 = vg_now_us();
                sv_rep_t in = SV_REP_IN;
                const char *busy =
                        rq->rq_route == R_PAGE ? NULL
                        : sv_resp_over(SV_RESP_BUDGET)
                                ? "too many answers not yet read by their "
                                  "clients: try again in a moment"
                        : rep && (in = sv_report_enter(sv_conn_gone, conn)) ==
                                         SV_REP_BUSY
                                ? "too many reports being made: try again "
                                  "soon"
                                : NULL;
                if (busy) {
                        json_error(&b, "busy", busy);
                        return sv_respond(conn, rq, method,
                                          MHD_HTTP_SERVICE_UNAVAILABLE, &b,
                                          JSON_T, "Retry-After", "5", SV_END);
                }
                if (in == SV_REP_GONE)
                        return report_gone(conn, rq, method, &b,
                                           "while waiting its turn", t0);
                switch (rq->rq_route) {
                case R_PAGE:
                        sv_page_alerts(sv, &cl, &b, &csp);
                        return sv_respond(conn, rq, method, MHD_HTTP_OK, &b,
                                       HTML_T, "Content-Security-Policy", csp,
                                       SV_END);
                case R_ALERTS:
                        status = sv_view_alerts(sv, &cl, &q, &b, &ctype);
                        break;
                case R_IND:
                        status = sv_view_indicators(sv, &cl, &q, &b, &ctype);
                        break;
                default: /* the report (entered above) */
                        status = sv_view_report(sv, &cl, &q, &b, &ctype,
                                                sv_conn_gone, conn);
                        sv_report_leave();
                        if (status == SV_CLIENT_GONE)
                                return report_gone(conn, rq, method, &b,
                                                   "while being drawn", t0);
                }
        }
        return sv_respond(conn, rq, method, status, &b, ctype, SV_END);
}

/* The request's record, made when libmicrohttpd has parsed the request
 * line (MHD_OPTION_URI_LOG_CALLBACK): where the URI is and its length up
 * to a NUL, so that handle() finds a raw NUL in it (libmicrohttpd hands
 * the handler the path cut at it: "/alerts\0x" came as /alerts). */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn) {
        req_t *rq = vg_calloc(1, sizeof(*rq));
        (void)cls;
        (void)conn;
        vg_buf_init(&rq->rq_body);
        rq->rq_uri = (uintptr_t)uri;
        rq->rq_urilen = strlen(uri);
        /* (never decoded, below: a path or a value with it is refused) */
        rq->rq_nul = strstr(uri, "%00") != NULL;
        return rq;
}

static mhd_ret_t handle(void *cls, struct MHD_Connection *conn,
                        const char *url, const char *method,
                        const char *version, const char *upload_data,
                        size_t *upload_data_size, void **con_cls) {
        sv_server_t *sv = cls;
        req_t *rq = *con_cls;
        if (!rq) {
                rq = uri_seen(NULL, "", conn);
                *con_cls = rq;
        }
        if (!rq->rq_seen) {
                uintptr_t v = (uintptr_t)version;
                rq->rq_seen = true;
                client_addr(conn, rq->rq_addr, sizeof(rq->rq_addr));
                rq->rq_route = R_NONE;
                rq->rq_path = "(other)";
                /* The version follows the URI in the request line as
                 * libmicrohttpd keeps it ("GET\0/a\0HTTP/1.1"): further
                 * on than the URI's length, the URI held a NUL. */
                if (rq->rq_uri && v > rq->rq_uri + rq->rq_urilen + 1 &&
                    v - rq->rq_uri < 65536)
                        rq->rq_nul = true;
                for (size_t i = 0; i < VG_ARRAY_SIZE(routes) && !rq->rq_nul;
                     i++)
                        if (!strcmp(url, routes[i].path)) {
                                rq->rq_route = routes[i].route;
                                rq->rq_path = routes[i].path;
                                rq->rq_post = routes[i].post;
                        }
                if (rq->rq_post && !strcmp(method, MHD_HTTP_METHOD_POST))
                        return MHD_YES; /* the body comes next */
        } else if (*upload_data_size) {
                if (rq->rq_body.vb_len + *upload_data_size > MAX_BODY)
                        rq->rq_body_big = true;
                else
                        vg_buf_append(&rq->rq_body, upload_data,
                                      *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }
        /* all of the request is in: no longer under its deadline */
        sv_conn_request(sv->sv_conns, conn, true);
        return dispatch(sv, conn, rq, method);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
        sv_server_t *sv = cls;
        req_t *rq = *con_cls;
        sv_conn_request(sv->sv_conns, conn, false);
        if (!rq)
                return;
        if (rq->rq_status)
                access_line(rq, rq->rq_method, rq->rq_status,
                            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
                                    ? ""
                                    : "-aborted");
        if (rq->rq_body.vb_data)
                OPENSSL_cleanse(rq->rq_body.vb_data, rq->rq_body.vb_len);
        vg_buf_free(&rq->rq_body);
        vg_free(rq);
        *con_cls = NULL;
}

/* URL decoding, but an escaped NUL is left as it is: decoded, it would cut
 * the path short ("/alerts%00" served /alerts); the request is answered 400
 * (uri_seen). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s) {
        (void)cls;
        (void)conn;
        if (strstr(s, "%00"))
                return strlen(s);
        return MHD_http_unescape(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
        char msg[512];
        size_t n;
        (void)cls;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        /* a client that went away is not news */
        if (strstr(msg, "no longer available") ||
            strstr(msg, "forcibly closed") || strstr(msg, "reset by peer"))
                vg_debug(SV_CMD, "http: %s", msg);
        else
                vg_warn(SV_CMD, "http: %s", msg);
}

/* ------------------------------------------------------------------------
 * Start and stop
 */

static char *read_pem(const char *key, const char *path, char *errstr,
                      size_t errstr_size) {
        FILE *fp = fopen(path, "r");
        vg_buf_t b;
        char chunk[4096];
        size_t n;
        if (!fp) {
                vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s: cannot "
                          "read it", key, path);
                return NULL;
        }
        vg_buf_init(&b);
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 &&
               b.vb_len < (1 << 20))
                vg_buf_append(&b, chunk, n);
        fclose(fp);
        if (!b.vb_len || !strstr(b.vb_data, "-----BEGIN ")) {
                vg_buf_free(&b);
                vg_seterr(errstr, errstr_size, VG_ERR_ARG, "%s: %s is not a "
                          "PEM file", key, path);
                return NULL;
        }
        return b.vb_data;
}

vg_err_t sv_http_start(sv_server_t *sv, char *errstr, size_t errstr_size) {
        const vg_conf_t *conf = sv->sv_conf;
        const char *host = vg_conf_str(conf, "serve.listen");
        const char *certf = vg_conf_str(conf, "serve.tls_cert");
        const char *keyf = vg_conf_str(conf, "serve.tls_key");
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        struct sockaddr_storage ss;
        struct addrinfo hints, *res = NULL;
        char h[256], *cert = NULL, *key = NULL;
        uint16_t port = (uint16_t)vg_conf_int(conf, "serve.port");
        unsigned int idle_s;
        int rc;
        size_t hl;

        if ((certf != NULL) != (keyf != NULL))
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "serve.tls_cert and serve.tls_key go "
                                 "together: set both or neither");
        if (certf) {
                if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "this libmicrohttpd has no TLS: "
                                         "unset serve.tls_cert and "
                                         "serve.tls_key and put a reverse "
                                         "proxy in front (docs/SERVE.md)");
                if (!(cert = read_pem("serve.tls_cert", certf, errstr,
                                      errstr_size)) ||
                    !(key = read_pem("serve.tls_key", keyf, errstr,
                                     errstr_size))) {
                        vg_free(cert);
                        return VG_ERR_ARG;
                }
                flags |= MHD_USE_TLS;
                sv->sv_tls = true;
        }
        /* "[::1]" as "::1"; "", "*" : every interface */
        hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
                snprintf(h, sizeof(h), "%.*s", (int)(hl - 2), host + 1);
        else
                snprintf(h, sizeof(h), "%s", strcmp(host, "*") ? host : "");
        memset(&ss, 0, sizeof(ss));
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        if ((rc = getaddrinfo(*h ? h : NULL, "0", &hints, &res)) || !res) {
                vg_free(cert);
                vg_free(key);
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "serve.listen=%s: %s", host,
                                 rc ? gai_strerror(rc) : "no address");
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        if (res->ai_family == AF_INET6) {
                flags |= MHD_USE_IPv6;
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        } else {
                ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        }
        freeaddrinfo(res);
        if (!*h)
                flags |= MHD_USE_DUAL_STACK;
        /* (libmicrohttpd counts whole seconds) */
        idle_s = (unsigned int)((vg_conf_int(conf, "serve.idle_timeout_ms") +
                                 999) / 1000);
        /* (its own deadline: libmicrohttpd's counts inactivity only) */
        if (!(sv->sv_conns = sv_conns_start(vg_conf_int(
                      conf, "serve.idle_timeout_ms")))) {
                vg_free(cert);
                vg_free(key);
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "cannot start a thread");
        }
        if (cert)
                sv->sv_daemon = MHD_start_daemon(
                        flags, port, NULL, NULL, handle, sv,
                        MHD_OPTION_EXTERNAL_LOGGER, (MHD_LogCallback)mhd_log,
                        NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, sv,
                        MHD_OPTION_NOTIFY_CONNECTION, sv_conn_notify,
                        sv->sv_conns,
                        MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
                        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                        MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL,
                        MHD_OPTION_CONNECTION_LIMIT,
                        (unsigned int)vg_conf_int(conf,
                                                  "serve.max_connections"),
                        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                        (unsigned int)vg_conf_int(
                                conf, "serve.max_connections_per_address"),
                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                        MHD_OPTION_HTTPS_MEM_CERT, cert,
                        MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
        else
                sv->sv_daemon = MHD_start_daemon(
                        flags, port, NULL, NULL, handle, sv,
                        MHD_OPTION_EXTERNAL_LOGGER, (MHD_LogCallback)mhd_log,
                        NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, sv,
                        MHD_OPTION_NOTIFY_CONNECTION, sv_conn_notify,
                        sv->sv_conns,
                        MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
                        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                        MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL,
                        MHD_OPTION_CONNECTION_LIMIT,
                        (unsigned int)vg_conf_int(conf,
                                                  "serve.max_connections"),
                        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                        (unsigned int)vg_conf_int(
                                conf, "serve.max_connections_per_address"),
                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                        MHD_OPTION_END);
        if (key) {
                OPENSSL_cleanse(key, strlen(key));
                vg_free(key);
        }
        vg_free(cert);
        if (!sv->sv_daemon) {
                sv_conns_stop(sv->sv_conns);
                sv->sv_conns = NULL;
                return vg_seterr(errstr, errstr_size, VG_ERR_IO,
                                 "cannot listen on %s port %u (in use? a "
                                 "bad TLS key or certificate?)",
                                 *h ? h : "every interface", port);
        }
        {
                const union MHD_DaemonInfo *di = MHD_get_daemon_info(
                        sv->sv_daemon, MHD_DAEMON_INFO_BIND_PORT);
                sv->sv_port = di ? di->port : port;
        }
        return VG_OK;
}

void sv_http_stop(sv_server_t *sv) {
        if (!sv->sv_daemon)
                return;
        pthread_mutex_lock(&sv->sv_state->st_lock);
        sv->sv_closing = true;
        pthread_cond_broadcast(&sv->sv_state->st_cond);
        pthread_mutex_unlock(&sv->sv_state->st_lock);
        MHD_stop_daemon(sv->sv_daemon);
        sv->sv_daemon = NULL;
        sv_conns_stop(sv->sv_conns);
        sv->sv_conns = NULL;
        vg_free(sv->sv_sess);
        sv->sv_sess = NULL;
        sv->sv_nsess = sv->sv_capsess = 0;
}
