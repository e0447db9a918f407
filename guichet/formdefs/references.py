"""Reference lists used by form fields: countries, territories, national ID schemes.

The lists are YAML files in `references/` so that an administration can correct or extend
them without touching code:

- `countries.yaml`: every ISO 3166-1 code with its French and English names;
- `territories/<country>.yaml`: the regions of one country and its communes (add a file to
  support a new country; add lines to complete a commune list);
- `national_ids.yaml`: per national ID scheme, the charset and length the form checks.

Each file is read once per process and checked on load: a duplicate code or a commune in an
unknown region raises `ReferenceDataError` naming the file, so a bad edit fails loudly at
start-up and in the tests rather than in a citizen's form.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from guichet.catalog.texts import pick

REFERENCES_DIR = Path(__file__).parent / "references"
OTHER_COMMUNE = "_autre"  # choice value of "a commune missing from a partial list"


class ReferenceDataError(Exception):
    """A reference file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Country:
    code: str
    names: dict[str, str]

    def name(self, language: str | None = None) -> str:
        return pick(self.names, language)


@dataclass(frozen=True)
class Region:
    country: str
    code: str
    name: str
    iso: str | None


@dataclass(frozen=True)
class Commune:
    country: str
    code: str
    name: str
    region: str


@dataclass(frozen=True)
class Territories:
    """The regions and communes of one country, in display order."""

    country: str
    regions: dict[str, Region]
    communes: dict[str, Commune]
    communes_complete: bool

    def communes_of(self, region: str) -> list[Commune]:
        return [c for c in self.communes.values() if c.region == region]


@dataclass(frozen=True)
class IdScheme:
    code: str
    country: str
    label: dict[str, str]
    charset: str  # "digits" or "alphanumeric"
    min_length: int
    max_length: int
    confirmed: bool


def sort_key(name: str) -> str:
    """Alphabetical order as a French reader expects it: accents and case ignored."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReferenceDataError(f"{path}: illisible ({exc})") from exc


def _require(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise ReferenceDataError(f"{path}: {message}")


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


@cache
def countries() -> dict[str, Country]:
    """All countries by ISO 3166-1 alpha-2 code, in French alphabetical order."""
    path = REFERENCES_DIR / "countries.yaml"
    out: dict[str, Country] = {}
    for entry in _load(path)["countries"]:
        code = entry.get("code")
        _require(
            isinstance(code, str) and len(code) == 2 and code.isupper(),
            path,
            f'code pays invalide {code!r} (deux majuscules ; écrivez "NO" entre guillemets)',
        )
        _require(code not in out, path, f"code pays en double : {code}")
        names = {k: v for k, v in entry.items() if k != "code"}
        _require(_is_text(names.get("fr")), path, f"{code} : nom français manquant")
        out[code] = Country(code=code, names=names)
    return dict(sorted(out.items(), key=lambda item: sort_key(item[1].names["fr"])))


@cache
def territories(country: str) -> Territories | None:
    """Regions and communes of `country`, or None when no file describes it."""
    path = REFERENCES_DIR / "territories" / f"{country.lower()}.yaml"
    if not path.exists():
        return None
    data = _load(path)
    _require(data.get("country") == country, path, f"le champ country doit valoir {country}")
    regions: dict[str, Region] = {}
    for entry in data["regions"]:
        code = entry.get("code")
        _require(_is_text(code) and _is_text(entry.get("name")), path, f"région invalide {entry}")
        _require(code not in regions, path, f"code de région en double : {code}")
        regions[code] = Region(country, code, entry["name"], entry.get("iso"))
    block = data.get("communes") or {"complete": False, "items": []}
    communes: dict[str, Commune] = {}
    for entry in block["items"]:
        code, region = entry.get("code"), entry.get("region")
        _require(_is_text(code) and _is_text(entry.get("name")), path, f"commune invalide {entry}")
        _require(code not in communes, path, f"code de commune en double : {code}")
        _require(code != OTHER_COMMUNE, path, f"le code {OTHER_COMMUNE} est réservé")
        _require(region in regions, path, f"commune {code} : région inconnue {region!r}")
        communes[code] = Commune(country, code, entry["name"], region)
    return Territories(
        country=country,
        regions=regions,
        communes=communes,
        communes_complete=bool(block.get("complete")),
    )


@cache
def id_schemes() -> dict[str, IdScheme]:
    path = REFERENCES_DIR / "national_ids.yaml"
    out: dict[str, IdScheme] = {}
    for code, entry in _load(path)["schemes"].items():
        _require(entry.get("charset") in ("digits", "alphanumeric"), path, f"{code} : charset")
        low, high = entry.get("min_length"), entry.get("max_length")
        _require(
            isinstance(low, int) and isinstance(high, int) and 0 < low <= high,
            path,
            f"{code} : min_length et max_length",
        )
        label = entry.get("label")
        label = {"fr": label} if isinstance(label, str) else label
        _require(isinstance(label, dict) and _is_text(label.get("fr")), path, f"{code} : label")
        out[code] = IdScheme(
            code=code,
            country=entry["country"],
            label=label,
            charset=entry["charset"],
            min_length=low,
            max_length=high,
            confirmed=bool(entry.get("confirmed")),
        )
    return out
