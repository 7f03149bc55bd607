/*
 * vg_ops.h - the operator commands: vigil topics and lag (see vg_cli.h for
 * the contract).
 */
#ifndef VG_OPS_H
#define VG_OPS_H

int vg_cmd_topics(int argc, char **argv);  /* topics.c */
int vg_cmd_lag(int argc, char **argv);     /* lag.c */

#endif /* VG_OPS_H */
