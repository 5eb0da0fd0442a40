from datetime import timedelta
from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from revops.api_base import RecordCursorPagination
from revops.models import Organisation, User

from .kpis import KPIS, present
from .models import KpiSnapshot, Quota
from .periods import current_period, period_start
from .services import kpi_report


class QuotaSerializer(serializers.ModelSerializer):
    user_email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Quota
        fields = ["id", "user", "user_email", "period_start", "period_end", "amount"]

    def validate_user(self, user):
        actor = self.context["request"].user
        if actor.role == User.Role.MANAGER and (
            actor.team_id is None or user.team_id != actor.team_id
        ):
            raise serializers.ValidationError("Set quotas for your own team only.")
        return user

    def validate(self, data):
        start = data.get("period_start", getattr(self.instance, "period_start", None))
        end = data.get("period_end", getattr(self.instance, "period_end", None))
        if start and end and end < start:
            raise serializers.ValidationError({"period_end": ["The period ends before it starts."]})
        if data.get("amount") is not None and data["amount"] < 0:
            raise serializers.ValidationError({"amount": ["A quota cannot be negative."]})
        return data


class QuotaViewSet(viewsets.ModelViewSet):
    """Quotas in the base currency: reps read their own, managers read and set their
    team's, executives read all, admins all."""

    serializer_class = QuotaSerializer
    pagination_class = RecordCursorPagination
    filterset_fields = ["user", "period_start", "period_end"]

    def get_queryset(self):
        return Quota.objects.visible_to(self.request.user).select_related("user")

    def check_permissions(self, request):
        super().check_permissions(request)
        # A quota in the URL is looked up first (get_object): one the user may not see is a
        # 404, never a 403 (roles.md).
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and "pk" not in self.kwargs
            and request.user.role not in (User.Role.MANAGER, User.Role.ADMIN)
        ):
            raise exceptions.PermissionDenied("Only managers and administrators set quotas.")

    def get_object(self):
        quota = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not (
            Quota.objects.editable_by(self.request.user).filter(pk=quota.pk).exists()
        ):
            raise exceptions.PermissionDenied("Only managers and administrators set quotas.")
        return quota


# --- KPIs --------------------------------------------------------------------------------------


def _kpi_query(request, extra=()):
    from .queries import KpiQueryError, kpi_query, scope_visible

    try:
        query = kpi_query(
            {key: value for key, value in request.query_params.items()}, extra=("format", *extra)
        )
    except KpiQueryError as error:
        raise exceptions.ValidationError({k: [m] for k, m in error.errors.items()}) from None
    if not scope_visible(request.user, query.scope):
        raise exceptions.NotFound()
    return query


_SCOPE_PARAMETERS = [
    OpenApiParameter(
        "as_of",
        OpenApiTypes.DATE,
        description="YYYY-MM-DD (Jalali years before 1700); today by default",
    ),
    OpenApiParameter("period", OpenApiTypes.STR, enum=["month", "quarter", "year"]),
    OpenApiParameter("calendar", OpenApiTypes.STR, enum=["gregorian", "jalali"]),
    OpenApiParameter("team", OpenApiTypes.STR, description="a team's name"),
    OpenApiParameter("owner", OpenApiTypes.STR, description="a user's e-mail"),
]


class KpiApi(APIView):
    """Every KPI of shared/spec/kpis.md for one as-of date, period, calendar and scope,
    computed now (and stored as a snapshot): the same object as `manage.py kpis --format
    json`. 400 for a bad parameter or unknown scope name, 404 for a scope you may not see."""

    @extend_schema(parameters=_SCOPE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        query = _kpi_query(request)
        return Response(kpi_report(query.as_of, query.grain, query.calendar, query.scope))


class KpiSeriesApi(APIView):
    """Stored snapshot values of one KPI for charts: per period whose first day falls in
    [`from`, `to`], the latest value computed as of a day up to `to` (`step=day`: every
    stored day instead). Same parameters as /api/v1/kpis/ plus `kpi`, `from`, `to`."""

    @extend_schema(
        parameters=[
            *_SCOPE_PARAMETERS,
            OpenApiParameter("kpi", OpenApiTypes.STR, required=True),
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE),
            OpenApiParameter("step", OpenApiTypes.STR, enum=["period", "day"]),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        from .queries import parse_date

        query = _kpi_query(request, extra=("kpi", "from", "to", "step"))
        params = request.query_params
        errors = {}
        kpi = params.get("kpi", "")
        if kpi not in KPIS:
            errors["kpi"] = [_("Unknown KPI.")]
        dates = {}
        for name, default in (("to", query.as_of), ("from", None)):
            try:
                dates[name] = parse_date(params[name]) if params.get(name) else default
            except ValueError:
                errors[name] = [_("Enter a date as YYYY-MM-DD.")]
        step = params.get("step") or "period"
        if step not in ("period", "day"):
            errors["step"] = [_("Choose one of: period, day.")]
        if errors:
            raise exceptions.ValidationError(errors)
        to = dates["to"]
        since = dates["from"] or to - timedelta(days=366)
        if since > to:
            raise exceptions.ValidationError({"from": [_("The range ends before it starts.")]})
        snapshots = KpiSnapshot.objects.filter(
            kpi=kpi,
            grain=query.grain,
            calendar=query.calendar,
            scope_kind=query.scope.kind,
            scope_id=query.scope.id,
            as_of__lte=to,
        )
        if step == "day":
            snapshots = snapshots.filter(as_of__gte=since).order_by("as_of", "-period_start")
        else:
            first = period_start(query.grain, since, query.calendar)
            snapshots = (
                snapshots.filter(period_start__gte=first)
                .order_by("period_start", "-as_of")
                .distinct("period_start")
            )
        unit = KPIS[kpi].unit
        points = [
            {
                "period_start": row["period_start"].isoformat(),
                "as_of": row["as_of"].isoformat(),
                "value": present(kpi, row["value"]),
                "computed_at": row["computed_at"].isoformat(),
            }
            for row in snapshots.values("period_start", "as_of", "value", "computed_at")[:2000]
        ]
        return Response(
            {
                "kpi": kpi,
                "unit": unit,
                "formula": KPIS[kpi].formula,
                "period": {"grain": query.grain, "calendar": query.calendar},
                "scope": query.scope.as_json(),
                "currency": Organisation.get().base_currency,
                "points": points,
            }
        )


class KpiDrilldownApi(APIView):
    """The records behind one KPI value (same parameters as /api/v1/kpis/ plus `kpi`), with
    their amounts in the base currency; offered only when you may see every one of them
    (404 otherwise). Pages of `page_size` (at most 500) with a `cursor`."""

    @extend_schema(
        parameters=[
            *_SCOPE_PARAMETERS,
            OpenApiParameter("kpi", OpenApiTypes.STR, required=True),
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        from .drilldown import FAMILY_OF, kpi_records, records_all_visible

        query = _kpi_query(request, extra=("kpi", "cursor", "page_size"))
        kpi = request.query_params.get("kpi", "")
        if kpi not in KPIS:
            raise exceptions.ValidationError({"kpi": [_("Unknown KPI.")]})
        if kpi not in FAMILY_OF:
            raise exceptions.NotFound(_("This KPI has no list of records behind it."))
        records = kpi_records(kpi, query.as_of, query.grain, query.calendar, query.scope.owners())
        if not records_all_visible(kpi, records, request.user):
            raise exceptions.NotFound(_("Some records behind this number are not yours to see."))
        paginator = DrilldownPagination()
        page = paginator.paginate_queryset(records, request, view=self)
        start, last = current_period(query.grain, query.as_of, query.calendar)
        return paginator.get_paginated_response(
            {
                "kpi": kpi,
                "family": FAMILY_OF[kpi],
                "as_of": query.as_of.isoformat(),
                "period": {
                    "grain": query.grain,
                    "calendar": query.calendar,
                    "start": start.isoformat(),
                    "last_day": last.isoformat(),
                },
                "scope": query.scope.as_json(),
                "currency": Organisation.get().base_currency,
                "records": [_plain(record) for record in page],
            }
        )


def _plain(record: dict) -> dict:
    """Decimals as exact strings and dates as ISO strings (JSON floats would round them)."""
    return {
        key: str(value) if isinstance(value, Decimal) else value for key, value in record.items()
    }


class DrilldownPagination(RecordCursorPagination):
    ordering = "id"
    max_page_size = 500

    def get_paginated_response(self, data):
        return Response({**data, "next": self.get_next_link()})
