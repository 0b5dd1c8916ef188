"""Push webhook: `POST /api/v1/erp/{system}/messages/` signed with X-OMS-Signature (docs/erp-integration.md).

The order of the checks is the point: the system, its secret and the headers are checked first, the
declared size next, and only then is the body read — never more than the limit, even when the
`Content-Length` lies — and its signature verified.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from erp_sync.inbound import inbox_store_batch
from erp_sync.models import SyncRun
from erp_sync.secrets import system_secret
from erp_sync.selectors import webhook_system
from erp_sync.signing import HEADER, TIMESTAMP_HEADER, parse_timestamp, verify, well_formed
from oms.lib.problems import problem, problem_response
from oms.lib.uploads import content_length

BAD_SIGNATURE = "Missing or invalid X-OMS-Signature, or unknown ERP system."
BAD_TIMESTAMP = "X-OMS-Timestamp is missing, malformed or outside the allowed clock difference."
TOO_LARGE = "The body exceeds {limit} bytes."


class ResultSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    error = serializers.CharField(required=False)


def _unauthorized(detail: str):
    return problem_response(
        problem(status=401, code="authentication_failed", title="Authentication failed", detail=detail)
    )


def _too_large():
    detail = TOO_LARGE.format(limit=settings.OMS_ERP_WEBHOOK_MAX_BYTES)
    return problem_response(problem(status=413, code="too_large", title="Body too large", detail=detail))


def timestamp_required(code: str) -> bool:
    """`OMS_ERP_WEBHOOK_REQUIRE_TIMESTAMP` names the systems (or `*` for all) that must send one."""
    required = settings.OMS_ERP_WEBHOOK_REQUIRE_TIMESTAMP
    return "*" in required or code in required


def timestamp_problem(code: str, header: str | None) -> bool:
    """True when the timestamp is required and absent, or present and not within the tolerance."""
    if header is None:
        return timestamp_required(code)
    value = parse_timestamp(header)
    return value is None or abs(time.time() - value) > settings.OMS_ERP_WEBHOOK_TOLERANCE_SECONDS


class ErpMessagesView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []  # the raw body is signed: read it untouched

    @extend_schema(
        operation_id="erp_messages_push",
        summary="Push ERP messages",
        description=(
            'Body `{"messages": [envelope, …]}` signed with `X-OMS-Signature: sha256=<hex HMAC-SHA256 of '
            "the raw body>`, or of `<timestamp>.<raw body>` when `X-OMS-Timestamp` is sent (recommended: "
            "the request is refused once the timestamp is more than `OMS_ERP_WEBHOOK_TOLERANCE_SECONDS` "
            "away). `accepted` means stored in the inbox (applied asynchronously)."
        ),
        parameters=[
            OpenApiParameter(
                TIMESTAMP_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Unix time in seconds, part of the signed string when sent.",
            )
        ],
        request={"application/json": {"type": "object", "properties": {"messages": {"type": "array"}}}},
        responses={
            202: inline_serializer("ErpPushResults", fields={"results": ResultSerializer(many=True)}),
            401: OpenApiResponse(
                description=(
                    "Bad or missing signature, unknown/disabled system, or a timestamp that is "
                    "missing where required, malformed or outside the tolerance."
                )
            ),
            413: OpenApiResponse(description="Body larger than `OMS_ERP_WEBHOOK_MAX_BYTES` (32 MB)."),
        },
        auth=[],
        tags=["erp"],
    )
    def post(self, request, system: str):
        erp = webhook_system(system)
        secret = system_secret(erp) if erp is not None else ""
        if not secret or not well_formed(request.headers.get(HEADER)):
            return _unauthorized(BAD_SIGNATURE)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if timestamp_problem(erp.code, timestamp):
            return _unauthorized(BAD_TIMESTAMP)
        limit = settings.OMS_ERP_WEBHOOK_MAX_BYTES
        if (content_length(request) or 0) > limit:
            return _too_large()
        body = request._request.read(limit + 1)
        if len(body) > limit:
            return _too_large()
        if not verify(secret, body, request.headers.get(HEADER), timestamp and timestamp.strip()):
            return _unauthorized(BAD_SIGNATURE)
        started = timezone.now()
        results = inbox_store_batch(system=erp, body=body, source="webhook")
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        SyncRun.objects.create(
            system=erp,
            direction=SyncRun.Direction.WEBHOOK,
            started_at=started,
            finished_at=timezone.now(),
            counts=counts,
            outcome="ok",
        )
        return Response({"results": [r.as_dict() for r in results]}, status=202)
