"""Push webhook: `POST /api/v1/erp/{system}/messages/` signed with X-OMS-Signature (docs/erp-integration.md)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from erp_sync.inbound import inbox_store_batch
from erp_sync.models import SyncRun
from erp_sync.secrets import system_secret
from erp_sync.signing import HEADER, verify
from oms.lib.problems import problem, problem_response
from oms.models import ErpSystem

MAX_BODY_BYTES = 32 * 1024 * 1024
BAD_SIGNATURE = "Missing or invalid X-OMS-Signature, or unknown ERP system."


class ResultSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    error = serializers.CharField(required=False)


class ErpMessagesView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []  # the raw body is signed: read it untouched

    @extend_schema(
        operation_id="erp_messages_push",
        summary="Push ERP messages",
        description=(
            'Body `{"messages": [envelope, …]}` signed with `X-OMS-Signature: sha256=<hex HMAC-SHA256 of '
            "the raw body>`. `accepted` means stored in the inbox (applied asynchronously)."
        ),
        request={"application/json": {"type": "object", "properties": {"messages": {"type": "array"}}}},
        responses={
            202: inline_serializer("ErpPushResults", fields={"results": ResultSerializer(many=True)}),
            401: OpenApiResponse(description="Bad or missing signature, or unknown/disabled system."),
            413: OpenApiResponse(description="Body larger than 32 MB."),
        },
        auth=[],
        tags=["erp"],
    )
    def post(self, request, system: str):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY_BYTES:
            return problem_response(
                problem(
                    status=413, code="too_large", title="Body too large", detail="The body exceeds 32 MB."
                )
            )
        body = request._request.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return problem_response(
                problem(
                    status=413, code="too_large", title="Body too large", detail="The body exceeds 32 MB."
                )
            )
        erp = ErpSystem.objects.filter(code=system, enabled=True).first()
        secret = system_secret(erp) if erp is not None else ""
        if not verify(secret, body, request.headers.get(HEADER)):
            return problem_response(
                problem(
                    status=401,
                    code="authentication_failed",
                    title="Authentication failed",
                    detail=BAD_SIGNATURE,
                )
            )
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
