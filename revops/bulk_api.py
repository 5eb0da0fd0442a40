"""REST: giving many records to someone else at once, and following the job that does it."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import QueryDict
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import bulk_changes
from .models import Job


class BulkReassignInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=sorted(bulk_changes.KINDS))
    owner = serializers.IntegerField(help_text="The new owner's id.")
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=100_000,
        help_text="The records to give; or `filter` for every record matching it.",
    )
    filter = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="The list filters (as on GET of the kind's list endpoint), e.g. "
        '{"owner": "12", "status": "open"}.',
    )

    def validate(self, data):
        if ("ids" in data) == ("filter" in data):
            raise serializers.ValidationError("Give either ids or filter.")
        return data


BulkOutcome = inline_serializer(
    "BulkOutcome",
    {
        "changed": serializers.IntegerField(required=False),
        "skipped": serializers.IntegerField(required=False),
        "job": serializers.IntegerField(required=False),
        "status": serializers.CharField(required=False),
    },
)


class BulkReassignApi(APIView):
    """Give records to someone else (roles.md: a manager within the team, an admin anyone,
    a marketer any lead). Records you may not change are left out. Up to 200 answer at
    once with what changed; more start a job (202) to follow at `/api/v1/bulk/jobs/{id}/`."""

    @extend_schema(request=BulkReassignInput, responses={200: BulkOutcome, 202: BulkOutcome})
    def post(self, request, format=None):
        data = BulkReassignInput(data=request.data)
        data.is_valid(raise_exception=True)
        kind = data.validated_data["kind"]
        if not bulk_changes.may_bulk_change(request.user, kind):
            raise exceptions.PermissionDenied("Your role cannot change these records.")
        spec = bulk_changes.KINDS[kind]
        try:
            params = bulk_changes.check(
                request.user, spec, "reassign", {"owner": data.validated_data["owner"]}
            )
        except DjangoValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        query = QueryDict(mutable=True)
        for name, value in (data.validated_data.get("filter") or {}).items():
            query[name] = value
        chosen = bulk_changes.selection(
            request.user,
            spec,
            ids=data.validated_data.get("ids"),
            query=query,
            request=request,
        )
        if len(chosen) > bulk_changes.INLINE:
            job = bulk_changes.job_for(request.user, kind, "reassign", params, chosen)
            return Response({"job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)
        return Response(bulk_changes.apply(request.user, spec, "reassign", params, chosen))


class BulkJobApi(APIView):
    """A bulk job of yours: its status, progress and, when done, what changed."""

    @extend_schema(
        responses=inline_serializer(
            "BulkJob",
            {
                "id": serializers.IntegerField(),
                "status": serializers.CharField(),
                "progress": serializers.IntegerField(),
                "total": serializers.IntegerField(allow_null=True),
                "result": serializers.DictField(),
            },
        )
    )
    def get(self, request, pk: int, format=None):
        job = Job.objects.filter(pk=pk, kind__startswith="bulk:", created_by=request.user).first()
        if job is None:
            raise exceptions.NotFound()
        return Response(
            {
                "id": job.pk,
                "status": job.status,
                "progress": job.progress,
                "total": job.total,
                "result": job.result,
            }
        )
