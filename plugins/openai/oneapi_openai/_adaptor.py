"""The adaptor for OpenAI-format upstreams: URL layout per preset, usage in streams, balance."""

from __future__ import annotations

import time

from oneapi.plugin import Adaptor, ChannelRecord, RelayContext, RelayError

from ._presets import PRESETS

__all__ = ["OpenAIAdaptor"]


class OpenAIAdaptor(Adaptor):
    """Relays OpenAI's wire format as it is, asking streams for a final usage chunk."""

    @property
    def api_prefix(self) -> str:
        preset = PRESETS.get(self.channel_type.id)
        return preset.api_prefix if preset else "/v1"

    def request_url(self, ctx: RelayContext) -> str:
        assert ctx.channel is not None
        return f"{self.base_url(ctx.channel)}{self.api_prefix}{ctx.endpoint}"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        headers = super().request_headers(ctx)
        assert ctx.channel is not None
        organization = ctx.channel.organization or str(ctx.channel.config.get("organization") or "")
        if organization:
            headers["OpenAI-Organization"] = organization
        return headers

    def wants_stream_usage(self, ctx: RelayContext) -> bool:
        return ctx.is_stream and ctx.mode in ("chat", "completions")

    async def fetch_balance(self, channel: ChannelRecord) -> float:
        """Hard limit minus this month's usage, from OpenAI's billing endpoints."""
        base = f"{self.base_url(channel)}{self.api_prefix}"
        headers = {"Authorization": f"Bearer {channel.key}"}
        sub = await self.http.get(f"{base}/dashboard/billing/subscription", headers=headers, timeout=30)
        if sub.status_code != 200:
            raise RelayError(sub.status_code, f"balance query failed: {sub.text[:200]}", "upstream_error")
        limit = float(sub.json().get("hard_limit_usd") or 0)
        now = time.gmtime()
        start = f"{now.tm_year:04d}-{now.tm_mon:02d}-01"
        end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
        usage = await self.http.get(
            f"{base}/dashboard/billing/usage", params={"start_date": start, "end_date": end},
            headers=headers, timeout=30,
        )
        if usage.status_code != 200:
            raise RelayError(usage.status_code, f"usage query failed: {usage.text[:200]}", "upstream_error")
        return round(limit - float(usage.json().get("total_usage") or 0) / 100, 6)
