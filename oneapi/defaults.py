"""The core's own hookimpls: One API's options and the default quota formula (trylast)."""

from __future__ import annotations

from .hookspecs import hookimpl
from .options import (
    validate_bool,
    validate_int,
    validate_number,
    validate_ratio_map,
    validate_url,
)
from .registry import OptionSpec

_BOOL_OPTIONS = {
    "PasswordLoginEnabled": "true",
    "PasswordRegisterEnabled": "true",
    "RegisterEnabled": "true",
    "EmailVerificationEnabled": "false",
    "EmailDomainRestrictionEnabled": "false",
    "GitHubOAuthEnabled": "false",
    "WeChatAuthEnabled": "false",
    "OidcEnabled": "false",
    "TurnstileCheckEnabled": "false",
    "AutomaticDisableChannelEnabled": "false",
    "AutomaticEnableChannelEnabled": "false",
    "ApproximateTokenEnabled": "false",
    "LogConsumeEnabled": "true",
    "DisplayInCurrencyEnabled": "true",
    "DisplayTokenStatEnabled": "true",
}
_INT_OPTIONS = {
    "QuotaForNewUser": "0",
    "QuotaForInviter": "0",
    "QuotaForInvitee": "0",
    "QuotaRemindThreshold": "1000",
    "PreConsumedQuota": "500",
    "RetryTimes": "0",
    "SMTPPort": "587",
    "LogRetentionDays": "0",
}
_NUMBER_OPTIONS = {"QuotaPerUnit": "500000", "ChannelDisableThreshold": "5"}
_TEXT_OPTIONS = {
    "EmailDomainWhitelist": "gmail.com,yahoo.com,outlook.com,hotmail.com,qq.com,163.com,126.com,foxmail.com,icloud.com",
    "GitHubClientId": "",
    "GitHubClientSecret": "",
    "WeChatServerToken": "",
    "LarkClientId": "",
    "LarkClientSecret": "",
    "OidcClientId": "",
    "OidcClientSecret": "",
    "TurnstileSiteKey": "",
    "TurnstileSecretKey": "",
    "SMTPServer": "",
    "SMTPAccount": "",
    "SMTPFrom": "",
    "SMTPToken": "",
    "MessagePusherAddress": "",
    "MessagePusherToken": "",
    "TopUpLink": "",
    "ChatLink": "",
    "Notice": "",
    "About": "",
    "HomePageContent": "",
    "Footer": "",
    "SystemName": "One API",
    "Logo": "",
    "ServerAddress": "",
    "Theme": "default",
}
#: Addresses of sign-in services (empty: not configured): http(s) URLs only.
_URL_OPTIONS = {
    "WeChatServerAddress": "",
    "WeChatAccountQRCodeImageURL": "",
    "OidcWellKnown": "",
    "OidcAuthorizationEndpoint": "",
    "OidcTokenEndpoint": "",
    "OidcUserinfoEndpoint": "",
}
_RATIO_OPTIONS = {"ModelRatio": "{}", "CompletionRatio": "{}", "ModelPrice": "{}"}


@hookimpl(trylast=True)
def register_options() -> list[OptionSpec]:
    specs = [OptionSpec(k, v, validate_bool) for k, v in _BOOL_OPTIONS.items()]
    specs += [OptionSpec(k, v, validate_int) for k, v in _INT_OPTIONS.items()]
    specs += [OptionSpec(k, v, validate_number) for k, v in _NUMBER_OPTIONS.items()]
    specs += [
        OptionSpec(k, v, secret=k.endswith(("Secret", "Token", "Key")))
        for k, v in _TEXT_OPTIONS.items()
    ]
    specs += [OptionSpec(k, v, validate_url) for k, v in _URL_OPTIONS.items()]
    specs += [OptionSpec(k, v, validate_ratio_map) for k, v in _RATIO_OPTIONS.items()]
    specs.append(OptionSpec("GroupRatio", '{"default": 1, "vip": 1, "svip": 1}', validate_ratio_map))
    return specs


@hookimpl(trylast=True)
def calculate_quota(quota: int) -> int | None:
    """The core formula's answer, computed by the relay from the request's price."""
    return quota


