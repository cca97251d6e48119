"""Public routes: status, notice, about, home page content, plugins."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart.typing import ResponseReturnValue

from .. import __version__, models, payments
from ..auth import check_password
from ..gateway import Gateway
from ._common import doc, gateway, ok, require_role
from ._html import safe_html
from .schemas import StatusOut

__all__ = ["blueprint"]


def blueprint() -> Blueprint:
    bp = Blueprint("status", __name__)

    @bp.get("/status")
    @doc(
        "Public site status, the payment methods offered and the loaded plugins", response=StatusOut
    )
    async def status() -> ResponseReturnValue:
        gw = gateway()
        o = gw.options
        return ok(
            {
                "version": __version__,
                "start_time": gw.start_time,
                "system_name": o.get("SystemName"),
                "logo": o.get("Logo"),
                "footer_html": safe_html(o.get("Footer")),
                "server_address": o.get("ServerAddress"),
                "quota_per_unit": o.float("QuotaPerUnit", 500000),
                "display_in_currency": o.bool("DisplayInCurrencyEnabled"),
                "display_token_stat": o.bool("DisplayTokenStatEnabled"),
                "top_up_link": o.get("TopUpLink"),
                "chat_link": o.get("ChatLink"),
                "email_verification": o.bool("EmailVerificationEnabled"),
                "github_oauth": o.bool("GitHubOAuthEnabled"),
                "github_client_id": o.get("GitHubClientId"),
                "wechat_login": o.bool("WeChatAuthEnabled"),
                "wechat_qrcode": o.get("WeChatAccountQRCodeImageURL"),
                "lark_client_id": o.get("LarkClientId"),
                "oidc": o.bool("OidcEnabled"),
                "oidc_client_id": o.get("OidcClientId"),
                "oidc_well_known": o.get("OidcWellKnown"),
                "oidc_authorization_endpoint": o.get("OidcAuthorizationEndpoint"),
                "oidc_token_endpoint": o.get("OidcTokenEndpoint"),
                "oidc_userinfo_endpoint": o.get("OidcUserinfoEndpoint"),
                "turnstile_check": o.bool("TurnstileCheckEnabled"),
                "turnstile_site_key": o.get("TurnstileSiteKey"),
                "register_enabled": o.bool("RegisterEnabled"),
                "password_login_enabled": o.bool("PasswordLoginEnabled"),
                "password_register_enabled": o.bool("PasswordRegisterEnabled"),
                "root_password_unchanged": await root_password_unchanged(gw),
                **({"db_statements": gw.db.statements} if gw.settings.ONEAPI_DB_STATS else {}),
                "pay_methods": (methods := payments.offered_methods(gw)),
                "min_topup": max(o.int("MinTopUp", 1), 1),
                "enable_online_topup": bool(methods),
                "plugins": loaded_plugins(gw),
                **new_api_status(gw),
                **plugin_status(gw),
            }
        )

    @bp.get("/notice")
    async def notice() -> ResponseReturnValue:
        return ok(safe_html(gateway().options.get("Notice")))

    @bp.get("/about")
    async def about() -> ResponseReturnValue:
        return ok(safe_html(gateway().options.get("About")))

    @bp.get("/home_page_content")
    async def home_page_content() -> ResponseReturnValue:
        return ok(safe_html(gateway().options.get("HomePageContent")))

    @bp.get("/plugins")
    @require_role(models.ROLE_ADMIN)
    async def plugins() -> ResponseReturnValue:
        gw = gateway()
        owners = gw.registry.owners
        out = []
        for name, info in gw.plugins.items():
            owned = [what for what, plugin in owners.items() if plugin == name]
            out.append(
                {
                    "name": name,
                    "version": info.version,
                    "distribution": info.distribution,
                    "core": info.core,
                    "hooks": info.hooks,
                    "channel_types": [
                        {"id": ct.id, "name": ct.name}
                        for ct in gw.registry.channel_types.values()
                        if owners.get(f"channel type {ct.id}") == name
                    ],
                    "payment_providers": [
                        p
                        for p in gw.registry.payment_providers
                        if owners.get(f"payment provider {p!r}") == name
                    ],
                    "options": [
                        w.removeprefix("option ") for w in owned if w.startswith("option ")
                    ],
                    "routes": sorted(gw.plugin_routes.get(name, [])),
                }
            )
        return ok(out)

    return bp


#: What a plugin provides, by the prefix of what it owns in the registry.
_PROVIDES = (
    ("channel type ", "channel_types"),
    ("price of model ", "prices"),
    ("option ", "options"),
    ("job ", "jobs"),
    ("payment provider ", "payment"),
)


def loaded_plugins(gw: Gateway) -> list[dict[str, Any]]:
    """The loaded plugins (not the core's own hookimpls): name, version and what they provide,
    so that the web UI shows a plugin's pages, menu entries and settings only when it is loaded.
    """
    owned: dict[str, set[str]] = {}
    for what, plugin in gw.registry.owners.items():
        for prefix, kind in _PROVIDES:
            if what.startswith(prefix):
                owned.setdefault(plugin, set()).add(kind)
    for plugin, routes in gw.plugin_routes.items():
        if routes:
            owned.setdefault(plugin, set()).add("routes")
    return [
        {"name": name, "version": info.version, "provides": sorted(owned.get(name, ()))}
        for name, info in sorted(gw.plugins.items())
        if not info.core
    ]


def plugin_status(gw: Gateway) -> dict[str, Any]:
    """What the plugins add to the status (extend_status), in load order."""
    merged: dict[str, Any] = {}
    for extra in reversed(gw.pm.hook.extend_status(services=gw.services)):
        merged.update(extra or {})
    return merged


def new_api_status(gw: Gateway) -> dict[str, Any]:
    """What New API's GetStatus adds, under its names: its front-end reads these. Features
    this gateway does not have (Discord, LINUX DO, Telegram, passkeys, check-in, data export,
    console panels) are reported off, so that front-end hides them; ``setup`` is true (no
    set-up wizard here)."""
    o = gw.options
    price = o.float("Price", 7.3)
    return {
        "oidc_enabled": o.bool("OidcEnabled"),
        "price": price,
        "usd_exchange_rate": price,
        "stripe_unit_price": 0,
        "enable_stripe_topup": False,
        "quota_display_type": "USD" if o.bool("DisplayInCurrencyEnabled") else "TOKENS",
        "docs_link": "",
        "enable_batch_update": gw.settings.BATCH_UPDATE_ENABLED,
        "enable_drawing": False,
        "enable_task": False,
        "enable_data_export": False,
        "data_export_default_time": "hour",
        "default_collapse_sidebar": False,
        "chats": [],
        "demo_site_enabled": False,
        "self_use_mode_enabled": False,
        "default_use_auto_group": False,
        "discord_oauth": False,
        "discord_client_id": "",
        "linuxdo_oauth": False,
        "linuxdo_client_id": "",
        "linuxdo_minimum_trust_level": 0,
        "telegram_oauth": False,
        "telegram_bot_name": "",
        "passkey_login": False,
        "setup": True,
        "user_agreement_enabled": False,
        "privacy_policy_enabled": False,
        "checkin_enabled": False,
        "api_info_enabled": False,
        "uptime_kuma_enabled": False,
        "announcements_enabled": False,
        "faq_enabled": False,
    }


async def root_password_unchanged(gw: Gateway) -> bool:
    """Whether root still logs in with One API's default password 123456 (memoized per hash)."""
    root = (
        await models.User.filter(role=models.ROLE_ROOT, status=models.USER_ENABLED)
        .order_by("id")
        .first()
    )
    if root is None or not root.password:
        return False
    key = "default-password:" + root.password
    if key not in gw.memo:
        gw.memo[key] = check_password("123456", root.password)
    return bool(gw.memo[key])
