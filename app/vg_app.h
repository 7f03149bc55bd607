/*
 * vg_app.h - the commands that wire producers and consumers together:
 * vigil demo (see vg_cli.h for the contract).
 */
#ifndef VG_APP_H
#define VG_APP_H

int vg_cmd_demo(int argc, char **argv);  /* demo.c */

#endif /* VG_APP_H */
