"""The sync monitor: per ERP the backlog, oldest pending age, dead messages (replayable), recent
runs and inbox failures. Credentials are write-only fields, stored encrypted."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from erp_sync import secrets
from erp_sync.addresses import AddressRefused, check_base_url
from erp_sync.models import InboxMessage, OrderDrift, SyncRun
from erp_sync.services import erp_system_configure, inbox_reapply, outbox_replay
from oms.models import ErpSystem, ExternalRef, OutboxMessage, OutboxStatus

UNSENT = (OutboxStatus.PENDING, OutboxStatus.FAILED)
CREDENTIAL_AGAIN = gettext_noop("Enter this credential again: the connection's address changes.")
ENV_CREDENTIALS = gettext_noop(
    "This connection's credentials come from the environment (%(names)s): its address can be set "
    "only where they are, with manage.py oms_erp_system."
)


class ErpSystemForm(forms.ModelForm):
    new_token = forms.CharField(
        label=_("new token"), required=False, widget=forms.PasswordInput, help_text=_("Leave empty to keep.")
    )
    new_secret = forms.CharField(
        label=_("new HMAC secret"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Leave empty to keep."),
    )

    class Meta:
        model = ErpSystem
        fields = ["code", "name", "adapter", "base_url", "enabled", "is_default", "poll_seconds"]

    def clean(self):
        """Where the credentials would go (docs/erp-integration.md, "Where an ERP may point"): an
        allowed address, and whoever moves a connection must know its credentials."""
        data = super().clean()
        if self.errors:
            return data
        adapter, base_url = data["adapter"], data["base_url"]
        if adapter != ErpSystem.Adapter.HTTP_JSON:
            return data  # only http_json sends the credentials anywhere
        try:
            check_base_url(base_url)
        except AddressRefused as refused:
            self.add_error("base_url", _(refused.message) % refused.params)
            return data
        old = self.instance if self.instance.pk else None
        moved = old is None or (old.adapter, old.base_url) != (adapter, base_url)
        from_env = secrets.env_credentials(data["code"])
        if from_env and (moved or old.code != data["code"]):
            self.add_error("base_url", _(ENV_CREDENTIALS) % {"names": ", ".join(from_env)})
        elif old is not None and moved:
            for field, stored in (("new_token", old.token_encrypted), ("new_secret", old.secret_encrypted)):
                if stored and not data.get(field):
                    self.add_error(field, _(CREDENTIAL_AGAIN))
        return data

    def configure(self) -> ErpSystem:
        """Write the connection through the service (credentials encrypted there; empty ones kept)."""
        data = self.cleaned_data
        system, _result = erp_system_configure(
            pk=self.instance.pk,
            code=data["code"],
            name=data["name"],
            adapter=data["adapter"],
            base_url=data["base_url"],
            enabled=data["enabled"],
            is_default=data["is_default"],
            poll_seconds=data["poll_seconds"],
            token=data.get("new_token") or None,
            secret=data.get("new_secret") or None,
        )
        self.instance.pk = system.pk
        self.instance.refresh_from_db()
        return self.instance

    def save(self, commit=True):
        return self.configure() if commit else super().save(commit=False)


def _age(value) -> str:
    if value is None:
        return "—"
    seconds = int((timezone.now() - value).total_seconds())
    return (
        f"{seconds // 3600}h {seconds % 3600 // 60}m"
        if seconds >= 3600
        else f"{seconds // 60}m {seconds % 60}s"
    )


@admin.register(ErpSystem)
class ErpSystemAdmin(admin.ModelAdmin):
    form = ErpSystemForm
    list_display = [
        "code",
        "adapter",
        "enabled",
        "is_default",
        "connection_state",
        "backlog",
        "oldest_pending",
        "dead",
        "inbox_failed",
        "last_push_at",
        "last_pull_at",
    ]
    readonly_fields = [
        "connection_state",
        "paused_reason",
        "paused_until",
        "pull_cursor",
        "last_pull_at",
        "last_push_at",
        "recent_runs",
        "dead_list",
        "failure_list",
    ]
    fieldsets = [
        (None, {"fields": ["code", "name", "adapter", "base_url", "enabled", "is_default", "poll_seconds"]}),
        (_("Credentials"), {"fields": ["new_token", "new_secret"]}),
        (
            _("State"),
            {
                "fields": [
                    "connection_state",
                    "paused_reason",
                    "paused_until",
                    "pull_cursor",
                    "last_pull_at",
                    "last_push_at",
                ]
            },
        ),
        (_("Monitor"), {"fields": ["dead_list", "failure_list", "recent_runs"]}),
    ]

    def save_model(self, request, obj, form, change):
        form.configure()  # `obj` is the form's instance: it is saved and reloaded there

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _backlog=Count("outbox", filter=Q(outbox__status__in=UNSENT), distinct=True),
                _dead=Count("outbox", filter=Q(outbox__status=OutboxStatus.DEAD), distinct=True),
                _oldest=Min("outbox__created_at", filter=Q(outbox__status__in=UNSENT)),
                _inbox_failed=Count(
                    "inbox", filter=Q(inbox__status=InboxMessage.Status.FAILED), distinct=True
                ),
            )
        )

    @admin.display(description=_("backlog"), ordering="_backlog")
    def backlog(self, obj):
        return obj._backlog

    @admin.display(description=_("oldest pending"))
    def oldest_pending(self, obj):
        return _age(obj._oldest)

    @admin.display(description=_("dead"), ordering="_dead")
    def dead(self, obj):
        url = reverse("admin:oms_outboxmessage_changelist") + f"?status=dead&system__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj._dead)

    @admin.display(description=_("inbox failed"))
    def inbox_failed(self, obj):
        url = reverse("admin:erp_sync_inboxmessage_changelist") + f"?status=failed&system__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj._inbox_failed)

    @admin.display(description=_("recent sync runs"))
    def recent_runs(self, obj):
        runs = obj.runs.all()[:20]
        return format_html(
            "<table><tr><th>started</th><th>direction</th><th>outcome</th><th>counts</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        date_format(timezone.localtime(r.started_at), "SHORT_DATETIME_FORMAT"),
                        r.direction,
                        r.outcome,
                        r.counts,
                    )
                    for r in runs
                ),
            ),
        )

    @admin.display(description=_("dead messages"))
    def dead_list(self, obj):
        rows = obj.outbox.filter(status=OutboxStatus.DEAD).order_by("aggregate_id", "sequence")[:50]
        return format_html(
            "<table><tr><th>aggregate</th><th>type</th><th>attempts</th><th>error</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}:{} #{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (m.aggregate_type, m.aggregate_id, m.sequence, m.type, m.attempts, m.last_error[:200])
                    for m in rows
                ),
            ),
        )

    @admin.display(description=_("inbox failures"))
    def failure_list(self, obj):
        rows = obj.inbox.filter(status=InboxMessage.Status.FAILED).order_by("-received_at")[:50]
        return format_html(
            "<table><tr><th>received</th><th>id</th><th>type</th><th>error</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        date_format(timezone.localtime(m.received_at), "SHORT_DATETIME_FORMAT"),
                        m.message_id[:60],
                        m.type,
                        m.error[:200],
                    )
                    for m in rows
                ),
            ),
        )


class MessageLogAdmin(admin.ModelAdmin):
    """Inbox and outbox rows are written by the sync engine only: readable, never added or deleted here."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(MessageLogAdmin):
    list_display = [
        "created_at",
        "system",
        "type",
        "aggregate_type",
        "aggregate_id",
        "sequence",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
    ]
    list_filter = ["status", "system", "type", "aggregate_type"]
    search_fields = ["=id", "aggregate_id"]
    list_select_related = ["system"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["replay"]

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return obj.last_error[:120]

    @admin.action(description=_("Replay selected dead messages"), permissions=["replay"])
    def replay(self, request, queryset):
        count = outbox_replay(ids=[str(pk) for pk in queryset.values_list("pk", flat=True)])
        self.message_user(
            request, _("%(count)d message(s) put back to pending.") % {"count": count}, messages.SUCCESS
        )

    def has_replay_permission(self, request):
        return request.user.has_perm("erp_sync.replay_outbox")


@admin.register(InboxMessage)
class InboxMessageAdmin(MessageLogAdmin):
    list_display = [
        "received_at",
        "system",
        "message_id",
        "type",
        "entity_type",
        "entity_key",
        "entity_version",
        "status",
        "source",
        "short_error",
    ]
    list_filter = ["status", "system", "type", "source"]
    search_fields = ["=message_id", "entity_key"]
    list_select_related = ["system"]
    readonly_fields = [f.name for f in InboxMessage._meta.fields]
    actions = ["reapply"]

    @admin.display(description=_("error"))
    def short_error(self, obj):
        return obj.error[:120]

    @admin.action(description=_("Apply selected failed messages again"), permissions=["replay"])
    def reapply(self, request, queryset):
        count = inbox_reapply(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, _("%(count)d message(s) queued again.") % {"count": count}, messages.SUCCESS
        )

    def has_replay_permission(self, request):
        return request.user.has_perm("erp_sync.replay_outbox")


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "system", "direction", "outcome", "counts", "finished_at"]
    list_filter = ["system", "direction", "outcome"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(OrderDrift)
class OrderDriftAdmin(MessageLogAdmin):
    """Every drift the comparison found, open and resolved (the console's drift report lists the open
    ones with their resend action)."""

    list_display = [
        "detected_at",
        "system",
        "order",
        "field",
        "position",
        "oms_value",
        "erp_value",
        "resolved_at",
        "resolution",
        "resolved_by",
    ]
    list_filter = ["system", "field", "resolution"]
    search_fields = ["=order__number"]
    list_select_related = ["system", "order"]
    readonly_fields = [f.name for f in OrderDrift._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExternalRef)
class ExternalRefAdmin(admin.ModelAdmin):
    list_display = ["system", "entity_type", "external_id", "content_type", "object_id", "last_version"]
    list_filter = ["system", "entity_type"]
    search_fields = ["=external_id"]
    readonly_fields = ["created_at"]
