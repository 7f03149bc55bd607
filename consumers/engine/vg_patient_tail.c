/*
 * vg_patient_tail.c - events added to a packed patient without decoding
 * it (vg_patient_store.h): each is appended to a tail of bytes, its type
 * byte and then its fields as a state writes them, its strings numbered
 * within the event alone (the state's numbering is not known without
 * reading it). The tail is applied when the patient is next decoded.
 */
#include "vg_patient_bin_int.h"
#include "vg_patient_store.h"

#include <string.h>

void vg_patient_tail_add(vg_buf_t *b, const vg_event_t *ev) {
        stab_t t;
        unsigned char type = (unsigned char)ev->ev_type;
        t.st_n = 0;
        t.st_slack = 0;
        memset(t.st_slot, 0, sizeof(t.st_slot));
        vg_buf_append(b, &type, 1);
        vg_pbin_rec_write(&t, b, ev->ev_type, ev);
}

int vg_patient_tail_apply(vg_patient_t *pt, const void *data, size_t len) {
        rd_t r;
        r.p = data;
        r.end = r.p + len;
        r.bad = false;
        r.version = BIN_VERSION;
        /* (as a state's: vg_patient_bin.c) */
        r.budget = len > ((size_t)1 << 20) ? 64 * len : (size_t)64 << 20;
        while (r.p < r.end && !r.bad) {
                int type = *r.p++;
                if (!VG_REC_IS_EVENT(type))
                        return -1;
                if (pt->pt_nevents == pt->pt_cap) {
                        /* (as vg_engine.c grows it) */
                        pt->pt_cap += 1 + pt->pt_cap / 4;
                        pt->pt_events = vg_realloc(
                                pt->pt_events,
                                sizeof(vg_event_t) * (size_t)pt->pt_cap);
                }
                r.ntab = 0;
                vg_pbin_rec_read(&r, (vg_rectype_t)type,
                                 &pt->pt_events[pt->pt_nevents], pt->pt_id);
                pt->pt_nevents++; /* (freed with the patient if bad) */
        }
        if (r.bad)
                return -1;
        pt->pt_next_due = VG_DUE_UNDERIVED;
        return 0;
}
