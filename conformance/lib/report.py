"""report.json and report.html (one self-contained file: no scripts, fonts,
styles or images from elsewhere)."""
import html
import json
import os

RESULTS = ("pass", "fail", "error", "schema", "skip")
SEVERITY = {"error": 0, "fail": 1, "schema": 2, "skip": 3, "pass": 4}
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
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d232a;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d9dee3;padding-bottom:4px}
.meta{color:#57606a;margin-bottom:16px} .meta code{background:#eef1f4;padding:1px 4px;border-radius:3px}
.counts{display:flex;gap:10px;flex-wrap:wrap;margin:12px 0 8px}
.count{padding:8px 14px;border-radius:6px;background:#eef1f4;min-width:70px;text-align:center}
.count b{display:block;font-size:20px}
.pass{background:#dafbe1}.fail{background:#ffebe9}.error{background:#ffd8b5}.schema{background:#fff8c5}.skip{background:#eaeef2}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d9dee3}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff2;vertical-align:top}
th{background:#f3f5f7;font-weight:600}
td.res{font-weight:600;text-transform:uppercase;font-size:12px;width:60px}
td.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;white-space:nowrap}
td.ms{text-align:right;color:#57606a;width:60px}
details{margin-top:4px} summary{cursor:pointer;color:#0969da}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap;
word-break:break-all;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
.reason{white-space:pre-wrap}
.spec{color:#57606a;font-size:12px}
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
    return "<div><b>%s</b><pre>%s</pre></div>" % (_e(title), _e("\n".join(lines)))


def _row(r):
    res = r["result"]
    detail = ""
    if res != "pass" or r.get("schema_errors"):
        parts = ["<div class=reason>%s</div>" % _e(r.get("reason"))]
        if r.get("schema_errors"):
            parts.append("<b>Schema violations</b><pre>%s</pre>" % _e("\n".join(r["schema_errors"])))
        parts.append(_http_block("Request", r.get("request")))
        parts.append(_http_block("Response", r.get("response")))
        summary = (r.get("reason") or res).splitlines()[0][:160] if r.get("reason") else res
        detail = "<details%s><summary>%s</summary>%s</details>" % (
            " open" if res in ("fail", "error") else "", _e(summary), "".join(parts))
    return ("<tr class=%s><td class='res %s'>%s</td><td class=id>%s</td><td>%s<div class=spec>%s</div>%s</td>"
            "<td class=ms>%s ms</td></tr>" % (res, res, res, _e(r["id"]), _e(r.get("title")), _e(r.get("spec")),
                                              detail, _e(r.get("duration_ms"))))


def write_html(path, meta, results):
    c = counts(results)
    sections = {}
    for r in results:
        sections.setdefault(r["section"], []).append(r)

    def worst(rs):
        return min(SEVERITY[r["result"]] for r in rs)

    order = sorted(sections, key=lambda s: (worst(sections[s]), s))
    out = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
           "<meta name=viewport content='width=device-width,initial-scale=1'>",
           "<title>mxrelay conformance report</title><style>%s</style></head><body>" % CSS,
           "<h1>Matrix federation conformance report</h1>",
           "<div class=meta>target <code>%s</code> (%s) &middot; %s &middot; %s cases%s</div>" % (
               _e(meta.get("target_server_name")), _e(meta.get("target_url")), _e(meta.get("started")),
               len(results), " &middot; strict" if meta.get("strict") else ""),
           "<div class=counts>"]
    for k in RESULTS:
        out.append("<div class='count %s'><b>%d</b>%s</div>" % (k, c.get(k, 0), k))
    out.append("</div>")
    if meta.get("schema_validation") is False:
        out.append("<div class=meta>Responses were not checked against the spec's OpenAPI schemas "
                   "(run with --spec-dir).</div>")
    for s in order:
        rs = sorted(sections[s], key=lambda r: (SEVERITY[r["result"]], r["id"]))
        sc = counts(rs)
        out.append("<h2>%s <span class=spec>%s</span></h2>" % (
            _e(s), _e(", ".join("%d %s" % (sc[k], k) for k in RESULTS if sc.get(k)))))
        out.append("<table><tr><th>result</th><th>case</th><th>what</th><th>time</th></tr>")
        out += [_row(r) for r in rs]
        out.append("</table>")
    out.append("</body></html>\n")
    with open(path, "w") as f:
        f.write("\n".join(out))


def write(directory, meta, results):
    os.makedirs(directory, exist_ok=True)
    write_json(os.path.join(directory, "report.json"), meta, results)
    write_html(os.path.join(directory, "report.html"), meta, results)
