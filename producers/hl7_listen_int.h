/*
 * hl7_listen_int.h - what the parts of `vigil hl7 listen` share (not an
 * interface for other code: vg_producers.h declares the command). The
 * parts, by job:
 *
 *   hl7_listen.c        the command: help, options, set-up (key, mapping,
 *                       signals, metrics server) and shutdown; `vigil hl7`
 *   hl7_listen_conn.c   the sockets: listening, accepting, reading MLLP
 *                       frames (vg_hl7_mllp) with bounded pipelining,
 *                       writing ACK bytes, idle and closed connections
 *   hl7_listen_loop.c   the loop: one thread, poll() over the listening
 *                       socket, the connections, a signal pipe and
 *                       librdkafka's queue event pipe; each message's ACK,
 *                       queued in the order of its connection's messages
 *   hl7_listen_kafka.c  a message to Kafka: convert (vg_hl7), encode,
 *                       publish; delivery reports; the producer and the
 *                       start-up topic check
 */
#ifndef HL7_LISTEN_INT_H
#define HL7_LISTEN_INT_H

#include "vg_codec.h"
#include "vg_config.h"
#include "vg_hl7.h"
#include "vg_hl7_ack.h"
#include "vg_kafka.h"
#include "vg_metrics.h"
#include "vg_pseudo.h"
#include "vg_record.h"

#include <signal.h>
#include <stdatomic.h>

#define CMD "hl7 listen"
/* Messages of one connection waiting for their ACK before it is read no
 * further (a sender in original mode has one). */
#define PIPELINE_MAX 32
/* ACK bytes a connection's sender has not taken (read) before it is read
 * no further: a sender that pipelines A08s (answered at once) and never
 * reads grew the listener by 25 MB a second. */
#define ACK_BACKLOG_MAX 65536

typedef struct hl_s hl_t;
typedef struct hconn_s hconn_t;

/* One received message, from its last byte to its ACK. */
typedef struct hitem_s {
        struct hitem_s *hi_next;      /* next message of the connection */
        hconn_t        *hi_conn;      /* NULL once the connection closed */
        hl_t           *hi_hl;
        vg_hl7_msh_t    hi_msh;       /* its header, for the ACK */
        char            hi_ctrl[VG_HL7_CTRL_BUFSZ]; /* MSH-10, redacted */
        const char     *hi_trig;      /* metrics label: A01 ... or other */
        long            hi_no;        /* number on its connection, from 1 */
        int64_t         hi_start_ms;  /* when it was complete */
        bool            hi_done;      /* hi_ack holds the answer */
        vg_hl7_ack_t    hi_code;
        vg_buf_t        hi_ack;       /* the ACK, MLLP framed */
} hitem_t;

struct hconn_s {
        hconn_t         *hc_next;
        int              hc_fd;
        long             hc_id;         /* connection number, from 1 */
        char             hc_peer[72];   /* address:port of the sender */
        vg_hl7_mllp_t    hc_ml;         /* MLLP reader */
        vg_buf_t         hc_in;         /* read, not yet framed */
        size_t           hc_in_off;
        hitem_t         *hc_head;       /* messages waiting for their ACK */
        hitem_t         *hc_tail;
        int              hc_pending;    /* items in that list */
        vg_buf_t         hc_out;        /* ACK bytes to write */
        size_t           hc_out_off;
        int64_t          hc_open_ms;
        int64_t          hc_active_ms;  /* last byte read or written */
        long             hc_msgs;       /* messages received */
        long             hc_acks[3];    /* answers by vg_hl7_ack_t */
        bool             hc_eof;        /* the sender closed its side */
        bool             hc_dead;       /* close it now (I/O error) */
};

struct hl_s {
        vg_conf_t       *hl_conf;
        vg_codec_t      *hl_codec;
        rd_kafka_t      *hl_rk;
        rd_kafka_queue_t *hl_mainq;     /* librdkafka's queue (its events) */
        const char      *hl_topics[VG_EVENT_TYPES];
        vg_hl7_map_t    *hl_map;
        vg_pseudo_key_t  hl_key;
        vg_hl7_ctx_t     hl_ctx;
        size_t           hl_max_bytes;  /* input.max_bytes */
        int              hl_max_conns;  /* hl7.max_connections */
        int64_t          hl_idle_ms;    /* hl7.idle_timeout_ms; 0 never */
        int              hl_ack_ms;     /* hl7.ack_timeout_ms */
        char             hl_bootstrap[256]; /* for messages */
        int              hl_lfd;        /* listening socket; -1 closed */
        int              hl_kpipe[2];   /* librdkafka queue event pipe */
        hconn_t         *hl_conns;
        int              hl_nconns;
        long             hl_conn_seq;
        long             hl_ack_seq;
        int              hl_in_flight;  /* events waiting for a report */
        atomic_int       hl_state;      /* 0 starting, 1 serving, 2 stop */
        int              hl_fatal;      /* fatal producer error */
        vg_buf_t         hl_enc;        /* encoded event */
        vg_buf_t         hl_tmp;        /* ACK being built */
        long             hl_msgs;
        long             hl_acks[3];
        long             hl_conns_total;
        long             hl_conns_refused;
        vg_metrics_t    *hl_reg;
        vg_metric_t     *hm_msgs;       /* {trigger, ack} */
        vg_metric_t     *hm_ack_secs;
        vg_metric_t     *hm_open;
        vg_metric_t     *hm_conns;      /* {result} */
        vg_metric_t     *hm_in_flight;
        vg_metric_t     *hm_ready;
};

/* SIGINT/SIGTERM (hl7_listen_loop.c): the first one stops accepting and
 * reading and lets what was received finish; a second one also stops
 * waiting for Kafka. The handler writes to hl_sig_pipe to wake the loop. */
extern volatile sig_atomic_t hl_stop_count;
extern int hl_sig_pipe[2];
void hl_on_signal(int sig);

/* hl7_listen_loop.c */

/* Answers item it with code (err: ERR-3, 0 for the default; text: the
 * reason or NULL) and queues the ACKs now due on its connection. */
void hl_item_finish(hl_t *hl, hitem_t *it, vg_hl7_ack_t code, int err,
                    const char *text);
void hl_item_free(hitem_t *it);
/* Serves until a signal (0) or a fatal producer error (1). */
int hl_serve(hl_t *hl);

/* hl7_listen_conn.c */

/* Binds and listens on addr; the socket, or -1 after a message (*usage
 * set for a bad address). */
int hl_listen_on(const char *addr, int *usage);
void hl_stop_listening(hl_t *hl);
void hl_accept_all(hl_t *hl, int64_t now);
void hl_conn_feed(hl_t *hl, hconn_t *hc);
void hl_conn_read(hl_t *hl, hconn_t *hc, int64_t now);
void hl_conn_write(hconn_t *hc, int64_t now);
/* No ACK outstanding and nothing left to write. */
bool hl_conn_quiet(const hconn_t *hc);
/* Below PIPELINE_MAX messages waiting for their ACKs and ACK_BACKLOG_MAX
 * bytes of ACKs not yet taken by the sender: its next messages may be
 * read. */
bool hl_conn_may_read(const hconn_t *hc);
void hl_conn_close(hl_t *hl, hconn_t *hc, const char *why);
/* Non-blocking, closed on exec. Returns 0 or -1 (errno). */
int hl_set_flags(int fd);

/* hl7_listen_kafka.c */

/* Converts a received message and publishes its event, or answers it. */
void hl_item_handle(hl_t *hl, hitem_t *it, const vg_hl7_frame_t *fm);
/* The producer; 0, or an exit status after a message. */
int hl_kafka_setup(hl_t *hl);
/* The two topics; 0, or VG_EXIT_FAIL after a message. */
int hl_check_topics(hl_t *hl);
/* Purges librdkafka's messages (they get AE) and serves their reports. */
void hl_purge_all(hl_t *hl);

#endif /* HL7_LISTEN_INT_H */
