from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kith.accounts"
    label = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        # allauth reports logins, failed logins and MFA changes through signals; these receivers only turn them into
        # audit rows (the host boundary), they drive no domain flow.
        from kith.accounts import security_events  # noqa: F401
