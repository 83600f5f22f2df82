"""The credential/account picker shared by the calls and charts pages."""

from django.http import Http404

from dashboard.models import VosAccount


def user_accounts(user):
    return (VosAccount.objects.for_user(user).select_related("credential")
            .order_by("credential__label", "credential_id", "account_id", "id"))


def resolve_account(request, params) -> VosAccount | None:
    """The account chosen by `account` (or `credential`) in params, else the user's first.

    Raises Http404 for any id that is not one of the user's own (superusers: any): the
    page must not even reveal that another user's account exists. None when the user
    has no account at all.
    """
    accounts = user_accounts(request.user)
    account_id, credential_id = params.get("account"), params.get("credential")
    if account_id:
        account = accounts.filter(pk=_as_id(account_id)).first()
    elif credential_id:
        account = accounts.filter(credential_id=_as_id(credential_id)).first()
    else:
        return accounts.first()
    if account is None:
        raise Http404("No such account")
    return account


def _as_id(raw: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Http404("No such account") from None
    if not 0 < value < 2**63:
        raise Http404("No such account")
    return value
