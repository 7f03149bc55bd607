/*
 * serve_page.c - the page at / of `vigil serve`: the caller's current
 * alerts with kommun names, times and a plain-Swedish explanation of each
 * rule, kept up to date by an EventSource on alerts/stream; and the login
 * form that gives a browser its session cookie (an EventSource cannot send
 * an Authorization header).
 *
 * Everything is inline and nothing is loaded from elsewhere; the
 * Content-Security-Policy allows exactly this script and style (by their
 * SHA-256) and connections to the server itself. Alert data is put into
 * the page with textContent only, never as markup.
 */
#include "vg_serve.h"
#include "vg_areas.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

static const char page_css[] =
        "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:52rem;"
        "padding:1rem 1.25rem;color:#1c2127;background:#fff;line-height:1.45}"
        "header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.5rem 1rem;"
        "border-bottom:2px solid #1f5fa8;margin-bottom:1rem}"
        "h1{font-size:1.5rem;margin:.3rem 0;flex:1}"
        ".who{margin:.3rem 0;color:#4a5561}"
        "form.out{margin:0}"
        "button{font:inherit;padding:.35rem .9rem;border:1px solid #1f5fa8;"
        "background:#1f5fa8;color:#fff;border-radius:4px;cursor:pointer}"
        "form.out button{background:#fff;color:#1f5fa8}"
        "#status{font-size:.9rem;color:#4a5561;margin:.25rem 0}"
        "#status.off{color:#b3261e}"
        "ul#alerts{list-style:none;padding:0;margin:0}"
        "ul#alerts li{border:1px solid #d5dbe1;border-left:6px solid #b3261e;"
        "border-radius:4px;padding:.6rem .9rem;margin:.6rem 0}"
        "ul#alerts li.new{background:#fff7e0}"
        "ul#alerts h2{font-size:1.05rem;margin:0 0 .2rem}"
        ".meta{margin:0;color:#4a5561;font-size:.92rem}"
        ".text{margin:.3rem 0 0}"
        ".pid{margin:.3rem 0 0;font-size:.8rem;color:#6b7682;"
        "font-family:ui-monospace,monospace}"
        "footer{margin-top:1.5rem;font-size:.9rem}"
        "main.login{max-width:26rem;margin:3rem auto}"
        "label{display:block;margin:.8rem 0 .3rem;font-weight:600}"
        "input{font:inherit;width:100%;box-sizing:border-box;padding:.4rem;"
        "border:1px solid #8a949e;border-radius:4px;margin-bottom:.8rem}"
        ".error{color:#b3261e;font-weight:600}"
        ".note{font-size:.85rem;color:#4a5561}";

static const char page_js[] =
        "(function(){\"use strict\";\n"
        "var cfg=JSON.parse(document.getElementById(\"vg-data\").textContent);\n"
        "var alerts={},fresh={};\n"
        "var list=document.getElementById(\"alerts\");\n"
        "var st=document.getElementById(\"status\");\n"
        "var cnt=document.getElementById(\"count\");\n"
        "var empty=document.getElementById(\"empty\");\n"
        "var dtf=new Intl.DateTimeFormat(\"sv-SE\",{dateStyle:\"long\","
        "timeStyle:\"short\",timeZone:cfg.timezone});\n"
        "var df=new Intl.DateTimeFormat(\"sv-SE\",{dateStyle:\"long\","
        "timeZone:cfg.timezone});\n"
        "function dt(s){var d=new Date(s);return s&&!isNaN(d)?dtf.format(d):"
        "\"okänd tid\";}\n"
        "function day(s){var d=new Date(s);return s&&!isNaN(d)?df.format(d):"
        "\"okänt datum\";}\n"
        "function name(c){var n=cfg.names[c];return n?n+\" (\"+c+\")\":"
        "(c||\"okänd kommun\");}\n"
        "function pct(v){return typeof v===\"number\"?"
        "(Math.round(v*1000)/10).toString().replace(\".\",\",\")+\" %\":"
        "\"okänt\";}\n"
        "var MONTHS=[\"januari\",\"februari\",\"mars\",\"april\",\"maj\","
        "\"juni\",\"juli\",\"augusti\",\"september\",\"oktober\",\"november\","
        "\"december\"];\n"
        "function period(p){var m=/^(\\d{4})-(\\d{2})$/.exec(p||\"\");"
        "return m?MONTHS[+m[2]-1]+\" \"+m[1]:(p||\"okänd period\");}\n"
        "var RULES={\n"
        "READMISSION_30D:function(a){return{title:\"Återinskriven på sjukhus "
        "inom \"+cfg.window_days+\" dagar\",when:a.readmitted_at,"
        "text:\"Patienten skrevs ut från sjukhuset \"+day(a.index_discharged_at)"
        "+\" och skrevs in igen \"+day(a.readmitted_at)+(a.days_between!=null?"
        "\", \"+a.days_between+\" dagar senare\":\"\")+\". Se över om vården "
        "och stödet efter utskrivningen räcker.\"};},\n"
        "SIP_OVERDUE:function(a){return{title:\"Ingen SIP efter utskrivning\","
        "when:a.deadline,text:\"Patienten skrevs ut \"+dt(a.discharged_at)+"
        "\" och behöver en samordnad individuell plan (SIP) mellan region och "
        "kommun. Ingen SIP har upprättats, fast den skulle ha funnits senast "
        "\"+dt(a.deadline)+\" (\"+cfg.sip_hours+\" timmar efter "
        "utskrivningen).\"};},\n"
        "DEATH_NOT_REGISTERED:function(a){return{title:\"Dödsfall inte "
        "registrerat i Svenska palliativregistret\",when:a.died_at,"
        "text:\"Patienten avled \"+day(a.died_at)+\". Dödsfallet har inte "
        "registrerats i Svenska palliativregistret inom \"+cfg.register_days+"
        "\" dagar\"+(a.deadline?\" (senast \"+day(a.deadline)+\")\":\"\")+"
        "\". Registrera det, så att vården i livets slut kan följas "
        "upp.\"};},\n"
        "INDICATOR_BELOW_TARGET:function(a){return{title:\"Indikator på fel "
        "sida om målet\",when:a.emitted_at,text:\"Indikatorn \"+a.indicator+"
        "\" för \"+name(a.area)+\" i \"+period(a.period)+\" är \"+pct(a.value)+"
        "(a.denominator!=null?\" (\"+a.numerator+\" av \"+a.denominator+\")\":"
        "\"\")+\", och målet är \"+pct(a.target)+\". Se över vad som ligger "
        "bakom.\"};}\n"
        "};\n"
        "function explain(a){var f=RULES[a.rule];return f?f(a):{title:a.rule,"
        "when:a.emitted_at,text:\"Ett larm av en typ som sidan inte känner "
        "till.\"};}\n"
        "function el(tag,cls,text){var e=document.createElement(tag);"
        "if(cls)e.className=cls;if(text!=null)e.textContent=text;return e;}\n"
        "function render(){\n"
        "var xs=Object.keys(alerts).map(function(k){var a=alerts[k];"
        "return{a:a,x:explain(a)};});\n"
        "xs.sort(function(p,q){var s=String(q.x.when||\"\"),t=String(p.x.when||"
        "\"\");return s<t?-1:s>t?1:(p.a.alert_id<q.a.alert_id?-1:1);});\n"
        "list.textContent=\"\";\n"
        "xs.forEach(function(o){var a=o.a,li=el(\"li\",fresh[a.alert_id]?"
        "\"new\":\"\");\n"
        "li.dataset.alertId=a.alert_id;li.dataset.kommun=a.kommun||a.area||"
        "\"\";li.dataset.rule=a.rule;\n"
        "li.appendChild(el(\"h2\",\"\",o.x.title));\n"
        "li.appendChild(el(\"p\",\"meta\",name(a.area||a.kommun)+\" \\u00b7 \""
        "+dt(o.x.when)));\n"
        "li.appendChild(el(\"p\",\"text\",o.x.text));\n"
        "if(a.patient_id){var p=el(\"p\",\"pid\",\"Patient (pseudonym): \"+"
        "a.patient_id.slice(0,16)+(a.patient_id.length>16?\"\\u2026\":\"\"));"
        "p.title=a.patient_id;li.appendChild(p);}\n"
        "list.appendChild(li);});\n"
        "list.dataset.count=String(xs.length);\n"
        "cnt.textContent=xs.length===1?\"1 aktuellt larm\":xs.length+"
        "\" aktuella larm\";\n"
        "empty.hidden=xs.length>0;}\n"
        "function seen(e){if(e.lastEventId)list.dataset.lastEventId="
        "e.lastEventId;}\n"
        "var es=new EventSource(\"alerts/stream\");\n"
        "es.onopen=function(){st.textContent=\"Uppdateras direkt när något "
        "ändras.\";st.className=\"\";};\n"
        "es.onerror=function(){st.textContent=\"Förbindelsen med servern bröts "
        "\\u2013 försöker igen \\u2026\";st.className=\"off\";};\n"
        "es.addEventListener(\"snapshot\",function(e){alerts={};fresh={};"
        "JSON.parse(e.data).alerts.forEach(function(a){if(a.status===\"ACTIVE\")"
        "alerts[a.alert_id]=a;});seen(e);render();});\n"
        "es.addEventListener(\"alert\",function(e){var a=JSON.parse(e.data);"
        "if(a.status===\"ACTIVE\"){alerts[a.alert_id]=a;fresh[a.alert_id]=1;}"
        "else delete alerts[a.alert_id];seen(e);render();});\n"
        "es.addEventListener(\"removed\",function(e){delete alerts[JSON.parse("
        "e.data).alert_id];seen(e);render();});\n"
        "es.addEventListener(\"reset\",function(){st.textContent=\"Listan "
        "har lästs in på nytt från servern.\";});\n"
        "})();\n";

static char csp_page[512], csp_login[512];

static void sha_b64(const char *s, char *out) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)s, strlen(s), md);
        EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}

void sv_page_init(void) {
        char js[64], css[64];
        sha_b64(page_js, js);
        sha_b64(page_css, css);
        snprintf(csp_page, sizeof(csp_page),
                 "default-src 'none'; script-src 'sha256-%s'; style-src "
                 "'sha256-%s'; connect-src 'self'; form-action 'self'; "
                 "frame-ancestors 'none'; base-uri 'none'", js, css);
        snprintf(csp_login, sizeof(csp_login),
                 "default-src 'none'; style-src 'sha256-%s'; form-action "
                 "'self'; frame-ancestors 'none'; base-uri 'none'", css);
}

static void esc(vg_buf_t *b, const char *s) {
        for (; *s; s++) {
                switch (*s) {
                case '<': vg_buf_puts(b, "&lt;"); break;
                case '>': vg_buf_puts(b, "&gt;"); break;
                case '&': vg_buf_puts(b, "&amp;"); break;
                case '"': vg_buf_puts(b, "&quot;"); break;
                case '\'': vg_buf_puts(b, "&#39;"); break;
                default: vg_buf_append(b, s, 1);
                }
        }
}

static void head(vg_buf_t *b, const char *title) {
        vg_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"sv\">\n<head>\n"
                       "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
                       "content=\"width=device-width, initial-scale=1\">\n"
                       "<title>");
        esc(b, title);
        vg_buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n",
                      page_css);
}

void sv_page_login(const char *message, vg_buf_t *out, const char **csp) {
        head(out, "Vigil \u2013 logga in");
        vg_buf_puts(out, "<main class=\"login\">\n<h1>Vigil \u2013 larm</h1>\n"
                         "<p>Logga in med den token du har fått för din "
                         "kommun eller region.</p>\n");
        if (message) {
                vg_buf_puts(out, "<p class=\"error\" role=\"alert\">");
                esc(out, message);
                vg_buf_puts(out, "</p>\n");
        }
        vg_buf_puts(out, "<form method=\"post\" action=\"login\">\n"
                         "<label for=\"token\">Token</label>\n"
                         "<input id=\"token\" name=\"token\" type=\"password\" "
                         "autocomplete=\"current-password\" required>\n"
                         "<button type=\"submit\">Logga in</button>\n</form>\n"
                         "<p class=\"note\">Du ser bara larmen för de "
                         "kommuner eller den region som din token gäller. "
                         "Inloggningen sparas i en kaka som bara den här "
                         "servern kan läsa.</p>\n</main>\n</body>\n</html>\n");
        *csp = csp_login;
}

/* The names the page needs: the caller's areas and their kommuner. */
static void names(const sv_ent_t *ent, json_t *o) {
        for (size_t i = 0; i < vg_areas_kommun_count(); i++) {
                const char *k = vg_areas_kommun_code(i);
                if (sv_ent_area(ent, k))
                        json_object_set_new(o, k,
                                            json_string(vg_areas_name(k)));
        }
        for (size_t i = 0; i < vg_areas_region_count(); i++) {
                const char *r = vg_areas_region_code(i);
                if (sv_ent_area(ent, r))
                        json_object_set_new(o, r,
                                            json_string(vg_areas_name(r)));
        }
        if (ent->se_all)
                json_object_set_new(o, "SE", json_string("Sverige"));
}

void sv_page_alerts(sv_server_t *sv, const sv_caller_t *cl, vg_buf_t *out,
                    const char **csp) {
        const vg_conf_t *conf = sv->sv_conf;
        json_t *cfg = json_object(), *nm = json_object();
        char *js;
        const char *tz = vg_conf_str(conf, "timezone");
        head(out, "Vigil \u2013 aktuella larm");
        vg_buf_puts(out, "<header>\n<h1>Aktuella larm</h1>\n<p class=\"who\">"
                         "Inloggad som <b>");
        esc(out, cl->cl_name);
        vg_buf_puts(out, "</b> \u00b7 ");
        if (cl->cl_ent.se_all) {
                vg_buf_puts(out, "hela Sverige");
        } else {
                for (int i = 0; i < cl->cl_ent.se_n; i++) {
                        const char *a = cl->cl_ent.se_areas[i];
                        const char *n = vg_areas_name(a);
                        if (i)
                                vg_buf_puts(out, ", ");
                        esc(out, n ? n : a);
                }
        }
        vg_buf_puts(out, "</p>\n<form class=\"out\" method=\"post\" "
                         "action=\"logout\"><button type=\"submit\">Logga "
                         "ut</button></form>\n</header>\n<main>\n"
                         "<p id=\"status\" role=\"status\">Ansluter "
                         "\u2026</p>\n<p id=\"count\"></p>\n"
                         "<ul id=\"alerts\" aria-live=\"polite\"></ul>\n"
                         "<p id=\"empty\" hidden>Inga aktuella larm.</p>\n"
                         "<noscript><p>Sidan behöver JavaScript för att visa "
                         "larmen. <a href=\"alerts\">Larmen som JSON</a>."
                         "</p></noscript>\n</main>\n<footer><a "
                         "href=\"report\">Rapport om indikatorerna</a> "
                         "\u00b7 <a href=\"alerts\">Larmen som JSON</a> "
                         "\u00b7 <a href=\"indicators?format=csv\">"
                         "Indikatorerna som CSV</a></footer>\n");
        names(&cl->cl_ent, nm);
        json_object_set_new(cfg, "names", nm);
        json_object_set_new(cfg, "timezone",
                            json_string(strcmp(tz, "UTC") ? "Europe/Stockholm"
                                                          : "UTC"));
        json_object_set_new(cfg, "window_days",
                            json_integer(vg_conf_int(conf,
                                                     "rules.window_days")));
        json_object_set_new(cfg, "sip_hours",
                            json_integer(vg_conf_int(
                                    conf, "rules.sip_deadline_hours")));
        json_object_set_new(cfg, "register_days",
                            json_integer(vg_conf_int(
                                    conf, "rules.register_deadline_days")));
        /* JSON_ESCAPE_SLASH: no "</script>" can end the block early. */
        js = json_dumps(cfg, JSON_COMPACT | JSON_ESCAPE_SLASH);
        vg_buf_puts(out, "<script type=\"application/json\" id=\"vg-data\">");
        vg_buf_puts(out, js);
        vg_buf_printf(out, "</script>\n<script>%s</script>\n</body>\n</html>\n",
                      page_js);
        free(js);
        json_decref(cfg);
        *csp = csp_page;
}
