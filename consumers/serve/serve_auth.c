/*
 * serve_auth.c - who may call `vigil serve` and what each caller sees:
 * the tokens file (hashes only), entitlements to kommuner, regions or SE,
 * the visibility of values and alerts, and the token bucket that turns a
 * burst of failed attempts from one address into 429s.
 *
 * Pure but for reading the tokens file: no clock (callers pass the time),
 * no threads (callers lock).
 */
#include "vg_serve.h"
#include "vg_areas.h"
#include "vg_record.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

/* ------------------------------------------------------------------------
 * Entitlements
 */

static bool is_region(const char *s) {
        return strlen(s) == 2 && strcmp(s, "SE") && vg_areas_name(s);
}

/* A refused area as the message shows it: quoted, or withheld when it
 * looks like a personnummer (a slip of the pen in the tokens file or on the
 * command line; the message goes to the log, SPEC §8). buf of size. */
static const char *area_shown(const char *s, size_t n, char *buf,
                              size_t size) {
        if (vg_pnr_like(s, n) || vg_pnr_in_bytes(s, n))
                snprintf(buf, size, "a value withheld from this message "
                         "(it looks like a personnummer)");
        else
                snprintf(buf, size, "'%.*s%s'", (int)(n < 48 ? n : 48), s,
                         n < 48 ? "" : "...");
        return buf;
}

vg_err_t sv_ent_parse(const char *text, sv_ent_t *ent, char *errstr,
                      size_t errstr_size) {
        char shown[96];
        const char *p = text;
        memset(ent, 0, sizeof(*ent));
        while (*p) {
                char code[16];
                size_t n = strcspn(p, ", \t");
                if (n == 0) {
                        p++;
                        continue;
                }
                if (n >= sizeof(code))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s is not an area (a kommun "
                                         "code such as 0484, a region code "
                                         "such as 04, or SE)",
                                         area_shown(p, n, shown,
                                                    sizeof(shown)));
                memcpy(code, p, n);
                code[n] = '\0';
                p += n;
                if (!strcmp(code, "SE")) {
                        ent->se_all = true;
                        continue;
                }
                if (!vg_areas_is_kommun(code) && !is_region(code))
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s is not an area (a kommun "
                                         "code such as 0484, a region code "
                                         "such as 04, or SE)",
                                         area_shown(code, n, shown,
                                                    sizeof(shown)));
                for (int i = 0; i < ent->se_n; i++)
                        if (!strcmp(ent->se_areas[i], code))
                                return vg_seterr(errstr, errstr_size,
                                                 VG_ERR_ARG,
                                                 "area %s named twice", code);
                if (ent->se_n == SV_MAX_AREAS)
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "more than %d areas (name a "
                                         "region instead)", SV_MAX_AREAS);
                snprintf(ent->se_areas[ent->se_n++], 5, "%.4s", code);
        }
        if (ent->se_all && ent->se_n)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "SE covers every area: name it alone");
        if (!ent->se_all && !ent->se_n)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "no area (kommun codes, a region code or "
                                 "SE)");
        return VG_OK;
}

void sv_ent_text(const sv_ent_t *ent, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = '\0';
        if (ent->se_all) {
                snprintf(buf, size, "SE");
                return;
        }
        for (int i = 0; i < ent->se_n && len + 6 < size; i++)
                len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                        i ? "," : "", ent->se_areas[i]);
}

bool sv_ent_area(const sv_ent_t *ent, const char *area) {
        size_t n;
        if (!area || !*area)
                return false;
        if (ent->se_all)
                return true;
        n = strlen(area);
        if (n != 2 && n != 4)
                return false; /* SE, or not an area */
        if (!strcmp(area, "SE"))
                return false;
        for (int i = 0; i < ent->se_n; i++) {
                const char *a = ent->se_areas[i];
                if (!strcmp(a, area))
                        return true;
                /* a region covers its kommuner */
                if (n == 4 && strlen(a) == 2 && !strncmp(area, a, 2))
                        return true;
        }
        return false;
}

bool sv_ent_alert(const sv_ent_t *ent, const char *kommun, const char *area) {
        if (area && *area)
                return sv_ent_area(ent, area);
        if (kommun && strlen(kommun) == 4)
                return sv_ent_area(ent, kommun);
        return ent->se_all;
}

/* ------------------------------------------------------------------------
 * Tokens
 */

void sv_sha256_hex(const void *data, size_t len, char hex[65]) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256(data, len, md);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int hexval(int c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = tolower(c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool sv_token_name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > SV_NAME_MAX)
                return false;
        /* (the access log writes it: SPEC §8, no personnummer in a log) */
        if (vg_pnr_in_bytes(s, n))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
                        return false;
        return true;
}

/* One line (NUL-terminated, no newline) into tk; returns 1 for a token,
 * 0 for a blank or comment line, -1 with errstr. */
static int parse_line(char *line, sv_token_t *tk, char *errstr,
                      size_t errstr_size) {
        char *p = line, *hash, *name, *areas;
        char err[256];
        size_t n;
        while (isspace((unsigned char)*p))
                p++;
        if (!*p || *p == '#')
                return 0;
        hash = p;
        p += strcspn(p, " \t");
        if (*p)
                *p++ = '\0';
        while (isspace((unsigned char)*p))
                p++;
        name = p;
        p += strcspn(p, " \t");
        if (*p)
                *p++ = '\0';
        while (isspace((unsigned char)*p))
                p++;
        areas = p;
        n = strlen(areas);
        while (n && isspace((unsigned char)areas[n - 1]))
                areas[--n] = '\0';
        memset(tk, 0, sizeof(*tk));
        if (strlen(hash) != 64) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "expected the SHA-256 of a token as 64 hex digits "
                          "first (vigil serve --hash-token makes it)");
                return -1;
        }
        for (int i = 0; i < 32; i++) {
                int hi = hexval(hash[2 * i]), lo = hexval(hash[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                        vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                  "the hash is not hex (64 digits 0-9, "
                                  "a-f)");
                        return -1;
                }
                tk->tk_hash[i] = (unsigned char)(hi << 4 | lo);
        }
        if (!*name || !sv_token_name_valid(name)) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "expected a name after the hash (1 to %d "
                          "letters, digits, '.', '_' or '-', no "
                          "personnummer)", SV_NAME_MAX);
                return -1;
        }
        snprintf(tk->tk_name, sizeof(tk->tk_name), "%s", name);
        if (!*areas) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                          "token %s: expected its areas after the name "
                          "(kommun codes, a region code or SE)", name);
                return -1;
        }
        if (sv_ent_parse(areas, &tk->tk_ent, err, sizeof(err))) {
                vg_seterr(errstr, errstr_size, VG_ERR_ARG, "token %s: %s",
                          name, err);
                return -1;
        }
        return 1;
}

vg_err_t sv_tokens_parse(const char *text, size_t len, const char *name,
                         sv_tokens_t *ts, char *errstr, size_t errstr_size) {
        const char *p = text, *end = text + len;
        size_t lineno = 0, cap = 0;
        memset(ts, 0, sizeof(*ts));
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                size_t n = (size_t)((eol ? eol : end) - p);
                char line[1024], err[256];
                sv_token_t tk;
                int r;
                lineno++;
                if (memchr(p, '\0', n)) {
                        sv_tokens_free(ts);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s:%zu: a NUL byte", name, lineno);
                }
                if (n >= sizeof(line)) {
                        sv_tokens_free(ts);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s:%zu: line longer than %zu "
                                         "bytes", name, lineno,
                                         sizeof(line) - 1);
                }
                memcpy(line, p, n);
                line[n] = '\0';
                if (n && line[n - 1] == '\r')
                        line[n - 1] = '\0';
                p = eol ? eol + 1 : end;
                if ((r = parse_line(line, &tk, err, sizeof(err))) < 0) {
                        sv_tokens_free(ts);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s:%zu: %s", name, lineno, err);
                }
                if (r == 0)
                        continue;
                for (size_t i = 0; i < ts->ts_n; i++) {
                        const char *dup = NULL;
                        if (!strcmp(ts->ts_tok[i].tk_name, tk.tk_name))
                                dup = "name";
                        else if (!memcmp(ts->ts_tok[i].tk_hash, tk.tk_hash,
                                         32))
                                dup = "hash (the same token twice)";
                        if (dup) {
                                vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                          "%s:%zu: token %s: the %s of "
                                          "token %s again", name, lineno,
                                          tk.tk_name, dup,
                                          ts->ts_tok[i].tk_name);
                                sv_tokens_free(ts);
                                return VG_ERR_ARG;
                        }
                }
                if (ts->ts_n == cap) {
                        cap = cap ? cap * 2 : 16;
                        ts->ts_tok = vg_realloc(ts->ts_tok,
                                                cap * sizeof(*ts->ts_tok));
                }
                ts->ts_tok[ts->ts_n++] = tk;
        }
        if (!ts->ts_n)
                return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                 "%s: no token (lines of 'HASH NAME AREAS'; "
                                 "vigil serve --hash-token makes them)",
                                 name);
        return VG_OK;
}

vg_err_t sv_tokens_load(const char *path, sv_tokens_t *ts, char *errstr,
                        size_t errstr_size) {
        FILE *fp = fopen(path, "r");
        vg_buf_t b;
        char chunk[4096];
        size_t n;
        vg_err_t err;
        memset(ts, 0, sizeof(*ts));
        if (!fp)
                return vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s",
                                 path, strerror(errno));
        vg_buf_init(&b);
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
                if (b.vb_len + n > (1 << 24)) {
                        fclose(fp);
                        vg_buf_free(&b);
                        return vg_seterr(errstr, errstr_size, VG_ERR_ARG,
                                         "%s: larger than 16 MB", path);
                }
                vg_buf_append(&b, chunk, n);
        }
        if (ferror(fp)) {
                fclose(fp);
                vg_buf_free(&b);
                return vg_seterr(errstr, errstr_size, VG_ERR_IO, "%s: %s",
                                 path, strerror(errno));
        }
        fclose(fp);
        err = sv_tokens_parse(b.vb_data ? b.vb_data : "", b.vb_len, path, ts,
                              errstr, errstr_size);
        vg_buf_free(&b);
        return err;
}

void sv_tokens_free(sv_tokens_t *ts) {
        if (!ts)
                return;
        vg_free(ts->ts_tok);
        ts->ts_tok = NULL;
        ts->ts_n = 0;
}

const sv_token_t *sv_tokens_find(const sv_tokens_t *ts, const char *token,
                                 size_t len) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        const sv_token_t *found = NULL;
        SHA256((const unsigned char *)token, len, md);
        /* Every entry in full, whether one matched already or not. */
        for (size_t i = 0; i < ts->ts_n; i++) {
                int eq = !CRYPTO_memcmp(ts->ts_tok[i].tk_hash, md, 32);
                if (eq && !found)
                        found = &ts->ts_tok[i];
        }
        OPENSSL_cleanse(md, sizeof(md));
        return found;
}

const sv_token_t *sv_tokens_by_hash(const sv_tokens_t *ts,
                                    const unsigned char hash[32]) {
        const sv_token_t *found = NULL;
        for (size_t i = 0; i < ts->ts_n; i++)
                if (!CRYPTO_memcmp(ts->ts_tok[i].tk_hash, hash, 32) && !found)
                        found = &ts->ts_tok[i];
        return found;
}

const sv_token_t *sv_tokens_by_name(const sv_tokens_t *ts, const char *name) {
        for (size_t i = 0; i < ts->ts_n; i++)
                if (!strcmp(ts->ts_tok[i].tk_name, name))
                        return &ts->ts_tok[i];
        return NULL;
}

/* ------------------------------------------------------------------------
 * Failed attempts: GCRA. An address's "theoretical arrival time" moves
 * refill_ms ahead per failure; it may try while that is less than burst
 * refills ahead of now.
 */

typedef struct rl_ent_s {
        char    re_addr[64];
        int64_t re_tat;          /* 0: free slot */
} rl_ent_t;

struct sv_rl_s {
        rl_ent_t *rl_ent;
        size_t    rl_cap;
        int       rl_burst;
        int64_t   rl_refill;
};

sv_rl_t *sv_rl_new(int burst, int64_t refill_ms, size_t max_addrs) {
        sv_rl_t *rl = vg_calloc(1, sizeof(*rl));
        rl->rl_cap = max_addrs ? max_addrs : 1;
        rl->rl_ent = vg_calloc(rl->rl_cap, sizeof(*rl->rl_ent));
        rl->rl_burst = burst > 0 ? burst : 1;
        rl->rl_refill = refill_ms > 0 ? refill_ms : 1;
        return rl;
}

void sv_rl_free(sv_rl_t *rl) {
        if (!rl)
                return;
        vg_free(rl->rl_ent);
        vg_free(rl);
}

static rl_ent_t *rl_find(sv_rl_t *rl, const char *addr) {
        for (size_t i = 0; i < rl->rl_cap; i++)
                if (rl->rl_ent[i].re_tat &&
                    !strcmp(rl->rl_ent[i].re_addr, addr))
                        return &rl->rl_ent[i];
        return NULL;
}

int64_t sv_rl_check(sv_rl_t *rl, const char *addr, int64_t now_ms) {
        rl_ent_t *e = rl_find(rl, addr);
        int64_t allow = (int64_t)(rl->rl_burst - 1) * rl->rl_refill;
        if (!e || e->re_tat - now_ms <= allow)
                return 0;
        return e->re_tat - now_ms - allow;
}

void sv_rl_fail(sv_rl_t *rl, const char *addr, int64_t now_ms) {
        rl_ent_t *e = rl_find(rl, addr);
        if (!e) {
                /* a free slot, one that has refilled whole, or the one
                 * nearest to that */
                rl_ent_t *best = &rl->rl_ent[0];
                for (size_t i = 0; i < rl->rl_cap; i++) {
                        rl_ent_t *c = &rl->rl_ent[i];
                        if (!c->re_tat || c->re_tat <= now_ms) {
                                best = c;
                                break;
                        }
                        if (c->re_tat < best->re_tat)
                                best = c;
                }
                e = best;
                snprintf(e->re_addr, sizeof(e->re_addr), "%s", addr);
                e->re_tat = now_ms;
        }
        if (e->re_tat < now_ms)
                e->re_tat = now_ms;
        e->re_tat += rl->rl_refill;
}
