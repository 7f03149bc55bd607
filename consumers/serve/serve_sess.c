/*
 * serve_sess.c - the browser sessions of `vigil serve` (the page's login
 * form): a random cookie, of which the server keeps only the SHA-256, bound
 * to the hash of the token it was made with. At most SV_SESS_PER_TOKEN per
 * token (one more replaces the token's own oldest) and SV_SESS_MAX in all.
 * Guarded by sv_auth_lock.
 */
#include "serve_http.h"
#include "vg_time.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

typedef struct sv_sess_s {
        unsigned char ss_hash[32];     /* SHA-256 of the cookie's value */
        unsigned char ss_token[32];    /* SHA-256 of the token it came
                                        * from */
        int64_t       ss_expires;      /* ms */
        uint64_t      ss_born;         /* order of making (under
                                        * sv_auth_lock): the oldest goes */
} sv_sess_t;

static uint64_t sess_born;

bool sv_session_find(sv_server_t *sv, const char *cookie,
                     unsigned char token[32]) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        int64_t now = vg_now_ms();
        bool found = false;
        SHA256((const unsigned char *)cookie, strlen(cookie), md);
        pthread_mutex_lock(&sv->sv_auth_lock);
        for (size_t i = 0; i < sv->sv_nsess; i++) {
                const sv_sess_t *s = &sv->sv_sess[i];
                if (!CRYPTO_memcmp(s->ss_hash, md, 32) &&
                    s->ss_expires > now && !found) {
                        memcpy(token, s->ss_token, 32);
                        found = true;
                }
        }
        pthread_mutex_unlock(&sv->sv_auth_lock);
        return found;
}

/* A new session for the token of hash token; its cookie value (64 hex) in
 * value[65]. A token holds at most SV_SESS_PER_TOKEN sessions: one more
 * replaces its own oldest, never another token's (a flood of logins with
 * one token logged every other caller out). */
sv_sess_ret_t sv_session_new(sv_server_t *sv, const unsigned char token[32],
                             char *value) {
        unsigned char rnd[32];
        int64_t now = vg_now_ms();
        sv_sess_t *s = NULL;
        size_t mine = 0;
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                return SV_SESS_ERROR;
        for (int i = 0; i < 32; i++)
                snprintf(value + 2 * i, 3, "%02x", rnd[i]);
        OPENSSL_cleanse(rnd, sizeof(rnd));
        pthread_mutex_lock(&sv->sv_auth_lock);
        for (size_t i = 0; i < sv->sv_nsess;) {
                sv_sess_t *c = &sv->sv_sess[i];
                if (c->ss_expires <= now) {
                        *c = sv->sv_sess[--sv->sv_nsess];
                        continue;
                }
                if (!memcmp(c->ss_token, token, 32) &&
                    (!s || c->ss_born < s->ss_born))
                        s = c;
                mine += !memcmp(c->ss_token, token, 32);
                i++;
        }
        if (mine < SV_SESS_PER_TOKEN) {
                if (sv->sv_nsess >= SV_SESS_MAX) {
                        pthread_mutex_unlock(&sv->sv_auth_lock);
                        OPENSSL_cleanse(value, 65);
                        return SV_SESS_FULL;
                }
                if (sv->sv_nsess == sv->sv_capsess) {
                        sv->sv_capsess = sv->sv_capsess ? sv->sv_capsess * 2
                                                        : 64;
                        sv->sv_sess = vg_realloc(sv->sv_sess,
                                                 sv->sv_capsess *
                                                         sizeof(sv_sess_t));
                }
                s = &sv->sv_sess[sv->sv_nsess++];
        }
        SHA256((const unsigned char *)value, 64, s->ss_hash);
        memcpy(s->ss_token, token, 32);
        s->ss_expires = now + sv->sv_session_ms;
        s->ss_born = ++sess_born;
        pthread_mutex_unlock(&sv->sv_auth_lock);
        return SV_SESS_OK;
}

void sv_session_end(sv_server_t *sv, const char *cookie) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)cookie, strlen(cookie), md);
        pthread_mutex_lock(&sv->sv_auth_lock);
        for (size_t i = 0; i < sv->sv_nsess; i++)
                if (!CRYPTO_memcmp(sv->sv_sess[i].ss_hash, md, 32))
                        sv->sv_sess[i].ss_expires = 0;
        pthread_mutex_unlock(&sv->sv_auth_lock);
}
