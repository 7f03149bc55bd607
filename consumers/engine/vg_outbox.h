/*
 * vg_outbox.h - the transactional outbox: records to publish, written in the
 * same SQLite transaction as the state that produced them, and a publisher
 * that drains one or more outboxes through an idempotent producer, deleting
 * each row when its delivery report arrives (SPEC §7).
 */
#ifndef VG_OUTBOX_H
#define VG_OUTBOX_H

#include "vg_common.h"

#include <sqlite3.h>
#include <librdkafka/rdkafka.h>

typedef struct vg_outbox_s vg_outbox_t;

/* One queued record. */
typedef struct vg_outrec_s {
        int64_t     or_seq;
        const char *or_topic;
        const void *or_key;
        size_t      or_key_len;
        const void *or_value;
        size_t      or_value_len;
        const char *or_headers;   /* JSON object of string headers, or NULL */
} vg_outrec_t;

/* Creates the outbox table in db if needed. db must outlive the outbox. */
vg_outbox_t *vg_outbox_open(sqlite3 *db, char *errstr, size_t errstr_size);
void vg_outbox_close(vg_outbox_t *ob);

/* Queues a record (inside the caller's transaction). value NULL queues a
 * tombstone; a value of 0 bytes stays an empty value. */
vg_err_t vg_outbox_add(vg_outbox_t *ob, const char *topic, const void *key,
                       size_t key_len, const void *value, size_t value_len,
                       const char *headers, char *errstr, size_t errstr_size);

/* Calls cb for up to max records with seq > after_seq, in seq order;
 * returns how many, or -1 on error. */
int vg_outbox_scan(vg_outbox_t *ob, int64_t after_seq, int max,
                   void (*cb)(const vg_outrec_t *rec, void *opaque),
                   void *opaque);

/* Deletes every record with seq <= seq (one statement: atomic on its own,
 * or part of the caller's open transaction). */
vg_err_t vg_outbox_delete_upto(vg_outbox_t *ob, int64_t seq, char *errstr,
                               size_t errstr_size);

int64_t vg_outbox_depth(vg_outbox_t *ob);

/*
 * Publisher: drains registered outboxes through one producer.
 */
typedef struct vg_pub_s vg_pub_t;

/* Installs the publisher's delivery-report callback and opaque on pconf,
 * then creates the producer (which the publisher owns). NULL + errstr. */
vg_pub_t *vg_pub_new(rd_kafka_conf_t *pconf, char *errstr,
                     size_t errstr_size);
/* Flushes (up to timeout_ms), then destroys the producer. */
void vg_pub_destroy(vg_pub_t *pub, int timeout_ms);

/* Registers outbox under slot id (0..1023). While busy(opaque) returns true
 * (a batch is open), the slot is not drained. */
void vg_pub_add(vg_pub_t *pub, int id, vg_outbox_t *ob,
                bool (*busy)(void *opaque), void *opaque);
/* Flushes what is in flight for slot id, then forgets it. */
void vg_pub_remove(vg_pub_t *pub, int id, int timeout_ms);

/* Hands queued rows to the producer, serves delivery reports, deletes
 * delivered rows. Returns -1 after a fatal error (errstr filled). */
int vg_pub_drain(vg_pub_t *pub, char *errstr, size_t errstr_size);
/* vg_pub_drain, then waits until nothing is in flight or timeout. */
int vg_pub_flush(vg_pub_t *pub, int timeout_ms, char *errstr,
                 size_t errstr_size);
/* The producer (for tests and statistics). */
rd_kafka_t *vg_pub_handle(vg_pub_t *pub);

/* Messages in the producer's queue. */
int vg_pub_inflight(const vg_pub_t *pub);

#endif /* VG_OUTBOX_H */
