"""report.json and report.html (one self-contained file: no scripts, fonts,
styles or images from elsewhere)."""
import html
import json
import os

RESULTS = ("pass", "fail", "error", "schema", "skip")
SEVERITY = {"error": 0, "fail": 1, "schema": 2, "skip": 3, "pass": 4}
ORDER = sorted(SEVERITY, key=SEVERITY.get)   # worst first: the order of rows, sections, bars and tallies
KEYS = ("id", "section", "spec", "title", "result", "reason", "duration_ms", "requires", "request", "response",
        "schema_errors")


def counts(results):
    c = {k: 0 for k in RESULTS}
    for r in results:
        c[r["result"]] = c.get(r["result"], 0) + 1
    return c


def write_json(path, meta, results):
    """report.json: the list of results, each with exactly KEYS; the run's
    description and counts go to summary.json beside it."""
    with open(path, "w") as f:
        json.dump([{k: r.get(k) for k in KEYS} for r in results], f, indent=1)
        f.write("\n")
    with open(os.path.join(os.path.dirname(path), "summary.json"), "w") as f:
        json.dump({"meta": meta, "summary": counts(results)}, f, indent=1)
        f.write("\n")


CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--pass:#1a7f37;--fail:#cf222e;--error:#bc4c00;
--schema:#9a6700;--skip:#6e7781}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif;margin:0;
color:var(--fg);background:#fff}
main{max-width:1200px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 6px;font-weight:650}
h2{font-size:17px;margin:0;font-weight:650}
code,.mono{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace}
.meta{color:var(--muted);margin:0 0 18px}
.meta code{background:var(--soft);border:1px solid var(--line);padding:0 5px;border-radius:4px;color:var(--fg)}
.note{color:var(--muted);font-size:13px;margin:10px 0 0}
.counts{display:flex;gap:10px;flex-wrap:wrap;margin:0 0 8px}
.count{border:1px solid var(--line);border-top:4px solid var(--c);border-radius:6px;padding:8px 14px 6px;
min-width:92px;background:#fff}
.count b{display:block;font-size:24px;line-height:1.1;font-variant-numeric:tabular-nums}
.count span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.count.zero b{color:#b0b7be}
.pass{--c:var(--pass)}.fail{--c:var(--fail)}.error{--c:var(--error)}.schema{--c:var(--schema)}.skip{--c:var(--skip)}
.bar{display:flex;height:8px;border-radius:4px;overflow:hidden;background:#eaeef2}
.bar i{display:block;background:var(--c)}
.overall{margin:14px 0 26px;max-width:640px}
nav{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:0 0 28px;columns:2 300px;column-gap:32px}
nav a{display:grid;grid-template-columns:1fr 120px;gap:10px;align-items:center;padding:3px 0;color:var(--fg);
text-decoration:none;break-inside:avoid}
nav a:hover .name{text-decoration:underline}
nav .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
nav .name small{color:var(--muted);margin-left:6px}
section{margin:0 0 30px}
.sechead{display:flex;align-items:baseline;gap:12px;flex-wrap:wrap;margin:0 0 8px;padding-bottom:6px;
border-bottom:1px solid var(--line)}
.sechead .tally{color:var(--muted);font-size:13px}
.tally b{font-weight:650;color:var(--c)}
table{border-collapse:collapse;width:100%;table-layout:fixed;border:1px solid var(--line);border-radius:6px}
col.c-res{width:82px}col.c-id{width:31%}col.c-ms{width:78px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eaeef2;vertical-align:top;overflow-wrap:anywhere}
th{background:var(--soft);font-weight:600;font-size:12px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em}
tr.r-fail td,tr.r-error td{background:#fff8f7}
tr.r-schema td{background:#fffcf0}
td.res{padding-top:7px}
.badge{display:inline-block;min-width:50px;text-align:center;border-radius:10px;padding:1px 8px;font-size:11px;
font-weight:700;letter-spacing:.04em;text-transform:uppercase;color:#fff;background:var(--c)}
td.id{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
td.ms{text-align:right;color:var(--muted);font-variant-numeric:tabular-nums;white-space:nowrap}
.spec{color:var(--muted);font-size:12px}
.reason{margin-top:4px;white-space:pre-wrap}
tr.r-fail .reason,tr.r-error .reason{color:#82071e}
tr.r-skip .reason{color:var(--muted);font-size:13px}
details{margin-top:6px}
summary{cursor:pointer;color:#0969da;font-size:13px}
.ex b{display:block;font-size:12px;margin:8px 0 2px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:0;overflow:auto;
max-height:360px;white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.45 ui-monospace,SFMono-Regular,
"DejaVu Sans Mono",Menlo,Consolas,monospace}
footer{color:var(--muted);font-size:12px;margin-top:36px}
"""


def _e(s):
    return html.escape("" if s is None else str(s))


def _http_block(title, obj):
    if not obj:
        return ""
    lines = []
    if "method" in obj:
        lines.append("%s %s" % (obj.get("method"), obj.get("url")))
    else:
        lines.append("HTTP %s%s" % (obj.get("status"), (" (" + obj["error"] + ")") if obj.get("error") else ""))
    for k, v in (obj.get("headers") or {}).items():
        lines.append("%s: %s" % (k, v))
    body = obj.get("body")
    if body:
        try:
            body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except (ValueError, TypeError):
            pass
        lines += ["", body]
    return "<b>%s</b><pre>%s</pre>" % (_e(title), _e("\n".join(lines)))


def _bar(c, total):
    """A stacked bar of the counts: inline widths, no external style."""
    if not total:
        return "<div class=bar></div>"
    return "<div class=bar>%s</div>" % "".join(
        "<i class=%s style='width:%.3f%%'></i>" % (k, 100.0 * c[k] / total) for k in ORDER if c.get(k))


def _row(r):
    """One case: result, id, title + spec + reason, and for a case that did
    not pass the exchange that decided it (collapsed)."""
    res = r["result"]
    parts = ["%s<div class=spec>%s</div>" % (_e(r.get("title")), _e(r.get("spec")))]
    if r.get("reason") and res != "pass":
        parts.append("<div class=reason>%s</div>" % _e(r["reason"]))
    evidence = []
    if r.get("schema_errors"):
        evidence.append("<b>Schema violations</b><pre>%s</pre>" % _e("\n".join(r["schema_errors"])))
    if res in ("fail", "error", "schema"):
        evidence += [_http_block("Request", r.get("request")), _http_block("Response", r.get("response"))]
    evidence = [x for x in evidence if x]
    if evidence:
        parts.append("<details><summary>%s</summary><div class=ex>%s</div></details>" % (
            "request and response" if res != "pass" else "schema violations", "".join(evidence)))
    return ("<tr class='r-%s' id='case-%s' data-result=%s><td class=res><span class='badge %s'>%s</span></td>"
            "<td class=id>%s</td><td>%s</td><td class=ms>%s ms</td></tr>"
            % (res, _e(r["id"]), res, res, res, _e(r["id"]), "".join(parts), _e(r.get("duration_ms"))))


def write_html(path, meta, results):
    c = counts(results)
    sections = {}
    for r in results:
        sections.setdefault(r["section"], []).append(r)

    def worst(rs):
        return min(SEVERITY[r["result"]] for r in rs)

    order = sorted(sections, key=lambda s: (worst(sections[s]), s))
    anchor = {s: "sec-%d" % i for i, s in enumerate(order, 1)}
    bad = c["fail"] + c["error"] + c["schema"]
    verdict = "%d not passing" % bad if bad else "no failures"
    out = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
           "<meta name=viewport content='width=device-width,initial-scale=1'>",
           "<title>Conformance: %s, %s</title><style>%s</style></head><body><main>" % (
               _e(meta.get("target_server_name")), verdict, CSS),
           "<h1>Matrix federation conformance report</h1>",
           "<p class=meta>target <code>%s</code> at <code>%s</code> &middot; started %s &middot; %d cases "
           "&middot; room version %s%s</p>" % (
               _e(meta.get("target_server_name")), _e(meta.get("target_url")), _e(meta.get("started")),
               len(results), _e(meta.get("room_version")), " &middot; strict" if meta.get("strict") else ""),
           "<div class=counts>"]
    for k in RESULTS:
        out.append("<div class='count %s%s'><b>%d</b><span>%s</span></div>" % (
            k, "" if c.get(k) else " zero", c.get(k, 0), k))
    out.append("</div>")
    out.append("<div class=overall>%s</div>" % _bar(c, len(results)))
    if meta.get("schema_validation") is False:
        out.append("<p class=note>Responses were not checked against the spec's OpenAPI schemas "
                   "(run with --spec-dir).</p>")
    out.append("<nav aria-label=sections>")
    for s in order:
        sc = counts(sections[s])
        out.append("<a href='#%s'><span class=name>%s<small>%s</small></span>%s</a>" % (
            anchor[s], _e(s), _e(", ".join("%d %s" % (sc[k], k) for k in ORDER if sc.get(k))),
            _bar(sc, len(sections[s]))))
    out.append("</nav>")
    for s in order:
        rs = sorted(sections[s], key=lambda r: (SEVERITY[r["result"]], r["id"]))
        sc = counts(rs)
        tally = " &middot; ".join("<b class=%s>%d</b> %s" % (k, sc[k], k) for k in ORDER if sc.get(k))
        out.append("<section id=%s data-section='%s'><div class=sechead><h2>%s</h2><span class=tally>%s</span>"
                   "</div>" % (anchor[s], _e(s), _e(s), tally))
        out.append("<table class=results><colgroup><col class=c-res><col class=c-id><col><col class=c-ms></colgroup>"
                   "<thead><tr><th>result</th><th>case</th><th>what</th><th>time</th></tr></thead><tbody>")
        out += [_row(r) for r in rs]
        out.append("</tbody></table></section>")
    out.append("<footer>Written by conformance/run. Sections and the cases in them are ordered worst first: "
               "error, fail, schema, skip, pass.</footer>")
    out.append("</main></body></html>\n")
    with open(path, "w") as f:
        f.write("\n".join(out))


def write(directory, meta, results):
    os.makedirs(directory, exist_ok=True)
    write_json(os.path.join(directory, "report.json"), meta, results)
    write_html(os.path.join(directory, "report.html"), meta, results)
