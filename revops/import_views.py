"""Pages of the browser import (issue 6): upload, map, preview, run with progress."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from .dataset import uploads
from .dataset.importer import ENTITIES
from .models import ImportUpload, Job, User


def _allowed_entities(user) -> list[tuple[str, str]]:
    """roles.md: admins import everything (a ZIP of the dataset too), marketers leads."""
    if user.role == User.Role.ADMIN:
        return [
            ("zip", gettext_lazy("A dataset folder, zipped")),
            *[(e.file, e.file) for e in ENTITIES],
        ]
    if user.role == User.Role.MARKETER:
        return [("leads.csv", "leads.csv")]
    return []


class UploadForm(forms.Form):
    entity = forms.ChoiceField(label=gettext_lazy("What the file holds"))
    file = forms.FileField(label=gettext_lazy("File (CSV, or ZIP for a whole dataset)"))
    skip_invalid = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy(
            "Import the valid rows, set the invalid ones aside (otherwise all or nothing)"
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = _allowed_entities(user)

    def clean_file(self):
        from django.conf import settings

        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than the import limit."))
        return upload


def _upload_for(request, pk) -> ImportUpload:
    uploads_qs = ImportUpload.objects.all()
    if request.user.role != User.Role.ADMIN:
        uploads_qs = uploads_qs.filter(created_by=request.user)
    return get_object_or_404(uploads_qs.select_related("job"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    if not _allowed_entities(request.user):
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        entity = form.cleaned_data["entity"]
        upload = ImportUpload.objects.create(
            created_by=request.user,
            file=form.cleaned_data["file"],
            original_name=form.cleaned_data["file"].name[:255],
            entity=entity,
            skip_invalid=form.cleaned_data["skip_invalid"],
        )
        try:
            if entity == "zip":
                uploads.check_archive(upload.file.path)
            else:
                headers = uploads.read_header(upload.file.path)
                if not headers:
                    raise ValueError(_("The file has no header row."))
                upload.mapping = uploads.proposed_mapping(entity, headers)
                upload.save(update_fields=["mapping"])
        except (uploads.UnsafeArchive, ValueError, UnicodeDecodeError) as error:
            upload.file.delete(save=False)
            upload.delete()
            form.add_error(
                "file",
                str(error)
                if not isinstance(error, UnicodeDecodeError)
                else _("The file is not UTF-8 or UTF-16 text."),
            )
        else:
            return redirect("import-detail", pk=upload.pk)
    return render(
        request,
        "revops/import_new.html",
        {
            "form": form,
            "recent": ImportUpload.objects.filter(created_by=request.user)[:10],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    upload = _upload_for(request, pk)
    columns = []
    if upload.entity != "zip":
        columns = [c for c in uploads.ENTITY_BY_FILE[upload.entity].columns]
    if request.method == "POST" and upload.status == ImportUpload.Status.MAPPING:
        valid = {c.name for c in columns}
        mapping = {}
        for header in upload.mapping:
            target = request.POST.get(f"map-{header}", "")
            mapping[header] = target if target in valid else ""
        upload.mapping = mapping
        upload.save(update_fields=["mapping"])
        if request.POST.get("start") == "1":
            return _start(request, upload, columns)
        return redirect("import-detail", pk=upload.pk)
    context = {"upload": upload, "columns": columns}
    if upload.entity != "zip" and upload.status == ImportUpload.Status.MAPPING:
        try:
            # In the file's own order (the stored mapping is a JSON object, unordered).
            context["mapping_rows"] = [
                (header, upload.mapping.get(header, ""))
                for header in uploads.read_header(upload.file.path)
            ]
            context["preview"] = uploads.preview(upload.entity, upload.file.path, upload.mapping)
        except (UnicodeDecodeError, ValueError) as error:
            context["preview_error"] = str(error)
        context["missing"] = [
            c.name for c in columns if c.required and c.name not in upload.mapping.values()
        ]
    return render(request, "revops/import_detail.html", context)


def _start(request, upload, columns):
    missing = [c.name for c in columns if c.required and c.name not in upload.mapping.values()]
    if missing:
        messages.error(
            request, _("Map these required columns first: %(c)s.") % {"c": ", ".join(missing)}
        )
        return redirect("import-detail", pk=upload.pk)
    from .tasks import import_upload_run

    with transaction.atomic():
        upload.job = Job.objects.create(
            kind="import", created_by=request.user, params={"upload": upload.pk}
        )
        upload.status = ImportUpload.Status.RUNNING
        upload.save(update_fields=["job", "status"])

        def enqueue():
            try:
                import_upload_run.delay(upload.pk)
            except Exception:
                ImportUpload.objects.filter(pk=upload.pk).update(status=ImportUpload.Status.MAPPING)
                messages.error(request, _("The import queue is not reachable; try again."))

        transaction.on_commit(enqueue)
    return redirect("import-detail", pk=upload.pk)


@login_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """Polled by the progress bar; once the import ends, the page reloads to its result."""
    upload = _upload_for(request, pk)
    if upload.status != ImportUpload.Status.RUNNING:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "revops/import_detail.html#progress", {"upload": upload})


@login_required
def import_rejects(request: HttpRequest, pk: int) -> HttpResponse:
    """The rejected rows as written by the importer, with every cell that a spreadsheet
    would run as a formula kept as text (the file itself stays as it was uploaded)."""
    import csv
    import io

    from .exports import neutralise

    upload = _upload_for(request, pk)
    if not upload.rejects:
        raise Http404

    def rows():
        with upload.rejects.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            out = io.StringIO()
            writer = csv.writer(out)
            yield "\ufeff"
            for row in csv.reader(text):
                writer.writerow([neutralise(cell) for cell in row])
                yield out.getvalue()
                out.seek(0)
                out.truncate()

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejects-{upload.pk}.csv"'
    return response


@login_required
@require_POST
def import_discard(request: HttpRequest, pk: int) -> HttpResponse:
    upload = _upload_for(request, pk)
    if upload.status == ImportUpload.Status.RUNNING:
        raise PermissionDenied
    upload.file.delete(save=False)
    if upload.rejects:
        upload.rejects.delete(save=False)
    upload.delete()
    return redirect("import-new")
