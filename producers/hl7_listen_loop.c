/*
 * hl7_listen_loop.c - the loop of `vigil hl7 listen` (hl7_listen_int.h):
 * one thread, poll() over the listening socket, the connections, a signal
 * pipe and librdkafka's queue event pipe (delivery reports become ACKs);
 * the ACK of each message, queued so that a connection's answers go out in
 * the order of its messages; the shutdown on a signal.
 */
#include "hl7_listen_int.h"
#include "vg_time.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* On shutdown, how long past hl7.ack_timeout_ms to wait for the last
 * delivery reports and ACK writes. */
#define STOP_GRACE_MS 5000
/* Poll timeout: idle checks and delivery reports at least this often. */
#define TICK_MS 200

/* SIGINT/SIGTERM: the first one stops accepting and reading and lets what
 * was received finish; a second one also stops waiting for Kafka. */
volatile sig_atomic_t hl_stop_count;
int hl_sig_pipe[2] = {-1, -1};

void hl_on_signal(int sig) {
        int saved = errno;
        (void)sig;
        hl_stop_count++;
        if (hl_sig_pipe[1] >= 0 && write(hl_sig_pipe[1], "s", 1) < 0) {
                /* full pipe: the loop wakes up anyway */
        }
        errno = saved;
}

/* ------------------------------------------------------------------ */
/* Items and their ACKs                                               */
/* ------------------------------------------------------------------ */

void hl_item_free(hitem_t *it) {
        if (!it)
                return;
        vg_buf_free(&it->hi_ack);
        vg_free(it);
}

/* Moves the ACKs due (the answered items at the head) to the output. */
static void conn_pump(hl_t *hl, hconn_t *hc) {
        (void)hl;
        while (hc->hc_head && hc->hc_head->hi_done) {
                hitem_t *it = hc->hc_head;
                hc->hc_head = it->hi_next;
                if (!hc->hc_head)
                        hc->hc_tail = NULL;
                hc->hc_pending--;
                vg_buf_append(&hc->hc_out, it->hi_ack.vb_data,
                              it->hi_ack.vb_len);
                hl_item_free(it);
        }
}

/* Answers item it with code (err: ERR-3, 0 for the default; text: the
 * reason or NULL). Moves the ACKs that are now due to the connection's
 * output; an item whose connection is gone is only counted and freed. */
void hl_item_finish(hl_t *hl, hitem_t *it, vg_hl7_ack_t code, int err,
                    const char *text) {
        hconn_t *hc = it->hi_conn;
        const char *lv[2] = {it->hi_trig, vg_hl7_ack_name(code)};
        char ack_id[32];
        int64_t now = vg_now_ms();

        it->hi_done = true;
        it->hi_code = code;
        hl->hl_acks[code]++;
        vg_metric_inc(hl->hm_msgs, lv, 1);
        vg_metric_observe(hl->hm_ack_secs, NULL,
                          (double)(now - it->hi_start_ms) / 1000.0);
        if (code != VG_HL7_AA)
                vg_warn(CMD, "connection %ld message %ld (MSH-10 %s): %s: %s",
                        hc ? hc->hc_id : 0L, it->hi_no, it->hi_ctrl,
                        vg_hl7_ack_name(code), text ? text : "");
        else
                vg_debug(CMD, "connection %ld message %ld (MSH-10 %s): AA%s%s",
                         hc ? hc->hc_id : 0L, it->hi_no, it->hi_ctrl,
                         text ? ": " : "", text ? text : "");
        if (!hc) {
                vg_warn(CMD, "message %ld (MSH-10 %s): its connection closed "
                        "before the %s could be sent", it->hi_no,
                        it->hi_ctrl, vg_hl7_ack_name(code));
                hl_item_free(it);
                return;
        }
        hc->hc_acks[code]++;
        snprintf(ack_id, sizeof(ack_id), "VG%lld%04ld", (long long)now,
                 ++hl->hl_ack_seq % 10000);
        vg_buf_reset(&hl->hl_tmp);
        vg_hl7_ack_build(&it->hi_msh, code, err, text, now, ack_id,
                         &hl->hl_tmp);
        vg_hl7_mllp_wrap(hl->hl_tmp.vb_data, hl->hl_tmp.vb_len, &it->hi_ack);
        conn_pump(hl, hc);
}

/* ------------------------------------------------------------------ */
/* The loop                                                           */
/* ------------------------------------------------------------------ */

static void drain(int fd) {
        char buf[64];
        while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* Serves until a signal (0) or a fatal producer error (1). */
int hl_serve(hl_t *hl) {
        struct pollfd *pfd = NULL;
        hconn_t **pconn = NULL;
        size_t cap = 0;
        int64_t stop_deadline = 0;
        bool stopping = false, purged = false;
        int rc = 0;

        for (;;) {
                int64_t now = vg_now_ms();
                size_t n = 0;
                hconn_t *hc, *next;
                int timeout = TICK_MS;

                if ((hl_stop_count || hl->hl_fatal) && !stopping) {
                        stopping = true;
                        atomic_store(&hl->hl_state, 2);
                        vg_metric_set(hl->hm_ready, NULL, 0);
                        hl_stop_listening(hl);
                        stop_deadline = now + hl->hl_ack_ms + STOP_GRACE_MS;
                        rc = hl->hl_fatal ? 1 : 0;
                        vg_info(CMD, "stopping (%s): no new connections or "
                                "messages; %d event(s) waiting for Kafka",
                                hl->hl_fatal ? "fatal producer error"
                                             : "signal",
                                hl->hl_in_flight);
                }
                if (stopping && !purged &&
                    (hl_stop_count > 1 || now >= stop_deadline)) {
                        if (hl->hl_in_flight)
                                vg_warn(CMD, "not waiting any longer for %d "
                                        "delivery report(s): they get AE",
                                        hl->hl_in_flight);
                        hl_purge_all(hl);
                        purged = true;
                        for (hc = hl->hl_conns; hc; hc = hc->hc_next)
                                hl_conn_write(hc, now);
                }
                if (stopping) {
                        bool quiet = hl->hl_in_flight == 0;
                        for (hc = hl->hl_conns; hc && quiet; hc = hc->hc_next)
                                quiet = hl_conn_quiet(hc);
                        if (quiet || (purged && now >= stop_deadline + 2000))
                                break;
                }

                if (cap < (size_t)hl->hl_nconns + 3) {
                        cap = (size_t)hl->hl_nconns + 16;
                        pfd = vg_realloc(pfd, cap * sizeof(*pfd));
                        pconn = vg_realloc(pconn, cap * sizeof(*pconn));
                }
                pfd[n] = (struct pollfd){hl_sig_pipe[0], POLLIN, 0};
                pconn[n++] = NULL;
                pfd[n] = (struct pollfd){hl->hl_kpipe[0], POLLIN, 0};
                pconn[n++] = NULL;
                if (hl->hl_lfd >= 0) {
                        pfd[n] = (struct pollfd){hl->hl_lfd, POLLIN, 0};
                        pconn[n++] = NULL;
                }
                for (hc = hl->hl_conns; hc; hc = hc->hc_next) {
                        short ev = 0;
                        if (!stopping && !hc->hc_eof &&
                            hl_conn_may_read(hc) &&
                            hc->hc_in_off == hc->hc_in.vb_len)
                                ev |= POLLIN;
                        if (hc->hc_out_off < hc->hc_out.vb_len)
                                ev |= POLLOUT;
                        /* Nothing wanted (waiting for Kafka): left out, so
                         * a hang-up does not wake the loop in a spin. */
                        pfd[n] = (struct pollfd){ev ? hc->hc_fd : -1, ev, 0};
                        pconn[n++] = hc;
                }
                if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
                        vg_error(CMD, "poll: %s", strerror(errno));
                        rc = 1;
                        break;
                }
                now = vg_now_ms();
                drain(hl_sig_pipe[0]);
                drain(hl->hl_kpipe[0]);
                rd_kafka_poll(hl->hl_rk, 0); /* delivery reports -> ACKs */

                for (size_t i = 0; i < n; i++) {
                        hc = pconn[i];
                        if (!hc) {
                                if (hl->hl_lfd >= 0 &&
                                    pfd[i].fd == hl->hl_lfd &&
                                    (pfd[i].revents & POLLIN) && !stopping)
                                        hl_accept_all(hl, now);
                                continue;
                        }
                        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                                if (pfd[i].events & POLLIN)
                                        hl_conn_read(hl, hc, now);
                        if ((pfd[i].revents & POLLERR) &&
                            !(pfd[i].events & POLLIN))
                                hc->hc_dead = true;
                }
                /* Framing held back by PIPELINE_MAX, ACKs due, writes,
                 * closes. */
                for (hc = hl->hl_conns; hc; hc = next) {
                        next = hc->hc_next;
                        if (!stopping && !hc->hc_dead)
                                hl_conn_feed(hl, hc);
                        conn_pump(hl, hc);
                        if (!hc->hc_dead)
                                hl_conn_write(hc, now);
                        if (hc->hc_dead)
                                hl_conn_close(hl, hc, "I/O error");
                        else if (hl_conn_quiet(hc) && hc->hc_eof &&
                                 hc->hc_in_off == hc->hc_in.vb_len)
                                hl_conn_close(hl, hc, "by the sender");
                        else if (hl_conn_quiet(hc) && stopping)
                                hl_conn_close(hl, hc, "shutting down");
                        else if (hl_conn_quiet(hc) && hl->hl_idle_ms > 0 &&
                                 now - hc->hc_active_ms >= hl->hl_idle_ms)
                                hl_conn_close(hl, hc,
                                              "idle, hl7.idle_timeout_ms");
                        else if (hc->hc_out_off < hc->hc_out.vb_len &&
                                 hl->hl_idle_ms > 0 &&
                                 now - hc->hc_active_ms >= hl->hl_idle_ms)
                                hl_conn_close(hl, hc,
                                              "its ACKs not read for "
                                              "hl7.idle_timeout_ms");
                }
        }
        while (hl->hl_conns)
                hl_conn_close(hl, hl->hl_conns, "shutting down");
        vg_free(pfd);
        vg_free(pconn);
        return rc;
}
