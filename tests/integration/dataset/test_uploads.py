"""The browser import: upload, mapping pre-filled from other CRMs' headers, preview, the
task, the result and the rejected rows; unsafe archives refused."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pipeline.models import Lead
from revops.models import ImportUpload
from revops.tasks import import_upload_run

pytestmark = pytest.mark.django_db

HUBSPOT_LEADS = (
    "Record ID,First Name,Last Name,Email,Company Name,Original Source,Lead Status,"
    "Create Date,Favourite colour\n"
    "101,Sara,Rahimi,sara@kian.ir,Kian,webinar,new,2025-02-01,blue\n"
    "102,Nima,,nima@x.io,X,event,working,2025-02-30,red\n"
)


def upload(client, name, content, entity, skip_invalid=True):
    data = {"entity": entity, "file": SimpleUploadedFile(name, content)}
    if skip_invalid:
        data["skip_invalid"] = "on"
    return client.post(reverse("import-new"), data)


def test_a_marketer_imports_hubspot_leads_through_the_browser(
    client_for, marketer, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(marketer)
    response = upload(client, "hubspot.csv", HUBSPOT_LEADS.encode(), "leads.csv")
    item = ImportUpload.objects.get()
    assert response["Location"] == reverse("import-detail", args=[item.pk])
    assert item.mapping == {
        "Record ID": "external_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Company Name": "company",
        "Original Source": "source",
        "Lead Status": "status",
        "Create Date": "created_on",
        "Favourite colour": "",
    }
    page = client.get(reverse("import-detail", args=[item.pk]))
    assert [h for h, _target in page.context["mapping_rows"]] == HUBSPOT_LEADS.split("\n")[0].split(
        ","
    )
    preview = page.context["preview"]
    assert preview[0]["problems"] == []
    assert any("created_on" in p for p in preview[1]["problems"])
    assert page.context["missing"] == []
    # The page survives a reload: the upload and its mapping are stored.
    assert client.get(reverse("import-detail", args=[item.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post(
            reverse("import-detail", args=[item.pk]),
            {f"map-{h}": t for h, t in item.mapping.items()} | {"start": "1"},
        )
    assert started.status_code == 302
    item.refresh_from_db()
    assert item.status == "running" and item.job is not None
    progress = client.get(reverse("import-progress", args=[item.pk]), HTTP_HX_REQUEST="true")
    assert "<progress" in progress.content.decode()
    assert import_upload_run(item.pk) == "done"  # what the worker runs
    item.refresh_from_db()
    assert item.status == "done" and item.result["problem_count"] == 1
    assert list(Lead.objects.values_list("external_id", flat=True)) == ["101"]
    done = client.get(reverse("import-progress", args=[item.pk]), HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    result = client.get(reverse("import-detail", args=[item.pk])).content.decode()
    assert "leads.csv:3: created_on: no such day" in result
    rejects = b"".join(client.get(reverse("import-rejects", args=[item.pk])).streaming_content)
    assert b"102" in rejects and b"no such day" in rejects


def test_required_columns_must_be_mapped_before_starting(client_for, marketer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(marketer)
    upload(client, "x.csv", b"Email,Name\na@b.io,A\n", "leads.csv")
    item = ImportUpload.objects.get()
    response = client.post(reverse("import-detail", args=[item.pk]), {"start": "1"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "mapping"


def test_who_may_import_what(client_for, rep, marketer, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assert client_for(rep).get(reverse("import-new")).status_code == 403
    marketer_form = client_for(marketer).get(reverse("import-new")).context["form"]
    assert [c for c, _ in marketer_form.fields["entity"].choices] == ["leads.csv"]
    refused = upload(
        client_for(marketer), "a.csv", b"external_id,name,created_on\n", "accounts.csv"
    )
    assert refused.status_code == 200 and not ImportUpload.objects.exists()
    admin_choices = (
        client_for(admin_user).get(reverse("import-new")).context["form"].fields["entity"].choices
    )
    assert len(admin_choices) == 14


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content, reason",
    [
        (zip_bytes({"../../etc/cron.d/x": "boom"}), "unsafe path"),
        (zip_bytes({"/abs/leads.csv": "x"}), "unsafe path"),
        (zip_bytes({"notes.txt": "x"}), "no dataset file"),
        (b"not a zip at all", "not a ZIP"),
        (zip_bytes({f"f{i}.csv": "x" for i in range(25)}), "more than"),
    ],
)
def test_unsafe_archives_are_refused(client_for, admin_user, settings, tmp_path, content, reason):
    settings.MEDIA_ROOT = tmp_path
    response = upload(client_for(admin_user), "data.zip", content, "zip")
    assert response.status_code == 200
    assert reason in " ".join(response.context["form"].errors["file"])
    assert not ImportUpload.objects.exists()


def test_a_zip_bomb_is_refused_before_unpacking(client_for, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("leads.csv", b"0" * (5 * 1024 * 1024))
    from revops.dataset import uploads

    original = uploads.MAX_UNCOMPRESSED
    uploads.MAX_UNCOMPRESSED = 1024 * 1024
    try:
        response = upload(client_for(admin_user), "bomb.zip", buffer.getvalue(), "zip")
    finally:
        uploads.MAX_UNCOMPRESSED = original
    assert "unpacks to more than" in " ".join(response.context["form"].errors["file"])


def test_a_zipped_dataset_imports(
    client_for, admin_user, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    content = zip_bytes(
        {
            "dataset/teams.csv": "name,kind\nSales East,sales\n",
            "dataset/users.csv": "email,full_name,team,role\nnew@x.io,New Rep,Sales East,rep\n",
        }
    )
    client = client_for(admin_user)
    upload(client, "dataset.zip", content, "zip")
    item = ImportUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("import-detail", args=[item.pk]), {"start": "1"})
    assert import_upload_run(item.pk) == "done"
    item.refresh_from_db()
    assert item.result["counts"]["users.csv"] == [1, 1, 0]


def test_oversized_uploads_are_refused(client_for, marketer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.IMPORT_UPLOAD_MAX_BYTES = 10
    response = upload(client_for(marketer), "big.csv", HUBSPOT_LEADS.encode(), "leads.csv")
    assert "larger than the import limit" in " ".join(response.context["form"].errors["file"])


def _member(name, mode):
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def test_links_backslash_paths_and_nested_zips_never_reach_the_disk(
    client_for, admin_user, settings, tmp_path
):
    import stat

    settings.MEDIA_ROOT = tmp_path
    client = client_for(admin_user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_member("leads.csv", stat.S_IFLNK | 0o777), "/etc/passwd")
    response = upload(client, "link.zip", buffer.getvalue(), "zip")
    assert "a link in the archive" in " ".join(response.context["form"].errors["file"])
    nested = zip_bytes({"inner.zip": zip_bytes({"leads.csv": "first_name\nA\n"})})
    response = upload(client, "nested.zip", nested, "zip")
    assert "no dataset file" in " ".join(response.context["form"].errors["file"])
    assert not ImportUpload.objects.exists()
    # A Windows-style path is one odd file name here: unpacked flat, by its known name only.
    from revops.dataset.uploads import extract_dataset

    work = tmp_path / "work"
    out = work / "out"
    out.mkdir(parents=True)
    archive = work / "win.zip"
    archive.write_bytes(zip_bytes({"..\\..\\leads.csv": "x", "dataset/teams.csv": "name\n"}))
    extract_dataset(archive, out)
    assert sorted(p.name for p in out.iterdir()) == ["teams.csv"]
    assert sorted(p.name for p in work.iterdir()) == ["out", "win.zip"]


def test_a_member_that_unpacks_hundreds_of_times_its_size_is_refused(
    client_for, admin_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("leads.csv", b"first_name\n" + b"A" * (20 * 1024 * 1024))
    assert len(buffer.getvalue()) < 100 * 1024  # well under every size limit
    response = upload(client_for(admin_user), "bomb.zip", buffer.getvalue(), "zip")
    assert "times its size" in " ".join(response.context["form"].errors["file"])
    assert not ImportUpload.objects.exists()
