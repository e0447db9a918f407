from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone

from conftest import SERVICE_1, make_staff
from guichet.governance.models import AuditEntry
from guichet.web.tests.staff import verified_login
from guichet.workflow.models import Export, ExportStatus
from guichet.workflow.tests.test_exports import INJECTION, bulk_dossiers

pytestmark = pytest.mark.django_db

PAGE = f"/instruction/services/{SERVICE_1}/exports/"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def signed_in(supervisor, demo_catalog):
    client = Client()
    verified_login(client, supervisor)
    return client


def _ask(client, capture, **data):
    with capture(execute=True):
        response = client.post(PAGE, {"format": "xlsx", **data})
    return response


def test_the_page_offers_the_queue_s_filters(signed_in):
    response = signed_in.get(PAGE + "?statut=all&retard=1&q=awa&page=3&tri=recent")
    assert response.status_code == 200
    html = response.content.decode()
    assert len(response.content) < 50_000
    for name, value in [("statut", "all"), ("retard", "1"), ("q", "awa"), ("tri", "recent")]:
        assert f'<input type="hidden" name="{name}" value="{value}">' in html
    assert 'name="page"' not in html
    assert "Aucun export pour le moment." in html
    assert "Refresh" not in response.headers


def test_a_supervisor_asks_then_downloads(
    signed_in, supervisor, citizen, django_capture_on_commit_callbacks
):
    bulk_dossiers(citizen, 3)
    bulk_dossiers(citizen, 1, applicant_name=INJECTION)

    response = _ask(signed_in, django_capture_on_commit_callbacks, statut="all", tri="recent")

    assert response.status_code == 302
    assert response["Location"] == PAGE + "?statut=all&tri=recent"
    export = Export.objects.get()
    assert (export.status, export.row_count, export.filters) == (
        ExportStatus.READY,
        4,
        {"statut": "all", "tri": "recent"},
    )
    page = signed_in.get(response["Location"])
    html = page.content.decode()
    assert "Export demandé : il sera prêt dans quelques instants. Rechargez cette page." in html
    link = f"/instruction/exports/{export.pk}/"
    assert f'href="{link}"' in html
    assert "4 dossiers" in html

    download = signed_in.get(link)
    assert download.status_code == 200
    assert download["Content-Type"] == XLSX
    day = timezone.localdate(export.created_at)
    assert download["Content-Disposition"] == (
        f'attachment; filename="{SERVICE_1}-{day:%Y-%m-%d}.xlsx"'
    )
    assert b"".join(download.streaming_content).startswith(b"PK")
    entry = AuditEntry.objects.get(action="export.downloaded")
    assert (entry.actor, entry.object_id, entry.data["export"]) == (
        supervisor,
        SERVICE_1,
        export.pk,
    )


def test_a_csv_download_is_utf8_with_bom_and_semicolons(
    signed_in, citizen, django_capture_on_commit_callbacks
):
    bulk_dossiers(citizen, 1, applicant_name=INJECTION)
    _ask(signed_in, django_capture_on_commit_callbacks, format="csv")
    download = signed_in.get(f"/instruction/exports/{Export.objects.get().pk}/")
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    content = b"".join(download.streaming_content)
    assert content.startswith(b"\xef\xbb\xbfR\xc3\xa9f\xc3\xa9rence;")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][7] == "'" + INJECTION


def test_while_an_export_is_built_the_page_reloads_itself(signed_in, supervisor):
    from guichet.organisation.models import Service
    from guichet.workflow import exports
    from guichet.workflow.queries import QueueFilters

    export = exports.request_export(  # no commit in this test: the task never runs
        service=Service.objects.get(pk=SERVICE_1),
        filters=QueueFilters(),
        format="ods",
        actor=supervisor,
    )
    page = signed_in.get(PAGE)
    assert page["Refresh"] == "5"
    assert "En attente" in page.content.decode()
    assert signed_in.get(f"/instruction/exports/{export.pk}/").status_code == 404  # not ready


def test_an_unknown_format_is_refused_with_a_message(signed_in):
    response = signed_in.post(PAGE, {"format": "pdf"}, follow=True)
    assert "Choisissez un format : CSV, XLSX ou ODS." in response.content.decode()
    assert not Export.objects.exists()


def test_an_agent_can_neither_ask_nor_download(
    signed_in, staff_user, citizen, django_capture_on_commit_callbacks
):
    bulk_dossiers(citizen, 1)
    _ask(signed_in, django_capture_on_commit_callbacks)
    export = Export.objects.get()
    agent = Client()
    verified_login(agent, staff_user)
    assert agent.get(PAGE).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert agent.post(PAGE, {"format": "csv"}).status_code == 404
    assert Export.objects.count() == 1
    assert agent.get(f"/instruction/exports/{export.pk}/").status_code == 404
    assert not AuditEntry.objects.filter(action="export.downloaded").exists()


def test_another_service_s_supervisor_gets_404(
    signed_in, citizen, django_capture_on_commit_callbacks
):
    bulk_dossiers(citizen, 1)
    _ask(signed_in, django_capture_on_commit_callbacks)
    export = Export.objects.get()
    other = Client()
    verified_login(other, make_staff("superviseur-c4", ("supervisor", "ml-ec-bamako-c4")))
    assert other.get(f"/instruction/exports/{export.pk}/").status_code == 404
    assert other.get(PAGE).status_code == 404
    assert other.get(f"/instruction/exports/{export.pk + 1}/").status_code == 404  # missing


def test_staff_without_the_second_factor_go_to_sign_in(supervisor, demo_catalog):
    client = Client()
    client.force_login(supervisor)  # password only
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/instruction/connexion/")
