"""Attachments: uploaded through the record page, always served as a download (never
inline, never sniffed), bounded in size, and only to those who may see them."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accord.core.models import Attachment, JournalEntry
from accord.incidents.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def incident(make_incident):
    return make_incident()


def upload(client, record, name, content, **extra):
    ct = ContentType.objects.get_for_model(type(record))
    return client.post(
        reverse("attachment_upload", args=[ct.pk, record.pk]),
        {"file": SimpleUploadedFile(name, content), "next": record.get_absolute_url(), **extra},
    )


def download(client, attachment):
    return client.get(reverse("attachment_download", args=[attachment.pk]))


def body(response):
    return b"".join(response.streaming_content)


def stored_files(media):
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_upload_then_download_is_an_attachment_that_is_never_sniffed(
    client, world, incident, media
):
    client.force_login(world.agent_a)
    response = upload(client, incident, "notes.txt", b"hello, world\n")
    assert response.status_code == 302
    assert response.url == incident.get_absolute_url()

    attachment = Attachment.objects.get()
    assert (attachment.filename, attachment.size) == ("notes.txt", 13)
    assert attachment.customer_visible and attachment.uploaded_by == world.agent_a
    assert attachment.object_id == incident.pk
    # The stored name is ours, not the uploader's.
    assert "notes" not in attachment.file.name
    assert len(stored_files(media)) == 1

    response = download(client, attachment)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body(response) == b"hello, world\n"
    # The upload is in the record's journal, by the uploader.
    event = JournalEntry.objects.filter(
        object_id=incident.pk, kind=JournalEntry.Kind.EVENT, body__contains="notes.txt"
    ).get()
    assert event.author_id == world.agent_a.pk


def test_an_html_file_is_not_served_inline(client, world, incident, media):
    client.force_login(world.agent_a)
    page = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
    upload(client, incident, "invoice.html", page)
    attachment = Attachment.objects.get()
    assert not attachment.file.name.endswith((".html", ".htm"))

    response = download(client, attachment)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "inline" not in response["Content-Disposition"]
    assert 'filename="invoice.html"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert body(response) == page


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(
    client, world, incident, media, settings
):
    settings.ATTACHMENT_MAX_BYTES = 10
    client.force_login(world.agent_a)

    response = upload(client, incident, "big.log", b"x" * 11)

    assert response.status_code == 302
    errors = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert errors == ["The file is larger than the limit of 10\xa0bytes."]
    assert not Attachment.objects.exists()
    assert stored_files(media) == []
    assert not JournalEntry.objects.filter(body__contains="big.log").exists()
    # The message reaches the page the user comes back to.
    assert "larger than the limit" in client.get(response.url).content.decode()

    # At the limit it is accepted.
    assert upload(client, incident, "ok.log", b"x" * 10).status_code == 302
    assert Attachment.objects.get().size == 10


def test_an_empty_file_is_refused(client, world, incident, media):
    client.force_login(world.agent_a)
    response = upload(client, incident, "empty.txt", b"")
    assert response.status_code == 302
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
    assert not Attachment.objects.exists()


def test_another_customers_people_cannot_download(client, world, incident, media):
    client.force_login(world.agent_a)
    upload(client, incident, "contract.pdf", b"%PDF-1.4 secret")
    attachment = Attachment.objects.get()

    for outsider in (world.customer_user_b, world.agent_b):
        client.force_login(outsider)
        assert download(client, attachment).status_code == 404, outsider
        # Nor attach files to the other customer's record.
        assert upload(client, incident, "x.txt", b"x").status_code == 404, outsider
    assert Attachment.objects.count() == 1

    client.force_login(world.customer_user_a)
    response = download(client, attachment)
    assert response.status_code == 200
    assert body(response) == b"%PDF-1.4 secret"


def test_the_read_only_auditor_can_download_but_not_attach(client, world, incident, media):
    client.force_login(world.agent_a)
    upload(client, incident, "log.txt", b"trace")
    client.force_login(world.auditor)
    assert upload(client, incident, "mine.txt", b"x").status_code == 403
    assert Attachment.objects.count() == 1
    assert download(client, Attachment.objects.get()).status_code == 200


def test_internal_attachments_are_hidden_from_the_customer(client, world, incident, media):
    client.force_login(world.agent_a)
    upload(client, incident, "public.txt", b"for everyone")
    upload(client, incident, "internal.txt", b"staff only", internal="on")
    public = Attachment.objects.get(filename="public.txt")
    internal = Attachment.objects.get(filename="internal.txt")
    assert public.customer_visible and not internal.customer_visible

    # Staff see and fetch both.
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "public.txt" in page and "internal.txt" in page
    assert download(client, internal).status_code == 200

    client.force_login(world.customer_user_a)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "public.txt" in page
    assert "internal.txt" not in page  # neither the file nor its journal line
    assert download(client, public).status_code == 200
    assert download(client, internal).status_code == 404


def test_a_customer_cannot_make_an_attachment_internal(client, world, incident, media):
    client.force_login(world.customer_user_a)
    response = upload(client, incident, "screenshot.png", b"\x89PNG...", internal="on")
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.customer_visible
    assert attachment.uploaded_by == world.customer_user_a
    assert Incident.objects.get(pk=incident.pk).version == incident.version
