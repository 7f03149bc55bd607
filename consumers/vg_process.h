/*
 * vg_process.h - pieces of `vigil process` shared with tests and the demo.
 */
#ifndef VG_PROCESS_H
#define VG_PROCESS_H

#include "vg_config.h"
#include "vg_rules.h"

/* Rules configuration from the rules.* and timezone keys. */
void vg_process_rules_conf(const vg_conf_t *conf, vg_rules_conf_t *rc);

/* File mode: runs the engine over JSON Lines events in `in` (name for
 * messages), with `partitions` emulated input partitions (patients spread
 * by Kafka's murmur2 partitioner, as producers do), and writes the final
 * alerts (one per alert_id, last status) to alerts_out and the indicator
 * values of every area and period to ind_out (either may be NULL; both may
 * be the same stream). Invalid lines are reported on stderr as
 * "name:line: reason" and skipped. Returns 0, or 1 on a fatal error;
 * *invalidp gets the number of invalid lines. */
int vg_process_file(const vg_conf_t *conf, FILE *in, const char *name,
                    int partitions, FILE *alerts_out, FILE *ind_out,
                    long *invalidp);
/* The same, for a process that exits after it (vigil process --input):
 * the patients are left in memory, not freed one by one
 * (vg_part_close_exiting). */
int vg_process_file_exiting(const vg_conf_t *conf, FILE *in,
                            const char *name, int partitions,
                            FILE *alerts_out, FILE *ind_out,
                            long *invalidp);

/* Writes an alert as SPEC §9 JSON: common fields plus the rule's own
 * (null fields omitted). Returns a malloc'd line without newline. */
char *vg_process_alert_json(const vg_alert_t *al);

/* Kafka modes, callable in-process (the demo): run until SIGINT/SIGTERM
 * or, with exit_idle > 0, until idle that long with everything published.
 * Return 0 or 1. */
int vg_process_kafka(const vg_conf_t *conf, int exit_idle);
/* The changelog topic of vigil process: topic.changelog, or
 * "<group.id>.changelog"; "" when changelog.enabled is false. */
void vg_process_changelog_topic(const vg_conf_t *conf, char *buf,
                                size_t size);
int vg_aggregate_kafka(const vg_conf_t *conf, int exit_idle);

#endif /* VG_PROCESS_H */
