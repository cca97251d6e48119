"""Channel management (/api/channel/...): CRUD, types and their default models.

Every write rewrites the channel's abilities and reloads the channel table of the cache.
Keys are never sent (masked in lists); root reveals one through a logged POST. They are
stored encrypted when CRYPTO_SECRET is set (oneapi/crypto.py): a plaintext key of One API's is
encrypted when its channel is next written.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator
from quart import Blueprint, has_app_context, request
from quart.typing import ResponseReturnValue
from tortoise.expressions import Q

from .. import crypto, models
from ..db import split_list
from ..gateway import Gateway
from ._common import (
    ApiError,
    Body,
    Id,
    current_user,
    doc,
    gateway,
    int_arg,
    now,
    ok,
    page_of,
    parse_body,
    path_id,
    require_role,
    str_arg,
)
from .accounts import record_log
from .openapi import PAGE, query_int, query_text
from .schemas import ChannelOut, ChannelTypeOut, ModelCardOut
from .tokens import CommaList, comma_list, comma_list_schema

__all__ = ["blueprint", "channel_dict", "mask_key", "save_channel"]

MASK = "********"


def _json_text(value: Any) -> Any:
    """JSON options may come as an object or as its text; store text."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _json_object(value: str, name: str) -> str:
    if not value.strip():
        return ""
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{name} must be a JSON object")
    return value


def _first(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field's schema (the field's own if required)."""
    return prop["anyOf"][0] if "anyOf" in prop else prop


def _json_text_schema(max_length: int, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON object, or its text (blank: none); ``values``: the schema of its values."""
    obj: dict[str, Any] = {"type": "object"}
    if values is not None:
        obj["additionalProperties"] = values
    text = {"type": "string", "maxLength": max_length, "contentMediaType": "application/json",
            "contentSchema": obj}
    return {"anyOf": [obj, text]}


Groups = Annotated[
    str, BeforeValidator(comma_list), Field(max_length=32), WithJsonSchema(comma_list_schema(32))
]
#: model_mapping: {"asked model": "model sent upstream"}; config: the type's config fields.
ModelMapping = Annotated[
    str,
    BeforeValidator(_json_text),
    Field(max_length=1024),
    WithJsonSchema(_json_text_schema(1024, {"type": "string"})),
]
ConfigText = Annotated[
    str, BeforeValidator(_json_text), Field(max_length=65535), WithJsonSchema(_json_text_schema(65535))
]
Priority = Annotated[int, Field(ge=-(2**53), le=2**53)]


class ChannelFields(Body):
    type: int | None = Field(None, ge=0, le=10_000)
    key: str | None = Field(None, max_length=65535)
    name: str | None = Field(None, max_length=191)
    base_url: str | None = Field(None, max_length=255)
    other: str | None = Field(None, max_length=4096)
    models: CommaList | None = None
    group: Groups | None = None
    model_mapping: ModelMapping | None = None
    priority: Priority | None = None
    weight: int | None = Field(None, ge=0, le=2**31 - 1)
    config: ConfigText | None = None
    system_prompt: str | None = Field(None, max_length=65535)
    openai_organization: str | None = Field(None, max_length=191)
    status: Literal[1, 2, 3] | None = None

    @classmethod
    def refine_json_schema(cls, schema: dict[str, Any]) -> None:
        super().refine_json_schema(schema)
        props = schema["properties"]
        _first(props["base_url"])["pattern"] = "^(https?://|$)"
        props["key"]["description"] = "blank or masked: keep the key"
        props["config"]["description"] = (
            "the type's config fields (GET /api/channel/types): required ones must be set"
        )
        if has_app_context():  # the types the loaded plugins provide
            _first(props["type"])["enum"] = sorted(gateway().registry.channel_types)

    @field_validator("model_mapping")
    @classmethod
    def _mapping(cls, value: str | None) -> str | None:
        if value is None:
            return value
        _json_object(value, "model_mapping")
        if value.strip() and not all(isinstance(v, str) for v in json.loads(value).values()):
            raise ValueError("model_mapping values must be model names (strings)")
        return value

    @field_validator("config")
    @classmethod
    def _config(cls, value: str | None) -> str | None:
        return value if value is None else _json_object(value, "config")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value


class CreateChannelBody(ChannelFields):
    type: int = Field(ge=0, le=10_000)
    key: str = Field(min_length=1, max_length=65535)

    @classmethod
    def refine_json_schema(cls, schema: dict[str, Any]) -> None:
        super().refine_json_schema(schema)
        key = schema["properties"]["key"]
        key["description"] = "one key per line, a channel each (at most 1000)"
        key["pattern"] = r"\S"


class UpdateChannelBody(ChannelFields):
    id: Id


def mask_key(key: str) -> str:
    """Enough of a key to recognise it, never enough to use it."""
    if len(key) >= 16:
        return key[:3] + MASK + key[-4:]
    return MASK


def type_name(gw: Gateway, type_id: int) -> str:
    found = gw.registry.channel_types.get(type_id)
    return found.name if found else f"unknown type {type_id} (no plugin provides it)"


def stored_key(channel: models.Channel) -> str:
    """The channel's key in plaintext."""
    return crypto.reveal(channel.key, crypto.CHANNEL_KEY, f"the key of channel {channel.id}")


def _masked(channel: models.Channel) -> str:
    try:
        return mask_key(stored_key(channel))
    except crypto.SecretError:
        return MASK


def channel_dict(channel: models.Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "type": channel.type,
        "type_name": type_name(gateway(), channel.type),
        "key": _masked(channel),
        "status": channel.status,
        "status_reason": channel.status_reason or "",
        "name": channel.name,
        "weight": channel.weight or 0,
        "created_time": channel.created_time,
        "test_time": channel.test_time,
        "response_time": channel.response_time,
        "base_url": channel.base_url or "",
        "other": channel.other or "",
        "balance": channel.balance,
        "balance_updated_time": channel.balance_updated_time,
        "models": channel.models or "",
        "group": channel.group,
        "used_quota": channel.used_quota,
        "model_mapping": channel.model_mapping or "",
        "priority": channel.priority or 0,
        "config": channel.config or "",
        "system_prompt": channel.system_prompt or "",
        "openai_organization": channel.openai_organization or "",
    }


async def save_channel(
    gw: Gateway, channel: models.Channel, fields: list[str] | None = None
) -> None:
    """Store a channel, rewrite its abilities, refresh the cache's channel table."""
    await channel.save(update_fields=fields) if fields else await channel.save()
    await gw.db.sync_abilities(channel)
    await gw.cache.reload_channels()


def _check_config(gw: Gateway, type_id: int, config: str) -> None:
    """Required type-specific fields must be present (or have an operator default)."""
    channel_type = gw.registry.channel_types.get(type_id)
    if channel_type is None:
        return
    values = json.loads(config) if config.strip() else {}
    defaults = gw.options.json("ChannelConfigDefaults")
    type_defaults = defaults.get(str(type_id), {}) if isinstance(defaults, dict) else {}
    for spec in channel_type.config_fields:
        if spec.required and values.get(spec.key) in (None, "") and not spec.default:
            if not (isinstance(type_defaults, dict) and type_defaults.get(spec.key)):
                raise ApiError(
                    f"invalid field config.{spec.key}: required for {channel_type.name} channels"
                )


async def _get(channel_id: int) -> models.Channel:
    channel = await models.Channel.filter(id=path_id(channel_id, "channel")).first()
    if channel is None:
        raise ApiError(f"channel {channel_id} not found")
    return channel


_EDITABLE = (
    "type", "name", "base_url", "other", "models", "group", "model_mapping", "priority",
    "weight", "config", "system_prompt", "openai_organization", "status",
)  # fmt: skip


def blueprint() -> Blueprint:
    bp = Blueprint("channels", __name__)

    @bp.get("/channel/")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "List channels (keys masked)",
        query={
            **PAGE,
            "type": query_int("channel type id", 0, 10_000),
            "status": query_int("1 enabled, 2 disabled by hand, 3 disabled automatically", 0, 3),
        },
        response=list[ChannelOut],
    )
    async def list_channels() -> ResponseReturnValue:
        query = models.Channel.all()
        if (type_id := int_arg("type", None, 0, 10_000)) is not None:
            query = query.filter(type=type_id)
        if (status := int_arg("status", None, 0, 3)) is not None:
            query = query.filter(status=status)
        return await page_of(query, channel_dict, "-priority", "-id")

    @bp.get("/channel/search")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Search channels by id, name or group (root: also by exact key)",
        query={**PAGE, "keyword": query_text("text, or a whole key (root)", 4096)},
        response=list[ChannelOut],
    )
    async def search_channels() -> ResponseReturnValue:
        keyword = str_arg("keyword", 4096)  # the request's head is at most 16 KiB
        query = models.Channel.all()
        if keyword:
            match = Q(name__icontains=keyword) | Q(group__icontains=keyword)
            if (await current_user()).role >= models.ROLE_ROOT:  # nobody else may confirm a guessed key
                # Stored keys may be encrypted: compare with the cache's decrypted ones.
                same = [c.id for c in gateway().cache.channels.by_id.values() if c.key == keyword]
                match |= Q(key=keyword) | Q(id__in=same)
            if keyword.isdigit() and int(keyword) <= 2**31 - 1:
                match |= Q(id=int(keyword))
            query = query.filter(match)
        return await page_of(query, channel_dict, "-priority", "-id")

    @bp.get("/channel/<int:channel_id>")
    @require_role(models.ROLE_ADMIN)
    @doc("One channel; its key is never sent (empty, as in One API)", response=ChannelOut)
    async def get_channel(channel_id: int) -> ResponseReturnValue:
        return ok({**channel_dict(await _get(channel_id)), "key": ""})

    @bp.post("/channel/<int:channel_id>/key")
    @require_role(models.ROLE_ROOT)
    @doc("Reveal a channel's key (root only; written to the management log)", Body,
         response=dict[str, str])
    async def reveal_key(channel_id: int) -> ResponseReturnValue:
        if await request.get_data():  # none needed; one sent is a JSON object, as everywhere
            await parse_body(Body)
        channel = await _get(channel_id)
        user = await current_user()
        await record_log(user.id, models.LOG_MANAGE, f"revealed the key of channel {channel.id} "
                         f"({channel.name})", user.username)  # fmt: skip
        return ok({"key": stored_key(channel)})

    @bp.post("/channel/")
    @require_role(models.ROLE_ADMIN)
    @doc("Create channels: one per line of key", CreateChannelBody)
    async def create_channel() -> ResponseReturnValue:
        gw = gateway()
        body = await parse_body(CreateChannelBody)
        if body.type not in gw.registry.channel_types:
            raise ApiError(
                f"invalid field type: no loaded plugin provides channel type {body.type}"
            )
        keys = [k.strip() for k in body.key.split("\n") if k.strip()]
        if not keys:
            raise ApiError("invalid field key: give at least one key")
        if len(keys) > 1000:
            raise ApiError("invalid field key: at most 1000 keys at once")
        config = body.config or ""
        _check_config(gw, body.type, config)
        created = []
        for key in keys:
            channel = models.Channel(
                type=body.type,
                key=crypto.seal(key, crypto.CHANNEL_KEY),
                name=body.name or "",
                base_url=body.base_url or "",
                other=body.other or "",
                models=",".join(split_list(body.models)),
                group=",".join(split_list(body.group)) or "default",
                model_mapping=body.model_mapping or "",
                priority=body.priority or 0,
                weight=body.weight or 0,
                config=config,
                system_prompt=body.system_prompt or "",
                openai_organization=body.openai_organization or "",
                status=body.status or models.CHANNEL_ENABLED,
                created_time=now(),
            )
            await channel.save()
            await gw.db.sync_abilities(channel)
            created.append(channel)
        await gw.cache.reload_channels()
        return ok([channel_dict(c) for c in created])

    @bp.put("/channel/")
    @require_role(models.ROLE_ADMIN)
    @doc("Update a channel (fields given; a masked or empty key keeps the key)", UpdateChannelBody)
    async def update_channel() -> ResponseReturnValue:
        gw = gateway()
        body = await parse_body(UpdateChannelBody)
        channel = await _get(body.id)
        fields: list[str] = []
        if (
            body.type is not None
            and body.type != channel.type
            and body.type not in gw.registry.channel_types
        ):
            raise ApiError(
                f"invalid field type: no loaded plugin provides channel type {body.type}"
            )
        for name in _EDITABLE:
            value = getattr(body, name)
            if value is None:
                continue
            if name in ("models", "group"):
                value = ",".join(split_list(value)) or ("default" if name == "group" else "")
            setattr(channel, name, value)
            fields.append(name)
        if body.key and body.key.strip() and MASK not in body.key:
            channel.key = crypto.seal(body.key.strip(), crypto.CHANNEL_KEY)
            fields.append("key")
        elif fields and crypto.enabled() and not crypto.is_sealed(channel.key):
            channel.key = crypto.seal(channel.key, crypto.CHANNEL_KEY)  # One API's plaintext key
            fields.append("key")
        if "status" in fields:
            channel.status_reason = (
                "" if channel.status == models.CHANNEL_ENABLED else "changed by an administrator"
            )
            fields.append("status_reason")
        if "config" in fields or "type" in fields:
            _check_config(gw, channel.type, channel.config or "")
        if fields:
            await save_channel(gw, channel, fields)
        return ok(channel_dict(channel))

    @bp.delete("/channel/<int:channel_id>")
    @require_role(models.ROLE_ADMIN)
    @doc("Delete a channel")
    async def delete_channel(channel_id: int) -> ResponseReturnValue:
        gw = gateway()
        channel = await _get(channel_id)
        await channel.delete()
        await gw.db.delete_abilities(channel.id)
        await gw.cache.reload_channels()
        return ok()

    @bp.delete("/channel/disabled")
    @require_role(models.ROLE_ADMIN)
    @doc("Delete every disabled channel (manually or automatically); returns how many")
    async def delete_disabled() -> ResponseReturnValue:
        gw = gateway()
        disabled = [models.CHANNEL_MANUALLY_DISABLED, models.CHANNEL_AUTO_DISABLED]
        ids = await models.Channel.filter(status__in=disabled).values_list("id", flat=True)
        for channel_id in ids:
            await gw.db.delete_abilities(int(channel_id))  # type: ignore[arg-type,call-overload]
        count = await models.Channel.filter(id__in=list(ids)).delete() if ids else 0
        await gw.cache.reload_channels()
        return ok(count)

    @bp.get("/channel/types")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Channel types of the loaded plugins, with defaults and config fields",
        response=list[ChannelTypeOut],
    )
    async def channel_types() -> ResponseReturnValue:
        out = []
        for ct in sorted(gateway().registry.channel_types.values(), key=lambda c: c.id):
            out.append(
                {
                    "id": ct.id,
                    "name": ct.name,
                    "default_base_url": ct.base_url,
                    "default_models": list(ct.models),
                    "config_fields": [
                        {
                            "key": f.key,
                            "label": f.label,
                            "label_zh": f.label_zh,
                            "type": f.type,
                            "default": f.default,
                            "required": f.required,
                            "help": f.help,
                        }
                        for f in ct.config_fields
                    ],
                }
            )
        return ok(out)

    @bp.get("/channel/models")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Every channel type's default models as OpenAI model objects, as One API lists them "
        "(its channel editor maps over them); the {type_id: [models]} map is GET /api/models",
        response=list[ModelCardOut],
    )
    async def channel_models() -> ResponseReturnValue:
        gw = gateway()
        cards: dict[str, dict[str, object]] = {}
        for _, ct in sorted(gw.registry.channel_types.items()):
            for name in ct.models:
                cards.setdefault(name, {
                    "id": name, "object": "model", "created": gw.start_time,
                    "owned_by": ct.name.lower(), "permission": [], "root": name, "parent": None,
                })  # fmt: skip
        return ok(list(cards.values()))

    return bp


def models_by_type(gw: Gateway) -> dict[str, list[str]]:
    return {str(tid): list(ct.models) for tid, ct in sorted(gw.registry.channel_types.items())}
