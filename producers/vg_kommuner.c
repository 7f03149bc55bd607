/*
 * vg_kommuner.c - municipalities and hospitals of Sörmland (04), Jönköping
 * (06) and Örebro (18) for the simulator.
 */
#include "vg_kommuner.h"

#include <string.h>

const vg_hospital_t vg_hospitals[] = {
        /* Region Sörmland */
        {"MSE", "Mälarsjukhuset Eskilstuna", "04", "UAS", "PAL-ESK"},
        {"NYK", "Nyköpings lasarett", "04", "MSE", "PAL-NYK"},
        {"KAT", "Kullbergska sjukhuset Katrineholm", "04", "MSE", "PAL-ESK"},
        /* Region Jönköpings län */
        {"RJL", "Länssjukhuset Ryhov Jönköping", "06", "USL", "PAL-JKP"},
        {"HGN", "Höglandssjukhuset Eksjö", "06", "RJL", "PAL-EKS"},
        {"VMO", "Värnamo sjukhus", "06", "RJL", "PAL-JKP"},
        /* Region Örebro län */
        {"USO", "Universitetssjukhuset Örebro", "18", "UAS", "PAL-ORE"},
        {"KAR", "Karlskoga lasarett", "18", "USO", "PAL-ORE"},
        {"LIN", "Lindesbergs lasarett", "18", "USO", "PAL-ORE"},
        /* University hospitals outside the three regions (referral only) */
        {"UAS", "Akademiska sjukhuset Uppsala", "03", "MSE", "PAL-UPS"},
        {"USL", "Universitetssjukhuset i Linköping", "05", "RJL", "PAL-LKP"},
};
const size_t vg_hospitals_cnt = VG_ARRAY_SIZE(vg_hospitals);

const vg_kommun_t vg_kommuner[] = {
        /* 04 Sörmland */
        {"0428", "Vingåker", 9300, "KAT"},
        {"0461", "Gnesta", 11400, "NYK"},
        {"0480", "Nyköping", 58000, "NYK"},
        {"0481", "Oxelösund", 12200, "NYK"},
        {"0482", "Flen", 16500, "KAT"},
        {"0483", "Katrineholm", 35000, "KAT"},
        {"0484", "Eskilstuna", 107000, "MSE"},
        {"0486", "Strängnäs", 38000, "MSE"},
        {"0488", "Trosa", 14000, "NYK"},
        /* 06 Jönköping */
        {"0604", "Aneby", 7000, "HGN"},
        {"0617", "Gnosjö", 9700, "VMO"},
        {"0642", "Mullsjö", 7400, "RJL"},
        {"0643", "Habo", 12600, "RJL"},
        {"0662", "Gislaved", 29500, "VMO"},
        {"0665", "Vaggeryd", 14500, "RJL"},
        {"0680", "Jönköping", 145000, "RJL"},
        {"0682", "Nässjö", 31500, "HGN"},
        {"0683", "Värnamo", 34500, "VMO"},
        {"0684", "Sävsjö", 11300, "HGN"},
        {"0685", "Vetlanda", 27500, "HGN"},
        {"0686", "Eksjö", 17700, "HGN"},
        {"0687", "Tranås", 19300, "HGN"},
        /* 18 Örebro */
        {"1814", "Lekeberg", 8400, "USO"},
        {"1860", "Laxå", 5600, "USO"},
        {"1861", "Hallsberg", 16000, "USO"},
        {"1862", "Degerfors", 9400, "KAR"},
        {"1863", "Hällefors", 6800, "LIN"},
        {"1864", "Ljusnarsberg", 4800, "LIN"},
        {"1880", "Örebro", 160000, "USO"},
        {"1881", "Kumla", 22500, "USO"},
        {"1882", "Askersund", 11300, "USO"},
        {"1883", "Karlskoga", 30500, "KAR"},
        {"1884", "Nora", 10700, "LIN"},
        {"1885", "Lindesberg", 23500, "LIN"},
};
const size_t vg_kommuner_cnt = VG_ARRAY_SIZE(vg_kommuner);

const vg_kommun_t *vg_kommun_find(const char *code) {
        for (size_t i = 0; i < vg_kommuner_cnt; i++)
                if (!strcmp(vg_kommuner[i].km_code, code))
                        return &vg_kommuner[i];
        return NULL;
}

const vg_hospital_t *vg_hospital_find(const char *id) {
        for (size_t i = 0; i < vg_hospitals_cnt; i++)
                if (!strcmp(vg_hospitals[i].hs_id, id))
                        return &vg_hospitals[i];
        return NULL;
}
