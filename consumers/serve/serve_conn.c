/*
 * serve_conn.c - what a connection may take: the deadline of its request,
 * the answers held in memory, the reports made at once. libmicrohttpd's
 * connection timeout counts inactivity only, so a client that trickles a
 * header byte now and then is never closed by it (the attack: one byte
 * every 20 s kept a request open past 101 s with serve.idle_timeout_ms at
 * 30000). Here every connection is noted when it starts; its request,
 * headers and body, must be in within serve.idle_timeout_ms of that, or
 * of the end of its previous request on a kept-alive connection (a body
 * trickled in is cut too). A sweeping thread shuts
 * down the socket of one that is late (shutdown(2): the connection's own
 * thread then sees the end, and closes and frees it as usual).
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include "serve_http.h"
#include "vg_time.h"

#include <malloc.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

typedef struct conn_s {
        struct conn_s *cn_prev, *cn_next;
        MHD_socket     cn_fd;
        int64_t        cn_since;  /* ms (monotonic): its start, or its
                                   * last request's end */
        bool           cn_busy;   /* a request is all in (headers and
                                   * body), and has not ended */
        bool           cn_cut;    /* shut down already */
} conn_t;

struct sv_conns_s {
        pthread_mutex_t cs_lock;
        pthread_cond_t  cs_cond;  /* stop */
        conn_t         *cs_head;
        int64_t         cs_limit; /* serve.idle_timeout_ms */
        bool            cs_stop;
        pthread_t       cs_thread;
};

/* The deadlines' clock: monotonic (a step of the wall clock would cut
 * every connection at once, or none for its length). */
static int64_t mono_ms(void) {
        return vg_now_us() / 1000;
}

static conn_t *conn_of(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

void sv_conn_notify(void *cls, struct MHD_Connection *conn,
                    void **socket_context,
                    enum MHD_ConnectionNotificationCode toe) {
        sv_conns_t *cs = cls;
        conn_t *cn;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                        conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (!ci)
                        return;
                cn = vg_calloc(1, sizeof(*cn));
                cn->cn_fd = ci->connect_fd;
                cn->cn_since = mono_ms();
                pthread_mutex_lock(&cs->cs_lock);
                cn->cn_next = cs->cs_head;
                if (cs->cs_head)
                        cs->cs_head->cn_prev = cn;
                cs->cs_head = cn;
                pthread_mutex_unlock(&cs->cs_lock);
                *socket_context = cn;
                return;
        }
        /* closed: unlinked before libmicrohttpd closes the socket, so the
         * sweep never shuts down a number the system has given again */
        if (!(cn = *socket_context))
                return;
        pthread_mutex_lock(&cs->cs_lock);
        if (cn->cn_prev)
                cn->cn_prev->cn_next = cn->cn_next;
        else
                cs->cs_head = cn->cn_next;
        if (cn->cn_next)
                cn->cn_next->cn_prev = cn->cn_prev;
        pthread_mutex_unlock(&cs->cs_lock);
        vg_free(cn);
        *socket_context = NULL;
}

void sv_conn_request(sv_conns_t *cs, struct MHD_Connection *conn,
                     bool begins) {
        conn_t *cn = conn_of(conn);
        if (!cn)
                return;
        pthread_mutex_lock(&cs->cs_lock);
        cn->cn_busy = begins;
        if (!begins)
                cn->cn_since = mono_ms();
        pthread_mutex_unlock(&cs->cs_lock);
}

static void *sweep(void *arg) {
        sv_conns_t *cs = arg;
        /* a quarter of the limit, at most a second: late by that much */
        int64_t step = cs->cs_limit / 4 < 1000 ? cs->cs_limit / 4 : 1000;
        struct timespec dl;
        if (step < 10)
                step = 10;
        pthread_mutex_lock(&cs->cs_lock);
        while (!cs->cs_stop) {
                int64_t now = mono_ms();
                for (conn_t *cn = cs->cs_head; cn; cn = cn->cn_next)
                        if (!cn->cn_busy && !cn->cn_cut &&
                            now - cn->cn_since >= cs->cs_limit) {
                                shutdown(cn->cn_fd, SHUT_RDWR);
                                cn->cn_cut = true;
                        }
                vg_deadline_after(CLOCK_MONOTONIC, step, &dl);
                pthread_cond_timedwait(&cs->cs_cond, &cs->cs_lock, &dl);
        }
        pthread_mutex_unlock(&cs->cs_lock);
        return NULL;
}

sv_conns_t *sv_conns_start(int64_t limit_ms) {
        sv_conns_t *cs = vg_calloc(1, sizeof(*cs));
        pthread_condattr_t ca;
        pthread_mutex_init(&cs->cs_lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&cs->cs_cond, &ca);
        pthread_condattr_destroy(&ca);
        cs->cs_limit = limit_ms > 0 ? limit_ms : 1;
        if (pthread_create(&cs->cs_thread, NULL, sweep, cs)) {
                pthread_cond_destroy(&cs->cs_cond);
                pthread_mutex_destroy(&cs->cs_lock);
                vg_free(cs);
                return NULL;
        }
        return cs;
}

void sv_conns_stop(sv_conns_t *cs) {
        if (!cs)
                return;
        pthread_mutex_lock(&cs->cs_lock);
        cs->cs_stop = true;
        pthread_cond_broadcast(&cs->cs_cond);
        pthread_mutex_unlock(&cs->cs_lock);
        pthread_join(cs->cs_thread, NULL);
        /* (the daemon is stopped: every connection was unlinked) */
        pthread_cond_destroy(&cs->cs_cond);
        pthread_mutex_destroy(&cs->cs_lock);
        vg_free(cs);
}

static mhd_ret_t count_header(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value) {
        (void)kind;
        (void)key;
        (void)value;
        (*(size_t *)cls)++;
        return MHD_YES;
}

/* The request's headers and the records libmicrohttpd keeps of them share
 * its 32 KiB per connection with the answer's headers: headers that leave
 * too little (a single one of 32,250 bytes) reached the handler, which
 * logged its 401, and then libmicrohttpd could not build the answer and
 * closed the connection, sending nothing. Beyond SV_HEADERS_MAX (bytes,
 * plus 64 a header for its record) the handler answers 431 itself. */
bool sv_headers_too_big(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        size_t n = 0;
        if (!ci)
                return false;
        MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_COOKIE_KIND |
                                                MHD_GET_ARGUMENT_KIND,
                                  count_header, &n);
        return ci->header_size + 64 * n > SV_HEADERS_MAX;
}

/* The bytes of answers handed to libmicrohttpd and not yet freed: an
 * answer stays in memory until its client has read it, so clients that
 * read nothing held one each (the attack: 64 SE-scope /indicators
 * callers that never read took the server from 190 MB to 1.5 GB). Counted
 * by the allocator's size of each buffer, the same at both ends. */
static atomic_llong resp_bytes;

void sv_resp_hold(const void *p) {
        if (p)
                atomic_fetch_add(&resp_bytes,
                                 (long long)malloc_usable_size((void *)p));
}

void sv_resp_release(const void *p) {
        if (p)
                atomic_fetch_sub(&resp_bytes,
                                 (long long)malloc_usable_size((void *)p));
}

bool sv_resp_over(int64_t budget) {
        return atomic_load(&resp_bytes) >= budget;
}

/* The client of a request is gone: its end of the connection is closed,
 * or shut for writing, which TCP cannot tell apart before an answer is
 * sent (a half-closing client still reading gets the empty 499, as with
 * nginx: docs/SERVE.md). A look, not a read: what a client sent stays for
 * libmicrohttpd. */
bool sv_peer_gone(int fd) {
        struct pollfd pf = {fd, POLLRDHUP, 0};
        if (fd < 0)
                return true;
        return poll(&pf, 1, 0) > 0 &&
               (pf.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

bool sv_conn_gone(void *conn) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        return ci && sv_peer_gone(ci->connect_fd);
}

/* /report pages rendered at once, and waiting beyond them: each renders
 * the values its caller may see (for SE on 360,664 values about 3 s of
 * CPU and 70 MB beyond the state; 30 at once took 8.3 GB when each page
 * copied its values three times). Beyond the
 * waiting, 503 with Retry-After (docs/SERVE.md). A request waiting its
 * turn looks at its client every REPORTS_LOOK_MS: one that went away
 * leaves the queue (before, it waited on, then had its page drawn for
 * nobody, while the others waited behind it). */
#define REPORTS_AT_ONCE 1
#define REPORTS_WAITING 8
#define REPORTS_LOOK_MS 100
static pthread_mutex_t rep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rep_cond;
static pthread_once_t rep_once = PTHREAD_ONCE_INIT;
static int rep_busy, rep_waiting;

static void rep_init(void) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&rep_cond, &ca);
        pthread_condattr_destroy(&ca);
}

sv_rep_t sv_report_enter(bool (*gone)(void *arg), void *arg) {
        sv_rep_t ret = SV_REP_IN;
        struct timespec dl;
        pthread_once(&rep_once, rep_init);
        pthread_mutex_lock(&rep_lock);
        if (rep_busy >= REPORTS_AT_ONCE && rep_waiting >= REPORTS_WAITING) {
                ret = SV_REP_BUSY;
        } else {
                rep_waiting++;
                while (rep_busy >= REPORTS_AT_ONCE) {
                        if (gone && gone(arg)) {
                                ret = SV_REP_GONE;
                                break;
                        }
                        vg_deadline_after(CLOCK_MONOTONIC, REPORTS_LOOK_MS,
                                          &dl);
                        pthread_cond_timedwait(&rep_cond, &rep_lock, &dl);
                }
                rep_waiting--;
                if (ret == SV_REP_IN)
                        rep_busy++;
        }
        pthread_mutex_unlock(&rep_lock);
        return ret;
}

void sv_report_leave(void) {
        pthread_once(&rep_once, rep_init);
        pthread_mutex_lock(&rep_lock);
        rep_busy--;
        pthread_cond_signal(&rep_cond);
        pthread_mutex_unlock(&rep_lock);
}

int sv_report_waiting(void) {
        int n;
        pthread_mutex_lock(&rep_lock);
        n = rep_waiting;
        pthread_mutex_unlock(&rep_lock);
        return n;
}
