/*
 * bench_engine.c - throughput and memory of the engine in file mode:
 * simulate a population, run it through vg_process_file() with in-memory
 * SQLite stores, print events/s and peak RSS. Figures, not assertions:
 * `cmake --build build --target bench` runs it.
 *
 *   bench_engine [PATIENTS] [PARTITIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sqlite3.h>

#include "vg_config.h"
#include "vg_process.h"
#include "vg_time.h"
#include "vg_record_json.h"
#include "vg_simulate.h"

int main(int argc, char **argv) {
        int64_t patients = argc > 1 ? atoll(argv[1]) : 20000;
        int partitions = argc > 2 ? atoi(argv[2]) : 6;
        vg_sim_opts_t o;
        vg_sim_t *sim;
        char errstr[256], *buf = NULL;
        size_t len = 0, n;
        FILE *mem, *in, *devnull = fopen("/dev/null", "w");
        vg_conf_t *conf = vg_conf_new();
        int64_t t0, t1;
        long invalid = 0;
        struct rusage ru;

        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* as vigil's main() */
        vg_log_level = VG_LOG_WARN;
        vg_sim_opts_init(&o);
        o.so_patients = patients;
        if (!(sim = vg_sim_new(&o, errstr, sizeof(errstr)))) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        mem = open_memstream(&buf, &len);
        n = vg_sim_count(sim);
        for (size_t i = 0; i < n; i++) {
                vg_event_t ev;
                char *js;
                vg_sim_event(sim, i, &ev);
                js = vg_record_to_jsonl(ev.ev_type, &ev);
                fprintf(mem, "%s\n", js);
                vg_free(js);
                vg_record_clear(ev.ev_type, &ev);
        }
        fclose(mem);
        vg_sim_destroy(sim);
        in = fmemopen(buf, len, "r");
        t0 = vg_now_ms();
        if (vg_process_file(conf, in, "bench", partitions, devnull, devnull,
                            &invalid)) {
                fprintf(stderr, "bench: processing failed\n");
                return 1;
        }
        t1 = vg_now_ms();
        getrusage(RUSAGE_SELF, &ru);
        printf("engine file mode: %lld patients, %zu events, %d partitions\n",
               (long long)patients, n, partitions);
        printf("  time            %.2f s\n", (double)(t1 - t0) / 1000.0);
        printf("  throughput      %.0f events/s\n",
               (double)n * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1));
        printf("  peak RSS        %.1f MiB (input text %.1f MiB included)\n",
               (double)ru.ru_maxrss / 1024.0, (double)len / 1048576.0);
        printf("  invalid         %ld\n", invalid);
        fclose(in);
        fclose(devnull);
        free(buf);
        vg_conf_destroy(conf);
        return 0;
}
