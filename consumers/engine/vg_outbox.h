/*
 * vg_outbox.h - the transactional outbox: records to publish, written in the
 * same SQLite transaction as the state that produced them, and a publisher
 * that drains one or more outboxes through an idempotent producer, deleting
 * records once delivered (SPEC §7). Records are stored a chunk of many to
 * a row (vg_outbox.c); each has a seq of its own.
 */
#ifndef VG_OUTBOX_H
#define VG_OUTBOX_H

#include "vg_common.h"

#include <sqlite3.h>
#include <librdkafka/rdkafka.h>

typedef struct vg_outbox_s vg_outbox_t;

/* The settings every store file that holds an outbox (a partition's, the
 * aggregator's) opens with: WAL, fsync at checkpoints only (a crash loses
 * no committed batch, a power cut at most the last ones, replayed from
 * the offsets in the same file), temporary tables in memory, and the WAL
 * cut back to 32 MiB after a checkpoint (a batch catching up can grow it
 * far past wal_autocheckpoint), and deleted content zeroed only on pages
 * written anyway (secure_delete=FAST: Debian's SQLite zeroes every freed
 * page by default, which wrote each published outbox chunk twice more;
 * docs/ARCHITECTURE.md, Personal data). */
#define VG_STORE_PRAGMAS                                                     \
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "               \
        "PRAGMA secure_delete=FAST; PRAGMA temp_store=MEMORY; "              \
        "PRAGMA journal_size_limit=33554432; "

/* One queued record. */
typedef struct vg_outrec_s {
        int64_t     or_seq;
        const char *or_topic;
        const void *or_key;
        size_t      or_key_len;
        const void *or_value;
        size_t      or_value_len;
        const char *or_headers;   /* JSON object of string headers, or NULL */
        int32_t     or_partition; /* a partition chosen by the writer, or
                                   * -1: the producer's partitioner */
        bool        or_resolved;  /* queued as a reference: its value was
                                   * made as it was read (vg_outbox_add_ref) */
} vg_outrec_t;

/* Makes the value of a reference (vg_outbox_add_ref) as it is read: the
 * value into *value (reset first), or 1 for a tombstone; 0, or -1 +
 * errstr. */
typedef int (*vg_outbox_resolve_fn)(void *opaque, const vg_outrec_t *ref,
                                    vg_buf_t *value, char *errstr,
                                    size_t errstr_size);

/* Creates the outbox table in db if needed. db must outlive the outbox. */
vg_outbox_t *vg_outbox_open(sqlite3 *db, char *errstr, size_t errstr_size);
void vg_outbox_close(vg_outbox_t *ob);

/* Queues a record (inside the caller's transaction). value NULL queues a
 * tombstone; a value of 0 bytes stays an empty value. */
vg_err_t vg_outbox_add(vg_outbox_t *ob, const char *topic, const void *key,
                       size_t key_len, const void *value, size_t value_len,
                       const char *headers, char *errstr, size_t errstr_size);
/* The same, to partition partition of topic (a changelog row goes to the
 * partition number of the state it logs). */
vg_err_t vg_outbox_add_to(vg_outbox_t *ob, const char *topic,
                          int32_t partition, const void *key, size_t key_len,
                          const void *value, size_t value_len, char *errstr,
                          size_t errstr_size);

/* Queues a reference: a record whose value is made when it is read (by
 * vg_outbox_scan, through the resolver), not stored. The owner's changelog
 * queues its patients so: a record of the state as it is when it is sent,
 * which is the state the last commit wrote as long as the outbox is read
 * between batches only (vg_part_changelog.c says why that is enough). */
vg_err_t vg_outbox_add_ref(vg_outbox_t *ob, const char *topic,
                           int32_t partition, const void *key,
                           size_t key_len, char *errstr, size_t errstr_size);
/* The resolver of this outbox's references; a scan that meets a reference
 * without one fails. */
void vg_outbox_set_resolver(vg_outbox_t *ob, vg_outbox_resolve_fn fn,
                            void *opaque);

/* Keeps the rows added from now on in memory too, up to max_bytes (0:
 * none), so that a scan of committed rows needs no query (what was there
 * before, and the rows of a transaction that did not fit, are read from
 * the table). The owner of the connection must then call
 * vg_outbox_txn_end() after every transaction that may have added rows.
 * Outside transactions only; -1 on a store error. */
int vg_outbox_cache(vg_outbox_t *ob, size_t max_bytes);
/* With the cache, records added in a transaction are packed in memory
 * and written a chunk at a time: the owner calls vg_outbox_seal() before
 * it commits (what is not written by then is not committed, and
 * vg_outbox_txn_end logs it as an error). */
vg_err_t vg_outbox_seal(vg_outbox_t *ob, char *errstr, size_t errstr_size);
/* For tests: chunks of at most max_records (< 65536) and about
 * max_bytes. */
void vg_outbox_chunk_limits(vg_outbox_t *ob, int max_records,
                            size_t max_bytes);
/* With the cache: the transaction ended, committed or rolled back. */
void vg_outbox_txn_end(vg_outbox_t *ob, bool committed);

/* Calls cb for up to max records with seq > after_seq, in seq order
 * (references resolved: or_resolved set, the value made just now);
 * returns how many, or -1 on error. Inside a transaction that added rows,
 * only a scan of the table (no cache) sees them. */
int vg_outbox_scan(vg_outbox_t *ob, int64_t after_seq, int max,
                   void (*cb)(const vg_outrec_t *rec, void *opaque),
                   void *opaque);

/* Deletes every record with seq <= seq: the chunks they fill, and of the
 * first one left a note of how far it was delivered (two statements,
 * part of the caller's open transaction, if any; a crash between them
 * only sends that chunk's first records again). */
vg_err_t vg_outbox_delete_upto(vg_outbox_t *ob, int64_t seq, char *errstr,
                               size_t errstr_size);

int64_t vg_outbox_depth(vg_outbox_t *ob);
/* Calls cb with the topic of every record queued in the outbox of db (a
 * connection of its own, read-only will do: for vigil state); 0, or -1 on
 * a store error or a damaged chunk. */
int vg_outbox_topics(sqlite3 *db, void (*cb)(const char *topic, void *opaque),
                     void *opaque);
/* Rows added through this handle so far (whether committed or not): a
 * reader that found nothing after some seq need not look again until
 * this changes. */
uint64_t vg_outbox_adds(const vg_outbox_t *ob);
/* The record just added is urgent (an alert): a publisher that lingers
 * (vg_pub_set_linger) sends it at once. Counted like vg_outbox_adds. */
void vg_outbox_mark_urgent(vg_outbox_t *ob);
uint64_t vg_outbox_urgent(const vg_outbox_t *ob);

/*
 * Publisher: drains registered outboxes through one producer.
 */
typedef struct vg_pub_s vg_pub_t;

/* Installs the publisher's delivery-report callback and opaque on pconf,
 * then creates the producer (which the publisher owns). NULL + errstr. */
vg_pub_t *vg_pub_new(rd_kafka_conf_t *pconf, char *errstr,
                     size_t errstr_size);
/* A transactional publisher: every slot gets its own producer, with
 * transactional.id "<txn_prefix>.<slot id>" (Kafka Streams' producer per
 * task), created by vg_pub_claim() or vg_pub_add(). Each drain sends what
 * a slot that is not busy has queued - whole batches - in one transaction
 * of the slot's producer and deletes the rows once it is committed. So a
 * partition's changelog records and the records its batches produced
 * become visible together or not at all (to read_committed consumers, the
 * default of librdkafka). pconf is the template of those producers. */
vg_pub_t *vg_pub_new_txn(rd_kafka_conf_t *pconf, const char *txn_prefix,
                         char *errstr, size_t errstr_size);
/* Transactional mode: creates slot id's producer and initialises its
 * transactions, which fences an earlier producer with its id (the
 * partition's previous owner, if alive: its next commit fails) and aborts
 * the transaction it left open. Before a restore, so that the changelog
 * holds no open transaction of the old owner. No-op otherwise. */
int vg_pub_claim(vg_pub_t *pub, int id, char *errstr, size_t errstr_size);
/* The topics the slots' producers write to: a claimed producer looks up
 * their leaders at once (librdkafka 2.0.2's producev otherwise waits for
 * its 1 s metadata timer before a topic's first message, which held every
 * first transaction of a new owner about a second). */
void vg_pub_set_topics(vg_pub_t *pub, const char *const *topics, int n);

/* Called after a transaction that held rows of a slot is committed: last
 * is the offset of the last row that went to the slot's changelog
 * partition in it (-1: none). Set with vg_pub_set_changelog(). */
typedef void (vg_pub_committed_cb)(void *opaque, int64_t last);
void vg_pub_set_changelog(vg_pub_t *pub, int id, const char *topic,
                          int32_t partition, vg_pub_committed_cb *cb);
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
/* vg_pub_drain of slot id alone. The slots are independent: different
 * slots may be drained at once on different threads, each slot on one
 * thread at a time (the one that has its outbox), and never while another
 * vg_pub_* call but vg_pub_poll, vg_pub_committing and vg_pub_inflight
 * runs. Without transactions, the delivery reports are served by
 * vg_pub_poll (on any one thread) and by a drain whose producer queue is
 * full; a lock keeps them apart from drains. -1 after a fatal error
 * (errstr; the next vg_pub_drain or vg_pub_poll reports it too). */
int vg_pub_drain_slot(vg_pub_t *pub, int id, char *errstr,
                      size_t errstr_size);
/* The same, waiting (with transactions): for a commit under way, then for
 * one of everything the slot holds - what keeps a slot's outbox, and so
 * its next transaction, from growing while the broker is slower than the
 * processing (vg_outbox_pub_int.h, PUB_TXN_ROWS). */
int vg_pub_drain_slot_wait(vg_pub_t *pub, int id, char *errstr,
                           size_t errstr_size);
/* Serves the delivery reports (without transactions) and reports a fatal
 * error of any slot. -1 after a fatal error (errstr). */
int vg_pub_poll(vg_pub_t *pub, char *errstr, size_t errstr_size);
/* vg_pub_drain, then waits until nothing is in flight or timeout. */
int vg_pub_flush(vg_pub_t *pub, int timeout_ms, char *errstr,
                 size_t errstr_size);
/* The producer (for tests and statistics). */
rd_kafka_t *vg_pub_handle(vg_pub_t *pub);

/* Transactional mode: a slot's commit is under way (the drain that
 * committed a slot's transaction only starts it, and the partitions'
 * commits run side by side); a later drain takes its outcome, deletes the
 * rows and reports the changelog's end: drain again soon. vg_pub_flush
 * waits for commits under way (unless a fatal error came first: then
 * vg_pub_remove or vg_pub_destroy does), as do vg_pub_add, vg_pub_remove
 * and vg_pub_destroy. */
bool vg_pub_committing(const vg_pub_t *pub);
/* Transactional mode: rows of which none is urgent (vg_outbox_mark_urgent)
 * wait up to ms (from when a drain first finds them) before a transaction
 * takes them, with whatever else comes meanwhile; an urgent row ends the
 * wait. Fewer, larger transactions: each one costs the broker several
 * requests and writes. A forced drain (vg_pub_flush,
 * vg_pub_drain_slot_wait) does not wait, nor do rows left by a
 * transaction cut short or aborted, or queued before vg_pub_add (an
 * urgent row may be among them). 0 (the default): no wait. */
void vg_pub_set_linger(vg_pub_t *pub, int ms);

/* Messages in the producer's queue. */
int vg_pub_inflight(const vg_pub_t *pub);

#endif /* VG_OUTBOX_H */
