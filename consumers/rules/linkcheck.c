/*
 * linkcheck.c - a program made of the pure rule book alone (vg_rules,
 * vg_record, vg_time, vg_common) and linked with libc, libm and libcrypto
 * only: if it links, the rule book needs no I/O library. Running it derives
 * one patient's alerts from two events.
 */
#include "vg_rules.h"

#include <stdio.h>
#include <string.h>

int main(void) {
        vg_rules_conf_t rc;
        vg_event_t ev[2];
        vg_derived_t dv;
        char st[] = "s1", p[] = "p1", k[] = "0180";
        char e1[] = "e1", e2[] = "e2", src[] = "x", fac[] = "f";

        vg_rules_conf_default(&rc);
        memset(ev, 0, sizeof(ev));
        for (int i = 0; i < 2; i++) {
                ev[i].ev_patient_id = p;
                ev[i].ev_kommun = k;
                ev[i].ev_source_system = src;
                ev[i].ev_stay_id = st;
                ev[i].ev_facility_id = fac;
                ev[i].ev_age_years = 80;
        }
        ev[0].ev_type = VG_REC_ADMISSION;
        ev[0].ev_event_id = e1;
        ev[0].ev_occurred_at = 1767225600000LL;            /* 2026-01-01 */
        ev[1].ev_type = VG_REC_DISCHARGE;
        ev[1].ev_event_id = e2;
        ev[1].ev_occurred_at = 1767225600000LL + 86400000; /* a day later */
        ev[1].ev_needs_coordination = true;
        memset(&dv, 0, sizeof(dv));
        vg_rules_derive(&rc, p, ev, 2, 1767225600000LL + 30LL * 86400000,
                        &dv);
        printf("rule book linked alone: %d alert(s)\n", dv.dv_nalerts);
        vg_derived_clear(&dv);
        return 0;
}
