#!/bin/sh
# The HTML report renders in a real browser: a report of the suite's self-test
# (conformance/run --mock: passes, failures and skips) is opened in headless
# Chromium, which writes a screenshot and the DOM it built. Then
#   - the screenshot has the window's size, is not blank, and shows the
#     result badges in their colours (the stylesheet was applied);
#   - the DOM holds one results table per spec section with one row per case
#     of report.json (same ids and results), the counts of summary.json, a
#     link per section, and the failures-first order: sections by their worst
#     result, the rows of each section worst first.
# Skips (77) when chromium, /usr/bin/python3 or one of its modules (the
# suite's, and PIL to read the PNG) or openssl is missing: `./bootstrap deps`
# installs them.
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    echo "SKIP: $PY not found"
    exit 77
fi
for m in signedjson canonicaljson nacl yaml jsonschema PIL; do
    if ! "$PY" -c "import $m" 2>/dev/null; then
        echo "SKIP: Python module $m is not installed for $PY (Debian: ./bootstrap deps)"
        exit 77
    fi
done
for tool in chromium openssl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found (Debian package $tool: ./bootstrap deps)"
        exit 77
    fi
done
srcdir=${MXR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export PYTHONDONTWRITEBYTECODE=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxr-report-render.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

"$PY" "$srcdir/conformance/run" --mock --report "$tmp/report" --work-dir "$tmp/work" >"$tmp/run.out" 2>&1
rc=$?
if [ $rc -gt 1 ] || [ ! -f "$tmp/report/report.html" ]; then
    cat "$tmp/run.out"
    echo "FAIL: conformance/run --mock exited $rc without a report"
    exit 1
fi

# Chromium keeps its profile, caches and crash dumps under the temporary
# directory; no network, no first-run work, no GPU.
mkdir -p "$tmp/home"
if ! HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_CACHE_HOME="$tmp/home/.cache" \
    timeout 50 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
        --hide-scrollbars --user-data-dir="$tmp/profile" --window-size=1280,2000 \
        --screenshot="$tmp/shot.png" --dump-dom "file://$tmp/report/report.html" \
        >"$tmp/dom.html" 2>"$tmp/chromium.err"; then
    tail -n 20 "$tmp/chromium.err"
    echo "FAIL: chromium could not render $tmp/report/report.html"
    exit 1
fi

"$PY" - "$tmp" <<'EOF'
import html.parser, json, os, sys
from PIL import Image

d = sys.argv[1]
fails = []

# ---- the screenshot ----
shot = os.path.join(d, "shot.png")
if not os.path.isfile(shot):
    sys.exit("FAIL: chromium wrote no screenshot")
img = Image.open(shot).convert("RGB")
if img.size != (1280, 2000):
    fails.append("screenshot is %dx%d, the window was 1280x2000" % img.size)
colours = img.getcolors(maxcolors=1 << 20) or []
bg = max(colours)[0] if colours else 0
if len(colours) < 32:
    fails.append("screenshot has %d distinct colours: blank or unstyled" % len(colours))
if bg > 0.97 * img.size[0] * img.size[1]:
    fails.append("screenshot is %.1f%% one colour: blank" % (100.0 * bg / (img.size[0] * img.size[1])))
# Badges and count bars are flat fills of the stylesheet's result colours.
want = {"pass": (0x1a, 0x7f, 0x37), "fail": (0xcf, 0x22, 0x2e)}
for name, rgb in want.items():
    n = sum(c for c, px in colours if max(abs(px[i] - rgb[i]) for i in range(3)) <= 6)
    if n < 300:
        fails.append("screenshot has %d pixels of the %s colour #%02x%02x%02x: the badges are not drawn" % (
            (n, name) + rgb))

# ---- the DOM chromium built ----
with open(os.path.join(d, "report", "report.json")) as f:
    results = json.load(f)
with open(os.path.join(d, "report", "summary.json")) as f:
    summary = json.load(f)["summary"]
SEV = {"error": 0, "fail": 1, "schema": 2, "skip": 3, "pass": 4}


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections = []      # [section name, anchor id, [(case id, result, badge text)], header cells]
        self.counts = {}
        self.nav = []
        self.stack = []
        self.cell = None
        self.count_of = None
        self.in_nav = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "section" and "data-section" in a:
            self.sections.append([a["data-section"], a.get("id"), [], []])
        elif tag == "nav":
            self.in_nav = True
        elif tag == "a" and self.in_nav:
            self.nav.append(a.get("href"))
        elif tag == "div" and "count" in cls:
            self.count_of = [c for c in cls if c in SEV][0] if any(c in SEV for c in cls) else None
        elif tag == "b" and self.count_of:
            self.cell = ("count", self.count_of)
        elif tag == "tr" and "data-result" in a and self.sections:
            cid = (a.get("id") or "")[len("case-"):]
            self.sections[-1][2].append([cid, a["data-result"], ""])
        elif tag == "span" and "badge" in cls and self.sections and self.sections[-1][2]:
            self.cell = ("badge", None)
        elif tag == "th" and self.sections:
            self.cell = ("th", None)

    def handle_endtag(self, tag):
        if tag == "nav":
            self.in_nav = False
        if tag == "div":
            self.count_of = None
        if tag in ("b", "span", "th"):
            self.cell = None

    def handle_data(self, data):
        if not self.cell:
            return
        kind, key = self.cell
        if kind == "count":
            self.counts[key] = int(data)
        elif kind == "badge":
            self.sections[-1][2][-1][2] += data.strip().lower()
        elif kind == "th":
            self.sections[-1][3].append(data.strip())


dom = Dom()
with open(os.path.join(d, "dom.html")) as f:
    dom.feed(f.read())

if not dom.sections:
    sys.exit("FAIL: the rendered DOM has no result sections\n" + "\n".join(fails))
rows = [r for s in dom.sections for r in s[2]]
by_id = {r["id"]: r for r in results}
if sorted(r[0] for r in rows) != sorted(by_id):
    missing = sorted(set(by_id) - {r[0] for r in rows})
    extra = sorted({r[0] for r in rows} - set(by_id))
    fails.append("table rows do not match report.json: missing %s, extra %s, %d rows for %d cases"
                 % (missing[:5], extra[:5], len(rows), len(by_id)))
for cid, res, badge in rows:
    if cid in by_id and by_id[cid]["result"] != res:
        fails.append("row %s says %s, report.json %s" % (cid, res, by_id[cid]["result"]))
    if badge != res:
        fails.append("row %s shows the badge %r for %s" % (cid, badge, res))
names = [s[0] for s in dom.sections]
if sorted(names) != sorted({r["section"] for r in results}):
    fails.append("sections %s are not those of report.json" % names)
for name, _, srows, head in dom.sections:
    if head != ["result", "case", "what", "time"]:
        fails.append("section %s: table header is %s" % (name, head))
    for cid, _, _ in srows:
        if cid in by_id and by_id[cid]["section"] != name:
            fails.append("case %s is in section %s, not %s" % (cid, name, by_id[cid]["section"]))
    sev = [SEV[r[1]] for r in srows]
    if sev != sorted(sev):
        fails.append("section %s: rows are not worst first: %s" % (name, [r[1] for r in srows]))
worst = [min(SEV[r[1]] for r in s[2]) for s in dom.sections if s[2]]
if worst != sorted(worst):
    fails.append("sections are not ordered worst first: %s" % list(zip(names, worst)))
if not any(r["result"] in ("fail", "error") for r in results):
    fails.append("the mock report has no failure: it cannot show the failures-first order")
elif dom.sections[0][2][0][1] not in ("fail", "error"):
    fails.append("the first row of the page is %s, not a failure" % dom.sections[0][2][0][1])
if dom.counts != {k: v for k, v in summary.items()}:
    fails.append("counts shown %s, summary.json %s" % (dom.counts, summary))
if dom.nav != ["#" + s[1] for s in dom.sections]:
    fails.append("the section links %s do not lead to the sections in order" % dom.nav[:5])

if fails:
    print("FAIL: report.html as rendered by chromium:")
    for f in fails:
        print("  " + f)
    sys.exit(1)
print("report.html rendered: %dx%d screenshot, %d colours; %d sections, %d rows (%s), worst first"
      % (img.size + (len(colours), len(dom.sections), len(rows),
                     ", ".join("%d %s" % (v, k) for k, v in summary.items() if v))))
EOF
