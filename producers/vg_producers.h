/*
 * vg_producers.h - the commands of the producer side: vigil produce and
 * simulate, convert (see vg_cli.h for the contract).
 */
#ifndef VG_PRODUCERS_H
#define VG_PRODUCERS_H

int vg_cmd_produce(int argc, char **argv);   /* produce.c */
int vg_cmd_simulate(int argc, char **argv);  /* simulate.c */
int vg_cmd_convert(int argc, char **argv);   /* convert.c */
int vg_cmd_hl7(int argc, char **argv);       /* hl7_listen.c */

#endif /* VG_PRODUCERS_H */
