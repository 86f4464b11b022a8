"""The setup page's message catalogue (``tsed/net/static/text.js``): every key the page uses
exists in German and in English, the German texts are German, and the page shows no text of
its own outside the catalogue.

The catalogue is read by Node.js (the same JavaScript engine family the page runs in), not by a
regular expression: what the test checks is what the browser gets.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import pytest

import tsed.unit.bootstrap  # noqa: F401 - every error class of the unit, defined
from tests.support.unit import running_unit
from tsed.errors import TsedError
from tsed.fiskaly.simulator.model import TSS_STATES
from tsed.provisioning.conntest_steps import _TITLES, Verdict
from tsed.texts import lines_conntest
from tsed.unit.admin_ops import AdminOps
from tsed.unit.setup_ops import SetupOps

STATIC = Path(__file__).resolve().parents[2] / "tsed" / "net" / "static"
SCRIPTS = (
    "common.js",
    "setup.js",
    "archive.js",
    "wizard.js",
    "dashboard.js",
    "certbanner.js",
    "filing.js",
)
# the same in both languages, and right in German: product words and international ones
SAME_IN_BOTH = {"OK", "TEST", "LIVE", "QR", "Name", "Test", "Version", "Details", "ID", "TSE",
                "URL", "—", "Mandant", "TSS", "DNS", "Proxy", "TLS", "TEST/LIVE"}  # fmt: skip
ENGLISH_WORDS = re.compile(
    r"\b(the|and|is|are|please|click|with|your|you|not|failed|error|password|register|"
    r"settings|save|cancel|next|back|wrong)\b",
    re.IGNORECASE,
)
CALLED = re.compile(r"""\b(?:t|fmt)\(\s*["']([A-Za-z0-9_]+)["']""")


def catalogue() -> dict[str, dict[str, str]]:
    node = shutil.which("node")
    assert node, "Node.js reads the catalogue (scripts/bootstrap installs npm, which brings it)"
    # archive.js waits for the page, certbanner.js and filing.js follow setup.js's live updates
    shim = "globalThis.document = {addEventListener() {}};\nglobalThis.liveHooks = [];\n"
    loaded = (
        "text.js",
        "archive.js",
        "decommission.js",
        "certbanner.js",
        "filingtext.js",
        "filing.js",
    )
    source = shim + "".join((STATIC / name).read_text(encoding="utf-8") + "\n" for name in loaded)
    result = subprocess.run(
        [node, "-e", source + "\nprocess.stdout.write(JSON.stringify(TEXT));"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    text: dict[str, dict[str, str]] = json.loads(result.stdout)
    return text


class _Keys(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, str] = {}  # key -> the element's German text in the HTML
        self.shown: list[tuple[str, str]] = []  # (key, text) per element
        self._open: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("data-i18n-placeholder", "data-i18n-alt"):
            if found.get(name):
                self.keys.setdefault(str(found[name]), "")
        key = found.get("data-i18n")
        if key:
            self.keys.setdefault(key, "")
        if tag not in ("input", "img", "meta", "link", "br"):
            self._open.append((key, []))

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            key, parts = self._open.pop()
            if key:
                self.shown.append((key, "".join(parts)))

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1][0]:
            self._open[-1][1].append(data)


def parsed() -> _Keys:
    parser = _Keys()
    parser.feed((STATIC / "setup.html").read_text(encoding="utf-8"))
    return parser


def html_keys() -> dict[str, str]:
    return parsed().keys


def script_keys() -> set[str]:
    keys: set[str] = set()
    for name in SCRIPTS:
        found = CALLED.findall((STATIC / name).read_text(encoding="utf-8"))
        keys |= {key for key in found if not key.endswith("_")}  # "verdict_" + …: below
    setup = (STATIC / "setup.js").read_text(encoding="utf-8")
    labels = re.search(r"WORKPLACE_LABELS = \{([^}]*)\}", setup)
    assert labels is not None
    keys |= set(re.findall(r':\s*"([a-z_]+)"', labels.group(1)))
    keys |= {f"verdict_{verdict}" for verdict in get_args(Verdict)}  # t("verdict_" + …)
    keys |= {f"tss_{state}" for state in TSS_STATES}  # t(`tss_${state}`): fiskaly's TSS states
    return keys


def codes() -> set[str]:
    found: set[str] = set()
    todo: list[type[Any]] = [TsedError]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return found


@pytest.fixture(scope="module")
def text() -> dict[str, dict[str, str]]:
    return catalogue()


def test_every_key_the_page_uses_is_there_in_german_and_english(
    text: dict[str, dict[str, str]],
) -> None:
    used = set(html_keys()) | script_keys()
    assert used, "no keys found: the check itself is broken"
    assert sorted(used - set(text["de"])) == [], "keys missing in German"
    assert sorted(used - set(text["en"])) == [], "keys missing in English"
    assert set(text["de"]) == set(text["en"]), "the two languages have different keys"
    assert all(text[lang][key].strip() for lang in ("de", "en") for key in text[lang])


def test_every_error_text_belongs_to_a_real_error_code(text: dict[str, dict[str, str]]) -> None:
    known = codes() | {"login", "http"}  # the login's own wording, a bare HTTP status
    own = {key.removeprefix("err_") for key in text["de"] if key.startswith("err_")}
    assert own - known == set(), "err_<CODE> for a code the unit does not have"


def test_the_german_texts_are_german(text: dict[str, dict[str, str]]) -> None:
    same = {k: v for k, v in text["de"].items() if v == text["en"][k] and v not in SAME_IN_BOTH}
    assert same == {}, "German equal to English: translate, or allow the word in SAME_IN_BOTH"
    words = {k: re.sub(r"\{[a-z_]+\}", "", v) for k, v in text["de"].items()}  # {next}: a slot
    english = {k: v for k, v in words.items() if ENGLISH_WORDS.search(v)}
    assert english == {}, "English words in German texts"


def test_the_html_shows_the_catalogue_german_text(text: dict[str, dict[str, str]]) -> None:
    for key, shown in parsed().shown:
        if shown.strip():  # before the script runs, the page already reads German
            assert " ".join(shown.split()) == " ".join(text["de"][key].split()), key


def test_the_scripts_show_no_text_of_their_own() -> None:
    literal = re.compile(r"""(?:textContent\s*=|show\()\s*["'`][A-Za-zÄÖÜäöü]""")
    for name in SCRIPTS:
        source = (STATIC / name).read_text(encoding="utf-8")
        assert not literal.findall(source), f"{name}: a shown text outside the catalogue"


def test_the_check_finds_an_english_german_text() -> None:
    assert ENGLISH_WORDS.search("Please enter the code")
    assert not ENGLISH_WORDS.search("Bitte den Einrichtungscode eingeben")
    assert CALLED.findall('t("abc") + fmt("x_y", {n})') == ["abc", "x_y"]


def page_eval(expression: str) -> Any:
    """``expression`` evaluated by Node.js with the page's text.js and common.js loaded."""
    node = shutil.which("node")
    assert node, "Node.js runs the page's scripts (npm brings it)"
    shim = "globalThis.localStorage = {getItem: () => 'de'};\n"
    source = shim + "".join((STATIC / name).read_text(encoding="utf-8") for name in
                            ("text.js", "common.js"))  # fmt: skip
    script = f"{source}\nprocess.stdout.write(JSON.stringify({expression}));"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30,
                            check=True)  # fmt: skip
    return json.loads(result.stdout)


def test_a_server_error_shows_its_german_text_when_the_unit_sends_one() -> None:
    with_text = {
        "error": {
            "code": "CONFIG_INVALID", "message": "proxy.port: 70000 is not valid",
            "field": "proxy.port",
            "text": {"de": {"message": "70000 ist kein gültiger Port", "hint": "1 bis 65535",
                            "field_label": "Proxy-Port"},
                     "en": {"message": "70000 is not a valid port"}},
        }
    }  # fmt: skip
    shown = page_eval(f"errorText({json.dumps(with_text)}, 400)")
    assert shown == "Proxy-Port: 70000 ist kein gültiger Port – 1 bis 65535"
    plain = {"error": {"code": "CONFIG_INVALID", "message": "bad", "hint": "fix it"}}
    assert page_eval(f"errorText({json.dumps(plain)}, 400)") == "bad – fix it"  # today's text
    own = {"error": {"code": "SETUP_CODE_WRONG", "message": "the setup code is wrong"}}
    assert page_eval(f"errorText({json.dumps(own)}, 401)").startswith("Der Einrichtungscode")
    assert page_eval("errorText(null, 502)") == "Die Einheit hat mit HTTP 502 geantwortet."


def test_sizes_and_times_read_german() -> None:
    assert page_eval("[size(512), size(20480), size(1572864)]") == ["512 B", "20 KB", "1,5 MB"]
    shown = page_eval("time('2026-12-01T22:01:42Z')")
    assert "T" not in shown and "Z" not in shown and "2026" in shown


# -- the connection test's result on the page (issue 18) --------------------------------------


def test_the_connection_test_texts_are_the_catalogues(text: dict[str, dict[str, str]]) -> None:
    """Every step outcome of the catalogue is in text.js, word for word (one truth, no drift),
    and every step has its title."""
    for lang, source in (("de", lines_conntest.DE), ("en", lines_conntest.EN)):
        for text_id, template in source.items():
            assert text[lang].get(text_id.replace(".", "_")) == template, (lang, text_id)
        assert {f"step_{name}" for name in _TITLES} <= set(text[lang])


@pytest.mark.timeout(60)
async def test_the_test_result_lines_come_from_text_js_in_german(tmp_path: Path) -> None:
    """A real unit's connection test with a saved proxy nobody answers on, rendered by the
    page's own function (stepLine) in German: every line is the German of text.js."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    async with running_unit(tmp_path / "state") as unit:
        context = unit.daemon.running.ops
        ops = AdminOps(context, SetupOps(context))
        await ops.config_update({"proxy.host": "127.0.0.1", "proxy.port": str(dead)})
        report = (await ops.connection_test()).to_json()
    steps = json.dumps(report["steps"])
    shown = page_eval(f"{steps}.map(stepLine)")
    proxy = shown[[s["step"] for s in report["steps"]].index("proxy")]
    assert proxy.startswith(f"FEHLER · Proxy: Proxy 127.0.0.1:{dead}: keine Verbindung "
                            "(ECONNREFUSED); fiskaly (")  # fmt: skip
    assert "→ Proxy-Host und -Port prüfen" in proxy
    assert any(line.startswith("OK · Anmeldung bei fiskaly") for line in shown), shown
    english = [line for line in shown if ENGLISH_WORDS.search(re.sub(r"\S*\d\S*", "", line))]
    assert english == [], "English in the German test result"
    assert all(s["detail"] not in line for s, line in zip(report["steps"], shown, strict=True))
    english_page = page_eval(f"(lang = 'en', {steps}.map(stepLine))")
    assert any(f"proxy 127.0.0.1:{dead}: no connection" in line for line in english_page)


def test_a_day_of_the_unit_reads_german_without_a_time_zone() -> None:
    shown = page_eval("[calendarDay('2027-01-02'), calendarDay(null), calendarDay('bald')]")
    assert shown == ["02.01.2027", "–", "bald"]


def test_the_overview_says_how_many_filings_are_due_and_by_when() -> None:
    node = shutil.which("node")
    assert node
    shim = "globalThis.localStorage = {getItem: () => 'de'}; globalThis.liveHooks = [];\n"
    source = shim + "".join((STATIC / name).read_text(encoding="utf-8") + "\n" for name in
                            ("text.js", "common.js", "dashboard.js"))  # fmt: skip
    due = [
        {"filings": 0, "events": 0, "overdue": 0, "next_due_on": None, "days_left": None},
        {"filings": 2, "events": 3, "overdue": 0, "next_due_on": "2027-01-02", "days_left": 31},
        {"filings": 1, "events": 1, "overdue": 0, "next_due_on": "2026-12-03", "days_left": 1},
        {"filings": 1, "events": 1, "overdue": 1, "next_due_on": "2026-11-29", "days_left": -3},
        None,
    ]
    script = f"{source}\nprocess.stdout.write(JSON.stringify({json.dumps(due)}.map(filingsText)));"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30,
                            check=True)  # fmt: skip
    assert json.loads(result.stdout) == [
        "keine",
        "2 fällig, nächste Frist 02.01.2027 (noch 31 Tage)",
        "1 fällig, nächste Frist 03.12.2026 (noch ein Tag)",
        "1 fällig, nächste Frist 29.11.2026 (3 Tage überfällig)",
        "—",
    ]


def test_the_certificate_banner_reads_anew_after_a_new_login_and_a_failed_fetch() -> None:
    """certbanner.js: a failed /health keeps the last reading and asks again at the next live
    update (not a minute later); a new login (another CSRF token) never shows the reading
    made for the one before, even within the minute."""
    node = shutil.which("node")
    assert node
    shim = """
globalThis.localStorage = {getItem: () => 'de'}; globalThis.liveHooks = [];
const elements = {};
globalThis.document = {addEventListener() {}, createElement: () => ({}),
  getElementById: (id) => (elements[id] ||= {
  hidden: true, textContent: "", className: "", replaceChildren() {} })};
const answers = [];
let fetches = 0;
globalThis.fetch = async () => {
  fetches += 1;
  const next = answers.shift() || {status: 599, body: null};  // a call the test did not expect
  return {status: next.status, ok: next.status < 400, json: async () => next.body};
};
"""
    due = {"certificates": [{"tenant": "default", "tss_id": "tss-a", "days_left": 1,
                             "not_after": 1796000000, "threshold": 30, "level": "critical",
                             "error": None}]}  # fmt: skip
    fine = {"certificates": [{"tenant": "default", "tss_id": "tss-a", "days_left": 300,
                              "not_after": 1796000000, "threshold": None, "level": "ok",
                              "error": None}]}  # fmt: skip
    failed = {"error": {"code": "UNAVAILABLE", "message": "busy"}}
    steps = f"""
(async () => {{
  const seen = [];
  const banner = () => ({{hidden: $("cert-banner").hidden,
                          text: $("cert-banner-text").textContent}});
  csrf = "login-1";
  answers.push({{status: 200, body: {json.dumps(due)}}});
  await refreshCertBanner(false); seen.push([fetches, banner()]);
  answers.push({{status: 503, body: {json.dumps(failed)}}});
  await refreshCertBanner(true); seen.push([fetches, banner()]);
  answers.push({{status: 200, body: {json.dumps(fine)}}});
  await refreshCertBanner(false); seen.push([fetches, banner()]);
  csrf = null; await refreshCertBanner(false); seen.push([fetches, banner()]);
  csrf = "login-2";
  answers.push({{status: 200, body: {json.dumps(due)}}});
  await refreshCertBanner(false); seen.push([fetches, banner()]);
  process.stdout.write(JSON.stringify(seen));
}})();
"""
    source = shim + "".join((STATIC / name).read_text(encoding="utf-8") + "\n" for name in
                            ("text.js", "common.js", "certbanner.js"))  # fmt: skip
    result = subprocess.run([node, "-e", source + steps], capture_output=True, text=True,
                            timeout=30, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert seen[0][0] == 1 and seen[0][1]["hidden"] is False
    assert "(noch 1 Tag)" in seen[0][1]["text"]
    assert seen[1][0] == 2 and seen[1][1]["hidden"] is False  # failed: the last reading stays
    assert seen[2][0] == 3 and seen[2][1]["hidden"] is True  # asked again at once: now fine
    assert seen[3][0] == 3 and seen[3][1]["hidden"] is True  # logged out: nothing, no call
    assert seen[4][0] == 4 and seen[4][1]["hidden"] is False  # the new login's own reading
