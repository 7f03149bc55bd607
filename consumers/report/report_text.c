/*
 * report_text.c - how `vigil report` writes things: the page's language
 * (Swedish texts for the English ones of the code), HTML escaping, month
 * and area labels, local times, percentages, targets, and the table of the
 * page's sections (SPEC §6 order).
 */
#include "report_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Language
 *
 * The page is written in Swedish unless --lang en: every text of the page
 * is written in English in the code and looked up here, by its English
 * text, when the language is Swedish. tests/cli/test_report_lang.sh finds
 * every text passed to rp_t or rp_tf as a literal, or marked N_(), in this
 * table (and every entry of it in the code), and a printf format keeps its
 * conversions (rp_tf checks that too). Numbers are not localised.
 */

typedef struct tr_s {
        const char *en, *sv;
} tr_t;

/* BEGIN TRANSLATIONS (the test reads this table) */
static const tr_t tr[] = {
        {" A late entry still counts.", " En sen registrering räknas också."},
        {"; a newer month that is not settled yet is shown apart as "
         "preliminary and not judged against the target",
         "; en nyare månad som ännu inte är avslutad visas separat som "
         "preliminär och bedöms inte mot målvärdet"},
        {"above (outside 95 %)", "över (utanför 95 %)"},
        {"above (outside 99.8 %)", "över (utanför 99.8 %)"},
        {"active alert", "aktivt larm"},
        {"Active alerts", "Aktiva larm"},
        {"active alerts", "aktiva larm"},
        {"Active alerts by rule and region",
         "Aktiva larm per regel och region"},
        {"Active alerts, newest first within each rule",
         "Aktiva larm, nyaste först inom varje regel"},
        {"Against ", "Jämfört med "},
        {"age 0\u201364", "ålder 0\u201364"},
        {"age 65\u201374", "ålder 65\u201374"},
        {"age 75\u201384", "ålder 75\u201384"},
        {"age 85+", "ålder 85+"},
        {"Alerts", "Larm"},
        {"all", "alla"},
        {"Anchor ", "Ankare "},
        {"Apr", "apr"},
        {"Area", "Område"},
        {"Area ", "Område "},
        {"area %s", "område %s"},
        {"Areas", "Områden"},
        {"As-needed antiemetic", "Vid behov-ordination av illamåendedämpande"},
        {"As-needed antisecretory",
         "Vid behov-ordination av rosslingshämmande"},
        {"As-needed anxiolytic", "Vid behov-ordination av ångestdämpande"},
        {"As-needed opioid", "Vid behov-ordination av opioid"},
        {"Aug", "aug"},
        {"Bar chart of the number per month from %s to %s, %s: %s in "
         "total.",
         "Stapeldiagram över antalet per månad från %s till %s, %s: %s "
         "totalt."},
        {"Bar chart of the number per month, stacked by age band from %s to "
         "%s, %s: %s in total.",
         "Stapeldiagram över antalet per månad, staplat efter åldersgrupp, "
         "från %s till %s, %s: %s totalt."},
        {"below", "under"},
        {"below (outside 95 %)", "under (utanför 95 %)"},
        {"below (outside 99.8 %)", "under (utanför 99.8 %)"},
        {"<b>Below 70&nbsp;% coverage the register's results should not be "
         "used in open comparisons</b>: they may be published only where "
         "more than 70&nbsp;% of the deaths are registered. ",
         "<b>Under 70&nbsp;% täckningsgrad bör registrets resultat inte "
         "användas i öppna jämförelser</b>: de får publiceras bara där mer "
         "än 70&nbsp;% av dödsfallen är registrerade. "},
        {"below the target, but on fewer than %lld cases: uncertain",
         "under målvärdet, men på färre än %lld fall: osäkert"},
        {"Bereavement talk offered", "Efterlevandesamtal erbjudet"},
        {" by kommun, all months shown", " per kommun, alla visade månader"},
        {" by kommun; each cell is the value and %s / %s",
         " per kommun; varje cell är värdet och %s / %s"},
        {"Cases", "Fall"},
        {"cases", "fall"},
        {"configured (target.<indicator>)",
         "konfigurerat (target.<indicator>)"},
        {"Count", "Antal"},
        {"Count per month.", "Antal per månad."},
        {"Coverage", "Täckningsgrad"},
        {"Data table", "Datatabell"},
        {"Date", "Datum"},
        {"day", "dag"},
        {"days", "dagar"},
        {"Deadline", "Tidsgräns"},
        {"death", "dödsfall"},
        {"Death not registered", "Dödsfall ej registrerat"},
        {"Deaths", "Dödsfall"},
        {"deaths", "dödsfall"},
        {"Deaths by place and kommun, all months shown; number and share",
         "Dödsfall per plats och kommun, alla visade månader; antal och "
         "andel"},
        {"Deaths by place, ", "Dödsfall per plats, "},
        {"Deaths due", "Dödsfall att registrera"},
        {"Deaths here", "Dödsfall här"},
        {"deaths not registered", "dödsfall ej registrerade"},
        {"Deaths not registered, per kommun",
         "Dödsfall som inte registrerats, per kommun"},
        {"Deaths not registered, per kommun, longest overdue first",
         "Dödsfall som inte registrerats, per kommun, längst försenade först"},
        {"deaths, ", "dödsfall, "},
        {"Dec", "dec"},
        {"Denominator", "Nämnare"},
        {"Details", "Detaljer"},
        {"Died", "Avled"},
        {"Discharges", "Utskrivningar"},
        {"Each kommun's value against its number of cases (funnel plot). "
         "The solid line is ",
         "Varje kommuns värde mot dess antal fall (trattdiagram). Den "
         "heldragna linjen är "},
        {"End-of-life conversation", "Brytpunktssamtal"},
        {"Enrolment in specialised palliative home care (SSIH)",
         "Inskrivning i specialiserad palliativ hemsjukvård (SSIH)"},
        {"Enrolments", "Inskrivningar"},
        {"Expected deaths", "Väntade dödsfall"},
        {"faint bar, prel.", "blek stapel, prel."},
        {"Feb", "feb"},
        {"file %s", "fil %s"},
        {"Free of pressure ulcers (grade 2\u20134)",
         "Fri från trycksår (grad 2\u20134)"},
        {"From the register's end-of-life questionnaire, expected deaths "
         "only, by month of death: the share answering yes (an unknown "
         "answer counts as not done). Targets are Socialstyrelsen's target "
         "levels for palliative care (2017) unless target.&lt;indicator&gt; "
         "sets another; values from fewer than ",
         "Från registrets dödsfallsenkät, endast väntade dödsfall, per "
         "dödsmånad: andelen som svarat ja (ett okänt svar räknas som ej "
         "utfört). Målvärdena är Socialstyrelsens målnivåer (2017) för "
         "palliativ vård om inte target.&lt;indicator&gt; anger andra; "
         "värden från färre än "},
        {"Funnel plot of %zu kommuner: value against cases, with 95 %% and "
         "99.8 %% limits around %s (%s).",
         "Trattdiagram över %zu kommuner: värde mot antal fall, med "
         "gränserna för 95 %% och 99.8 %% kring %s (%s)."},
        {"Generated", "Skapad"},
        {"Generated by vigil %s (vigil report). Values with fewer than %lld "
         "cases (aggregate.min_denominator) are shown but marked uncertain; "
         "values of months not settled yet (complete = false) are "
         "preliminary, drawn hollow and never judged against a target; "
         "shaded months rest on history before the first event Vigil has "
         "(history_complete = false); targets come from the "
         "target.&lt;indicator&gt; configuration, by default for the "
         "register Socialstyrelsen's target levels (2017). This page loads "
         "no external resources.",
         "Skapad av vigil %s (vigil report). Värden från färre än %lld fall "
         "(aggregate.min_denominator) visas men markeras som osäkra; värden "
         "för månader som ännu inte är avslutade (complete = false) är "
         "preliminära, ritas ihåliga och bedöms aldrig mot ett målvärde; "
         "skuggade månader vilar på historik före den första händelse Vigil "
         "har (history_complete = false); målvärdena kommer från "
         "konfigurationen target.&lt;indicator&gt;, för registret som "
         "standard Socialstyrelsens målnivåer (2017). Sidan laddar inga "
         "externa resurser."},
        {" Grouped per kommun, the kommun of the death: an alert has no "
         "care unit (the reporting unit, unit_id, is only on register "
         "entries). Times are local (",
         " Grupperade per kommun, dödsfallets kommun: ett larm har ingen "
         "vårdenhet (den rapporterande enheten, unit_id, finns bara på "
         "registreringar). Tiderna är lokala ("},
        {"hidden (public)", "dold (offentlig)"},
        {"hollow", "ihålig"},
        {"Home", "Eget hem"},
        {"Home with SSIH", "Eget hem med SSIH"},
        {"Hospital", "Sjukhus"},
        {"Hospital admission in the last 30 days of life",
         "Sjukhusinläggning under livets sista 30 dagar"},
        {" in ", " i "},
        {" \u2013 incomplete history", " \u2013 ofullständig historik"},
        {"; incomplete history", "; ofullständig historik"},
        {"incomplete history", "ofullständig historik"},
        {": incomplete history \u2013 the value rests on history before the "
         "first event Vigil has",
         ": ofullständig historik \u2013 värdet vilar på historik före den "
         "första händelse Vigil har"},
        {"Index discharges", "Indexutskrivningar"},
        {"Indicator", "Indikator"},
        {"Indicator misses target", "Indikator når inte målvärdet"},
        {"Indicators", "Indikatorer"},
        {"indicators below target", "indikatorer under målvärdet"},
        {"<b>Internal report.</b> This list identifies patients by "
         "pseudonym only; keep it out of anything published.",
         "<b>Intern rapport.</b> Listan identifierar patienter enbart med "
         "pseudonym; håll den utanför allt som publiceras."},
        {"Jan", "jan"},
        {"Jul", "jul"},
        {"Jun", "jun"},
        {"Kafka topic %s at %s", "Kafka-topic %s på %s"},
        {"Kafka topic %s", "Kafka-topic %s"},
        {"Kommun", "Kommun"},
        {"Kommuner (%zu): deaths by place, %s to %s",
         "Kommuner (%zu): dödsfall per plats, %s till %s"},
        {"Kommuner (%zu): totals %s to %s",
         "Kommuner (%zu): summor %s till %s"},
        {"Kommuner (%zu): value per month", "Kommuner (%zu): värde per månad"},
        {"Kommuner compared, %s", "Kommuner jämförda, %s"},
        {"; latest settled %s: %s (%lld of %lld)",
         "; senaste avslutade %s: %s (%lld av %lld)"},
        {"Latest settled (complete) month of each indicator, ",
         "Senaste avslutade (kompletta) månad för varje indikator, "},
        {"Line chart of %s (%s), %s, per month from %s to %s: %zu months "
         "with data",
         "Linjediagram över %s (%s), %s, per månad från %s till %s: %zu "
         "månader med data"},
        {"%lld cases", "%lld fall"},
        {"%lld cases are uncertain and not judged.",
         "%lld fall är osäkra och bedöms inte."},
        {"%s deaths", "%s dödsfall"},
        {"%s in total", "%s totalt"},
        {" (%lld of %lld)", " (%lld av %lld)"},
        {"Mar", "mar"},
        {"May", "maj"},
        {"meets the target", "når målvärdet"},
        {"misses", "når inte"},
        {" \u2013 misses the target", " \u2013 når inte målvärdet"},
        {"misses the target", "når inte målvärdet"},
        {"Month", "Månad"},
        {"Months", "Månader"},
        {"months, %s to %s", "månader, %s till %s"},
        {" more than chance explains; a small kommun far from the line may "
         "still be inside.",
         " mer än slumpen kan förklara; en liten kommun långt från linjen "
         "kan ändå ligga innanför."},
        {"n=deaths; striped and *: fewer than %lld deaths (uncertain)",
         "n=dödsfall; randig och *: färre än %lld dödsfall (osäker)"},
        {"Newer month, preliminary: %s (not settled, not judged)",
         "Nyare månad, preliminär: %s (inte avslutad, inte bedömd)"},
        {"Newer, preliminary", "Nyare, preliminär"},
        {"No active alerts.", "Inga aktiva larm."},
        {"No active DEATH_NOT_REGISTERED alerts: every death past its "
         "deadline is registered, or the register rules are off.",
         "Inga aktiva DEATH_NOT_REGISTERED-larm: alla dödsfall efter "
         "registreringsfristen är registrerade, eller så är "
         "registerreglerna avstängda."},
        {"No area to chart.", "Inget område att visa i diagram."},
        {"No indicator values in the selected areas and months.",
         "Inga indikatorvärden i de valda områdena och månaderna."},
        {"No kommun", "Ingen kommun"},
        {"No region", "Ingen region"},
        {"No register data: no register_coverage values in the inputs "
         "(rules.register=off, or no death is due yet).",
         "Inga registerdata: inga register_coverage-värden i indata "
         "(rules.register=off, eller inget dödsfall har passerat "
         "registreringsfristen än)."},
        {"No register data: the inputs have no spr.* values (no register "
         "entries yet, or rules.register=off).",
         "Inga registerdata: indata har inga spr.*-värden (inga "
         "registreringar än, eller rules.register=off)."},
        {"no settled month yet", "ingen avslutad månad än"},
        {"No settled month yet: every spr.* value is preliminary.",
         "Ingen avslutad månad än: alla spr.*-värden är preliminära."},
        {"No SIP by the deadline <b class=\"nw\">%s</b>; discharged <span "
         "class=\"nw\">%s</span>",
         "Ingen SIP före tidsgränsen <b class=\"nw\">%s</b>; utskriven "
         "<span class=\"nw\">%s</span>"},
        {"no target", "inget målvärde"},
        {"No value for Sverige or a region.",
         "Inget värde för Sverige eller någon region."},
        {"none", "saknas"},
        {"none (public page)", "inga (offentlig sida)"},
        {"Note", "Anmärkning"},
        {"Nov", "nov"},
        {"number above each bar: total of the month",
         "talet ovanför varje stapel: månadens summa"},
        {"; number and share of the month's deaths",
         "; antal och andel av månadens dödsfall"},
        {"Number of new SSIH stays by month of admission, by age band; the "
         "data table also splits them by diagnosis group.",
         "Antal nya inskrivningar i SSIH per inskrivningsmånad och "
         "åldersgrupp; datatabellen delar även upp dem per diagnosgrupp."},
        {"Numerator", "Täljare"},
        {"Nursing home", "Särskilt boende"},
        {"Oct", "okt"},
        {" (of %zu alerts read, deduplicated by alert id; the last status "
         "of each counts). Times are local (",
         " (av %zu inlästa larm, utan dubbletter per larm-id; varje larms "
         "senaste status gäller). Tiderna är lokala ("},
        {"open comparisons", "öppna jämförelser"},
        {"Oral health assessed", "Munhälsobedömning"},
        {"Other", "Annan plats"},
        {"other age", "annan ålder"},
        {"other alerts", "övriga larm"},
        {"Other symptoms assessed", "Skattning av övriga symtom"},
        {" \u2013 outside the 95 % limits", " \u2013 utanför 95 %-gränserna"},
        {" \u2013 outside the 99.8 % limits",
         " \u2013 utanför 99.8 %-gränserna"},
        {"overdue SIP alerts", "larm om försenad SIP"},
        {"Overview", "Översikt"},
        {"Pain assessed", "Smärtskattning"},
        {"pale: uncertain, fewer than %lld cases",
         "blek: osäker, färre än %lld fall"},
        {"Palliative unit", "Palliativ slutenvårdsenhet"},
        {" past the register deadline without an entry (active "
         "DEATH_NOT_REGISTERED alerts) in %zu %s.",
         " efter registreringsfristen utan registrering (aktiva "
         "DEATH_NOT_REGISTERED-larm) i %zu %s."},
        {"Patient", "Patient"},
        {"Patient (pseudonym)", "Patient (pseudonym)"},
        {"); patients appear by a shortened pseudonym.",
         "); patienter visas med en förkortad pseudonym."},
        {"Place", "Plats"},
        {"Place of death", "Dödsplats"},
        {"Place of death \u2013 %s", "Dödsplats \u2013 %s"},
        {"prel.", "prel."},
        {"preliminary", "preliminär"},
        {"preliminary (not settled yet); ",
         "preliminär (ännu inte avslutad); "},
        {" (preliminary)", " (preliminär)"},
        {" \u2013 preliminary: not settled yet",
         " \u2013 preliminär: ännu inte avslutad"},
        {"<b>Public version.</b> Values with a count from 1 to %lld "
         "(publish.min_count \u2212 1), and values from which one of them "
         "could be worked out by subtraction, are shown as <b>..</b> and "
         "are not drawn. The page holds no patient-level data.",
         "<b>Offentlig version.</b> Värden med ett antal från 1 till %lld "
         "(publish.min_count \u2212 1), och värden som något av dem skulle "
         "kunna räknas fram ur genom subtraktion, visas som <b>..</b> och "
         "ritas inte. Sidan innehåller inga uppgifter på patientnivå."},
        {"Quality indicators", "Kvalitetsindikatorer"},
        {"readmission alerts", "larm om återinskrivning"},
        {"Readmission within 30 days", "Återinskrivning inom 30 dagar"},
        {"Readmitted", "Återinskrivna"},
        {"Readmitted <b>%lld %s</b> after discharge: discharged <span "
         "class=\"nw\">%s</span>, readmitted <span class=\"nw\">%s</span>",
         "Återinskriven <b>%lld %s</b> efter utskrivning: utskriven <span "
         "class=\"nw\">%s</span>, återinskriven <span class=\"nw\">%s</span>"},
        {"Register coverage", "Täckningsgrad i registret"},
        {"Register quality indicators by kommun, %s",
         "Registrets kvalitetsindikatorer per kommun, %s"},
        {"Register quality indicators, %s <span "
         "class=\"pm\">preliminary</span>: the month is not settled yet, so "
         "no value is judged against its target",
         "Registrets kvalitetsindikatorer, %s <span "
         "class=\"pm\">preliminär</span>: månaden är ännu inte avslutad, så "
         "inget värde bedöms mot sitt målvärde"},
        {"Register quality indicators, %s: the latest settled month; share "
         "of expected deaths with an entry answering yes, and entries yes / "
         "entries",
         "Registrets kvalitetsindikatorer, %s: den senaste avslutade "
         "månaden; andel väntade dödsfall med en registrering som svarat "
         "ja, och registreringar ja / registreringar"},
        {"Registered", "Registrerade"},
        {"Rule", "Regel"},
        {": %s (%lld of %lld)", ": %s (%lld av %lld)"},
        {"%s \u2013 kommuner compared, %s", "%s \u2013 kommuner jämförda, %s"},
        {" (%s); the curves are the 95 %% (inner) and 99.8 %% (outer) "
         "limits within which a kommun of that size falls by chance alone. "
         "A kommun outside the outer limits differs from ",
         " (%s); kurvorna är gränserna för 95 %% (inre) och 99.8 %% "
         "(yttre), inom vilka en kommun av den storleken hamnar enbart av "
         "slumpen. En kommun utanför de yttre gränserna skiljer sig från "},
        {", %s: %.0f of %lld (%.1f%%)", ", %s: %.0f av %lld (%.1f%%)"},
        {"%s: %lld deaths, fewer than %lld: uncertain",
         "%s: %lld dödsfall, färre än %lld: osäker"},
        {"%s: %s (%lld of %lld)", "%s: %s (%lld av %lld)"},
        {"%s: %s (%lld of %lld) \u2013 %svery few cases; above the scale%s",
         "%s: %s (%lld av %lld) \u2013 %smycket få fall; ovanför skalan%s"},
        {"%s: preliminary, the month is not settled yet",
         "%s: preliminär, månaden är ännu inte avslutad"},
        {"Sections", "Avsnitt"},
        {"Sep", "sep"},
        {"Shaded months rest on incomplete history: the indicator looks "
         "back before ",
         "Skuggade månader vilar på ofullständig historik: indikatorn "
         "blickar tillbaka till före "},
        {"shaded: incomplete history", "skuggad: ofullständig historik"},
        {"Share of deaths preceded by at least one unplanned hospital "
         "admission within 30 days, by month of death. Lower is better.",
         "Andel dödsfall som föregicks av minst en oplanerad "
         "sjukhusinläggning inom 30 dagar, per dödsmånad. Lägre är bättre."},
        {"Share of deaths preceded by two or more unplanned hospital "
         "admissions within 30 days, by month of death. Lower is better.",
         "Andel dödsfall som föregicks av två eller fler oplanerade "
         "sjukhusinläggningar inom 30 dagar, per dödsmånad. Lägre är bättre."},
        {"Share of deaths whose register deadline has passed that have an "
         "entry in the register, by month of death.",
         "Andel av dödsfallen med passerad registreringsfrist som har en "
         "registrering i registret, per dödsmånad."},
        {"Share of discharges needing coordination that got a SIP before "
         "the deadline, by month of discharge. Higher is better.",
         "Andel utskrivningar med behov av samordning som fick en SIP före "
         "tidsgränsen, per utskrivningsmånad. Högre är bättre."},
        {"Share of expected deaths with a coordinated individual plan (SIP) "
         "made within the year before death, by month of death. Higher is "
         "better.",
         "Andel väntade dödsfall med en samordnad individuell plan (SIP) "
         "upprättad under året före döden, per dödsmånad. Högre är bättre."},
        {"Share of hospital discharges (index discharges) followed by an "
         "unplanned readmission within 30 days, by month of discharge. "
         "Lower is better.",
         "Andel utskrivningar från sjukhus (indexutskrivningar) som följdes "
         "av en oplanerad återinskrivning inom 30 dagar, per "
         "utskrivningsmånad. Lägre är bättre."},
        {"Short-term care", "Korttidsboende"},
        {"SIP before an expected death", "SIP före ett väntat dödsfall"},
        {"SIP in time", "SIP i tid"},
        {"SIP in time after discharge", "SIP i tid efter utskrivning"},
        {"SIP overdue after discharge", "SIP försenad efter utskrivning"},
        {"Socialstyrelsen 2017", "Socialstyrelsen 2017"},
        {"Someone present at death", "Mänsklig närvaro i dödsögonblicket"},
        {"Stacked bar chart of the share of deaths by place, per month from "
         "%s to %s, %s: %s deaths in %zu months. Months with fewer than "
         "%lld deaths are faded and marked *.",
         "Staplat stapeldiagram över andelen dödsfall per plats, per månad "
         "från %s till %s, %s: %s dödsfall under %zu månader. Månader med "
         "färre än %lld dödsfall är tonade och markerade med *."},
        {"Status", "Status"},
        {"stay", "vårdtillfälle"},
        {"stays", "vårdtillfällen"},
        {"Svenska palliativregistret", "Svenska palliativregistret"},
        {"Sverige, for comparison", "Sverige, för jämförelse"},
        {"Target", "Målvärde"},
        {"target %s", "målvärde %s"},
        {", target %s%g%%", ", målvärde %s%g%%"},
        {". Target %s, missed in %zu months",
         ". Målvärde %s, inte nått under %zu månader"},
        {"The dashed line is the target ",
         "Den streckade linjen är målvärdet "},
        {"); the deadline is the instant the death became overdue.",
         "); tidsgränsen är den tidpunkt då dödsfallet blev försenat."},
        {"the first event Vigil has (data since), so cases before it are "
         "missing from these values.",
         "den första händelse Vigil har (data since), så fall före den "
         "saknas i dessa värden."},
        {"The Swedish Register of Palliative Care: how many deaths are in "
         "the register (coverage), its quality indicators against their "
         "target levels, and the deaths still not registered.",
         "Svenska palliativregistret: hur många dödsfall som finns i "
         "registret (täckningsgrad), registrets kvalitetsindikatorer mot "
         "deras målnivåer och de dödsfall som ännu inte är registrerade."},
        {"Total", "Totalt"},
        {"Two or more hospital admissions in the last 30 days of life",
         "Två eller fler sjukhusinläggningar under livets sista 30 dagar"},
        {"uncertain (few cases)", "osäker (få fall)"},
        {"uncertain (fewer than %lld cases)", "osäker (färre än %lld fall)"},
        {"Uncertain below", "Osäker under"},
        {" \u2013 uncertain: few cases", " \u2013 osäker: få fall"},
        {"Unknown", "Okänd"},
        {"age not known", "ålder okänd"},
        {"women", "kvinnor"},
        {"men", "män"},
        {"sex not recorded", "kön ej angivet"},
        {"sex not known", "kön okänt"},
        {"cancer", "cancer"},
        {"COPD", "KOL"},
        {"heart failure", "hjärtsvikt"},
        {"kidney failure", "njursvikt"},
        {"dementia", "demens"},
        {"other diagnosis", "annan diagnos"},
        {"diagnosis not known", "diagnos okänd"},
        {"ordinary home", "ordinärt boende"},
        {"nursing home", "särskilt boende"},
        {"short-term care", "korttidsboende"},
        {"other housing", "annat boende"},
        {"housing not recorded", "boendeform ej angiven"},
        {"housing not known", "boendeform okänd"},
        {"%s \u2013 %s by age, sex, diagnosis and housing, %s",
         "%s \u2013 %s efter ålder, kön, diagnos och boendeform, %s"},
        {"By age, sex, diagnosis and housing",
         "Efter ålder, kön, diagnos och boendeform"},
        {"Group", "Grupp"},
        {"in hospital", "på sjukhus"},
        {"at home (with or without SSIH)", "i hemmet (med eller utan SSIH)"},
        {"in a nursing home", "på särskilt boende"},
        {"Place of death per kommun over the years",
         "Dödsplats per kommun över åren"},
        {"The share of each year's deaths in hospital, at home and in "
         "nursing homes, and the change in percentage points from the first "
         "year to the last.",
         "Andelen av årets dödsfall på sjukhus, i hemmet och på särskilt "
         "boende, och förändringen i procentenheter från första till sista "
         "året."},
        {"<span class=\"sub\">12 months to %s: ..</span>",
         "<span class=\"sub\">12 månader till och med %s: ..</span>"},
        {"<span class=\"sub\">12 months to %s: %s (%lld/%lld)</span>",
         "<span class=\"sub\">12 månader till och med %s: %s (%lld/%lld)"
         "</span>"},
        {"the region's own choice (target.<indicator>)",
         "regionens eget val (target.<indicator>)"},
        {"Change", "Förändring"},
        {"Value", "Värde"},
        {"value from very few cases, above the scale (see the data table)",
         "värde från mycket få fall, ovanför skalan (se datatabellen)"},
        {"value per month", "värde per månad"},
        {"Value per month.", "Värde per månad."},
        {"values hidden (fewer than %lld cases, or revealing one)",
         "värden dolda (färre än %lld fall, eller som skulle röja ett "
         "sådant)"},
        {"Vigil \u2013 end-of-life care report",
         "Vigil \u2013 vård i livets slut"},
        {"Where people died, as a share of all deaths of the month.",
         "Var personer dog, som andel av alla dödsfall under månaden."},
        {"With admission", "Med inläggning"},
        {"With SIP", "Med SIP"},
        {"With \u2265 2 admissions", "Med \u2265 2 inläggningar"},
        {"within the limits", "inom gränserna"},
        {" (%zu alerts)", " (%zu larm)"},
        {" %zu kommun with few cases is hidden (public page).",
         " %zu kommun med få fall är dold (offentlig sida)."},
        {" %zu kommuner with few cases are hidden (public page).",
         " %zu kommuner med få fall är dolda (offentlig sida)."},
        {" %zu month is preliminary (not settled yet, drawn hollow).",
         " %zu månad är preliminär (ännu inte avslutad, ritad ihålig)."},
        {" %zu month rests on incomplete history (shaded).",
         " %zu månad vilar på ofullständig historik (skuggad)."},
        {" %zu months are preliminary (not settled yet, drawn hollow).",
         " %zu månader är preliminära (ännu inte avslutade, ritade ihåliga)."},
        {". %zu months have fewer than %lld cases (uncertain).",
         ". %zu månader har färre än %lld fall (osäkra)."},
        {" %zu months rest on incomplete history (shaded).",
         " %zu månader vilar på ofullständig historik (skuggade)."},
        {"%zu more are below it on fewer than %lld cases (uncertain, marked "
         "<span class=\"mk-u\">below</span>).",
         "%zu till ligger under det på färre än %lld fall (osäkra, "
         "markerade <span class=\"mk-u\">under</span>)."},
        {"%zu more is below it on fewer than %lld cases (uncertain, marked "
         "<span class=\"mk-u\">below</span>).",
         "%zu till ligger under det på färre än %lld fall (osäkert, "
         "markerat <span class=\"mk-u\">under</span>)."},
        {" (%zu values)", " (%zu värden)"},
        {"<b>%zu</b> value of %s misses the target (marked <span "
         "class=\"mk\">misses</span>); ",
         "<b>%zu</b> värde för %s når inte målvärdet (markerat <span "
         "class=\"mk\">når inte</span>); "},
        {"<b>%zu</b> values of %s miss the target (marked <span "
         "class=\"mk\">misses</span>); ",
         "<b>%zu</b> värden för %s når inte målvärdet (markerade <span "
         "class=\"mk\">når inte</span>); "},
};
/* END TRANSLATIONS */

#define TR_SLOTS 1024   /* power of two, well above the table's size */
_Static_assert(VG_ARRAY_SIZE(tr) < TR_SLOTS / 2, "TR_SLOTS: make it larger");

bool rp_lang_valid(const char *lang) {
        return !strcmp(lang, "sv") || !strcmp(lang, "en");
}

static bool lang_sv(const rep_t *r) {
        return r && r->rp_lang && !strcmp(r->rp_lang, "sv");
}

/* The entry of en, or NULL: an open-addressing index built at first use. */
static const tr_t *tr_find(const char *en) {
        static uint16_t slot[TR_SLOTS]; /* entry + 1; 0: empty */
        static bool built;
        uint32_t h;
        if (!built) {
                for (size_t i = 0; i < VG_ARRAY_SIZE(tr); i++) {
                        h = vg_hash_str(tr[i].en) & (TR_SLOTS - 1);
                        while (slot[h] && strcmp(tr[slot[h] - 1].en, tr[i].en))
                                h = (h + 1) & (TR_SLOTS - 1);
                        if (!slot[h]) /* the first of duplicates wins */
                                slot[h] = (uint16_t)(i + 1);
                }
                built = true;
        }
        h = vg_hash_str(en) & (TR_SLOTS - 1);
        for (; slot[h]; h = (h + 1) & (TR_SLOTS - 1))
                if (!strcmp(tr[slot[h] - 1].en, en))
                        return &tr[slot[h] - 1];
        return NULL;
}

/* Warns about en once (by address: a text is a literal of the code). */
static void tr_warn(const char *what, const char *en) {
        static const char *seen[64];
        static size_t nseen;
        for (size_t i = 0; i < nseen; i++)
                if (seen[i] == en)
                        return;
        if (nseen < VG_ARRAY_SIZE(seen))
                seen[nseen++] = en;
        vg_warn(CMD, "%s: \"%s\" (written in English)", what, en);
}

const char *rp_t(const rep_t *r, const char *en) {
        const tr_t *t;
        if (!lang_sv(r) || !en || !*en)
                return en;
        if (!(t = tr_find(en))) {
                tr_warn("no Swedish text", en);
                return en;
        }
        return t->sv;
}

/* The conversions of printf format f in order ("%zu%s%%"), in buf. */
static void conversions(const char *f, char *buf, size_t size) {
        size_t n = 0;
        buf[0] = '\0';
        while ((f = strchr(f, '%'))) {
                size_t len = 1 + strspn(f + 1, "-+ #0'123456789.*hlLjzt");
                if (f[len])
                        len++;
                if (n + len >= size)
                        break;
                memcpy(buf + n, f, len);
                buf[n += len] = '\0';
                f += len;
        }
}

const char *rp_tf(const rep_t *r, const char *en) {
        const char *sv = rp_t(r, en);
        char a[256], b[256];
        if (sv == en)
                return en;
        conversions(en, a, sizeof(a));
        conversions(sv, b, sizeof(b));
        if (strcmp(a, b)) {
                tr_warn("Swedish text with other printf conversions", en);
                return en;
        }
        return sv;
}

/* ------------------------------------------------------------------------
 * Text
 */

void rp_esc(vg_buf_t *b, const char *s) {
        const char *p = s ? s : "";
        while (*p) {
                size_t run = strcspn(p, "&<>\"'");
                vg_buf_append(b, p, run);
                p += run;
                switch (*p) {
                case '&': vg_buf_puts(b, "&amp;"); break;
                case '<': vg_buf_puts(b, "&lt;"); break;
                case '>': vg_buf_puts(b, "&gt;"); break;
                case '"': vg_buf_puts(b, "&quot;"); break;
                case '\'': vg_buf_puts(b, "&#39;"); break;
                default: return;
                }
                p++;
        }
}


const char *const rp_month_names[] = {
        N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"),
        N_("Jul"), N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec")};

/* The short name of month 1..12 in the page's language. */
const char *rp_month_name(const rep_t *r, int month) {
        return rp_t(r, rp_month_names[month - 1]);
}

int rp_period_month(const char *period) {
        int m = strlen(period) >= 7 ? atoi(period + 5) : 0;
        return m >= 1 && m <= 12 ? m : 0;
}

/* "Mar 2026" (or the period itself if it is not YYYY-MM). */
void rp_period_label(const rep_t *r, const char *period, char *buf,
                     size_t size) {
        int m = rp_period_month(period);
        if (m)
                snprintf(buf, size, "%s %.4s", rp_month_name(r, m), period);
        else
                snprintf(buf, size, "%s", period);
}

/* Local "YYYY-MM-DD HH:MM" (or only the date) in the configured zone. */
void rp_fmt_local(const rep_t *r, int64_t ms, bool with_time, char *buf,
                  size_t size) {
        char t[VG_TIME_BUFSZ];
        vg_time_format(ms + vg_tz_offset(r->rp_tz, ms), t);
        if (with_time)
                snprintf(buf, size, "%.10s %.5s", t, t + 11);
        else
                snprintf(buf, size, "%.10s", t);
}

/* "Region Sörmland" + " (04)": the display name, code when it has none. */
void rp_area_html(rep_t *r, const char *area, bool with_code) {
        const char *name = vg_area_name(area);
        if (*name) {
                E(r, name);
                if (with_code && rp_area_level(area)) {
                        P(r, " <span class=\"code\">");
                        E(r, area);
                        P(r, "</span>");
                }
        } else {
                P(r, rp_t(r, "Area "));
                E(r, area);
        }
}

void rp_area_text(const rep_t *r, const char *area, char *buf, size_t size) {
        const char *name = vg_area_name(area);
        if (!*name)
                snprintf(buf, size, rp_tf(r, "area %s"), area);
        else if (rp_area_level(area))
                snprintf(buf, size, "%s (%s)", name, area);
        else
                snprintf(buf, size, "%s", name);
}

void rp_pct(double v, char *buf, size_t size) {
        snprintf(buf, size, "%.1f%%", 100.0 * v);
}

/* "≤ 10%" */
void rp_target_text(const rep_t *r, const vg_target_t *tg, char *buf,
                    size_t size) {
        if (!tg->tg_set)
                snprintf(buf, size, "%s", rp_t(r, "none"));
        else
                snprintf(buf, size, "%s %g%%",
                         tg->tg_higher_is_better ? "\u2265" : "\u2264",
                         tg->tg_target * 100);
}

/* ------------------------------------------------------------------------
 * Sections
 */



/* In SPEC §6 order. The texts are English: rp_sec_tr translates them. */
const sec_t rp_known_secs[] = {
        {SEC_LINE, "readmission_30d", N_("Readmission within 30 days"),
         N_("Share of hospital discharges (index discharges) followed by an "
            "unplanned readmission within 30 days, by month of discharge. "
            "Lower is better."),
         N_("Readmitted"), N_("Index discharges")},
        {SEC_PLACE, "death_place.", N_("Place of death"),
         N_("Where people died, as a share of all deaths of the month."),
         N_("Deaths here"), N_("Deaths")},
        {SEC_LINE, "eol_admission_30d",
         N_("Hospital admission in the last 30 days of life"),
         N_("Share of deaths preceded by at least one unplanned hospital "
            "admission within 30 days, by month of death. Lower is better."),
         N_("With admission"), N_("Deaths")},
        {SEC_LINE, "eol_readmission_30d",
         N_("Two or more hospital admissions in the last 30 days of life"),
         N_("Share of deaths preceded by two or more unplanned hospital "
            "admissions within 30 days, by month of death. Lower is "
            "better."),
         N_("With \u2265 2 admissions"), N_("Deaths")},
        {SEC_LINE, "sip_before_death", N_("SIP before an expected death"),
         N_("Share of expected deaths with a coordinated individual plan "
            "(SIP) made within the year before death, by month of death. "
            "Higher is better."),
         N_("With SIP"), N_("Expected deaths")},
        {SEC_LINE, "sip_within_deadline", N_("SIP in time after discharge"),
         N_("Share of discharges needing coordination that got a SIP before "
            "the deadline, by month of discharge. Higher is better."),
         N_("SIP in time"), N_("Discharges")},
        {SEC_SSIH, "ssih_enrolment.",
         N_("Enrolment in specialised palliative home care (SSIH)"),
         N_("Number of new SSIH stays by month of admission, by age band; "
            "the data table also splits them by diagnosis group."),
         N_("Enrolments"), ""},
        /* register_coverage and spr.* (rp_sec_has): one section */
        {SEC_REGISTER, "spr.", N_("Svenska palliativregistret"),
         N_("The Swedish Register of Palliative Care: how many deaths are "
            "in the register (coverage), its quality indicators against "
            "their target levels, and the deaths still not registered."),
         N_("Registered"), N_("Deaths due")},
};
const size_t rp_nknown_secs = VG_ARRAY_SIZE(rp_known_secs);

/* A section with its texts in the page's language (the title of an
 * indicator this version does not know is its name: not translated). */
sec_t rp_sec_tr(const rep_t *r, const sec_t *s) {
        sec_t t = *s;
        if (s->s_title != s->s_key)
                t.s_title = rp_t(r, s->s_title);
        t.s_what = rp_t(r, s->s_what);
        t.s_num = rp_t(r, s->s_num);
        t.s_den = rp_t(r, s->s_den);
        return t;
}

bool rp_sec_has(const sec_t *s, const char *ind) {
        size_t kl = strlen(s->s_key);
        if (s->s_kind == SEC_REGISTER)
                return rp_register_ind(ind);
        if (s->s_key[kl - 1] == '.')
                return !strncmp(ind, s->s_key, kl);
        return !strcmp(ind, s->s_key);
}

bool rp_known_ind(const char *ind) {
        for (size_t i = 0; i < VG_ARRAY_SIZE(rp_known_secs); i++)
                if (rp_sec_has(&rp_known_secs[i], ind))
                        return true;
        return false;
}

bool rp_any_ind(const rep_t *r, const sec_t *s) {
        for (size_t i = 0; i < r->rp_ninds; i++)
                if (rp_sec_has(s, r->rp_inds[i]))
                        return true;
        return false;
}

void rp_sec_anchor(const sec_t *s, char *buf, size_t size) {
        size_t kl = strlen(s->s_key);
        if (s->s_kind == SEC_REGISTER) {
                snprintf(buf, size, "register");
                return;
        }
        snprintf(buf, size, "ind-%.*s", (int)(s->s_key[kl - 1] == '.' ? kl - 1
                                                                      : kl),
                 s->s_key);
}

/* A row of Svenska palliativregistret (the register section draws them). */
bool rp_register_ind(const char *ind) {
        return !strcmp(ind, "register_coverage") || !strncmp(ind, "spr.", 4);
}
