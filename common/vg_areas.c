/*
 * vg_areas.c - kommun and region names from the embedded TSV tables.
 *
 * Format of the .tsv files in common/data/: UTF-8 lines "code<TAB>name";
 * lines starting with '#' and empty lines are ignored; a trailing CR is
 * tolerated. The tables are parsed into fixed static arrays (no heap),
 * sorted by code and searched with bsearch. A malformed or duplicate line
 * is logged and skipped; tests/unit/test_areas.c checks that the shipped
 * tables are clean.
 */
#include "vg_areas.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Generated from common/data/ by common/embed_data.cmake (vg_data_gen.c). */
extern const char vg_data_kommuner_tsv[];
extern const size_t vg_data_kommuner_tsv_len;
extern const char vg_data_regioner_tsv[];
extern const size_t vg_data_regioner_tsv_len;

#define AREA_NAME_MAX  64  /* bytes of a name, NUL included */
#define KOMMUN_MAX    400  /* Sweden has 290 */
#define REGION_MAX     32  /* and 21 */

typedef struct area_s {
        char code[5];
        char name[AREA_NAME_MAX];
} area_t;

static area_t kommuner[KOMMUN_MAX];
static size_t nkommuner;
static area_t regioner[REGION_MAX];
static size_t nregioner;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int all_digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return 0;
        return 1;
}

static int area_cmp(const void *a, const void *b) {
        return strcmp(((const area_t *)a)->code, ((const area_t *)b)->code);
}

static int key_cmp(const void *key, const void *elem) {
        return strcmp((const char *)key, ((const area_t *)elem)->code);
}

/* Parses text[len] (a table named what, codes of codelen digits) into
 * out[max]; returns the number of rows, sorted by code, duplicates dropped. */
static size_t parse(const char *what, const char *text, size_t len,
                    size_t codelen, area_t *out, size_t max) {
        const char *p = text, *end = text + len;
        size_t n = 0, lineno = 0, w;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                const char *line = p, *tab;
                size_t linelen, namelen;

                if (!eol)
                        eol = end;
                p = eol < end ? eol + 1 : end;
                lineno++;
                linelen = (size_t)(eol - line);
                if (linelen && line[linelen - 1] == '\r')
                        linelen--;
                if (!linelen || line[0] == '#')
                        continue;
                tab = memchr(line, '\t', linelen);
                if (!tab || (size_t)(tab - line) != codelen ||
                    !all_digits(line, codelen)) {
                        vg_error("areas", "%s line %zu: expected a %zu-digit "
                                 "code, a tab and a name", what, lineno,
                                 codelen);
                        continue;
                }
                namelen = linelen - codelen - 1;
                if (!namelen || namelen >= AREA_NAME_MAX ||
                    memchr(tab + 1, '\t', namelen)) {
                        vg_error("areas", "%s line %zu: bad name", what,
                                 lineno);
                        continue;
                }
                if (n == max) {
                        vg_error("areas", "%s: more than %zu rows", what, max);
                        break;
                }
                memcpy(out[n].code, line, codelen);
                out[n].code[codelen] = '\0';
                memcpy(out[n].name, tab + 1, namelen);
                out[n].name[namelen] = '\0';
                n++;
        }

        qsort(out, n, sizeof(*out), area_cmp);
        for (size_t i = w = 0; i < n; i++) {
                if (w && !strcmp(out[w - 1].code, out[i].code)) {
                        vg_error("areas", "%s: duplicate code %s", what,
                                 out[i].code);
                        continue;
                }
                if (w != i)
                        out[w] = out[i];
                w++;
        }
        return w;
}

static void load(void) {
        nkommuner = parse("kommuner.tsv", vg_data_kommuner_tsv,
                          vg_data_kommuner_tsv_len, 4, kommuner, KOMMUN_MAX);
        nregioner = parse("regioner.tsv", vg_data_regioner_tsv,
                          vg_data_regioner_tsv_len, 2, regioner, REGION_MAX);
}

static const area_t *find(const char *code) {
        size_t len;

        if (!code)
                return NULL;
        pthread_once(&once, load);
        len = strlen(code);
        if (len == 4 && all_digits(code, 4))
                return bsearch(code, kommuner, nkommuner, sizeof(*kommuner),
                               key_cmp);
        if (len == 2 && all_digits(code, 2))
                return bsearch(code, regioner, nregioner, sizeof(*regioner),
                               key_cmp);
        return NULL;
}

const char *vg_areas_name(const char *area) {
        const area_t *a;

        if (area && !strcmp(area, "SE"))
                return "Sverige";
        a = find(area);
        return a ? a->name : NULL;
}

int vg_areas_code_form(const char *s) {
        size_t n = strlen(s);
        if (!strcmp(s, "SE"))
                return 1;
        return (n == 2 || n == 4) && strspn(s, "0123456789") == n;
}

int vg_areas_is_kommun(const char *code) {
        return code && strlen(code) == 4 && find(code) != NULL;
}

size_t vg_areas_kommun_count(void) {
        pthread_once(&once, load);
        return nkommuner;
}

const char *vg_areas_kommun_code(size_t i) {
        pthread_once(&once, load);
        return i < nkommuner ? kommuner[i].code : NULL;
}

size_t vg_areas_region_count(void) {
        pthread_once(&once, load);
        return nregioner;
}

const char *vg_areas_region_code(size_t i) {
        pthread_once(&once, load);
        return i < nregioner ? regioner[i].code : NULL;
}
