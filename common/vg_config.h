/*
 * vg_config.h - configuration: one declarative table of every key (name,
 * type, default, range, description) drives parsing, validation,
 * `vigil config --dump` and docs/CONFIGURATION.md.
 *
 * Sources, later wins: built-in defaults, the properties file (-F FILE, or
 * $VIGIL_CONFIG, or ./vigil.conf if it exists), then -X key=value.
 * Keys starting with "kafka." are passed to librdkafka without the prefix
 * (so TLS and SASL need no Vigil code); librdkafka validates them.
 */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

#include "vg_common.h"

#include <stdio.h>
#include <librdkafka/rdkafka.h>

typedef enum vg_ctype_e {
        VG_C_STRING,
        VG_C_INT,      /* int64 with [min, max] */
        VG_C_BOOL,     /* true/false */
        VG_C_DOUBLE    /* with [min, max] */
} vg_ctype_t;

typedef struct vg_confdef_s {
        const char *cd_name;     /* "rules.window_days" */
        vg_ctype_t  cd_type;
        const char *cd_default;  /* as text; NULL = unset */
        double      cd_min;      /* VG_C_INT / VG_C_DOUBLE range */
        double      cd_max;
        int         cd_secret;   /* value is not printed by --dump */
        const char *cd_desc;     /* one sentence for the reference */
} vg_confdef_t;

/* NULL-terminated table of every Vigil key (kafka.* excluded). */
extern const vg_confdef_t vg_confdefs[];

typedef struct vg_conf_s vg_conf_t;

vg_conf_t *vg_conf_new(void);
void vg_conf_destroy(vg_conf_t *conf);

/* Sets key=value (source names where it came from, for errors). Vigil keys
 * are type- and range-checked (group.id and state.dir must not be empty,
 * http.listen must be an address whose host resolves); target.<indicator>
 * keys take a number and must name a known indicator;
 * kafka.* keys are kept for vg_conf_kafka(). */
vg_err_t vg_conf_set(vg_conf_t *conf, const char *key, const char *value,
                     char *errstr, size_t errstr_size);

/* True if name is an indicator a target.<name> key may set (the names of
 * docs/INDICATORS.md); target.<other> keys are refused. */
int vg_conf_known_indicator(const char *name);

/* Reads a properties file: key=value lines, '#' or '!' comments, blank lines.
 * Errors as "file:line: message" (a NUL byte or a line over 4095 bytes is
 * one). Warns when a file holding secrets is
 * readable by group or others. */
vg_err_t vg_conf_load_file(vg_conf_t *conf, const char *path, char *errstr,
                           size_t errstr_size);

/* "key=value" from -X. */
vg_err_t vg_conf_set_kv(vg_conf_t *conf, const char *kv, char *errstr,
                        size_t errstr_size);

/* Loads the default file when no -F was given: $VIGIL_CONFIG, else
 * ./vigil.conf if it exists. Not finding one is not an error. */
vg_err_t vg_conf_load_default(vg_conf_t *conf, char *errstr,
                              size_t errstr_size);

/* Typed getters: the key must be in vg_confdefs (a bug otherwise). */
const char *vg_conf_str(const vg_conf_t *conf, const char *key);
int64_t vg_conf_int(const vg_conf_t *conf, const char *key);
bool vg_conf_bool(const vg_conf_t *conf, const char *key);
double vg_conf_double(const vg_conf_t *conf, const char *key);

/* target.<indicator>: returns 1 and *targetp, *higher_is_betterp if set,
 * -1 if set to "off", 0 if not set. */
int vg_conf_target(const vg_conf_t *conf, const char *indicator,
                   double *targetp, int *higher_is_betterp);

/* Every target.* key set (file or -X) as "key=value;", sorted by key, in
 * buf (cut at size); its length had it not been cut. */
size_t vg_conf_targets_text(const vg_conf_t *conf, char *buf, size_t size);

/* The value of kafka.<key> if it was set (file or -X), else NULL. */
const char *vg_conf_kafka_get(const vg_conf_t *conf, const char *key);

/* Applies every kafka.* key to kconf. */
vg_err_t vg_conf_kafka(const vg_conf_t *conf, rd_kafka_conf_t *kconf,
                       char *errstr, size_t errstr_size);

/* Writes every effective key (Vigil and kafka.*) as a properties file;
 * secrets as "***". */
void vg_conf_dump(const vg_conf_t *conf, FILE *fp);

#endif /* VG_CONFIG_H */
