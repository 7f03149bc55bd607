/*
 * vg_consumers.h - the commands of the consumer side: vigil process,
 * aggregate, alerts, indicators, report, serve and state (see vg_cli.h for
 * the contract).
 */
#ifndef VG_CONSUMERS_H
#define VG_CONSUMERS_H

int vg_cmd_process(int argc, char **argv);    /* process_help.c */
int vg_cmd_aggregate(int argc, char **argv);  /* aggregate.c */
int vg_cmd_alerts(int argc, char **argv);     /* alerts.c */
int vg_cmd_indicators(int argc, char **argv); /* indicators.c */
int vg_cmd_report(int argc, char **argv);     /* report.c */
int vg_cmd_serve(int argc, char **argv);      /* serve/serve.c */
int vg_cmd_state(int argc, char **argv);      /* state.c */

#endif /* VG_CONSUMERS_H */
