"""The assistant where citizens meet it: the page, the JSON endpoint, SMS, the log."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from guichet.assistant import services
from guichet.assistant.models import Exchange
from guichet.notifications import gsm7
from guichet.web.tests.pages import BUDGET_BYTES, measure

pytestmark = pytest.mark.django_db

EVAL_DIR = Path(__file__).resolve().parent.parent / "eval"


@pytest.fixture(autouse=True)
def _lexical_only(settings):
    """The suite checks the default, lexical assistant (the dense extra has its tests)."""
    settings.ASSISTANT_DENSE = False
    services.reset()
    yield
    services.reset()


def test_the_page_answers_from_the_sheet_with_its_sources_and_a_way_to_start(client, demo_catalog):
    response = client.get(
        "/question/", {"q": "quelles pieces pour le certificat de nationalite", "pays": "ML"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Certificat de nationalité malienne" in html
    assert "Pièces à fournir" in html
    assert 'href="/demarches/ml-certificat-nationalite/#pieces"' in html
    assert "<script" not in html  # works the same without JavaScript
    exchange = Exchange.objects.get()
    assert exchange.outcome == "answer"
    assert exchange.procedure_id == "ml-certificat-nationalite"
    assert exchange.cited[0] == "ml-certificat-nationalite#documents"
    assert exchange.retrieved[0]["id"] == "ml-certificat-nationalite"
    assert exchange.backend == "extractive" and exchange.version == services.VERSION
    assert exchange.country == "ML" and exchange.language == "fr" and exchange.channel == "web"


def test_from_an_answer_one_click_starts_the_online_procedure(client, demo_catalog):
    html = client.get(
        "/question/", {"q": "extrait d'acte de naissance", "pays": "ML"}
    ).content.decode()
    assert 'href="/demarches/ml-extrait-acte-naissance/en-ligne/"' in html


def test_an_out_of_scope_question_gets_an_honest_refusal_and_where_to_ask(client, demo_catalog):
    html = client.get(
        "/question/", {"q": "Il va pleuvoir demain à Bamako ?", "pays": "ML"}
    ).content.decode()
    assert "Je préfère ne pas deviner" in html
    assert "mairie de votre commune" in html
    assert "Pièces à fournir" not in html
    assert Exchange.objects.get().outcome == "refuse"


def test_bad_input_gets_a_french_message_and_logs_nothing(client, demo_catalog):
    response = client.get("/question/", {"q": "", "pays": "ML"})
    assert response.status_code == 400
    assert "Écrivez votre question." in response.content.decode()
    response = client.get("/question/", {"q": "passeport", "pays": "FR"})
    assert response.status_code == 400
    assert "Choisissez un pays de la liste." in response.content.decode()
    response = client.get("/question/", {"q": "x" * 501})
    assert response.status_code == 400
    assert not Exchange.objects.exists()


def test_the_pages_fit_the_budget(client, demo_catalog):
    for url in ("/question/", "/question/?q=pieces+et+prix+de+la+cnib&pays=BF"):
        weight = measure(client, url)
        assert weight.status == 200
        assert weight.transferred <= BUDGET_BYTES, (url, weight)


def test_the_citizen_says_whether_it_helped_and_only_for_their_own_answer(client, demo_catalog):
    html = client.get("/question/", {"q": "prix du passeport", "pays": "NE"}).content.decode()
    token = re.search(r'name="echange" value="([^"]+)"', html).group(1)
    response = client.post("/question/avis/", {"echange": token, "avis": "non"})
    assert response.status_code == 200
    assert "Merci" in response.content.decode()
    assert Exchange.objects.get().helpful is False
    forged = client.post("/question/avis/", {"echange": "1", "avis": "oui"})
    assert forged.status_code == 400
    assert "pas pu être enregistré" in forged.content.decode()
    assert Exchange.objects.get().helpful is False


def test_the_json_endpoint_gives_ids_and_addresses_of_every_quoted_field(client, demo_catalog):
    response = client.get("/api/assistant/", {"q": "delai casier judiciaire", "pays": "BF"})
    assert response.status_code == 200
    data = response.json()
    assert data["resultat"] == "answer"
    assert data["demarche"]["id"] == "bf-casier-judiciaire"
    assert [c["id"] for c in data["champs"]][0] == "bf-casier-judiciaire#delay"
    assert data["champs"][0]["source"].endswith("/demarches/bf-casier-judiciaire/#delai")
    posted = client.post(
        "/api/assistant/", json.dumps({"q": "recette du riz"}), content_type="application/json"
    ).json()
    assert posted["resultat"] == "refuse" and posted["champs"] == []
    bad = client.post("/api/assistant/", "{", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.json()["erreur"]
    assert client.get("/api/assistant/").json()["erreur"] == "Écrivez votre question."


def test_questions_are_rate_limited_per_address(client, demo_catalog, settings):
    from guichet.web.assistant_views import QUESTIONS_PER_ADDRESS

    for _ in range(QUESTIONS_PER_ADDRESS.limit):
        assert client.get("/api/assistant/", {"q": "passeport"}).status_code == 200
    response = client.get("/api/assistant/", {"q": "passeport"})
    assert response.status_code == 429
    assert "Réessayez dans" in response.json()["erreur"] and response["Retry-After"]
    assert client.get("/question/", {"q": "passeport"}).status_code == 429


@pytest.mark.parametrize("text", ["QUESTION prix du passeport", "aide: prix du passeport",
                                  "prix passeport svp"])  # fmt: skip
def test_a_question_by_sms_gets_at_most_two_gsm7_sms_with_the_sheet(client, demo_catalog, text):
    reply = client.get("/passerelle/sms/entrant/", {"from": "+22790123456", "text": text})
    body = reply.content.decode()
    assert gsm7.fits_sms(body, 2), body
    assert "Passeport ordinaire" in body and "50 000" in body  # Niger, from the number
    assert body.endswith("/demarches/ne-passeport/")
    exchange = Exchange.objects.get()
    assert exchange.channel == "sms" and exchange.country == "NE"


def test_aide_alone_still_explains_the_commands(client, demo_catalog):
    body = client.get("/passerelle/sms/entrant/", {"from": "+22370000000", "text": "AIDE"})
    assert "STATUT" in body.content.decode() and "QUESTION" in body.content.decode()
    assert not Exchange.objects.exists()


def test_long_answers_are_cut_to_two_sms_keeping_the_address(client, demo_catalog):
    # The Malian identity card lists many documents: far more than two SMS.
    text = "QUESTION pieces pour la carte d'identite biometrique"
    body = client.get("/passerelle/sms/entrant/", {"from": "+22376000000", "text": text})
    body = body.content.decode()
    assert gsm7.fits_sms(body, 2) and not gsm7.fits_sms(body, 1)
    assert body.endswith("/demarches/ml-carte-identite/")
    assert "..." in body


def test_exchanges_are_kept_for_the_retention_period_only(demo_catalog, settings):
    settings.ASSISTANT_LOG_RETENTION_DAYS = 30
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        services.ask("prix du passeport", country="ML")
    services.ask("prix du passeport", country="BF")
    call_command("purge", stdout=io.StringIO())  # the daily purge (guichet/retention)
    assert list(Exchange.objects.values_list("country", flat=True)) == ["BF"]


def test_the_evaluation_command_reports_and_fails_below_thresholds(demo_catalog, capsys):
    path = EVAL_DIR / "questions_dev.jsonl"
    call_command("assistant_eval", str(path), "--min-top1", "0.85", "--min-top3", "0.95",
                 "--min-refusal", "0.9", "--min-citations", "1", "--max-p95-ms", "50")  # fmt: skip
    out = capsys.readouterr().out
    assert "top-1" in out and "citations valides : 100.0%" in out
    with pytest.raises(CommandError, match="top1"):
        call_command("assistant_eval", str(path), "--min-top1", "1.01")
    assert not Exchange.objects.exists()  # evaluating logs nothing


def test_the_evaluation_reads_bad_files_with_a_clear_message(tmp_path, demo_catalog):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"q": "passeport"}\n{"expected": 1}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="ligne 2"):
        call_command("assistant_eval", str(bad))
