from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from dashboard.models import Credential, SyncState, VosAccount
from dashboard.sync import check_credential


class CredentialForm(forms.ModelForm):
    """The token is write-only: never rendered back, blank keeps the stored one."""

    token = forms.CharField(
        label=_("Bearer token"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only. Leave blank to keep the stored token."),
    )

    class Meta:
        model = Credential
        fields = ["user", "label", "base_url", "platform_user_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.token_hint:
            self.fields["token"].help_text = _(
                "Stored: %(hint)s. Write-only; leave blank to keep it."
            ) % {"hint": self.instance.token_hint}

    def clean(self):
        cleaned = super().clean()
        if not self.instance.token_encrypted and not cleaned.get("token"):
            self.add_error("token", _("A new credential needs its token."))
        return cleaned

    def save(self, commit=True):
        credential = super().save(commit=False)
        if self.cleaned_data.get("token"):
            credential.set_token(self.cleaned_data["token"])
        if commit:
            credential.save()
        return credential


class OwnCredentialsMixin:
    """Staff see and edit only their own credentials; superusers see all."""

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)


class VosAccountInline(admin.TabularInline):
    model = VosAccount
    extra = 1
    fields = ["account_id", "label"]


@admin.register(Credential)
class CredentialAdmin(OwnCredentialsMixin, admin.ModelAdmin):
    form = CredentialForm
    inlines = [VosAccountInline]
    list_display = ["label", "user", "base_url", "platform_user_id", "token_hint", "updated_at"]
    list_filter = ["user"]
    search_fields = ["label", "platform_user_id"]
    readonly_fields = ["token_hint", "created_at", "updated_at"]
    actions = ["test_connection"]

    def get_fields(self, request, obj=None):
        fields = ["label", "base_url", "platform_user_id", "token"]
        if request.user.is_superuser:
            fields.insert(0, "user")
        return fields + (["token_hint", "created_at", "updated_at"] if obj else [])

    def get_list_filter(self, request):
        return self.list_filter if request.user.is_superuser else []

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # No account listed means the platform's first one: make it pickable on the pages.
        form.instance.accounts_to_sync()

    @admin.action(description=_("Test connection (fetch yesterday)"))
    def test_connection(self, request, queryset):
        for credential in queryset:
            ok, message = check_credential(credential)
            self.message_user(request, message, messages.SUCCESS if ok else messages.ERROR)


class CredentialInline(admin.StackedInline):
    model = Credential
    form = CredentialForm
    extra = 0
    fields = ["label", "base_url", "platform_user_id", "token", "token_hint"]
    readonly_fields = ["token_hint"]
    show_change_link = True


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithCredentialsAdmin(UserAdmin):
    inlines = [CredentialInline]


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = ["account", "day", "fetched_at", "rows_stored", "rows_rejected", "error_message"]
    list_filter = ["day"]
    date_hierarchy = "day"
    readonly_fields = [f.name for f in SyncState._meta.fields] + ["error_message"]

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user).select_related(
            "account__credential"
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("error"))
    def error_message(self, obj):
        return obj.error_message
