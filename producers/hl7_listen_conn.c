/*
 * hl7_listen_conn.c - the sockets of `vigil hl7 listen` (hl7_listen_int.h):
 * the listening socket, accepting connections up to hl7.max_connections,
 * reading MLLP frames with at most PIPELINE_MAX messages of a connection
 * waiting for their ACKs, writing the ACK bytes, closing.
 *
 * What was read is wiped once framed: it may hold a personnummer.
 */
#include "hl7_listen_int.h"
#include "vg_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Bytes handed to the framer at a time, so a connection stops at about
 * PIPELINE_MAX messages even when they are tiny. */
#define FEED_STEP 256
#define READ_CHUNK 65536

/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

typedef struct feed_s {
        hl_t    *fd_hl;
        hconn_t *fd_hc;
} feed_t;

static void on_frame(void *opaque, const vg_hl7_frame_t *fm) {
        feed_t *f = opaque;
        hconn_t *hc = f->fd_hc;
        hitem_t *it = vg_calloc(1, sizeof(*it));

        it->hi_conn = hc;
        it->hi_hl = f->fd_hl;
        it->hi_no = ++hc->hc_msgs;
        it->hi_start_ms = vg_now_ms();
        it->hi_trig = "other";
        snprintf(it->hi_ctrl, sizeof(it->hi_ctrl), "?");
        vg_buf_init(&it->hi_ack);
        if (hc->hc_tail)
                hc->hc_tail->hi_next = it;
        else
                hc->hc_head = it;
        hc->hc_tail = it;
        hc->hc_pending++;
        f->fd_hl->hl_msgs++;
        hl_item_handle(f->fd_hl, it, fm);
}

bool hl_conn_may_read(const hconn_t *hc) {
        return hc->hc_pending < PIPELINE_MAX &&
               hc->hc_out.vb_len - hc->hc_out_off < ACK_BACKLOG_MAX;
}

/* Frames what was read, FEED_STEP bytes at a time, until the input is used
 * up or the sender must take its ACKs first (hl_conn_may_read). */
void hl_conn_feed(hl_t *hl, hconn_t *hc) {
        feed_t f = {hl, hc};
        while (hc->hc_in_off < hc->hc_in.vb_len && hl_conn_may_read(hc)) {
                size_t n = hc->hc_in.vb_len - hc->hc_in_off;
                if (n > FEED_STEP)
                        n = FEED_STEP;
                vg_hl7_mllp_feed(&hc->hc_ml,
                                 hc->hc_in.vb_data + hc->hc_in_off, n,
                                 on_frame, &f);
                hc->hc_in_off += n;
        }
        if (hc->hc_in_off == hc->hc_in.vb_len && hc->hc_in.vb_len) {
                OPENSSL_cleanse(hc->hc_in.vb_data, hc->hc_in.vb_len);
                vg_buf_reset(&hc->hc_in);
                hc->hc_in_off = 0;
        }
}

void hl_conn_read(hl_t *hl, hconn_t *hc, int64_t now) {
        char *p;
        ssize_t n;

        p = vg_buf_grow(&hc->hc_in, READ_CHUNK);
        n = recv(hc->hc_fd, p, READ_CHUNK, 0);
        hc->hc_in.vb_len -= READ_CHUNK - (n > 0 ? (size_t)n : 0);
        if (n > 0) {
                hc->hc_active_ms = now;
                hl_conn_feed(hl, hc);
        } else if (n == 0) {
                hc->hc_eof = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                vg_info(CMD, "connection %ld from %s: read: %s", hc->hc_id,
                        hc->hc_peer, strerror(errno));
                hc->hc_dead = true;
        }
}

void hl_conn_write(hconn_t *hc, int64_t now) {
        while (hc->hc_out_off < hc->hc_out.vb_len) {
                ssize_t n = send(hc->hc_fd, hc->hc_out.vb_data + hc->hc_out_off,
                                 hc->hc_out.vb_len - hc->hc_out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        hc->hc_out_off += (size_t)n;
                        hc->hc_active_ms = now;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                vg_info(CMD, "connection %ld from %s: write: %s", hc->hc_id,
                        hc->hc_peer, n < 0 ? strerror(errno) : "closed");
                hc->hc_dead = true;
                return;
        }
        vg_buf_reset(&hc->hc_out);
        hc->hc_out_off = 0;
}

bool hl_conn_quiet(const hconn_t *hc) {
        return hc->hc_pending == 0 && hc->hc_out_off == hc->hc_out.vb_len;
}

/* Closes fd without a reset: close() with unread input sends one, and the
 * kernel then drops the ACKs still queued to send. So: FIN after what is
 * queued, then read (and wipe) what the sender still sends, until it
 * closes too or a second has passed. */
static void close_gently(int fd) {
        char sink[4096];
        int64_t until = vg_now_ms() + 1000;
        shutdown(fd, SHUT_WR);
        for (;;) {
                struct pollfd p = {fd, POLLIN, 0};
                int64_t left = until - vg_now_ms();
                ssize_t n;
                if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                        break;
                n = read(fd, sink, sizeof(sink));
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        break;
        }
        OPENSSL_cleanse(sink, sizeof(sink));
        close(fd);
}

void hl_conn_close(hl_t *hl, hconn_t *hc, const char *why) {
        hconn_t **pp;
        hitem_t *it, *next;
        int lost = 0;

        for (it = hc->hc_head; it; it = next) {
                next = it->hi_next;
                it->hi_next = NULL;
                if (!it->hi_done) {
                        it->hi_conn = NULL; /* the delivery report frees it */
                        lost++;
                } else
                        hl_item_free(it);
        }
        if (hc->hc_ml.ml_in || hc->hc_in_off < hc->hc_in.vb_len)
                vg_info(CMD, "connection %ld from %s: a message not "
                        "complete or not read when it closed: dropped, no "
                        "ACK", hc->hc_id, hc->hc_peer);
        if (hc->hc_ml.ml_outside || hc->hc_ml.ml_cut)
                vg_warn(CMD, "connection %ld from %s: %zu byte(s) outside "
                        "MLLP frames ignored, %zu frame(s) cut short by a "
                        "new start byte (no ACK for either)", hc->hc_id,
                        hc->hc_peer, hc->hc_ml.ml_outside, hc->hc_ml.ml_cut);
        vg_info(CMD, "connection %ld from %s closed (%s): %ld messages (%ld "
                "AA, %ld AE, %ld AR%s), %.1f s", hc->hc_id, hc->hc_peer, why,
                hc->hc_msgs, hc->hc_acks[VG_HL7_AA], hc->hc_acks[VG_HL7_AE],
                hc->hc_acks[VG_HL7_AR],
                lost ? ", some still waiting for Kafka" : "",
                (double)(vg_now_ms() - hc->hc_open_ms) / 1000.0);
        if (hc->hc_dead)
                close(hc->hc_fd);
        else
                close_gently(hc->hc_fd);
        vg_hl7_mllp_free(&hc->hc_ml);
        if (hc->hc_in.vb_len)
                OPENSSL_cleanse(hc->hc_in.vb_data, hc->hc_in.vb_len);
        vg_buf_free(&hc->hc_in);
        vg_buf_free(&hc->hc_out);
        for (pp = &hl->hl_conns; *pp; pp = &(*pp)->hc_next)
                if (*pp == hc) {
                        *pp = hc->hc_next;
                        break;
                }
        hl->hl_nconns--;
        vg_metric_set(hl->hm_open, NULL, hl->hl_nconns);
        vg_free(hc);
}

/* Non-blocking, closed on exec. Returns 0 or -1 (errno). */
int hl_set_flags(int fd) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                return -1;
        return 0;
}

static void peer_name(const struct sockaddr_storage *ss, char *out,
                      size_t size) {
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *s4 = (const void *)ss;
                inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
                port = ntohs(s4->sin_port);
                snprintf(out, size, "%s:%d", host, port);
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *s6 = (const void *)ss;
                inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
                port = ntohs(s6->sin6_port);
                snprintf(out, size, "[%s]:%d", host, port);
        } else
                snprintf(out, size, "?");
}

void hl_accept_all(hl_t *hl, int64_t now) {
        for (;;) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                const char *lv[1];
                hconn_t *hc;
                int fd = accept(hl->hl_lfd, (struct sockaddr *)&ss, &sl);
                char peer[72];

                if (fd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK &&
                            errno != EINTR && errno != ECONNABORTED)
                                vg_warn(CMD, "accept: %s", strerror(errno));
                        return;
                }
                if (hl_set_flags(fd)) {
                        vg_warn(CMD, "accept: fcntl: %s", strerror(errno));
                        close(fd);
                        continue;
                }
                peer_name(&ss, peer, sizeof(peer));
                if (hl->hl_nconns >= hl->hl_max_conns) {
                        lv[0] = "refused";
                        vg_metric_inc(hl->hm_conns, lv, 1);
                        hl->hl_conns_refused++;
                        vg_warn(CMD, "connection from %s refused: %d "
                                "connections open (hl7.max_connections)",
                                peer, hl->hl_nconns);
                        close(fd);
                        continue;
                }
                hc = vg_calloc(1, sizeof(*hc));
                hc->hc_fd = fd;
                hc->hc_id = ++hl->hl_conn_seq;
                snprintf(hc->hc_peer, sizeof(hc->hc_peer), "%s", peer);
                vg_hl7_mllp_init(&hc->hc_ml, hl->hl_max_bytes);
                vg_buf_init(&hc->hc_in);
                vg_buf_init(&hc->hc_out);
                hc->hc_open_ms = hc->hc_active_ms = now;
                hc->hc_next = hl->hl_conns;
                hl->hl_conns = hc;
                hl->hl_nconns++;
                hl->hl_conns_total++;
                lv[0] = "accepted";
                vg_metric_inc(hl->hm_conns, lv, 1);
                vg_metric_set(hl->hm_open, NULL, hl->hl_nconns);
                vg_info(CMD, "connection %ld from %s", hc->hc_id, peer);
        }
}

/* ------------------------------------------------------------------ */
/* Listening                                                          */
/* ------------------------------------------------------------------ */

void hl_stop_listening(hl_t *hl) {
        if (hl->hl_lfd >= 0) {
                close(hl->hl_lfd);
                hl->hl_lfd = -1;
        }
}

/* Binds and listens on addr ("host:port", "[v6]:port", ":port", "*:port").
 * Returns the socket, or -1 after a message; *usage set for a bad
 * address. */
int hl_listen_on(const char *addr, int *usage) {
        char host[256], port[8], shown[INET6_ADDRSTRLEN + 16];
        const char *colon, *h = addr;
        size_t hn;
        struct addrinfo hints, *res = NULL, *ai;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = -1, r, one = 1, any;

        *usage = 0;
        if (addr[0] == '[') {
                const char *rb = strchr(addr, ']');
                if (!rb || rb[1] != ':' || rb == addr + 1)
                        goto bad;
                h = addr + 1;
                hn = (size_t)(rb - h);
                colon = rb + 1;
        } else {
                if (!(colon = strrchr(addr, ':')) ||
                    memchr(addr, ':', (size_t)(colon - addr)))
                        goto bad;
                hn = (size_t)(colon - addr);
        }
        if (hn >= sizeof(host) || !colon[1] || strlen(colon + 1) > 5 ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            atol(colon + 1) > 65535)
                goto bad;
        memcpy(host, h, hn);
        host[hn] = '\0';
        snprintf(port, sizeof(port), "%s", colon + 1);
        any = !host[0] || !strcmp(host, "*");

        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        hints.ai_family = any ? AF_INET6 : AF_UNSPEC;
        r = getaddrinfo(any ? NULL : host, port, &hints, &res);
        if (r && any) {
                hints.ai_family = AF_INET;
                r = getaddrinfo(NULL, port, &hints, &res);
        }
        if (r) {
                fprintf(stderr, "vigil %s: hl7.listen \"%s\": %s\n", CMD, addr,
                        gai_strerror(r));
                *usage = 1;
                return -1;
        }
        for (ai = res; ai; ai = ai->ai_next) {
                fd = socket(ai->ai_family, ai->ai_socktype,
                            ai->ai_protocol);
                if (fd < 0)
                        continue;
                if (hl_set_flags(fd)) {
                        close(fd);
                        fd = -1;
                        continue;
                }
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (any && ai->ai_family == AF_INET6) {
                        int zero = 0;
                        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
                                   sizeof(zero));
                }
                if (!bind(fd, ai->ai_addr, ai->ai_addrlen) &&
                    !listen(fd, 64))
                        break;
                r = errno;
                close(fd);
                fd = -1;
                errno = r;
        }
        freeaddrinfo(res);
        if (fd < 0) {
                fprintf(stderr, "vigil %s: cannot listen on %s: %s\n", CMD,
                        addr, strerror(errno));
                return -1;
        }
        if (!getsockname(fd, (struct sockaddr *)&ss, &sl))
                peer_name(&ss, shown, sizeof(shown));
        else
                snprintf(shown, sizeof(shown), "%s", addr);
        if (any)
                vg_warn(CMD, "listening on every interface (%s): HL7 "
                        "messages hold personal data; without TLS in front "
                        "(docs/HOSPITAL.md §7) keep it to a trusted network",
                        shown);
        vg_info(CMD, "listening for MLLP on %s", shown);
        return fd;
bad:
        fprintf(stderr, "vigil %s: hl7.listen \"%s\" is not an address "
                "(expected host:port, [ipv6]:port or :port, e.g. "
                "127.0.0.1:2575)\n", CMD, addr);
        *usage = 1;
        return -1;
}
