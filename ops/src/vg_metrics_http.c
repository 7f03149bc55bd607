/*
 * vg_metrics_http.c - the /metrics, /healthz, /readyz HTTP server
 * (libmicrohttpd) of vg_metrics.h: listen-address parsing, the daemon on
 * its own thread, and the handler, which renders the registry with
 * vg_metrics_render (vg_metrics.c) for /metrics and asks the caller's
 * readiness callback for /readyz.
 */
#include "vg_metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct vg_http_s {
        struct MHD_Daemon *hs_daemon;
        vg_metrics_t      *hs_reg;
        vg_http_ready_cb   hs_ready;
        void              *hs_opaque;
        int                hs_port;
        atomic_bool        hs_starting;     /* MHD messages -> hs_starterr */
        char               hs_starterr[256];
};

#define TEXT_PLAIN "text/plain; charset=utf-8"

/* Access handlers return enum MHD_Result since 0.9.71 (int before). */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_ret_t;
#else
typedef int mhd_ret_t;
#endif

/* MHD's error messages: kept while starting (for errstr), logged after. */
static void http_log(void *cls, const char *fmt, va_list ap) {
        vg_http_t *hs = cls;
        char msg[256];
        size_t n;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        if (atomic_load(&hs->hs_starting))
                snprintf(hs->hs_starterr, sizeof(hs->hs_starterr), "%s", msg);
        else
                vg_warn("http", "%s", msg);
}

static mhd_ret_t reply(struct MHD_Connection *conn, unsigned status,
                             struct MHD_Response *resp, const char *ctype) {
        mhd_ret_t ret;
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                        "GET, HEAD");
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static mhd_ret_t reply_static(struct MHD_Connection *conn,
                                    unsigned status, const char *body) {
        return reply(conn, status,
                     MHD_create_response_from_buffer(strlen(body),
                                                     (void *)body,
                                                     MHD_RESPMEM_PERSISTENT),
                     TEXT_PLAIN);
}

static void buf_data_free(void *p) {
        vg_free(p);
}

static mhd_ret_t http_handle(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version,
                                   const char *upload_data,
                                   size_t *upload_data_size, void **con_cls) {
        vg_http_t *hs = cls;
        bool metrics = strcmp(url, "/metrics") == 0;
        bool healthz = strcmp(url, "/healthz") == 0;
        bool readyz = strcmp(url, "/readyz") == 0;

        /* Every answer is decided from the headers alone, so it is queued
         * on the first call; a request body, if any, is not read. */
        if (!metrics && !healthz && !readyz)
                return reply_static(conn, MHD_HTTP_NOT_FOUND, "not found\n");
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
            && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return reply_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                    "method not allowed\n");
        if (healthz)
                return reply_static(conn, MHD_HTTP_OK, "ok\n");
        if (readyz) {
                char reason[256] = "";
                char body[260];
                if (!hs->hs_ready
                    || hs->hs_ready(hs->hs_opaque, reason, sizeof(reason)))
                        return reply_static(conn, MHD_HTTP_OK, "ready\n");
                reason[sizeof(reason) - 1] = '\0';
                snprintf(body, sizeof(body), "%s\n",
                         *reason ? reason : "not ready");
                return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                             MHD_create_response_from_buffer(
                                     strlen(body), body,
                                     MHD_RESPMEM_MUST_COPY),
                             TEXT_PLAIN);
        }

        vg_buf_t buf;
        struct MHD_Response *resp;
        vg_buf_init(&buf);
        vg_metrics_render(hs->hs_reg, &buf);
        if (buf.vb_len == 0) {
                vg_buf_free(&buf);
                resp = MHD_create_response_from_buffer(
                        0, (void *)"", MHD_RESPMEM_PERSISTENT);
        } else {
                resp = MHD_create_response_from_buffer_with_free_callback(
                        buf.vb_len, buf.vb_data, buf_data_free);
                if (!resp)
                        vg_buf_free(&buf);
        }
        return reply(conn, MHD_HTTP_OK, resp, VG_METRICS_CONTENT_TYPE);
}

/* Parses "host:port" / "[v6]:port" / ":port" / "*:port". *host is
 * malloc'd ("" for all interfaces). */
static vg_err_t parse_addr(const char *addr, char **host, uint16_t *port,
                           bool *bracketed, char *errstr,
                           size_t errstr_size) {
        const char *colon, *h, *he;
        unsigned long p = 0;

        *host = NULL;
        *bracketed = false;
        if (!addr || !*addr)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "empty HTTP listen address (expected "
                                 "host:port, e.g. 127.0.0.1:9464)");
        if (addr[0] == '[') {
                const char *rb = strchr(addr, ']');
                if (!rb || rb[1] != ':')
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "bad HTTP listen address '%s' "
                                         "(expected [ipv6]:port)", addr);
                h = addr + 1;
                he = rb;
                colon = rb + 1;
                *bracketed = true;
        } else {
                colon = strrchr(addr, ':');
                if (!colon)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "bad HTTP listen address '%s' "
                                         "(expected host:port, e.g. "
                                         "127.0.0.1:9464 or :9464)", addr);
                h = addr;
                he = colon;
                if (memchr(h, ':', (size_t)(he - h)))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "bad HTTP listen address '%s' "
                                         "(write an IPv6 address in "
                                         "brackets: [::1]:9464)", addr);
        }
        const char *ps = colon + 1;
        size_t plen = strlen(ps);
        if (plen == 0 || plen > 5 || strspn(ps, "0123456789") != plen
            || (p = strtoul(ps, NULL, 10)) > 65535)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "bad HTTP listen address '%s' (port must "
                                 "be a number 0..65535)", addr);
        if (*bracketed && he == h)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "bad HTTP listen address '%s' (empty "
                                 "IPv6 address)", addr);
        *host = vg_strndup(h, (size_t)(he - h));
        if (!*bracketed && strcmp(*host, "*") == 0)
                (*host)[0] = '\0';
        *port = (uint16_t)p;
        return VG_OK;
}

static struct MHD_Daemon *daemon_start(vg_http_t *hs, unsigned flags,
                                       uint16_t port,
                                       const struct sockaddr *sa) {
        struct MHD_Daemon *d;
        hs->hs_starterr[0] = '\0';
        if (sa)
                d = MHD_start_daemon(flags, port, NULL, NULL, http_handle, hs,
                                     MHD_OPTION_EXTERNAL_LOGGER,
                                     (MHD_LogCallback)http_log, hs,
                                     MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned int)10,
                                     MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned int)64,
                                     MHD_OPTION_SOCK_ADDR, sa,
                                     MHD_OPTION_END);
        else
                d = MHD_start_daemon(flags, port, NULL, NULL, http_handle, hs,
                                     MHD_OPTION_EXTERNAL_LOGGER,
                                     (MHD_LogCallback)http_log, hs,
                                     MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned int)10,
                                     MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned int)64,
                                     MHD_OPTION_END);
        return d;
}

vg_http_t *vg_http_start(vg_metrics_t *reg, const char *addr,
                         vg_http_ready_cb ready, void *opaque,
                         char *errstr, size_t errstr_size) {
        const unsigned base = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO
                              | MHD_USE_ERROR_LOG;
        struct sockaddr_storage ss;
        char *host = NULL;
        uint16_t port = 0;
        bool bracketed;
        vg_http_t *hs;

        if (!reg) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "HTTP server: no metrics registry");
                return NULL;
        }
        if (parse_addr(addr, &host, &port, &bracketed, errstr, errstr_size)
            != VG_OK)
                return NULL;

        hs = vg_calloc(1, sizeof(*hs));
        hs->hs_reg = reg;
        hs->hs_ready = ready;
        hs->hs_opaque = opaque;
        atomic_init(&hs->hs_starting, true);
        memset(&ss, 0, sizeof(ss));

        if (!*host) {
                /* All interfaces: one dual-stack socket, or IPv4 only when
                 * the host has no IPv6. */
                hs->hs_daemon = daemon_start(hs, base | MHD_USE_DUAL_STACK,
                                             port, NULL);
                if (!hs->hs_daemon) {
                        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
                        sin->sin_family = AF_INET;
                        sin->sin_addr.s_addr = htonl(INADDR_ANY);
                        sin->sin_port = htons(port);
                        hs->hs_daemon = daemon_start(
                                hs, base, port, (struct sockaddr *)sin);
                }
        } else {
                struct addrinfo hints, *res = NULL;
                int rc;
                memset(&hints, 0, sizeof(hints));
                hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
                hints.ai_socktype = SOCK_STREAM;
                hints.ai_flags = bracketed ? AI_NUMERICHOST : 0;
                rc = getaddrinfo(host, NULL, &hints, &res);
                if (rc != 0 || !res) {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "bad HTTP listen address '%s': host '%s': "
                                  "%s", addr, host,
                                  rc ? gai_strerror(rc) : "no address");
                        if (res)
                                freeaddrinfo(res);
                        goto fail;
                }
                unsigned flags = base;
                if (res->ai_family == AF_INET6) {
                        flags |= MHD_USE_IPv6;
                        memcpy(&ss, res->ai_addr, sizeof(struct sockaddr_in6));
                        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
                } else if (res->ai_family == AF_INET) {
                        memcpy(&ss, res->ai_addr, sizeof(struct sockaddr_in));
                        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
                } else {
                        freeaddrinfo(res);
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "bad HTTP listen address '%s': not an IP "
                                  "address", addr);
                        goto fail;
                }
                freeaddrinfo(res);
                hs->hs_daemon = daemon_start(hs, flags, port,
                                             (struct sockaddr *)&ss);
        }
        if (!hs->hs_daemon) {
                vg_seterr(errstr, errstr_size, VG_ERR_IO,
                          "HTTP server on %s: %s", addr,
                          hs->hs_starterr[0] ? hs->hs_starterr
                                             : "cannot start (port in use?)");
                goto fail;
        }
        atomic_store(&hs->hs_starting, false);

        const union MHD_DaemonInfo *info = MHD_get_daemon_info(
                hs->hs_daemon, MHD_DAEMON_INFO_BIND_PORT);
        hs->hs_port = info ? info->port : port;
        if (hs->hs_port == 0) {
                vg_seterr(errstr, errstr_size, VG_ERR_INTERNAL,
                          "HTTP server on %s: cannot tell the bound port",
                          addr);
                MHD_stop_daemon(hs->hs_daemon);
                hs->hs_daemon = NULL;
                goto fail;
        }
        if (!*host)
                vg_warn("http", "http.listen=%s: serving /metrics, /healthz "
                        "and /readyz on every network interface (port %d); "
                        "use 127.0.0.1:%d to keep them on this host", addr,
                        hs->hs_port, hs->hs_port);
        vg_free(host);
        return hs;

fail:
        vg_free(host);
        vg_free(hs);
        return NULL;
}

int vg_http_port(const vg_http_t *http) {
        return http ? http->hs_port : 0;
}

void vg_http_stop(vg_http_t *http) {
        if (!http)
                return;
        if (http->hs_daemon)
                MHD_stop_daemon(http->hs_daemon);
        vg_free(http);
}
