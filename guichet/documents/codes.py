"""The signed code printed as a QR on every issued document, and the signature appended to
its PDF. Pure functions, no database: the server, `manage.py verify_document` and the
standalone verifier (templates/verifier/offline.html, in JavaScript) read the same format.

The code (format "G1") is the printed text of the document, signed:

    message   = "G1" RS kid RS number RS kind RS issued_on RS title RS holder RS issuer
                RS signer ( RS label US value )*
    code      = base32(deflate_raw(message_utf8) ‖ ed25519_signature(message_utf8)),
                no padding
    QR text   = "HTTPS://HOST/V/" + code

RS is U+001E and US U+001F, which no printed value contains (they are removed). Every value
is the string as printed on the paper, so changing anything shown breaks the signature.
The authority is not repeated: the key id names it in the published key set. Raw deflate
(RFC 1951, which browsers inflate natively) makes French text about a fifth shorter, and
base32 keeps the whole URL in the QR's alphanumeric mode (5.5 bits a character): together
two QR versions fewer, so bigger modules at the same 3 cm.

The PDF carries the code and a signature of its own bytes after its end:

    <pdf bytes> "\\n%GUICHET-CODE " code "\\n" "%GUICHET-SIG " kid " " base64url(sig) "\\n"

where `sig` signs every byte before "%GUICHET-SIG". PDF readers ignore what follows
"%%EOF" (the Linux kernel signs its modules the same way), so the file still opens, and one
changed byte anywhere fails the check.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

FORMAT = "G1"
RS, US = "\x1e", "\x1f"
SIGNATURE_BYTES = 64
MAX_MESSAGE_BYTES = 4096
"""No printed page holds more; a code that inflates beyond is refused (no inflation bomb)."""
CODE_LINE = b"\n%GUICHET-CODE "
SIG_LINE = b"%GUICHET-SIG "
URL_PATH = "/V/"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_CODE_CHARS = re.compile(r"^[A-Z2-7]+$")


class CodeError(ValueError):
    """The text is not a Guichet code (mistyped, cut, or something else)."""


class DocumentKind:
    ACCEPTANCE = "A"
    REFUSAL = "R"


@dataclass(frozen=True)
class Claims:
    """What the document says, exactly as printed."""

    kid: str
    number: str
    kind: str
    issued_on: str
    title: str
    holder: str
    issuer: str
    """The service that decided, as printed under the authority's name."""
    signer: str
    """The person who decided, as printed."""
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def message(self) -> bytes:
        head = [FORMAT, self.kid, self.number, self.kind, self.issued_on]
        head += [self.title, self.holder, self.issuer, self.signer]
        parts = [clean(p) for p in head]
        parts += [clean(label) + US + clean(value) for label, value in self.fields]
        return RS.join(parts).encode()


def clean(value: str) -> str:
    """A value as it can be printed and signed: no control characters, single spaces."""
    return " ".join(_CONTROL.sub(" ", value).split())


def parse_message(message: bytes) -> Claims:
    try:
        parts = message.decode().split(RS)
    except UnicodeDecodeError as exc:
        raise CodeError("not UTF-8") from exc
    if len(parts) < 9 or parts[0] != FORMAT:
        raise CodeError("not a G1 message")
    pairs = []
    for item in parts[9:]:
        label, sep, value = item.partition(US)
        if not sep:
            raise CodeError("field without a label")
        pairs.append((label, value))
    kid, number, kind, issued_on, title, holder, issuer, signer = parts[1:9]
    return Claims(kid, number, kind, issued_on, title, holder, issuer, signer, tuple(pairs))


def deflate(message: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return packer.compress(message) + packer.flush()


def inflate(data: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15)
    try:
        message = unpacker.decompress(data, MAX_MESSAGE_BYTES)
    except zlib.error as exc:
        raise CodeError("not deflate data") from exc
    if not unpacker.eof or unpacker.unconsumed_tail or unpacker.unused_data:
        raise CodeError("cut, too long, or followed by other data")
    return message


def encode(message: bytes, signature: bytes) -> str:
    return base64.b32encode(deflate(message) + signature).decode().rstrip("=")


def make_code(claims: Claims, sign: Callable[[bytes], bytes]) -> str:
    message = claims.message()
    return encode(message, sign(message))


def code_url(public_url: str, code: str) -> str:
    """The QR's text: scheme and host upper-cased so the whole URL stays alphanumeric."""
    scheme, _, rest = public_url.rstrip("/").partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.upper()}://{host.upper()}{slash}{path}{URL_PATH}{code}"


def extract_code(text: str) -> str:
    """The code from what someone pasted or scanned: the code itself or the QR's URL."""
    text = "".join(text.split()).upper()
    if URL_PATH in text:
        text = text.rsplit(URL_PATH, 1)[1]
    text = text.split("?")[0].split("#")[0].strip("/")
    if not text or not _CODE_CHARS.match(text):
        raise CodeError("not base32")
    return text


def decode(text: str) -> tuple[Claims, bytes, bytes]:
    """(claims, signed message, signature) of a code or QR URL; CodeError if unreadable."""
    code = extract_code(text)
    try:
        raw = base64.b32decode(code + "=" * (-len(code) % 8))
    except (binascii.Error, ValueError) as exc:
        raise CodeError("bad base32") from exc
    if len(raw) <= SIGNATURE_BYTES:
        raise CodeError("too short")
    message, signature = inflate(raw[:-SIGNATURE_BYTES]), raw[-SIGNATURE_BYTES:]
    return parse_message(message), message, signature


# --- The PDF's own signature --------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_pdf(pdf: bytes, code: str, kid: str, sign: Callable[[bytes], bytes]) -> bytes:
    signed = pdf + CODE_LINE + code.encode() + b"\n"
    return signed + SIG_LINE + f"{kid} {b64url(sign(signed))}\n".encode()


@dataclass(frozen=True)
class PdfSeal:
    kid: str
    signature: bytes
    signed: bytes
    """Every byte the signature covers."""
    code: str


def read_seal(data: bytes) -> PdfSeal:
    """The code and signature appended to a Guichet PDF; CodeError if there are none."""
    at = data.rfind(SIG_LINE)
    if at < 0:
        raise CodeError("no Guichet signature in this file")
    signed, line = data[:at], data[at + len(SIG_LINE) :]
    try:
        kid, sig_text = line.decode("ascii").split()
        signature = unb64url(sig_text)
    except (UnicodeDecodeError, ValueError, binascii.Error) as exc:
        raise CodeError("unreadable signature line") from exc
    code_at = signed.rfind(CODE_LINE)
    if code_at < 0:
        raise CodeError("no code in this file")
    code = signed[code_at + len(CODE_LINE) :].strip().decode("ascii", "replace")
    return PdfSeal(kid=kid, signature=signature, signed=signed, code=code)
